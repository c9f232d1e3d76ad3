#include "turbotsne/distance.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "turbotsne/dot_tiles.hpp"
#include "turbotsne/parallel.hpp"

namespace turbotsne {

// The one-to-many float32 distances: eight lanes held in one GCC vector (two SSE registers in
// the baseline build, one AVX register in the AVX2 copy; neither contracts the multiply and
// add, AVX2 alone not enabling FMA), two rows at a time for two independent chains of adds.
// Lane l sums the coordinates j = l mod 8 like s[l] of the scalar kernels, and the lanes and
// the tail are combined as they are, so every row gets the bits of the one-pair kernel.
#if defined(__GNUC__)
#define TURBOTSNE_LANES8 1
typedef float Lanes8 __attribute__((vector_size(32)));
typedef std::int32_t Mask8 __attribute__((vector_size(32)));
#if defined(__x86_64__) || defined(__i386__)
#define TURBOTSNE_DISTANCES_AVX2 1
#endif
#endif

namespace {

#if defined(TURBOTSNE_LANES8)
// (Vectors pass through references and macros only: by value they would change the ABI
// between the baseline and the AVX2 code.)
inline __attribute__((always_inline)) void load8(Lanes8& v, const float* p) { std::memcpy(&v, p, sizeof v); }
inline __attribute__((always_inline)) float combine8(const Lanes8& s) {
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}
template <bool kManhattan>
inline __attribute__((always_inline)) void add_term8(Lanes8& sum, const Lanes8& a, const float* b) {
  Lanes8 t;
  load8(t, b);
  t = a - t;
  if constexpr (kManhattan) {
    sum += (Lanes8)((Mask8)t & 0x7fffffff);  // |t|
  } else {
    sum += t * t;
  }
}
template <bool kManhattan>
inline __attribute__((always_inline)) float term1(float t) {
  if constexpr (kManhattan) {
    return std::fabs(t);
  } else {
    return t * t;
  }
}

// out[y] for every row, two rows at a time (always inlined into each instruction set's copy).
template <bool kManhattan>
inline __attribute__((always_inline)) void distances_body(const float* a, const float* rows, index_t count,
                                                          index_t d, float* out) {
  const index_t body = d - d % 8;
  for (index_t y = 0; y < count; y += 2) {
    const bool pair = y + 1 < count;  // the last row alone when count is odd
    const float* b0 = rows + y * d;
    const float* b1 = pair ? b0 + d : b0;
    Lanes8 s0 = {}, s1 = {};
    for (index_t j = 0; j < body; j += 8) {
      Lanes8 x;
      load8(x, a + j);
      add_term8<kManhattan>(s0, x, b0 + j);
      if (pair) add_term8<kManhattan>(s1, x, b1 + j);
    }
    float t0 = 0.0f, t1 = 0.0f;
    for (index_t j = body; j < d; ++j) {
      t0 += term1<kManhattan>(a[j] - b0[j]);
      t1 += term1<kManhattan>(a[j] - b1[j]);
    }
    out[y] = combine8(s0) + t0;
    if (pair) out[y + 1] = combine8(s1) + t1;
  }
}

template <bool kManhattan>
void distances_baseline(const float* a, const float* rows, index_t count, index_t d, float* out) {
  distances_body<kManhattan>(a, rows, count, d, out);
}
#if defined(TURBOTSNE_DISTANCES_AVX2)
template <bool kManhattan>
__attribute__((target("avx2"))) void distances_avx2(const float* a, const float* rows, index_t count,
                                                    index_t d, float* out) {
  distances_body<kManhattan>(a, rows, count, d, out);
}
#endif
#else
template <bool kManhattan>
void distances_baseline(const float* a, const float* rows, index_t count, index_t d, float* out) {
  for (index_t y = 0; y < count; ++y) {
    out[y] = kManhattan ? manhattan_distance_f32(a, rows + y * d, d) : squared_distance_f32(a, rows + y * d, d);
  }
}
#endif

using DistancesLoop = void (*)(const float*, const float*, index_t, index_t, float*);

// The loop of `level` (kBest: the widest this processor runs; kAvx512 runs the AVX2 loop),
// chosen among available_simd_levels() like the exact search's tiles (dot_kernel).
DistancesLoop distances_loop(bool manhattan, SimdLevel level) {
  const std::vector<SimdLevel> levels = available_simd_levels();
  if (level == SimdLevel::kBest) level = levels.back();
  if (std::find(levels.begin(), levels.end(), level) == levels.end()) {
    throw std::invalid_argument(std::string("distances_f32: ") + simd_level_name(level) +
                                " is not available in this build or on this processor");
  }
#if defined(TURBOTSNE_DISTANCES_AVX2)
  if (level != SimdLevel::kBaseline) return manhattan ? &distances_avx2<true> : &distances_avx2<false>;
#endif
  return manhattan ? &distances_baseline<true> : &distances_baseline<false>;
}

}  // namespace

void squared_distances_f32(const float* a, const float* rows, index_t count, index_t d, float* out) {
  static const DistancesLoop loop = distances_loop(false, SimdLevel::kBest);
  loop(a, rows, count, d, out);
}

void manhattan_distances_f32(const float* a, const float* rows, index_t count, index_t d, float* out) {
  static const DistancesLoop loop = distances_loop(true, SimdLevel::kBest);
  loop(a, rows, count, d, out);
}

void distances_f32_with(bool manhattan, SimdLevel level, const float* a, const float* rows,
                        index_t count, index_t d, float* out) {
  distances_loop(manhattan, level)(a, rows, count, d, out);
}

namespace {

// A row's unit vector is x · 2^-exponent · inverse_norm. Ordinary rows: exponent 0 and
// inverse_norm 1 / sqrt(Σ x²). Rows whose Σ x² overflows or leaves the normal range (entries
// beyond about 1e154 or below 1e-154) are first scaled by the power of two that brings their
// largest entry into [0.5, 1), which is exact. inverse_norm is 0 for a row of zeros.
struct RowScale {
  int exponent = 0;
  double inverse_norm = 0.0;
};

RowScale row_scale(const double* x, index_t d) {
  double norm2 = 0.0;
  for (index_t j = 0; j < d; ++j) norm2 += x[j] * x[j];
  if (norm2 >= std::numeric_limits<double>::min() && norm2 <= std::numeric_limits<double>::max()) {
    return {0, 1.0 / std::sqrt(norm2)};
  }
  double top = 0.0;
  for (index_t j = 0; j < d; ++j) top = std::max(top, std::fabs(x[j]));
  if (!(top > 0.0) || !std::isfinite(top)) return {};
  RowScale out;
  std::frexp(top, &out.exponent);
  double scaled2 = 0.0;
  for (index_t j = 0; j < d; ++j) {
    const double t = std::ldexp(x[j], -out.exponent);
    scaled2 += t * t;
  }
  out.inverse_norm = 1.0 / std::sqrt(scaled2);
  return out;
}

}  // namespace

std::vector<index_t> columns_by_variance(ConstMatrix X) {
  const index_t d = X.cols;
  std::vector<double> variance(static_cast<size_t>(d), 0.0), mean(static_cast<size_t>(d), 0.0);
  for (index_t i = 0; i < X.rows; ++i)
    for (index_t j = 0; j < d; ++j) mean[j] += X(i, j);
  for (double& m : mean) m /= static_cast<double>(X.rows);
  for (index_t i = 0; i < X.rows; ++i)
    for (index_t j = 0; j < d; ++j) variance[j] += (X(i, j) - mean[j]) * (X(i, j) - mean[j]);
  std::vector<index_t> columns(static_cast<size_t>(d));
  std::iota(columns.begin(), columns.end(), 0);
  std::stable_sort(columns.begin(), columns.end(),
                   [&](index_t a, index_t b) { return variance[a] > variance[b]; });
  return columns;
}

std::vector<double> normalized_rows(ConstMatrix X, int n_threads) {
  for (index_t i = 0; i < X.rows; ++i) {
    if (!(row_scale(X.row(i), X.cols).inverse_norm > 0.0)) {
      throw std::invalid_argument("the cosine metric is undefined for row " + std::to_string(i) +
                                  ", which has norm zero");
    }
  }
  std::vector<double> out(static_cast<size_t>(X.size()));
  parallel_for(0, X.rows, n_threads, [&](index_t i) {
    const RowScale s = row_scale(X.row(i), X.cols);
    for (index_t j = 0; j < X.cols; ++j) {
      out[i * X.cols + j] = std::ldexp(X(i, j), -s.exponent) * s.inverse_norm;
    }
  }, 1024);
  return out;
}

void euclidean_to_cosine(Buffer<double>& distances) {
  for (double& d : distances) d = 0.5 * d * d;
}

}  // namespace turbotsne
