#include "turbotsne/gradient.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include "turbotsne/kernel.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/stopwatch.hpp"

namespace turbotsne {

namespace {

// One entry's share of the KL terms: p (log p + α log b), b = 1 + d²/α (log w = −α log b).
inline void add_kl_term(KlTerms& kl, double p, double b, double dof) {
  if (p > 0.0) kl.kl += p * (std::log(p) + dof * std::log(b));
  kl.mass += p;
}

// Rows [begin, end) of the attraction, with the embedding dimension D known at compile time
// (D = 0: run-time dims) and the KL term only when asked for.
template <int D, bool kWithKl>
KlTerms attraction_rows(const CsrView& P, ConstMatrix Y, double dof, Matrix forces,
                       index_t begin, index_t end) {
  const index_t dims = D > 0 ? D : Y.cols;
  const double inv_dof = 1.0 / dof;  // exactly 1 for t-SNE's kernel: no division per entry
  KlTerms kl;
  for (index_t i = begin; i < end; ++i) {
    const double* yi = Y.row(i);
    double f[D > 0 ? D : 1] = {};
    double* fi = D > 0 ? f : forces.row(i);
    if constexpr (D == 0) {
      for (index_t c = 0; c < dims; ++c) fi[c] = 0.0;
    }
    for (std::int64_t e = P.indptr[i]; e < P.indptr[i + 1]; ++e) {
      const double p = P.values[e];  // float32, widened exactly
      const double* yj = Y.data + static_cast<index_t>(P.indices[e]) * dims;
      double d2 = 0.0;
      for (index_t c = 0; c < dims; ++c) {
        const double t = yi[c] - yj[c];
        d2 += t * t;
      }
      const double b = 1.0 + d2 * inv_dof;  // w^(1/α) = 1/b
      const double s = p / b;
      for (index_t c = 0; c < dims; ++c) fi[c] += s * (yi[c] - yj[c]);
      if constexpr (kWithKl) add_kl_term(kl, p, b, dof);
    }
    if constexpr (D > 0) {
      for (int c = 0; c < D; ++c) forces(i, c) = f[c];
    }
  }
  return kl;
}

#if defined(__SSE2__)
// The 2-D attraction, four entries of a row at a time. Entry e of a row adds to accumulator
// lane (e − first) mod 4; a row's force is (lane 0 + lane 1) + (lane 2 + lane 3). Per entry
// the operations are those of attraction_rows (differences, squares, d² = x² + y², b =
// 1 + d²/α, s = p / b, lane += s · difference), so the SSE2 version (two entries per packed
// division) and the AVX2 one (four per division: the divider's throughput is what the loop
// waits on, 40% of the SSE2 loop's samples on MNIST 70k) give the same bits, and the
// arithmetic depends on nothing but the row: the same for every thread count. The KL terms
// are added entry by entry in order in both. The random reads of Y wait longest: the rows
// of Y that entry e + kAhead needs are prefetched (kAhead = 32 was the fastest of 8 to 64 on
// MNIST 70k). P's float32 values are widened exactly to double.
constexpr std::int64_t kAhead = 32;

inline void prefetch_row(const double* Y, std::int32_t j) {
  _mm_prefetch(reinterpret_cast<const char*>(Y + 2 * static_cast<index_t>(j)), _MM_HINT_T0);
}

// The row's entries past the last full group of four (fewer than four), lane by lane into
// the scalar lanes fx, fy, and the row's force from the four lanes.
template <bool kWithKl>
inline void finish_row_2d(const CsrView& P, const double* Y, const double* yi, double dof, double inv_dof,
                          std::int64_t e, std::int64_t stop, double fx[4], double fy[4], double* out,
                          KlTerms& kl) {
  for (int lane = 0; e < stop; ++e, ++lane) {
    const double* yj = Y + 2 * static_cast<index_t>(P.indices[e]);
    const double tx = yi[0] - yj[0], ty = yi[1] - yj[1];
    const double d2 = tx * tx + ty * ty;
    const double b = 1.0 + d2 * inv_dof;
    const double p = P.values[e];
    const double s = p / b;
    fx[lane] += s * tx;
    fy[lane] += s * ty;
    if constexpr (kWithKl) add_kl_term(kl, p, b, dof);
  }
  out[0] = (fx[0] + fx[1]) + (fx[2] + fx[3]);
  out[1] = (fy[0] + fy[1]) + (fy[2] + fy[3]);
}

// A group of four entries' KL terms, in entry order.
inline void kl_of_group(const double b[4], const double p[4], double dof, KlTerms& kl) {
  for (int h = 0; h < 4; ++h) add_kl_term(kl, p[h], b[h], dof);
}

template <bool kWithKl>
KlTerms attraction_rows_2d_sse2(const CsrView& P, ConstMatrix Y, double dof, Matrix forces,
                               index_t begin, index_t end) {
  const __m128d one = _mm_set1_pd(1.0);
  const double inv_dof_value = 1.0 / dof;
  const __m128d inv_dof = _mm_set1_pd(inv_dof_value);
  const std::int64_t last = P.nnz() - 1;
  KlTerms kl;
  for (index_t i = begin; i < end; ++i) {
    const double* yi_ptr = Y.row(i);
    const __m128d yi = _mm_loadu_pd(yi_ptr);
    __m128d acc[4] = {_mm_setzero_pd(), _mm_setzero_pd(), _mm_setzero_pd(), _mm_setzero_pd()};
    std::int64_t e = P.indptr[i];
    const std::int64_t stop = P.indptr[i + 1];
    for (; e + 4 <= stop; e += 4) {
      for (int h = 0; h < 4; ++h) prefetch_row(Y.data, P.indices[std::min(e + h + kAhead, last)]);
      alignas(16) double bb[4], pp[4];
      for (int pair = 0; pair < 2; ++pair) {
        const std::int64_t f = e + 2 * pair;
        const __m128d t0 = _mm_sub_pd(yi, _mm_loadu_pd(Y.data + 2 * static_cast<index_t>(P.indices[f])));
        const __m128d t1 = _mm_sub_pd(yi, _mm_loadu_pd(Y.data + 2 * static_cast<index_t>(P.indices[f + 1])));
        const __m128d q0 = _mm_mul_pd(t0, t0), q1 = _mm_mul_pd(t1, t1);
        const __m128d d2 = _mm_add_pd(_mm_unpacklo_pd(q0, q1), _mm_unpackhi_pd(q0, q1));
        const __m128d b = _mm_add_pd(one, _mm_mul_pd(d2, inv_dof));
        // Two floats by an unaligned 64-bit integer load (a double* load of them would be
        // misaligned and type-punned: UB, found by tests/sanitize.sh).
        const __m128d p =
            _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(P.values + f))));
        const __m128d s = _mm_div_pd(p, b);
        acc[2 * pair] = _mm_add_pd(acc[2 * pair], _mm_mul_pd(_mm_unpacklo_pd(s, s), t0));
        acc[2 * pair + 1] = _mm_add_pd(acc[2 * pair + 1], _mm_mul_pd(_mm_unpackhi_pd(s, s), t1));
        if constexpr (kWithKl) {
          _mm_store_pd(bb + 2 * pair, b);
          _mm_store_pd(pp + 2 * pair, p);
        }
      }
      if constexpr (kWithKl) kl_of_group(bb, pp, dof, kl);
    }
    alignas(16) double lanes[4][2];
    for (int h = 0; h < 4; ++h) _mm_store_pd(lanes[h], acc[h]);
    double fx[4] = {lanes[0][0], lanes[1][0], lanes[2][0], lanes[3][0]};
    double fy[4] = {lanes[0][1], lanes[1][1], lanes[2][1], lanes[3][1]};
    finish_row_2d<kWithKl>(P, Y.data, yi_ptr, dof, inv_dof_value, e, stop, fx, fy, forces.row(i), kl);
  }
  return kl;
}

#if defined(__GNUC__) && defined(__x86_64__)
#define TURBOTSNE_ATTRACTION_AVX2 1
// The same with 256-bit registers (no FMA: the target is "avx2" alone, so products and sums
// stay separately rounded as in the SSE2 version). A group's coordinates are transposed to
// x = (x0, x1, x2, x3), y likewise, so lane h of the registers is entry e + h. kCauchy
// (dof = 1): b = 1 + d², without the product d² · 1 (the same bits). The loop is bound by the
// instructions it issues (MNIST 70k: P and the embedding stay in cache, ~3.4 cycles per
// entry), so the prefetch address is clamped once per group, not once per entry.
template <bool kWithKl, bool kCauchy, bool kPrefetch>
__attribute__((target("avx2"))) KlTerms attraction_rows_2d_avx2(const CsrView& P, ConstMatrix Y, double dof,
                                                                Matrix forces, index_t begin, index_t end) {
  const __m256d one = _mm256_set1_pd(1.0);
  const double inv_dof_value = 1.0 / dof;
  const __m256d inv_dof = _mm256_set1_pd(inv_dof_value);
  const std::int64_t last = P.nnz() - 1;
  KlTerms kl;
  for (index_t i = begin; i < end; ++i) {
    const double* yi_ptr = Y.row(i);
    const __m256d yix = _mm256_set1_pd(yi_ptr[0]), yiy = _mm256_set1_pd(yi_ptr[1]);
    __m256d acc_x = _mm256_setzero_pd(), acc_y = _mm256_setzero_pd();
    std::int64_t e = P.indptr[i];
    const std::int64_t stop = P.indptr[i + 1];
    for (; e + 4 <= stop; e += 4) {
      if constexpr (kPrefetch) {
        const std::int32_t* ahead = P.indices + std::min(e + kAhead, last - 3);
        for (int h = 0; h < 4; ++h) prefetch_row(Y.data, ahead[h]);
      }
      const std::int32_t* j = P.indices + e;
      // Rows of entries 0 and 2 in one register, 1 and 3 in the other, so that the in-lane
      // unpacks give the coordinates in entry order.
      const __m256d a02 = _mm256_insertf128_pd(
          _mm256_castpd128_pd256(_mm_loadu_pd(Y.data + 2 * static_cast<index_t>(j[0]))),
          _mm_loadu_pd(Y.data + 2 * static_cast<index_t>(j[2])), 1);  // x0 y0 x2 y2
      const __m256d a13 = _mm256_insertf128_pd(
          _mm256_castpd128_pd256(_mm_loadu_pd(Y.data + 2 * static_cast<index_t>(j[1]))),
          _mm_loadu_pd(Y.data + 2 * static_cast<index_t>(j[3])), 1);  // x1 y1 x3 y3
      const __m256d tx = _mm256_sub_pd(yix, _mm256_unpacklo_pd(a02, a13));  // x0 x1 x2 x3
      const __m256d ty = _mm256_sub_pd(yiy, _mm256_unpackhi_pd(a02, a13));
      const __m256d d2 = _mm256_add_pd(_mm256_mul_pd(tx, tx), _mm256_mul_pd(ty, ty));
      const __m256d b = _mm256_add_pd(one, kCauchy ? d2 : _mm256_mul_pd(d2, inv_dof));
      const __m256d p = _mm256_cvtps_pd(_mm_loadu_ps(P.values + e));
      const __m256d s = _mm256_div_pd(p, b);
      acc_x = _mm256_add_pd(acc_x, _mm256_mul_pd(s, tx));
      acc_y = _mm256_add_pd(acc_y, _mm256_mul_pd(s, ty));
      if constexpr (kWithKl) {
        alignas(32) double bb[4], pp[4];
        _mm256_store_pd(bb, b);
        _mm256_store_pd(pp, p);
        kl_of_group(bb, pp, dof, kl);
      }
    }
    alignas(32) double lx[4], ly[4];
    _mm256_store_pd(lx, acc_x);
    _mm256_store_pd(ly, acc_y);
    finish_row_2d<kWithKl>(P, Y.data, yi_ptr, dof, inv_dof_value, e, stop, lx, ly, forces.row(i), kl);
  }
  return kl;
}

// The embedding's size from which the AVX2 loop prefetches the rows of Y it will read: below
// it Y fits in a server's last-level cache and the prefetches only cost instructions, which
// the loop is bound by (AMD EPYC, 2 threads, P fixed: MNIST 70k, 1.1 MB, ~8% faster without
// them; a 1M-point atlas, 16 MB, the same within noise, 87-94 against 86-108 ms per call).
// The 10M-point atlas (160 MB) prefetches.
constexpr index_t kPrefetchBytes = index_t{32} << 20;

bool have_avx2() {
  static const bool have = __builtin_cpu_supports("avx2");
  return have;
}
#endif
#endif

// The 2-D loops: attraction_rows<2> (no SSE2), the SSE2 one, the AVX2 one with or without
// prefetches. All but the first give the same bits.
enum class Loop2d { kPortable, kSse2, kAvx2, kAvx2Prefetch };

// The loop compute_attraction takes for Y (2-D).
Loop2d best_loop_2d(ConstMatrix Y) {
#if defined(TURBOTSNE_ATTRACTION_AVX2)
  if (have_avx2()) {
    return Y.size() * static_cast<index_t>(sizeof(double)) > kPrefetchBytes ? Loop2d::kAvx2Prefetch
                                                                             : Loop2d::kAvx2;
  }
#endif
#if defined(__SSE2__)
  return Loop2d::kSse2;
#else
  return Loop2d::kPortable;
#endif
  (void)Y;
}

template <bool kWithKl>
KlTerms attraction_2d(Loop2d loop, const CsrView& P, ConstMatrix Y, double dof, Matrix forces,
                      index_t begin, index_t end) {
  switch (loop) {
#if defined(TURBOTSNE_ATTRACTION_AVX2)
    case Loop2d::kAvx2Prefetch:
      return dof == 1.0 ? attraction_rows_2d_avx2<kWithKl, true, true>(P, Y, dof, forces, begin, end)
                        : attraction_rows_2d_avx2<kWithKl, false, true>(P, Y, dof, forces, begin, end);
    case Loop2d::kAvx2:
      return dof == 1.0 ? attraction_rows_2d_avx2<kWithKl, true, false>(P, Y, dof, forces, begin, end)
                        : attraction_rows_2d_avx2<kWithKl, false, false>(P, Y, dof, forces, begin, end);
#endif
#if defined(__SSE2__)
    case Loop2d::kSse2: return attraction_rows_2d_sse2<kWithKl>(P, Y, dof, forces, begin, end);
#endif
    default: return attraction_rows<2, kWithKl>(P, Y, dof, forces, begin, end);
  }
}

template <bool kWithKl>
KlTerms attraction_block(const CsrView& P, ConstMatrix Y, double dof, Matrix forces,
                        index_t begin, index_t end, Loop2d loop) {
  switch (Y.cols) {
    case 1: return attraction_rows<1, kWithKl>(P, Y, dof, forces, begin, end);
    case 2: return attraction_2d<kWithKl>(loop, P, Y, dof, forces, begin, end);
    case 3: return attraction_rows<3, kWithKl>(P, Y, dof, forces, begin, end);
    default: return attraction_rows<0, kWithKl>(P, Y, dof, forces, begin, end);
  }
}

KlTerms attraction_with(const CsrView& P, ConstMatrix Y, double dof, bool with_kl, Matrix forces,
                        int n_threads, Loop2d loop) {
  // Each block of rows writes its own forces and returns its share of the KL term; blocks
  // are added in order, so the sum does not depend on the thread count.
  return blocked_sum<KlTerms>(P.n_rows, n_threads, [&](index_t begin, index_t end) {
    return with_kl ? attraction_block<true>(P, Y, dof, forces, begin, end, loop)
                   : attraction_block<false>(P, Y, dof, forces, begin, end, loop);
  });
}

}  // namespace

KlTerms compute_attraction(const CsrView& P, ConstMatrix Y, double dof, bool with_kl,
                           Matrix forces, int n_threads) {
  return attraction_with(P, Y, dof, with_kl, forces, n_threads, best_loop_2d(Y));
}

KlTerms compute_attraction_2d(const CsrView& P, ConstMatrix Y, double dof, bool with_kl,
                              Matrix forces, int n_threads, SimdLevel level, bool prefetch) {
  if (Y.cols != 2) throw std::invalid_argument("compute_attraction_2d: Y must have 2 columns");
  Loop2d loop = best_loop_2d(Y);
  if (level == SimdLevel::kBaseline) {
#if defined(__SSE2__)
    loop = Loop2d::kSse2;
#else
    loop = Loop2d::kPortable;
#endif
  } else if (level == SimdLevel::kAvx2 || level == SimdLevel::kAvx512) {
#if defined(TURBOTSNE_ATTRACTION_AVX2)
    if (!have_avx2()) throw std::invalid_argument("compute_attraction_2d: AVX2 is not available");
    loop = prefetch ? Loop2d::kAvx2Prefetch : Loop2d::kAvx2;
#else
    throw std::invalid_argument("compute_attraction_2d: AVX2 is not available in this build");
#endif
  }
  return attraction_with(P, Y, dof, with_kl, forces, n_threads, loop);
}

GradientStats compute_gradient(const CsrView& P, ConstMatrix Y, Repulsion& repulsion,
                               double exaggeration, bool with_kl, Matrix grad, Matrix work,
                               int n_threads, GradientTimings* timings) {
  GradientStats stats;
  Stopwatch watch;
  const KlTerms kl_part = compute_attraction(P, Y, repulsion.dof(), with_kl, grad, n_threads);
  const double t_attraction = watch.lap();
  stats.z = repulsion.compute(Y, work, n_threads);
  const double t_repulsion = watch.lap();
  if (std::isnan(stats.z)) throw std::runtime_error("t-SNE normalisation Z is NaN");
  // When every pairwise kernel underflows (points far apart for a steep kernel, e.g. dof 100
  // and distances of 30), the repulsion sums underflow with them: the step is attraction
  // only, with Z at the smallest normal double so that the KL stays finite.
  stats.z = std::max(stats.z, std::numeric_limits<double>::min());
  const double inv_z = 1.0 / stats.z;
  parallel_for(0, grad.size(), n_threads, [&](index_t e) {
    grad.data[e] = exaggeration * grad.data[e] - inv_z * work.data[e];
  }, 4096);
  if (with_kl) stats.kl = kl_part.with_z(stats.z);
  if (timings != nullptr) {
    timings->attraction += t_attraction + watch.lap();
    timings->repulsion += t_repulsion;
  }
  return stats;
}

GradientStats kl_gradient(const CsrView& P, ConstMatrix Y, Repulsion& repulsion,
                          double exaggeration, Matrix grad, int n_threads) {
  std::vector<double> work(static_cast<size_t>(Y.size()));
  const GradientStats stats = compute_gradient(P, Y, repulsion, exaggeration, true, grad,
                                               Matrix{work.data(), Y.rows, Y.cols}, n_threads);
  for (index_t e = 0; e < grad.size(); ++e) grad.data[e] *= 4.0;
  return stats;
}

double kl_divergence_exact(const CsrView& P, ConstMatrix Y, double dof, int n_threads) {
  std::vector<double> scratch(static_cast<size_t>(Y.size()));
  Matrix work{scratch.data(), Y.rows, Y.cols};
  const KlTerms kl_part = compute_attraction(P, Y, dof, true, work, n_threads);
  ExactRepulsion exact(dof);
  const double z = exact.compute(Y, work, n_threads);
  if (!(z > 0.0)) throw std::invalid_argument("kl_divergence: all pairwise affinities underflow");
  return kl_part.with_z(z);
}

}  // namespace turbotsne
