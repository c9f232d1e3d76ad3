// The distance kernels of the neighbour searches and the metrics they implement.
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

#include "turbotsne/buffer.hpp"
#include "turbotsne/common.hpp"

namespace turbotsne {

// The metrics of the neighbour searches. Cosine distance (1 - cos) is not a metric; it is
// searched as the Euclidean distance between L2-normalised rows, which orders neighbours the
// same way (|a - b|² = 2 (1 - cos) for unit vectors), and reported as 1 - cos.
enum class Metric { kEuclidean, kCosine, kManhattan };

// Squared Euclidean distance with four accumulators (instruction-level parallelism without
// -ffast-math). Gives up early, returning a value > bound, once the partial sum exceeds
// bound: partial sums only grow, so the full sum would too. The summation order is fixed, so
// the same pair always gets the same bits.
inline double squared_distance(const double* a, const double* b, index_t d,
                               double bound = std::numeric_limits<double>::infinity()) {
#if defined(__SSE2__)
  // The same four accumulators, two per register: lanes (0, 1) and (2, 3) hold s0, s1 and
  // s2, s3 of the scalar version below, so both give the same bits.
  __m128d s01 = _mm_setzero_pd(), s23 = _mm_setzero_pd();
  index_t j = 0;
  auto total = [&]() {
    const double lo[2] = {_mm_cvtsd_f64(s01), _mm_cvtsd_f64(_mm_unpackhi_pd(s01, s01))};
    const double hi[2] = {_mm_cvtsd_f64(s23), _mm_cvtsd_f64(_mm_unpackhi_pd(s23, s23))};
    return (lo[0] + lo[1]) + (hi[0] + hi[1]);
  };
  for (; j + 4 <= d; j += 4) {
    const __m128d t01 = _mm_sub_pd(_mm_loadu_pd(a + j), _mm_loadu_pd(b + j));
    const __m128d t23 = _mm_sub_pd(_mm_loadu_pd(a + j + 2), _mm_loadu_pd(b + j + 2));
    s01 = _mm_add_pd(s01, _mm_mul_pd(t01, t01));
    s23 = _mm_add_pd(s23, _mm_mul_pd(t23, t23));
    if ((j + 4) % 16 == 0) {  // every 16 coordinates: can we stop?
      const double partial = total();
      if (partial > bound) return partial;
    }
  }
  if (j < d) {
    double s0 = _mm_cvtsd_f64(s01);
    for (; j < d; ++j) {
      const double t = a[j] - b[j];
      s0 += t * t;
    }
    s01 = _mm_move_sd(s01, _mm_set_sd(s0));
  }
  return total();
#else
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  index_t j = 0;
  for (; j + 4 <= d; j += 4) {
    const double t0 = a[j] - b[j], t1 = a[j + 1] - b[j + 1];
    const double t2 = a[j + 2] - b[j + 2], t3 = a[j + 3] - b[j + 3];
    s0 += t0 * t0;
    s1 += t1 * t1;
    s2 += t2 * t2;
    s3 += t3 * t3;
    if ((j + 4) % 16 == 0) {  // every 16 coordinates: can we stop?
      const double partial = (s0 + s1) + (s2 + s3);
      if (partial > bound) return partial;
    }
  }
  for (; j < d; ++j) {
    const double t = a[j] - b[j];
    s0 += t * t;
  }
  return (s0 + s1) + (s2 + s3);
#endif
}

// Manhattan (L1) distance, with the same four accumulators and early exit as above.
inline double manhattan_distance(const double* a, const double* b, index_t d,
                                 double bound = std::numeric_limits<double>::infinity()) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  index_t j = 0;
  for (; j + 4 <= d; j += 4) {
    s0 += std::fabs(a[j] - b[j]);
    s1 += std::fabs(a[j + 1] - b[j + 1]);
    s2 += std::fabs(a[j + 2] - b[j + 2]);
    s3 += std::fabs(a[j + 3] - b[j + 3]);
    if ((j + 4) % 16 == 0) {
      const double partial = (s0 + s1) + (s2 + s3);
      if (partial > bound) return partial;
    }
  }
  for (; j < d; ++j) s0 += std::fabs(a[j] - b[j]);
  return (s0 + s1) + (s2 + s3);
}

// The same two distances of float32 rows (the approximate search's copy of the data: half the
// bytes to read per pair), summed in float32 by two registers of four lanes, with the early
// exit every 16 coordinates. The summation order is fixed: the same pair always gets the same
// bits. Their relative error (about d · 2^-24) only reorders near-ties among the candidates;
// the search's final distances are computed again in double.
inline float squared_distance_f32(const float* a, const float* b, index_t d,
                                  float bound = std::numeric_limits<float>::infinity()) {
#if defined(__SSE2__)
  __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
  auto total = [&]() {
    alignas(16) float lanes[4];
    _mm_store_ps(lanes, _mm_add_ps(s0, s1));
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  };
  index_t j = 0;
  for (; j + 8 <= d; j += 8) {
    const __m128 t0 = _mm_sub_ps(_mm_loadu_ps(a + j), _mm_loadu_ps(b + j));
    const __m128 t1 = _mm_sub_ps(_mm_loadu_ps(a + j + 4), _mm_loadu_ps(b + j + 4));
    s0 = _mm_add_ps(s0, _mm_mul_ps(t0, t0));
    s1 = _mm_add_ps(s1, _mm_mul_ps(t1, t1));
    if ((j + 8) % 16 == 0) {
      const float partial = total();
      if (partial > bound) return partial;
    }
  }
  float tail = 0.0f;
  for (; j < d; ++j) {
    const float t = a[j] - b[j];
    tail += t * t;
  }
  return total() + tail;
#else
  float s[8] = {};
  index_t j = 0;
  for (; j + 8 <= d; j += 8) {
    for (int l = 0; l < 8; ++l) {
      const float t = a[j + l] - b[j + l];
      s[l] += t * t;
    }
    if ((j + 8) % 16 == 0) {
      const float partial = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
      if (partial > bound) return partial;
    }
  }
  float tail = 0.0f;
  for (; j < d; ++j) {
    const float t = a[j] - b[j];
    tail += t * t;
  }
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + tail;
#endif
}

inline float manhattan_distance_f32(const float* a, const float* b, index_t d,
                                    float bound = std::numeric_limits<float>::infinity()) {
  float s[8] = {};
  index_t j = 0;
  for (; j + 8 <= d; j += 8) {
    for (int l = 0; l < 8; ++l) s[l] += std::fabs(a[j + l] - b[j + l]);
    if ((j + 8) % 16 == 0) {
      const float partial = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
      if (partial > bound) return partial;
    }
  }
  float tail = 0.0f;
  for (; j < d; ++j) tail += std::fabs(a[j] - b[j]);
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + tail;
}

// out[y] = squared_distance_f32(a, rows + y·d, d) (or manhattan_distance_f32) for the `count`
// rows laid side by side at `rows`, with the same bits (the same eight lanes, added in the
// same order) but without the early exit: the searches' joins score one point against all
// its fellow candidates at once. Eight lanes per instruction where the CPU has AVX2 (chosen
// once at run time; `level` forces a loop for the tests: kBaseline or kAvx2).
enum class SimdLevel;
void squared_distances_f32(const float* a, const float* rows, index_t count, index_t d, float* out);
void manhattan_distances_f32(const float* a, const float* rows, index_t count, index_t d, float* out);
void distances_f32_with(bool manhattan, SimdLevel level, const float* a, const float* rows,
                        index_t count, index_t d, float* out);

// What the searches rank by ("keys") for a true metric: a cheap increasing function of the
// distance. Euclidean ranks by the squared distance (no square root per pair).
struct EuclideanKeys {
  static double key(const double* a, const double* b, index_t d, double bound) {
    return squared_distance(a, b, d, bound);
  }
  static float key(const float* a, const float* b, index_t d, float bound) {
    return squared_distance_f32(a, b, d, bound);
  }
  static void keys(const float* a, const float* rows, index_t count, index_t d, float* out) {
    squared_distances_f32(a, rows, count, d, out);
  }
  static double to_distance(double key) { return std::sqrt(key); }
  static double to_key(double distance) { return distance * distance; }
};

struct ManhattanKeys {
  static double key(const double* a, const double* b, index_t d, double bound) {
    return manhattan_distance(a, b, d, bound);
  }
  static float key(const float* a, const float* b, index_t d, float bound) {
    return manhattan_distance_f32(a, b, d, bound);
  }
  static void keys(const float* a, const float* rows, index_t count, index_t d, float* out) {
    manhattan_distances_f32(a, rows, count, d, out);
  }
  static double to_distance(double key) { return key; }
  static double to_key(double distance) { return distance; }
};

// Calls f(EuclideanKeys{}) or f(ManhattanKeys{}): cosine searches Euclidean keys over
// normalised rows (see normalized_rows).
template <class F>
decltype(auto) with_metric_keys(Metric metric, F&& f) {
  if (metric == Metric::kManhattan) return f(ManhattanKeys{});
  return f(EuclideanKeys{});
}

// The columns of X by decreasing variance (ties: the smaller column first): the order in which
// the exact searches sum squared differences, so partial sums grow fastest (early exits come
// sooner) and every exact search gets the same bits for the same pair.
std::vector<index_t> columns_by_variance(ConstMatrix X);

// The rows of X scaled to unit Euclidean norm (for the cosine metric). Throws
// std::invalid_argument naming the first row of zero norm (its cosine is undefined).
std::vector<double> normalized_rows(ConstMatrix X, int n_threads);

// Euclidean distances between unit vectors → cosine distances 1 - cos = d² / 2, in place.
void euclidean_to_cosine(Buffer<double>& distances);

}  // namespace turbotsne
