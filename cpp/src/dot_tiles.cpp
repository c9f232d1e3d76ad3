#include "turbotsne/dot_tiles.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

// GCC and Clang: the micro-kernel is written once over their vector extensions and compiled
// for the default target and, on x86, also for AVX2+FMA and AVX-512 (function attributes,
// chosen at run time by what the processor reports: no -march flag is involved). Other
// compilers get the same loops over plain arrays.
#if defined(__GNUC__)
#define TURBOTSNE_VECTOR_EXTENSIONS 1
#define TURBOTSNE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TURBOTSNE_ALWAYS_INLINE inline
#endif
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define TURBOTSNE_X86_DISPATCH 1
#endif

namespace turbotsne {
namespace {

#if defined(TURBOTSNE_VECTOR_EXTENSIONS)
typedef float Float4 __attribute__((vector_size(16)));
typedef float Float8 __attribute__((vector_size(32)));
typedef float Float16 __attribute__((vector_size(64)));
typedef double Double4 __attribute__((vector_size(32)));

// Integer vectors of the float vectors' size, for |x| as a mask of the sign bit.
template <class V>
struct BitsOf;
template <>
struct BitsOf<Float4> {
  typedef std::int32_t type __attribute__((vector_size(16)));
};
template <>
struct BitsOf<Float8> {
  typedef std::int32_t type __attribute__((vector_size(32)));
};
template <>
struct BitsOf<Float16> {
  typedef std::int32_t type __attribute__((vector_size(64)));
};

// One micro-tile: acc[r][c] = Σ_k q[k][r] · p[k][c] (or, kL1, Σ_k |q[k][r] − p[k][c]|) over kc
// coordinates for MR query rows and the NV W rows of a reference panel, in float (each lane
// sums its own terms in order), then added to C in double. Query rows are read with the
// panels' stride, NV W. MR × NV accumulators: with AVX2, 4 × 3 = 12 of the 16 registers, so
// that each multiply-add's latency (4 cycles, 2 issued per cycle) is covered with room to
// spare (4 × 2 = 8 left the tiles at about half the multiply-adds' peak on MNIST).
template <class V, int MR, int NV, bool kL1>
TURBOTSNE_ALWAYS_INLINE void micro_tile(const float* __restrict q, const float* __restrict p,
                                        index_t kc, bool add, double* __restrict c, index_t ldc) {
  constexpr int W = sizeof(V) / sizeof(float);
  constexpr int kNr = NV * W;
  using Bits = typename BitsOf<V>::type;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  for (index_t k = 0; k < kc; ++k) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) std::memcpy(&b[v], p + k * kNr + v * W, sizeof(V));
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
#if defined(__clang__)
      const V a = V{} + q[k * kNr + r];
#else
      // q's value in every lane: a shuffle of lane 0, which GCC compiles to one broadcast
      // from memory (V{} + x compiled to an addition and a register broadcast, two more
      // operations on the vector ports the multiply-adds need; 13% of the MNIST search). The
      // same products: V{} + x differs from x only for x = −0, whose products add the same.
      const V a = __builtin_shuffle(V{q[k * kNr + r]}, Bits{});
#endif
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        if constexpr (kL1) {
          acc[r][v] += (V)((Bits)(a - b[v]) & 0x7fffffff);
        } else {
          acc[r][v] += a * b[v];
        }
      }
    }
  }
  // C (+)= the sums in double, four lanes at a time (one widening conversion each): 0.0 + x
  // or C + x, as the scalar loop did (the float sums widen exactly; 0.0 + x turns −0 to +0).
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
#pragma GCC unroll 4
      for (int w = 0; w < W; w += 4) {
        Float4 part;
        std::memcpy(&part, reinterpret_cast<const float*>(&acc[r][v]) + w, sizeof(part));
        double* out = c + r * ldc + v * W + w;
        Double4 sum = Double4{};
        if (add) std::memcpy(&sum, out, sizeof(sum));
        sum += __builtin_convertvector(part, Double4);
        std::memcpy(out, &sum, sizeof(sum));
      }
}

template <class V, int NV>
constexpr int panel_rows_of() {
  return NV * static_cast<int>(sizeof(V) / sizeof(float));
}
#else
// The same tile over plain arrays: reference panels of 8 rows.
template <class Unused, int MR, int NV, bool kL1>
TURBOTSNE_ALWAYS_INLINE void micro_tile(const float* q, const float* p, index_t kc, bool add,
                                        double* c, index_t ldc) {
  constexpr int kNr = 8;
  float acc[MR][kNr] = {};
  for (index_t k = 0; k < kc; ++k) {
    for (int r = 0; r < MR; ++r) {
      const float a = q[k * kNr + r];
      for (int j = 0; j < kNr; ++j) {
        acc[r][j] += kL1 ? std::fabs(a - p[k * kNr + j]) : a * p[k * kNr + j];
      }
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < kNr; ++j) c[r * ldc + j] = (add ? c[r * ldc + j] : 0.0) + acc[r][j];
}
struct Float4 {};
struct Float8 {};
struct Float16 {};
template <class V, int NV>
constexpr int panel_rows_of() {
  return 8;
}
#endif

// All tiles of C = Q · Rᵀ (kL1: C_ij = ‖q_i − r_j‖₁), chunk by chunk of coordinates: for
// each reference panel (kept in L1 for one chunk), every group of MR rows of every query
// panel.
template <class V, int MR, int NV, bool kL1>
TURBOTSNE_ALWAYS_INLINE void accumulate_tiles(const float* Q, const float* R, index_t n_qp,
                                              index_t n_rp, index_t d, double* C, index_t ldc) {
  constexpr int kNr = panel_rows_of<V, NV>();
  static_assert(kNr % MR == 0, "query row groups must tile a panel");
  for (index_t k0 = 0; k0 < d; k0 += kDotChunk) {
    const index_t kc = std::min(kDotChunk, d - k0);
    for (index_t jp = 0; jp < n_rp; ++jp) {
      const float* r = R + (jp * d + k0) * kNr;
      for (index_t ip = 0; ip < n_qp; ++ip) {
        const float* q = Q + (ip * d + k0) * kNr;
        for (int g = 0; g < kNr; g += MR) {
          micro_tile<V, MR, NV, kL1>(q + g, r, kc, k0 > 0, C + (ip * kNr + g) * ldc + jp * kNr, ldc);
        }
      }
    }
  }
}

// One entry point per instruction set and tile kind (kL1: Manhattan).
#define TURBOTSNE_TILE_FUNCTION(NAME, ATTRIBUTES, VECTOR, MR, NV, L1)                          \
  ATTRIBUTES void NAME(const float* Q, const float* R, index_t n_qp, index_t n_rp, index_t d, \
                       double* C, index_t ldc) {                                              \
    accumulate_tiles<VECTOR, MR, NV, L1>(Q, R, n_qp, n_rp, d, C, ldc);                        \
  }
// Panels of 8 (baseline), 24 (AVX2) and 32 (AVX-512) rows, all dividing brute_knn's blocks.
TURBOTSNE_TILE_FUNCTION(dot_baseline, , Float4, 4, 2, false)
TURBOTSNE_TILE_FUNCTION(l1_baseline, , Float4, 4, 2, true)
#if defined(TURBOTSNE_X86_DISPATCH)
TURBOTSNE_TILE_FUNCTION(dot_avx2, __attribute__((target("avx2,fma"))), Float8, 4, 3, false)
TURBOTSNE_TILE_FUNCTION(l1_avx2, __attribute__((target("avx2,fma"))), Float8, 4, 3, true)
TURBOTSNE_TILE_FUNCTION(dot_avx512, __attribute__((target("avx512f"))), Float16, 8, 2, false)
TURBOTSNE_TILE_FUNCTION(l1_avx512, __attribute__((target("avx512f"))), Float16, 8, 2, true)
#endif
#undef TURBOTSNE_TILE_FUNCTION

bool level_available(SimdLevel level) {
  switch (level) {
    case SimdLevel::kBest:
    case SimdLevel::kBaseline:
      return true;
#if defined(TURBOTSNE_X86_DISPATCH)
    case SimdLevel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SimdLevel::kAvx512:
      return __builtin_cpu_supports("avx512f");
#else
    default:
      return false;
#endif
  }
  return false;
}

// The exponent e with |x| · 2^-e < 1 for the largest |x| = top (0 for top = 0), kept within
// [-1000, 1000] so that 2^-e is a finite double.
int exponent_below_one(double top) {
  if (!(top > 0.0)) return 0;
  int e = 0;
  std::frexp(top, &e);  // top = f · 2^e, f in [0.5, 1)
  return std::clamp(e, -1000, 1000);
}

}  // namespace

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kBest: return "best";
    case SimdLevel::kBaseline: return "baseline";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "?";
}

std::vector<SimdLevel> available_simd_levels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level_available(level)) levels.push_back(level);
  }
  return levels;
}

DotKernel dot_kernel(SimdLevel level) {
  if (level == SimdLevel::kBest) level = available_simd_levels().back();
  if (!level_available(level)) {
    throw std::invalid_argument(std::string("simd: ") + simd_level_name(level) +
                                " is not available in this build or on this processor");
  }
  DotKernel kernel;
  kernel.level = level;
  kernel.panel_rows = panel_rows_of<Float4, 2>();
  kernel.accumulate = dot_baseline;
  kernel.accumulate_l1 = l1_baseline;
#if defined(TURBOTSNE_X86_DISPATCH)
  if (level == SimdLevel::kAvx2) {
    kernel.panel_rows = panel_rows_of<Float8, 3>();
    kernel.accumulate = dot_avx2;
    kernel.accumulate_l1 = l1_avx2;
  } else if (level == SimdLevel::kAvx512) {
    kernel.panel_rows = panel_rows_of<Float16, 2>();
    kernel.accumulate = dot_avx512;
    kernel.accumulate_l1 = l1_avx512;
  }
#endif
  return kernel;
}

FloatFrame float_frame(ConstMatrix reference, ConstMatrix queries) {
  const index_t d = reference.cols;
  double top = 0.0;
  for (ConstMatrix X : {reference, queries}) {
    for (index_t i = 0; i < X.size(); ++i) {
      if (!std::isfinite(X.data[i])) throw std::invalid_argument("X: entries must be finite");
      top = std::max(top, std::fabs(X.data[i]));
    }
  }
  FloatFrame frame;
  frame.pre_exponent = exponent_below_one(top);
  const double pre_scale = std::ldexp(1.0, -frame.pre_exponent);
  frame.scaled_centre.assign(static_cast<size_t>(d), 0.0);
  for (index_t i = 0; i < reference.rows; ++i)
    for (index_t j = 0; j < d; ++j) frame.scaled_centre[j] += reference(i, j) * pre_scale;
  for (double& c : frame.scaled_centre) c /= static_cast<double>(std::max<index_t>(reference.rows, 1));
  double spread = 0.0;
  for (ConstMatrix X : {reference, queries}) {
    for (index_t i = 0; i < X.rows; ++i)
      for (index_t j = 0; j < d; ++j)
        spread = std::max(spread, std::fabs(X(i, j) * pre_scale - frame.scaled_centre[j]));
  }
  frame.exponent = exponent_below_one(spread);
  return frame;
}

void pack_panels(ConstMatrix X, const std::int32_t* rows, index_t count, int panel_rows,
                 const FloatFrame& frame, float* out, double* norms, bool l1_norms) {
  const index_t d = X.cols;
  const index_t panels = (count + panel_rows - 1) / panel_rows;
  const double pre_scale = std::ldexp(1.0, -frame.pre_exponent);
  const double scale = std::ldexp(1.0, -frame.exponent);
  for (index_t p = 0; p < panels; ++p) {
    float* panel = out + p * d * panel_rows;
    for (int r = 0; r < panel_rows; ++r) {
      const index_t row = p * panel_rows + r;
      if (row >= count) {
        for (index_t j = 0; j < d; ++j) panel[j * panel_rows + r] = 0.0f;
        continue;
      }
      const double* x = X.row(rows[row]);
      double norm = 0.0;
      for (index_t j = 0; j < d; ++j) {
        const float v = static_cast<float>((x[j] * pre_scale - frame.scaled_centre[j]) * scale);
        panel[j * panel_rows + r] = v;
        norm += l1_norms ? std::fabs(static_cast<double>(v))
                         : static_cast<double>(v) * static_cast<double>(v);
      }
      if (norms != nullptr) norms[row] = norm;
    }
  }
}

DotErrorBound l1_error_bound(index_t d) {
  // Each term |fl(q − r)| errs by at most u |q − r| (a subtraction that underflows is exact),
  // then the sums as for dot_error_bound, of terms at most (1 + u) |q − r|.
  const DotErrorBound sums = dot_error_bound(d);
  const double u = std::ldexp(1.0, -24);
  DotErrorBound bound;
  bound.relative = u + sums.relative * (1.0 + u);
  return bound;
}

DotErrorBound dot_error_bound(index_t d) {
  // A float sum of m products (m ≤ kDotChunk) errs by at most γ_m Σ|terms| (γ_m = m u /
  // (1 − m u), u = 2^-24; a fused multiply-add only removes roundings); the c = ⌈d / chunk⌉
  // chunk sums, exact in double, are added to C by c double additions: γ_c with u = 2^-53,
  // of at most (1 + γ_m) Σ|terms|. Products below float's normal range lose up to 2^-150
  // each in absolute terms.
  const auto gamma = [](double m, double u) { return m * u / (1.0 - m * u); };
  const double m = static_cast<double>(std::min(d, kDotChunk));
  const double chunks = static_cast<double>((d + kDotChunk - 1) / kDotChunk);
  const double g32 = gamma(m, std::ldexp(1.0, -24));
  DotErrorBound bound;
  bound.relative = g32 + gamma(chunks, std::ldexp(1.0, -53)) * (1.0 + g32);
  bound.absolute = static_cast<double>(d) * std::ldexp(1.0, -149);
  return bound;
}

}  // namespace turbotsne
