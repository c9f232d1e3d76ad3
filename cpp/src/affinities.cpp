#include "turbotsne/affinities.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
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

CsrMatrix conditional_probabilities(KnnGraph&& graph, double perplexity, int n_threads,
                                    Observer* observer) {
  if (!(perplexity > 0.0) || !std::isfinite(perplexity)) {
    throw std::invalid_argument("conditional_probabilities: perplexity must be positive");
  }
  const index_t n = graph.n;
  const int k = graph.k;
  // In place: each row's distances become its p_{j|i}, and the row is reordered by column
  // index; C then takes the graph's two arrays.
  parallel_for_polled(n, n_threads, observer, [&](index_t i) {
    std::vector<double> sq(k), p(k);
    double* dist = graph.distances.data() + i * k;
    std::int32_t* idx = graph.indices.data() + i * k;
    for (int j = 0; j < k; ++j) sq[j] = dist[j] * dist[j];
    calibrate_row(sq.data(), k, perplexity, p.data());
    std::vector<std::pair<std::int32_t, double>> row(k);  // (column, p), columns distinct
    for (int j = 0; j < k; ++j) row[j] = {idx[j], p[j]};
    std::sort(row.begin(), row.end());
    for (int j = 0; j < k; ++j) std::tie(idx[j], dist[j]) = row[j];
  });
  CsrMatrix C;
  C.n_rows = n;
  C.n_cols = n;
  C.indptr.resize(static_cast<size_t>(n) + 1);
  for (index_t i = 0; i <= n; ++i) C.indptr[i] = i * k;
  C.indices = std::move(graph.indices);
  C.values = std::move(graph.distances);
  graph = KnnGraph{};
  return C;
}

CsrMatrix conditional_probabilities(const KnnGraph& graph, double perplexity, int n_threads,
                                    Observer* observer) {
  KnnGraph copy = graph;
  return conditional_probabilities(std::move(copy), perplexity, n_threads, observer);
}

namespace {

// Position of column c in row r of C (columns sorted), or -1. A branch-free binary search
// (its steps would be unpredictable branches): the range [at, at + len) holds c if the row
// does.
std::int64_t find_in_row(const CsrMatrix& C, index_t r, std::int32_t c) {
  const std::int32_t* begin = C.indices.data() + C.indptr[r];
  std::int64_t len = C.indptr[r + 1] - C.indptr[r];
  if (len == 0) return -1;
  const std::int32_t* at = begin;
  while (len > 1) {
    const std::int64_t half = len / 2;
    at = at[half] <= c ? at + half : at;
    len -= half;
  }
  return *at == c ? C.indptr[r] + (at - begin) : -1;
}

}  // namespace

CsrMatrix symmetrize(const CsrMatrix& C, int n_threads, const std::vector<std::int32_t>* order) {
  const index_t n = C.n_rows;
  const double scale = 1.0 / (2.0 * static_cast<double>(n));
  // Point i is row (and column) rank[i] of the result; row r holds point old[r].
  std::vector<std::int32_t> rank, old;
  if (order != nullptr) {
    require(static_cast<index_t>(order->size()) == n, "symmetrize: order must have n entries");
    old = *order;
    rank.assign(static_cast<size_t>(n), -1);
    for (index_t r = 0; r < n; ++r) {
      const std::int32_t v = old[r];
      require(v >= 0 && v < n && rank[v] < 0, "symmetrize: order must be a permutation of 0 .. n-1");
      rank[v] = static_cast<std::int32_t>(r);
    }
  }
  auto rank_of = [&](std::int32_t i) { return order != nullptr ? rank[i] : i; };
  auto old_of = [&](index_t r) { return order != nullptr ? old[r] : static_cast<std::int32_t>(r); };
  // Row i of (C + Cᵀ) / (2n) holds row i of C (each entry plus its mirror, where C has one)
  // and the "lonely" entries (j → i) of C whose mirror (i → j) C lacks. One binary search per
  // entry finds its mirror, kept as an offset into the mirror's row (2 bytes per entry, with
  // kLonely for none) while rows are shorter than kLonely; a lonely entry adds one to its
  // target's row. Then each row's own entries are written and the lonely ones scattered to
  // the rows they belong to, in any order: each value is computed alone and every row is
  // sorted by column at the end, so the result is the same for any thread count.
  constexpr std::uint16_t kLonely = 0xFFFF;
  std::int64_t longest = 0;
  for (index_t i = 0; i < n; ++i) longest = std::max(longest, C.indptr[i + 1] - C.indptr[i]);
  std::vector<std::uint16_t> mirror_at;
  if (longest < kLonely) mirror_at.resize(C.indices.size());
  auto mirror = [&](std::int64_t e, std::int32_t from) -> std::int64_t {  // of entry e of row from
    const std::int32_t to = C.indices[e];
    if (!mirror_at.empty()) return mirror_at[e] == kLonely ? -1 : C.indptr[to] + mirror_at[e];
    return find_in_row(C, to, from);
  };
  std::vector<std::atomic<std::int64_t>> extra(static_cast<size_t>(n));
  parallel_for(0, n, n_threads, [&](index_t i) { extra[i].store(0, std::memory_order_relaxed); }, 4096);
  parallel_for(0, n, n_threads, [&](index_t j) {
    for (std::int64_t e = C.indptr[j]; e < C.indptr[j + 1]; ++e) {
      const std::int64_t at = find_in_row(C, C.indices[e], static_cast<std::int32_t>(j));
      if (!mirror_at.empty()) {
        mirror_at[e] = at < 0 ? kLonely : static_cast<std::uint16_t>(at - C.indptr[C.indices[e]]);
      }
      if (at < 0) extra[C.indices[e]].fetch_add(1, std::memory_order_relaxed);
    }
  }, 256);
  CsrMatrix P;
  P.n_rows = n;
  P.n_cols = n;
  P.indptr.assign(static_cast<size_t>(n) + 1, 0);
  for (index_t r = 0; r < n; ++r) {
    const std::int32_t i = old_of(r);
    P.indptr[r + 1] = P.indptr[r] + (C.indptr[i + 1] - C.indptr[i]) +
                      extra[i].load(std::memory_order_relaxed);
  }
  P.indices.resize(static_cast<size_t>(P.indptr[n]));
  P.values.resize(static_cast<size_t>(P.indptr[n]));
  // extra[i] becomes the next free slot of point i's row, after its own entries.
  parallel_for(0, n, n_threads, [&](index_t i) {
    std::int64_t at = P.indptr[rank_of(static_cast<std::int32_t>(i))];
    for (std::int64_t e = C.indptr[i]; e < C.indptr[i + 1]; ++e, ++at) {
      const std::int64_t m = mirror(e, static_cast<std::int32_t>(i));
      P.indices[at] = rank_of(C.indices[e]);
      P.values[at] = (m >= 0 ? C.values[e] + C.values[m] : C.values[e]) * scale;
    }
    extra[i].store(at, std::memory_order_relaxed);
  }, 256);
  parallel_for(0, n, n_threads, [&](index_t j) {
    for (std::int64_t e = C.indptr[j]; e < C.indptr[j + 1]; ++e) {
      if (mirror(e, static_cast<std::int32_t>(j)) >= 0) continue;
      const std::int32_t i = C.indices[e];
      const std::int64_t at = extra[i].fetch_add(1, std::memory_order_relaxed);
      P.indices[at] = rank_of(static_cast<std::int32_t>(j));
      P.values[at] = C.values[e] * scale;
    }
  }, 256);
  mirror_at = std::vector<std::uint16_t>();
  // Rows by column: without an order a row's own entries are sorted already and only its
  // lonely tail needs sorting and merging in.
  parallel_for(0, n, n_threads, [&](index_t r) {
    const std::int64_t begin = P.indptr[r], end = P.indptr[r + 1];
    const std::int64_t own = order != nullptr ? 0 : C.indptr[r + 1] - C.indptr[r];
    if (begin + own == end) return;  // no lonely entries: sorted
    thread_local std::vector<std::pair<std::int32_t, double>> row, merged;
    row.resize(static_cast<size_t>(end - begin));
    for (std::int64_t e = begin; e < end; ++e) row[e - begin] = {P.indices[e], P.values[e]};
    std::sort(row.begin() + own, row.end());
    const auto* sorted = &row;
    if (own > 0) {
      merged.resize(row.size());
      std::merge(row.begin(), row.begin() + own, row.begin() + own, row.end(), merged.begin());
      sorted = &merged;
    }
    for (std::int64_t e = begin; e < end; ++e) {
      P.indices[e] = (*sorted)[e - begin].first;
      P.values[e] = (*sorted)[e - begin].second;
    }
  }, 256);
  return P;
}

}  // namespace turbotsne
