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

#include "turbotsne/kernel.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/stopwatch.hpp"

namespace turbotsne {

namespace {

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
      if constexpr (kWithKl) {
        if (p > 0.0) kl.kl += p * (std::log(p) + dof * std::log(b));  // log w = −α log b
        kl.mass += p;
      }
    }
    if constexpr (D > 0) {
      for (int c = 0; c < D; ++c) forces(i, c) = f[c];
    }
  }
  return kl;
}

#if defined(__SSE2__)
// The 2-D attraction, two entries of a row at a time: one packed division serves both (the
// division's latency is what the scalar loop waits on). Even and odd entries go to separate
// accumulators that are added at the end of the row; the KL term uses the same b values. The
// arithmetic depends on nothing but the row, so it is the same for every thread count.
// The random reads of Y wait longest: the rows of Y that entry e + kAhead needs are
// prefetched (kAhead = 32 was the fastest of 8 to 64 on MNIST 70k). P's float32 values are
// widened exactly to double.
template <bool kWithKl>
KlTerms attraction_rows_2d_sse2(const CsrView& P, ConstMatrix Y, double dof, Matrix forces,
                               index_t begin, index_t end) {
  constexpr std::int64_t kAhead = 32;
  const __m128d one = _mm_set1_pd(1.0);
  const __m128d inv_dof = _mm_set1_pd(1.0 / dof);
  const std::int64_t last = P.nnz() - 1;
  KlTerms kl;
  for (index_t i = begin; i < end; ++i) {
    const __m128d yi = _mm_loadu_pd(Y.row(i));
    __m128d acc0 = _mm_setzero_pd(), acc1 = _mm_setzero_pd();
    std::int64_t e = P.indptr[i];
    const std::int64_t stop = P.indptr[i + 1];
    for (; e + 2 <= stop; e += 2) {
      const std::int64_t ahead = std::min(e + kAhead, last - 1);
      _mm_prefetch(reinterpret_cast<const char*>(Y.data + 2 * static_cast<index_t>(P.indices[ahead])), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(Y.data + 2 * static_cast<index_t>(P.indices[ahead + 1])), _MM_HINT_T0);
      const __m128d t0 = _mm_sub_pd(yi, _mm_loadu_pd(Y.data + 2 * static_cast<index_t>(P.indices[e])));
      const __m128d t1 = _mm_sub_pd(yi, _mm_loadu_pd(Y.data + 2 * static_cast<index_t>(P.indices[e + 1])));
      const __m128d q0 = _mm_mul_pd(t0, t0), q1 = _mm_mul_pd(t1, t1);
      const __m128d d2 = _mm_add_pd(_mm_unpacklo_pd(q0, q1), _mm_unpackhi_pd(q0, q1));
      const __m128d b = _mm_add_pd(one, _mm_mul_pd(d2, inv_dof));
      // Two floats by an unaligned 64-bit integer load (a double* load of them would be
      // misaligned and type-punned: UB, found by tests/sanitize.sh).
      const __m128d p =
          _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(P.values + e))));
      const __m128d s = _mm_div_pd(p, b);
      acc0 = _mm_add_pd(acc0, _mm_mul_pd(_mm_unpacklo_pd(s, s), t0));
      acc1 = _mm_add_pd(acc1, _mm_mul_pd(_mm_unpackhi_pd(s, s), t1));
      if constexpr (kWithKl) {
        alignas(16) double bb[2], pp[2];
        _mm_store_pd(bb, b);
        _mm_store_pd(pp, p);
        for (int h = 0; h < 2; ++h) {
          if (pp[h] > 0.0) kl.kl += pp[h] * (std::log(pp[h]) + dof * std::log(bb[h]));
          kl.mass += pp[h];
        }
      }
    }
    if (e < stop) {  // odd count: the last entry alone
      const __m128d t0 = _mm_sub_pd(yi, _mm_loadu_pd(Y.data + 2 * static_cast<index_t>(P.indices[e])));
      const __m128d q0 = _mm_mul_pd(t0, t0);
      const __m128d d2 = _mm_add_sd(q0, _mm_unpackhi_pd(q0, q0));
      const __m128d b = _mm_add_sd(one, _mm_mul_sd(d2, inv_dof));
      const __m128d p = _mm_set_sd(static_cast<double>(P.values[e]));
      const __m128d s = _mm_div_sd(p, b);
      acc0 = _mm_add_pd(acc0, _mm_mul_pd(_mm_unpacklo_pd(s, s), t0));
      if constexpr (kWithKl) {
        const double pv = static_cast<double>(P.values[e]);
        if (pv > 0.0) kl.kl += pv * (std::log(pv) + dof * std::log(_mm_cvtsd_f64(b)));
        kl.mass += pv;
      }
    }
    _mm_storeu_pd(forces.row(i), _mm_add_pd(acc0, acc1));
  }
  return kl;
}
#endif

template <bool kWithKl>
KlTerms attraction_block(const CsrView& P, ConstMatrix Y, double dof, Matrix forces,
                        index_t begin, index_t end) {
  switch (Y.cols) {
    case 1: return attraction_rows<1, kWithKl>(P, Y, dof, forces, begin, end);
#if defined(__SSE2__)
    case 2: return attraction_rows_2d_sse2<kWithKl>(P, Y, dof, forces, begin, end);
#else
    case 2: return attraction_rows<2, kWithKl>(P, Y, dof, forces, begin, end);
#endif
    case 3: return attraction_rows<3, kWithKl>(P, Y, dof, forces, begin, end);
    default: return attraction_rows<0, kWithKl>(P, Y, dof, forces, begin, end);
  }
}

}  // namespace

KlTerms compute_attraction(const CsrView& P, ConstMatrix Y, double dof, bool with_kl,
                           Matrix forces, int n_threads) {
  // Each block of rows writes its own forces and returns its share of the KL term; blocks
  // are added in order, so the sum does not depend on the thread count.
  return blocked_sum<KlTerms>(P.n_rows, n_threads, [&](index_t begin, index_t end) {
    return with_kl ? attraction_block<true>(P, Y, dof, forces, begin, end)
                   : attraction_block<false>(P, Y, dof, forces, begin, end);
  });
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
