#include "turbotsne/affinities.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
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
  if (perplexity >= static_cast<double>(k)) {
    // The largest perplexity k weights can have is k, of equal weights (beta = 0); the
    // search would only approach it, as beta -> 0, where the entropy no longer moves.
    for (int j = 0; j < k; ++j) p[j] = 1.0 / k;
    out.beta = 0.0;
    out.perplexity = static_cast<double>(k);
    out.converged = perplexity == static_cast<double>(k);
    return out;
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
  // Each point uses min(n - 1, floor(3 perplexity)) neighbours and any perplexity < n is
  // accepted (scikit-learn's rules): k weights reach any perplexity up to k (beta -> 0 gives
  // equal weights, perplexity k), and above it the calibration ends at those equal weights.
  require(perplexity < static_cast<double>(n_samples), "perplexity must be less than n_samples");
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
  // In place: each row is reordered by column index and its distances become its p_{j|i} as
  // float32, written over the first half of the distances' bytes, which then shrink to it
  // (no second n·k array). Batches of rows go in order: batch [b0, b1) is computed into
  // `batch_p` and then written to float slots [b0 k, b1 k), bytes [4 b0 k, 4 b1 k), which
  // hold only the doubles of rows before b1 (bytes [0, 8 b1 k)), all read by then.
  constexpr index_t kBatch = 16384;
  std::vector<float> batch_p(static_cast<size_t>(std::min(n, kBatch)) * k);
  double* dist = graph.distances.data();
  for (index_t b0 = 0; b0 < n; b0 += kBatch) {
    const index_t b1 = std::min(n, b0 + kBatch);
    report_progress(observer, "points", b0, n);
    poll(observer);
    parallel_for(b0, b1, n_threads, [&](index_t i) {
      thread_local std::vector<double> sq, p;
      thread_local std::vector<std::pair<std::int32_t, double>> row;  // (column, p), distinct
      sq.resize(k);
      p.resize(k);
      row.resize(k);
      std::int32_t* idx = graph.indices.data() + i * k;
      for (int j = 0; j < k; ++j) sq[j] = dist[i * k + j] * dist[i * k + j];
      calibrate_row(sq.data(), k, perplexity, p.data());
      for (int j = 0; j < k; ++j) row[j] = {idx[j], p[j]};
      std::sort(row.begin(), row.end());
      float* out = batch_p.data() + (i - b0) * k;
      for (int j = 0; j < k; ++j) {
        idx[j] = row[j].first;
        out[j] = static_cast<float>(row[j].second);
      }
    }, 64);
    std::memcpy(reinterpret_cast<unsigned char*>(dist) + sizeof(float) * b0 * k, batch_p.data(),
                sizeof(float) * static_cast<size_t>((b1 - b0) * k));
  }
  report_progress(observer, "points", n, n);
  poll(observer);
  CsrMatrix C;
  C.n_rows = n;
  C.n_cols = n;
  C.indptr.resize(static_cast<size_t>(n) + 1);
  for (index_t i = 0; i <= n; ++i) C.indptr[i] = i * k;
  C.indices = std::move(graph.indices);
  C.values = std::move(graph.distances).reinterpret<float>();
  C.values.resize_uninitialized(static_cast<size_t>(n) * k);
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

namespace {

// Sorts the entries [begin, end) of C's arrays by column.
void sort_entries(CsrMatrix& C, std::int64_t begin, std::int64_t end) {
  thread_local std::vector<std::pair<std::int32_t, float>> row;
  row.resize(static_cast<size_t>(end - begin));
  for (std::int64_t e = begin; e < end; ++e) row[e - begin] = {C.indices[e], C.values[e]};
  std::sort(row.begin(), row.end());
  for (std::int64_t e = begin; e < end; ++e) std::tie(C.indices[e], C.values[e]) = row[e - begin];
}

// C numbered in `order` (row r is point order[r], point j is column rank[j]), rows sorted by
// column again. Rows of one length (a kNN graph's) are moved in place along the cycles of
// the permutation; others through a copy.
void renumber(CsrMatrix& C, const std::vector<std::int32_t>& order, int n_threads) {
  const index_t n = C.n_rows;
  require(static_cast<index_t>(order.size()) == n, "symmetrize: order must have n entries");
  std::vector<std::int32_t> rank(static_cast<size_t>(n), -1);
  for (index_t r = 0; r < n; ++r) {
    const std::int32_t v = order[r];
    require(v >= 0 && v < n && rank[v] < 0, "symmetrize: order must be a permutation of 0 .. n-1");
    rank[v] = static_cast<std::int32_t>(r);
  }
  parallel_for(0, static_cast<index_t>(C.indices.size()), n_threads, [&](index_t e) { C.indices[e] = rank[C.indices[e]]; }, 1 << 16);
  const std::int64_t k = n > 0 ? C.indptr[1] : 0;
  bool regular = true;
  for (index_t i = 0; i <= n && regular; ++i) regular = C.indptr[i] == i * k;
  if (regular) {
    scatter_rows(rank, k, C.indices.data(), C.values.data());  // row p to row rank[p]
  } else {
    CsrMatrix R;
    R.n_rows = n;
    R.n_cols = n;
    R.indptr.assign(static_cast<size_t>(n) + 1, 0);
    for (index_t r = 0; r < n; ++r) {
      R.indptr[r + 1] = R.indptr[r] + C.indptr[order[r] + 1] - C.indptr[order[r]];
    }
    R.indices.resize_uninitialized(C.indices.size());
    R.values.resize_uninitialized(C.values.size());
    parallel_for(0, n, n_threads, [&](index_t r) {
      std::copy(C.indices.begin() + C.indptr[order[r]], C.indices.begin() + C.indptr[order[r] + 1],
                R.indices.begin() + R.indptr[r]);
      std::copy(C.values.begin() + C.indptr[order[r]], C.values.begin() + C.indptr[order[r] + 1],
                R.values.begin() + R.indptr[r]);
    }, 1024);
    C = std::move(R);
  }
  parallel_for(0, n, n_threads, [&](index_t r) { sort_entries(C, C.indptr[r], C.indptr[r + 1]); }, 256);
}

}  // namespace

CsrMatrix symmetrize(CsrMatrix&& C, int n_threads, const std::vector<std::int32_t>* order) {
  const index_t n = C.n_rows;
  const double scale = 1.0 / (2.0 * static_cast<double>(n));
  if (order != nullptr) renumber(C, *order, n_threads);
  // P = (C + Cᵀ) / (2n) is built in C's own arrays. Row i of P holds row i of C (each entry
  // plus its mirror, where C has one) and then the "lonely" entries (j → i) of C whose mirror
  // (i → j) C lacks. Four passes:
  //  1. One binary search per entry finds its mirror, kept as an offset into the mirror's
  //     row (2 bytes per entry, kLonely for none) while rows are shorter than kLonely; each
  //     lonely entry adds one to its target's row.
  //  2. Values in place: a pair's sum is written to both its entries by the point of smaller
  //     index (the only one that reads or writes them), a lonely entry is scaled and flagged
  //     by its sign bit (C's values are >= 0; -0.0 flags a zero) for pass 4. Only values
  //     change, so pass 1's searches could run alongside.
  //  3. The arrays grow to P's size (realloc: pages remapped, not copied) and the rows move
  //     to their places in P, last row first (each row moves up: P's row i is never shorter).
  //  4. Lonely entries are copied to the rows they belong to, in any order, and each row is
  //     sorted by column: each value is computed alone, so the result is the same for any
  //     thread count.
  constexpr std::uint16_t kLonely = 0xFFFF;
  std::int64_t longest = 0;
  for (index_t i = 0; i < n; ++i) longest = std::max(longest, C.indptr[i + 1] - C.indptr[i]);
  std::vector<std::uint16_t> mirror_at;
  if (longest < kLonely) mirror_at.resize(C.indices.size());
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
  parallel_for(0, n, n_threads, [&](index_t j) {
    for (std::int64_t e = C.indptr[j]; e < C.indptr[j + 1]; ++e) {
      const std::int32_t i = C.indices[e];
      const std::int64_t m = mirror_at.empty() ? find_in_row(C, i, static_cast<std::int32_t>(j))
                             : mirror_at[e] == kLonely ? -1
                                                       : C.indptr[i] + mirror_at[e];
      if (m < 0) {
        C.values[e] = -static_cast<float>(static_cast<double>(C.values[e]) * scale);
      } else if (j <= i) {  // (j == i: a diagonal entry is its own mirror)
        const auto v = static_cast<float>(
            (static_cast<double>(C.values[e]) + static_cast<double>(C.values[m])) * scale);
        C.values[e] = v;
        C.values[m] = v;
      }
    }
  }, 256);
  mirror_at = std::vector<std::uint16_t>();
  std::vector<std::int64_t> own = std::move(C.indptr);  // C's rows: where they are now
  CsrMatrix& P = C;
  P.indptr.assign(static_cast<size_t>(n) + 1, 0);
  for (index_t i = 0; i < n; ++i) {
    P.indptr[i + 1] = P.indptr[i] + (own[i + 1] - own[i]) + extra[i].load(std::memory_order_relaxed);
  }
  const auto nnz = static_cast<size_t>(P.indptr[n]);
  P.indices.resize_uninitialized(nnz);
  P.values.resize_uninitialized(nnz);
  for (index_t i = n - 1; i >= 0; --i) {
    if (P.indptr[i] == own[i]) break;  // this row and all before it are in place
    const auto len = static_cast<size_t>(own[i + 1] - own[i]);
    std::memmove(P.indices.data() + P.indptr[i], P.indices.data() + own[i], len * sizeof(std::int32_t));
    std::memmove(P.values.data() + P.indptr[i], P.values.data() + own[i], len * sizeof(float));
  }
  // extra[i] becomes the next free slot of row i, after its own entries.
  parallel_for(0, n, n_threads, [&](index_t i) {
    extra[i].store(P.indptr[i] + (own[i + 1] - own[i]), std::memory_order_relaxed);
  }, 4096);
  parallel_for(0, n, n_threads, [&](index_t j) {
    const std::int64_t stop = P.indptr[j] + (own[j + 1] - own[j]);
    for (std::int64_t e = P.indptr[j]; e < stop; ++e) {
      if (!std::signbit(P.values[e])) continue;
      P.values[e] = -P.values[e];
      const std::int32_t i = P.indices[e];
      const std::int64_t at = extra[i].fetch_add(1, std::memory_order_relaxed);
      P.indices[at] = static_cast<std::int32_t>(j);
      P.values[at] = P.values[e];
    }
  }, 256);
  // Rows by column: a row's own entries are sorted already; only its lonely tail needs
  // sorting and merging in.
  parallel_for(0, n, n_threads, [&](index_t i) {
    const std::int64_t begin = P.indptr[i], mid = begin + (own[i + 1] - own[i]), end = P.indptr[i + 1];
    if (mid == end) return;
    sort_entries(P, mid, end);
    thread_local std::vector<std::pair<std::int32_t, float>> merged;
    merged.resize(static_cast<size_t>(end - begin));
    auto entry = [&](std::int64_t e) { return std::make_pair(P.indices[e], P.values[e]); };
    std::int64_t a = begin, b = mid;
    for (auto& out : merged) {
      out = (b == end || (a < mid && P.indices[a] < P.indices[b])) ? entry(a++) : entry(b++);
    }
    for (std::int64_t e = begin; e < end; ++e) std::tie(P.indices[e], P.values[e]) = merged[e - begin];
  }, 256);
  return std::move(P);
}

CsrMatrix symmetrize(const CsrMatrix& C, int n_threads, const std::vector<std::int32_t>* order) {
  CsrMatrix copy = C;
  return symmetrize(std::move(copy), n_threads, order);
}

}  // namespace turbotsne
