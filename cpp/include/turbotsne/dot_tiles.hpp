// Tiles of approximate inner products between many rows at once: the arithmetic of the
// brute-force exact kNN (brute_knn.hpp). Rows are mapped to float coordinates (centred,
// scaled by a power of two, rounded) and packed in panels; a tile of dot products is summed
// in float over chunks of kDotChunk coordinates and the chunks in double. Whichever
// instruction set computes a tile (with or without fused multiply-adds, any order inside a
// chunk), every entry is within dot_error_bound of the exact inner product of the float rows,
// so a search that ranks by these values with that margin and then recomputes its candidates
// exactly gives the same result everywhere.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "turbotsne/common.hpp"

namespace turbotsne {

constexpr index_t kDotChunk = 128;  // coordinates summed in float before one double addition

// The instruction sets a tile can be computed with. kBaseline is what the compiler targets
// by default (SSE2 on x86-64, NEON on arm64, plain loops elsewhere); kAvx2 (with FMA) and
// kAvx512 are compiled alongside it on x86-64 with GCC or Clang and chosen at run time where
// the processor has them. kBest is the widest available.
enum class SimdLevel { kBest, kBaseline, kAvx2, kAvx512 };

const char* simd_level_name(SimdLevel level);
// The levels this build and processor can run, kBaseline first (kBest not included).
std::vector<SimdLevel> available_simd_levels();

// A row-to-float map: x -> float((x · pre_scale − scaled_centre) · scale), scales powers of
// two. The centre is the mean of the reference rows; the scales bring every mapped coordinate
// of the reference and the queries into [-1, 1] without overflow on the way.
struct FloatFrame {
  std::vector<double> scaled_centre;  // per column: mean · pre_scale
  int pre_exponent = 0;               // pre_scale = 2^-pre_exponent
  int exponent = 0;                   // scale = 2^-exponent
  // The total scale 2^-(pre_exponent + exponent) of the map, as that exponent.
  int total_exponent() const { return pre_exponent + exponent; }
};

// The frame centred on the mean of the reference rows, scaled for the reference and the
// queries (queries may have 0 rows: the reference alone). Throws std::invalid_argument if an
// entry is not finite.
FloatFrame float_frame(ConstMatrix reference, ConstMatrix queries);

// Rows rows[0, count) of X mapped by the frame, in panels of panel_rows rows: panel p holds
// X.cols groups of panel_rows floats (coordinate-major), rows past the end are zeros. out has
// ceil(count / panel_rows) · panel_rows · X.cols entries. Also writes the squared norm (with
// l1_norms, the L1 norm) of every mapped row, summed in double (products of floats are exact
// in double), into norms[0, count) when norms is not null.
void pack_panels(ConstMatrix X, const std::int32_t* rows, index_t count, int panel_rows,
                 const FloatFrame& frame, float* out, double* norms, bool l1_norms = false);

// Computes C = Q · Rᵀ (accumulate) or C_ij = ‖q_i − r_j‖₁ (accumulate_l1) over packed panels
// (see pack_panels), both with panel_rows rows per panel: Q of n_query_panels panels, R of
// n_reference_panels, over d coordinates. C is row-major with leading dimension ldc (at least
// n_reference_panels · panel_rows columns, n_query_panels · panel_rows rows).
using TileFunction = void (*)(const float* query_panels, const float* reference_panels,
                              index_t n_query_panels, index_t n_reference_panels, index_t d,
                              double* C, index_t ldc);
struct DotKernel {
  SimdLevel level = SimdLevel::kBaseline;
  int panel_rows = 8;
  TileFunction accumulate = nullptr;
  TileFunction accumulate_l1 = nullptr;
};

// The kernel of a level (kBest: the widest this processor runs). Throws
// std::invalid_argument naming `simd` for a level the processor or build lacks.
DotKernel dot_kernel(SimdLevel level);

// |computed − exact| ≤ relative · Σ_j |q_j r_j| + absolute for every entry of a tile over d
// coordinates of mapped rows (q, r the float rows): float chunks of at most kDotChunk terms,
// chunk sums added in double, products that may underflow in float.
struct DotErrorBound {
  double relative = 0.0;
  double absolute = 0.0;
};
DotErrorBound dot_error_bound(index_t d);
// The same for the L1 tiles: |computed − exact| ≤ relative · Σ_j |q_j − r_j|.
DotErrorBound l1_error_bound(index_t d);

}  // namespace turbotsne
