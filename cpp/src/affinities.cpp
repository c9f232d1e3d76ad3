#include "turbotsne/affinities.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "turbotsne/parallel.hpp"

namespace turbotsne {
namespace {

constexpr int kMaxIterations = 200;
// log(beta) is searched in this range: exp(±700) is finite, and with squared distances in
// [1e-300, 1e300] the solution always lies inside.
constexpr double kLogBetaMin = -700.0;
constexpr double kLogBetaMax = 700.0;

// Entropy (nats) of p_j ∝ exp(-beta D_j) for shifted distances D_j >= 0 (at least one is 0),
// with its derivative with respect to log(beta). Writes the unnormalised weights to w.
struct Entropy {
  double h;
  double dh_dlogbeta;
  double sum;
};

Entropy entropy(const double* D, int k, double beta, double* w) {
  double sum = 0.0;
  double mean = 0.0;  // Σ w beta D
  double second = 0.0;  // Σ w (beta D)²
  for (int j = 0; j < k; ++j) {
    const double x = beta * D[j];  // may be +inf for huge D; then w = 0 and x is not used
    const double wj = std::exp(-x);
    w[j] = wj;
    sum += wj;
    if (wj > 0.0) {
      mean += wj * x;
      second += wj * x * x;
    }
  }
  // sum >= 1 because the nearest neighbour has D = 0.
  mean /= sum;
  second /= sum;
  // H = log(sum) + beta E[D];  dH/dlog(beta) = -beta² Var(D) = -(E[x²] - E[x]²).
  return {std::log(sum) + mean, -(second - mean * mean), sum};
}

}  // namespace

RowCalibration calibrate_row(const double* squared_distances, int k, double perplexity,
                             double* p) {
  RowCalibration out;
  if (k <= 0) return out;
  for (int j = 0; j < k; ++j) {
    // inf (a distance beyond 1e154, squared) or NaN would make every p NaN.
    if (!(squared_distances[j] >= 0.0 && squared_distances[j] <= std::numeric_limits<double>::max())) {
      throw std::invalid_argument(
          "squared distances must be finite and non-negative, got " +
          std::to_string(squared_distances[j]) +
          " (distances beyond about 1e154 overflow when squared: scale the data down)");
    }
  }
  const double d_min = *std::min_element(squared_distances, squared_distances + k);
  std::vector<double> D(squared_distances, squared_distances + k);
  for (double& d : D) d -= d_min;
  const double target = std::log(perplexity);

  // Start from beta = 1 / (median positive shifted distance): the right scale for any units.
  std::vector<double> positive;
  positive.reserve(k);
  for (double d : D) {
    if (d > 0.0) positive.push_back(d);
  }
  double log_beta = 0.0;
  if (!positive.empty()) {
    auto mid = positive.begin() + positive.size() / 2;
    std::nth_element(positive.begin(), mid, positive.end());
    log_beta = std::clamp(-std::log(*mid), kLogBetaMin, kLogBetaMax);
  }

  // Entropy falls as beta grows. Bracket [lo, hi] in log(beta): H(lo) >= target >= H(hi).
  double lo = kLogBetaMin;
  double hi = kLogBetaMax;
  Entropy e{};
  double used = log_beta;  // the log(beta) whose weights are in p
  for (int it = 1; it <= kMaxIterations; ++it) {
    used = log_beta;
    e = entropy(D.data(), k, std::exp(log_beta), p);
    out.iterations = it;
    const double diff = e.h - target;
    if (std::fabs(std::expm1(diff)) <= kPerplexityTolerance) {
      out.converged = true;
      break;
    }
    if (diff > 0.0) {
      lo = log_beta;  // entropy too high: sharpen
    } else {
      hi = log_beta;
    }
    // Newton step on H(log beta) = target; fall back to bisection when it leaves the bracket.
    double next = log_beta - diff / e.dh_dlogbeta;
    if (!(e.dh_dlogbeta < 0.0) || !std::isfinite(next) || next <= lo || next >= hi) {
      next = 0.5 * (lo + hi);
    }
    if (next == log_beta) break;  // the bracket cannot shrink further
    log_beta = next;
  }
  // p from the last evaluated weights (those of log_beta); sum >= 1, so this is finite.
  for (int j = 0; j < k; ++j) p[j] /= e.sum;
  out.beta = std::exp(used);
  out.perplexity = std::exp(e.h);
  return out;
}

void calibrate_rows(ConstMatrix squared_distances, double perplexity, double* p, double* beta,
                    double* perplexity_reached, std::uint8_t* converged) {
  const ConstMatrix d = squared_distances;
  for (index_t i = 0; i < d.rows; ++i) {
    const RowCalibration c =
        calibrate_row(d.row(i), static_cast<int>(d.cols), perplexity, p + i * d.cols);
    beta[i] = c.beta;
    perplexity_reached[i] = c.perplexity;
    converged[i] = c.converged;
  }
}

void require_perplexity(double perplexity, index_t n_samples) {
  require(perplexity > 0.0 && std::isfinite(perplexity), "perplexity must be positive");
  require(3.0 * perplexity < static_cast<double>(n_samples),
          "perplexity must satisfy 3 * perplexity < n_samples");
}

void require_run_sizes(index_t n_samples, int n_components, int n_threads) {
  require(n_samples >= 2, "need at least 2 samples, got " + std::to_string(n_samples));
  require(n_samples < (index_t{1} << 31), "at most 2^31 - 1 samples are supported");
  require(n_components >= 1, "n_components must be >= 1, got " + std::to_string(n_components));
  require(n_threads >= 1, "n_threads must be >= 1");
}

CsrMatrix conditional_probabilities(const KnnGraph& graph, double perplexity, int n_threads,
                                    Observer* observer) {
  if (!(perplexity > 0.0) || !std::isfinite(perplexity)) {
    throw std::invalid_argument("conditional_probabilities: perplexity must be positive");
  }
  const index_t n = graph.n;
  const int k = graph.k;
  CsrMatrix C;
  C.n_rows = n;
  C.n_cols = n;
  C.indptr.resize(static_cast<size_t>(n) + 1);
  for (index_t i = 0; i <= n; ++i) C.indptr[i] = i * k;
  C.indices.resize(static_cast<size_t>(n) * k);
  C.values.resize(static_cast<size_t>(n) * k);
  parallel_for_polled(n, n_threads, observer, [&](index_t i) {
    std::vector<double> sq(k);
    std::vector<double> p(k);
    const double* dist = graph.distances.data() + i * k;
    for (int j = 0; j < k; ++j) sq[j] = dist[j] * dist[j];
    calibrate_row(sq.data(), k, perplexity, p.data());
    // Store the row sorted by column index.
    std::vector<int> perm(k);
    std::iota(perm.begin(), perm.end(), 0);
    const std::int32_t* idx = graph.indices.data() + i * k;
    std::sort(perm.begin(), perm.end(), [&](int a, int b) { return idx[a] < idx[b]; });
    for (int j = 0; j < k; ++j) {
      C.indices[i * k + j] = idx[perm[j]];
      C.values[i * k + j] = p[perm[j]];
    }
  });
  return C;
}

namespace {

// Cᵀ (C square) by counting sort, in parallel over a fixed number of blocks of source rows:
// block b counts its entries per column, gets, per column, the slots after those of blocks
// < b, and scatters its rows in order. Each transposed row so lists its sources in row
// order, as a serial counting sort would, for any thread count. (The scatter is random
// access over all of P: a cache miss per entry, hence worth the threads.)
CsrMatrix transpose(const CsrMatrix& C, int n_threads) {
  const index_t n = C.n_rows;
  constexpr index_t kMaxBlocks = 8;
  const index_t n_blocks = std::max<index_t>(1, std::min<index_t>(kMaxBlocks, n / 4096));
  const index_t rows_per_block = (n + n_blocks - 1) / n_blocks;
  std::vector<std::int64_t> slot(static_cast<size_t>(n_blocks * n), 0);  // counts, then offsets
  parallel_for(0, n_blocks, n_threads, [&](index_t b) {
    std::int64_t* count = slot.data() + b * n;
    const index_t r0 = std::min(n, b * rows_per_block), r1 = std::min(n, r0 + rows_per_block);
    for (std::int64_t e = C.indptr[r0]; e < C.indptr[r1]; ++e) ++count[C.indices[e]];
  }, 1);
  CsrMatrix T;
  T.n_rows = n;
  T.n_cols = n;
  T.indptr.assign(static_cast<size_t>(n) + 1, 0);
  for (index_t j = 0; j < n; ++j) {
    std::int64_t total = 0;
    for (index_t b = 0; b < n_blocks; ++b) total += slot[b * n + j];
    T.indptr[j + 1] = T.indptr[j] + total;
  }
  parallel_for(0, n, n_threads, [&](index_t j) {
    std::int64_t at = T.indptr[j];
    for (index_t b = 0; b < n_blocks; ++b) {
      const std::int64_t count = slot[b * n + j];
      slot[b * n + j] = at;
      at += count;
    }
  }, 4096);
  T.indices.resize(C.indices.size());
  T.values.resize(C.values.size());
  parallel_for(0, n_blocks, n_threads, [&](index_t b) {
    std::int64_t* fill = slot.data() + b * n;
    const index_t r0 = std::min(n, b * rows_per_block), r1 = std::min(n, r0 + rows_per_block);
    for (index_t i = r0; i < r1; ++i) {
      for (std::int64_t e = C.indptr[i]; e < C.indptr[i + 1]; ++e) {
        const std::int64_t at = fill[C.indices[e]]++;
        T.indices[at] = static_cast<std::int32_t>(i);
        T.values[at] = C.values[e];
      }
    }
  }, 1);
  return T;
}

// Row i of (C + T) · scale, merging the two sorted rows; written to out_idx/out_val unless
// they are null. Returns the row's length.
std::int64_t merge_row(const CsrMatrix& C, const CsrMatrix& T, index_t i, double scale,
                       std::int32_t* out_idx, double* out_val) {
  std::int64_t a = C.indptr[i], a_end = C.indptr[i + 1];
  std::int64_t b = T.indptr[i], b_end = T.indptr[i + 1];
  std::int64_t m = 0;
  while (a < a_end || b < b_end) {
    std::int32_t col;
    double v = 0.0;
    if (b == b_end || (a < a_end && C.indices[a] < T.indices[b])) {
      col = C.indices[a];
      v = C.values[a++];
    } else if (a == a_end || T.indices[b] < C.indices[a]) {
      col = T.indices[b];
      v = T.values[b++];
    } else {
      col = C.indices[a];
      v = C.values[a++] + T.values[b++];
    }
    if (out_idx != nullptr) {
      out_idx[m] = col;
      out_val[m] = v * scale;
    }
    ++m;
  }
  return m;
}

}  // namespace

CsrMatrix symmetrize(const CsrMatrix& C, int n_threads) {
  const index_t n = C.n_rows;
  const CsrMatrix T = transpose(C, n_threads);
  const double scale = 1.0 / (2.0 * static_cast<double>(n));
  // Row i of the result merges row i of C with row i of Cᵀ: count, then fill.
  CsrMatrix P;
  P.n_rows = n;
  P.n_cols = n;
  P.indptr.assign(static_cast<size_t>(n) + 1, 0);
  parallel_for(0, n, n_threads, [&](index_t i) {
    P.indptr[i + 1] = merge_row(C, T, i, scale, nullptr, nullptr);
  }, 256);
  for (index_t i = 0; i < n; ++i) P.indptr[i + 1] += P.indptr[i];
  P.indices.resize(static_cast<size_t>(P.indptr[n]));
  P.values.resize(static_cast<size_t>(P.indptr[n]));
  parallel_for(0, n, n_threads, [&](index_t i) {
    merge_row(C, T, i, scale, P.indices.data() + P.indptr[i], P.values.data() + P.indptr[i]);
  }, 256);
  return P;
}

}  // namespace turbotsne
