#include "turbotsne/brute_knn.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "turbotsne/candidates.hpp"
#include "turbotsne/distance.hpp"
#include "turbotsne/parallel.hpp"

namespace turbotsne {
namespace {

constexpr index_t kQueryBlock = 16 * kQueryPanelRows;  // queries per block (one task)
constexpr index_t kReferenceTile = 512;  // reference rows per tile: a multiple of every panel
constexpr int kMaxPreExponent = 500;     // beyond 2^500 squared distances may overflow

// How far the approximate squared distance of a pair may lie from the exact one, in the
// frame's units (squared distances times s², s = 2^-total_exponent): for the pair (q, r) of
// mapped rows with computed squared norms Nq, Nr,
//   |key − s² D̂| ≤ relative · (Nq + Nr) + absolute,
// key = Nq + Nr − 2 q·r from the tiles and D̂ = squared_distance of the original rows.
// With S = Nq + Nr and δ the per-coordinate rounding of the map (|q̂ − s(x − c)| ≤ δ|q̂| + η):
//   * the tile's dot product errs by dot.relative · Σ|q r| ≤ dot.relative · S / 2, twice that
//     in the key;
//   * the mapped rows are s(x − c) perturbed by at most δ(‖q‖ + ‖r‖) + 2√d η in norm, which
//     moves ‖q − r‖² by at most 4.01 δ S + 8.1 d η (‖q‖ + ‖r‖ ≤ √(2S), coordinates ≤ 1);
//   * the norms, summed in double, err by γ_d S together; forming the key, by 4.1 u S;
//   * squared_distance (differences, squares, d additions) errs by γ_(d+2) D̂ ≤ 2.01 γ_(d+2) S,
//     plus (d + 1) 2^-1075 before scaling where squares underflow.
// (u = 2^-53, γ_m = m u / (1 − m u).) The sum is doubled as a margin for the rounding of the
// bound's own arithmetic and of key ± bound, which is far smaller than any term above.
struct PairErrorBound {
  double relative = 0.0;
  double absolute = 0.0;
};

PairErrorBound pair_error_bound(index_t d, const FloatFrame& frame) {
  const auto gamma = [](double m) {
    const double u = std::ldexp(1.0, -53);
    return m * u / (1.0 - m * u);
  };
  const double dd = static_cast<double>(d);
  const DotErrorBound dot = dot_error_bound(d);
  const double delta = 1.01 * (std::ldexp(1.0, -24) + std::ldexp(1.0, -53));
  const double eta = std::ldexp(1.0, -149) + std::ldexp(1.0, -1074 - frame.exponent);
  PairErrorBound bound;
  bound.relative = 2.0 * (dot.relative + 4.01 * delta + gamma(dd) + 4.1 * std::ldexp(1.0, -53) +
                          2.01 * gamma(dd + 2.0));
  bound.absolute = 2.0 * (2.0 * dot.absolute + 8.1 * dd * eta +
                          (dd + 1.0) * std::ldexp(1.0, -1074 - 2 * frame.total_exponent()));
  return bound;
}

// One query's search state: a max-heap of the k smallest upper bounds seen (their largest,
// tau, bounds the k-th exact squared distance from above) and every candidate whose lower
// bound was at most tau when it was seen. tau only decreases, so the candidates are a
// superset of those with lower ≤ final tau, which include the true k nearest.
class QueryCandidates {
 public:
  explicit QueryCandidates(int k) : k_(k) { upper_.reserve(static_cast<size_t>(k)); }

  // Offers reference rows [first, first + count) with dot products `dots` and squared norms
  // `norms`; row `exclude` is skipped.
  void scan(const double* dots, const double* norms, index_t first, index_t count,
            double query_norm, index_t exclude, const PairErrorBound& bound) {
    for (index_t c = 0; c < count; ++c) {
      const double sum = query_norm + norms[c];
      const double key = sum - 2.0 * dots[c];
      const double margin = bound.relative * sum + bound.absolute;
      if (key - margin <= tau_ && first + c != exclude) {
        add(key - margin, key + margin, static_cast<std::int32_t>(first + c));
      }
    }
  }

  // The candidates that can still be among the k nearest, sorted by (lower bound, index).
  const std::vector<std::pair<double, std::int32_t>>& finish() {
    prune();
    std::sort(kept_.begin(), kept_.end());
    return kept_;
  }

 private:
  void add(double lower, double upper, std::int32_t j) {
    kept_.emplace_back(lower, j);
    if (static_cast<int>(upper_.size()) < k_) {
      upper_.push_back(upper);
      std::push_heap(upper_.begin(), upper_.end());
      if (static_cast<int>(upper_.size()) == k_) tau_ = upper_.front();
    } else if (upper < upper_.front()) {
      std::pop_heap(upper_.begin(), upper_.end());
      upper_.back() = upper;
      std::push_heap(upper_.begin(), upper_.end());
      tau_ = upper_.front();
    }
    if (kept_.size() >= prune_at_) prune();
  }
  void prune() {
    const double tau = tau_;
    kept_.erase(std::remove_if(kept_.begin(), kept_.end(),
                               [tau](const auto& c) { return c.first > tau; }),
                kept_.end());
    prune_at_ = std::max<size_t>(2 * kept_.size(), 4 * static_cast<size_t>(k_) + 64);
  }

  int k_;
  double tau_ = std::numeric_limits<double>::infinity();
  std::vector<double> upper_;
  std::vector<std::pair<double, std::int32_t>> kept_;
  size_t prune_at_ = 0;
};

// The exact k nearest among a query's candidates: squared_distance over the rows gathered
// in the VP-tree's column order (so the same bits as the tree), ranked by (distance, index).
// Candidates come sorted by lower bound; once one's lower bound exceeds the k-th exact
// distance (in the frame's units) so do all later ones.
void rank_exactly(const std::vector<std::pair<double, std::int32_t>>& kept, ConstMatrix reference,
                  const double* query, const std::vector<index_t>& position, int total_exponent,
                  int k, std::int32_t* indices, double* distances) {
  const index_t d = reference.cols;
  std::vector<double> q(static_cast<size_t>(d)), r(static_cast<size_t>(d));
  for (index_t j = 0; j < d; ++j) q[position[j]] = query[j];
  Candidates best(k, indices, distances);
  for (const auto& [lower, i] : kept) {
    const double bound = best.bound();
    const double scaled = std::ldexp(bound, -2 * total_exponent);
    // Only where scaling the bound was exact (no overflow, no subnormal rounding).
    if ((scaled == 0.0 && bound == 0.0) || std::isnormal(scaled)) {
      if (lower > scaled) break;
    }
    const double* row = reference.row(i);
    for (index_t j = 0; j < d; ++j) r[position[j]] = row[j];
    const double d2 = squared_distance(r.data(), q.data(), d, bound);
    if (d2 <= bound) best.offer(d2, i);
  }
  best.finish<EuclideanKeys>();
}

// queries == reference (same data pointer and shape) with self_excluded: the kNN graph.
KnnGraph search(ConstMatrix reference, ConstMatrix queries, bool self_excluded, int k,
                int n_threads, Observer* observer, SimdLevel simd) {
  const index_t n = reference.rows, m = queries.rows, d = reference.cols;
  const DotKernel kernel = dot_kernel(simd);
  const FloatFrame frame = float_frame(reference, self_excluded ? ConstMatrix{} : queries);
  if (frame.pre_exponent > kMaxPreExponent) {
    return self_excluded
               ? vptree_neighbors(reference, k, n_threads, observer, Metric::kEuclidean)
               : vptree_query_neighbors(reference, queries, k, Metric::kEuclidean, n_threads,
                                        observer);
  }
  // position[j]: where column j goes in the VP-tree's order (scattering reads each row in
  // order, which the hardware prefetches; gathering by column order would not be).
  const std::vector<index_t> columns = columns_by_variance(reference);
  std::vector<index_t> position(static_cast<size_t>(d));
  for (index_t j = 0; j < d; ++j) position[columns[j]] = j;
  const PairErrorBound bound = pair_error_bound(d, frame);

  // The reference in panels of kernel.panel_rows rows, and the squared norms of its rows.
  const int nr = kernel.panel_rows;
  const index_t reference_panels = (n + nr - 1) / nr;
  std::vector<float> packed(static_cast<size_t>(reference_panels * nr * d));
  std::vector<double> norms(static_cast<size_t>(reference_panels * nr), 0.0);
  parallel_for(0, reference_panels, n_threads, [&](index_t p) {
    pack_panels(reference, p * nr, std::min<index_t>(nr, n - p * nr), nr, frame,
                packed.data() + p * nr * d, norms.data() + p * nr);
  }, 16);
  poll(observer);

  KnnGraph graph = empty_graph(m, k);
  const index_t blocks = (m + kQueryBlock - 1) / kQueryBlock;
  // Batches of about 2^28 multiply-adds per thread between polls (a fraction of a second).
  const double block_work = static_cast<double>(kQueryBlock) * n * std::max<index_t>(d, 1);
  const index_t batch = std::max<index_t>(1, static_cast<index_t>(268435456.0 / block_work)) *
                        std::max(n_threads, 1);
  parallel_for_polled(blocks, n_threads, observer, [&](index_t b) {
    const index_t first = b * kQueryBlock;
    const index_t count = std::min(kQueryBlock, m - first);
    const index_t query_panels = (count + kQueryPanelRows - 1) / kQueryPanelRows;
    std::vector<float> query_packed(static_cast<size_t>(query_panels * kQueryPanelRows * d));
    std::vector<double> query_norms(static_cast<size_t>(count));
    pack_panels(queries, first, count, kQueryPanelRows, frame, query_packed.data(),
                query_norms.data());
    std::vector<double> tile(static_cast<size_t>(kQueryBlock * kReferenceTile));
    std::vector<QueryCandidates> candidates(static_cast<size_t>(count), QueryCandidates(k));
    for (index_t t0 = 0; t0 < n; t0 += kReferenceTile) {
      const index_t width = std::min(kReferenceTile, n - t0);
      const index_t panels = (width + nr - 1) / nr;
      std::fill(tile.begin(), tile.end(), 0.0);
      kernel.accumulate(query_packed.data(), packed.data() + t0 * d, query_panels, panels, d,
                        tile.data(), kReferenceTile);
      for (index_t q = 0; q < count; ++q) {
        candidates[q].scan(tile.data() + q * kReferenceTile, norms.data() + t0, t0, width,
                           query_norms[q], self_excluded ? first + q : -1, bound);
      }
    }
    for (index_t q = 0; q < count; ++q) {
      const index_t i = first + q;
      rank_exactly(candidates[q].finish(), reference, queries.row(i), position,
                   frame.total_exponent(), k, graph.indices.data() + i * k,
                   graph.distances.data() + i * k);
    }
  }, 1, batch);
  return graph;
}

}  // namespace

KnnGraph brute_force_neighbors(ConstMatrix X, int k, int n_threads, Observer* observer,
                               SimdLevel simd) {
  return search(X, X, true, k, n_threads, observer, simd);
}

KnnGraph brute_force_query_neighbors(ConstMatrix reference, ConstMatrix queries, int k,
                                     int n_threads, Observer* observer, SimdLevel simd) {
  return search(reference, queries, false, k, n_threads, observer, simd);
}

}  // namespace turbotsne
