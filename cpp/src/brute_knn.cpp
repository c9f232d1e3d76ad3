#include "turbotsne/brute_knn.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "turbotsne/candidates.hpp"
#include "turbotsne/distance.hpp"
#include "turbotsne/parallel.hpp"

namespace turbotsne {
namespace {

constexpr index_t kBlock = 192;       // rows per block of a tile: a multiple of every panel
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

// What exact recomputation needs: squared_distance over rows permuted to the VP-tree's
// column order (so the same bits as the tree), and the frame's scale to compare exact keys
// with the approximate ones.
struct ExactKeys {
  ConstMatrix reference;
  std::vector<index_t> position;  // position[j]: where column j goes in the VP-tree's order
  int total_exponent = 0;         // the frame's units are squared distances · 2^(-2 this)

  // Scattering a row to its positions reads it in order, which the hardware prefetches.
  void permute(const double* row, double* out) const {
    for (size_t j = 0; j < position.size(); ++j) out[position[j]] = row[j];
  }
  // An exact key in the frame's units, or +inf where scaling it would round.
  double scaled(double key) const {
    const double s = std::ldexp(key, -2 * total_exponent);
    return (s == 0.0 && key == 0.0) || std::isnormal(s) ? s : std::numeric_limits<double>::infinity();
  }
};

// Bounds kept in float, rounded outwards so that they stay bounds (half the memory).
float float_below(double x) {
  float f = static_cast<float>(x);
  if (static_cast<double>(f) > x) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}
float float_above(double x) {
  float f = static_cast<float>(x);
  if (static_cast<double>(f) < x) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

// One query's search state: a max-heap of the k smallest upper bounds seen (their largest,
// tau, bounds the k-th exact squared distance from above) and every candidate whose lower
// bound was at most tau when it was seen. tau only decreases, so the candidates are a
// superset of those with lower ≤ final tau, which include the true k nearest. Where too many
// candidates survive (many near-duplicates), they are ranked exactly on the way into a heap
// of the k best, whose k-th exact key then also bounds tau: memory stays O(k) per query.
class QueryCandidates {
 public:
  explicit QueryCandidates(int k) : k_(k) {}

  // Offers reference rows [first, first + count) with dot products `dots` and squared norms
  // `norms`; row `exclude` is skipped. `query` is the query's original row.
  void scan(const double* dots, const double* norms, index_t first, index_t count,
            double query_norm, index_t exclude, const PairErrorBound& bound,
            const ExactKeys& exact, const double* query) {
    for (index_t c = 0; c < count; ++c) {
      const double sum = query_norm + norms[c];
      const double key = sum - 2.0 * dots[c];
      const double margin = bound.relative * sum + bound.absolute;
      if (key - margin <= tau_ && first + c != exclude) {
        add(float_below(key - margin), float_above(key + margin),
            static_cast<std::int32_t>(first + c), exact, query);
      }
    }
  }

  // The k nearest by (exact distance, index), sorted, into indices and distances. Candidates
  // are tried by increasing lower bound; once one's lower bound exceeds the k-th exact key
  // (in the frame's units) so do all later ones.
  void rank(const ExactKeys& exact, const double* query, std::int32_t* indices,
            double* distances) {
    drop_above_tau();
    std::sort(kept_.begin(), kept_.end());
    Candidates best(k_, indices, distances);
    for (int c = 0; c < exact_size_; ++c) best.offer(exact_keys_[c], exact_indices_[c]);
    offer_exactly(best, exact, query);
    best.finish<EuclideanKeys>();
  }

 private:
  void add(float lower, float upper, std::int32_t j, const ExactKeys& exact, const double* query) {
    kept_.emplace_back(lower, j);
    if (static_cast<int>(upper_.size()) < k_) {
      upper_.push_back(upper);
      std::push_heap(upper_.begin(), upper_.end());
      if (static_cast<int>(upper_.size()) == k_) tau_ = std::min<double>(tau_, upper_.front());
    } else if (upper < upper_.front()) {
      std::pop_heap(upper_.begin(), upper_.end());
      upper_.back() = upper;
      std::push_heap(upper_.begin(), upper_.end());
      tau_ = std::min<double>(tau_, upper_.front());
    }
    if (kept_.size() >= prune_at_) prune(exact, query);
  }
  void drop_above_tau() {
    const double tau = tau_;
    kept_.erase(std::remove_if(kept_.begin(), kept_.end(),
                               [tau](const auto& c) { return c.first > tau; }),
                kept_.end());
  }
  void prune(const ExactKeys& exact, const double* query) {
    drop_above_tau();
    const size_t most = 4 * static_cast<size_t>(k_) + 64;
    if (kept_.size() > most) {  // rank them exactly now
      exact_indices_.resize(static_cast<size_t>(k_));
      exact_keys_.resize(static_cast<size_t>(k_));
      std::sort(kept_.begin(), kept_.end());
      Candidates best(k_, exact_indices_.data(), exact_keys_.data(), exact_size_);
      offer_exactly(best, exact, query);
      exact_size_ = best.size();
      kept_.clear();
      if (exact_size_ == k_) tau_ = std::min(tau_, exact.scaled(best.bound()));
    }
    prune_at_ = std::max<size_t>(2 * kept_.size(), static_cast<size_t>(k_) + 32);
  }
  // Offers kept_ (sorted) to best with exact keys.
  void offer_exactly(Candidates& best, const ExactKeys& exact, const double* query) const {
    const index_t d = exact.reference.cols;
    std::vector<double> q(static_cast<size_t>(d)), r(static_cast<size_t>(d));
    exact.permute(query, q.data());
    for (const auto& [lower, i] : kept_) {
      const double bound = best.bound();
      if (lower > exact.scaled(bound)) break;
      exact.permute(exact.reference.row(i), r.data());
      const double d2 = squared_distance(r.data(), q.data(), d, bound);
      if (d2 <= bound) best.offer(d2, i);
    }
  }

  int k_;
  double tau_ = std::numeric_limits<double>::infinity();
  std::vector<float> upper_;
  std::vector<std::pair<float, std::int32_t>> kept_;
  size_t prune_at_ = 0;
  std::vector<std::int32_t> exact_indices_;  // the exactly ranked heap (empty until needed)
  std::vector<double> exact_keys_;
  int exact_size_ = 0;
};

// A point set in the kernel's float panels, with the squared norms of its mapped rows.
struct PackedRows {
  std::vector<float> panels;
  std::vector<double> norms;
};

PackedRows pack_rows(ConstMatrix X, const FloatFrame& frame, int panel_rows, int n_threads) {
  const index_t n = X.rows, d = X.cols;
  const index_t panels = (n + panel_rows - 1) / panel_rows;
  PackedRows packed;
  packed.panels.resize(static_cast<size_t>(panels * panel_rows * d));
  packed.norms.assign(static_cast<size_t>(panels * panel_rows), 0.0);
  parallel_for(0, panels, n_threads, [&](index_t p) {
    pack_panels(X, p * panel_rows, std::min<index_t>(panel_rows, n - p * panel_rows), panel_rows,
                frame, packed.panels.data() + p * panel_rows * d,
                packed.norms.data() + p * panel_rows);
  }, 16);
  return packed;
}

// Everything a search needs besides the candidates: the data, its float panels, the bound.
struct Search {
  ConstMatrix reference, queries;
  DotKernel kernel;
  FloatFrame frame;
  PairErrorBound bound;
  ExactKeys exact;
  PackedRows packed_reference, packed_queries;  // packed_queries: empty for self search

  index_t blocks(index_t rows) const { return (rows + kBlock - 1) / kBlock; }
  index_t block_rows(index_t rows, index_t block) const {
    return std::min(kBlock, rows - block * kBlock);
  }
  // tile = the dot products of query block `qb` (rows of `query_set`) with reference block
  // `rb`, row-major kBlock x kBlock.
  void dot_tile(const PackedRows& query_set, index_t query_rows, index_t qb, index_t rb,
                double* tile) const {
    const index_t d = reference.cols;
    const int nr = kernel.panel_rows;
    std::fill(tile, tile + kBlock * kBlock, 0.0);
    kernel.accumulate(query_set.panels.data() + qb * kBlock * d,
                      packed_reference.panels.data() + rb * kBlock * d,
                      (block_rows(query_rows, qb) + nr - 1) / nr,
                      (block_rows(reference.rows, rb) + nr - 1) / nr, d, tile, kBlock);
  }
  // Offers row r of a tile (query `query` against reference block rb) to its candidates.
  void offer(QueryCandidates& candidates, const double* tile_row, double query_norm,
             index_t query, index_t rb, bool self) const {
    candidates.scan(tile_row, packed_reference.norms.data() + rb * kBlock, rb * kBlock,
                    block_rows(reference.rows, rb), query_norm, self ? query : -1, bound, exact,
                    queries.row(query));
  }
  void rank(QueryCandidates& candidates, index_t query, int k, KnnGraph& graph) const {
    candidates.rank(exact, queries.row(query), graph.indices.data() + query * k,
                    graph.distances.data() + query * k);
  }
};

Search prepare(ConstMatrix reference, ConstMatrix queries, bool self, SimdLevel simd,
               int n_threads) {
  Search s;
  s.reference = reference;
  s.queries = queries;
  s.kernel = dot_kernel(simd);
  s.frame = float_frame(reference, self ? ConstMatrix{} : queries);
  s.bound = pair_error_bound(reference.cols, s.frame);
  const std::vector<index_t> columns = columns_by_variance(reference);
  s.exact.reference = reference;
  s.exact.position.resize(columns.size());
  for (size_t j = 0; j < columns.size(); ++j) s.exact.position[columns[j]] = static_cast<index_t>(j);
  s.exact.total_exponent = s.frame.total_exponent();
  s.packed_reference = pack_rows(reference, s.frame, s.kernel.panel_rows, n_threads);
  if (!self) s.packed_queries = pack_rows(queries, s.frame, s.kernel.panel_rows, n_threads);
  return s;
}

// About 2^28 multiply-adds per thread between polls (a fraction of a second).
index_t poll_batch(index_t tiles_work, int n_threads) {
  return std::max<index_t>(1, static_cast<index_t>(268435456.0 / static_cast<double>(tiles_work))) *
         std::max(n_threads, 1);
}

// Self search: the tile of blocks (a, b) serves a's queries (references in b) and, read
// transposed, b's queries (references in a), so only tiles with a <= b are computed. Tiles
// run in any order on any thread, each block's candidates behind a mutex: the order of
// offers moves tau only on the way, never the candidates that survive it, so the result
// does not depend on the schedule.
KnnGraph search_self(const Search& s, int k, int n_threads, Observer* observer) {
  const index_t n = s.reference.rows;
  const index_t blocks = s.blocks(n);
  std::vector<std::pair<index_t, index_t>> tiles;
  for (index_t a = 0; a < blocks; ++a)
    for (index_t b = a; b < blocks; ++b) tiles.emplace_back(a, b);
  std::vector<QueryCandidates> candidates(static_cast<size_t>(n), QueryCandidates(k));
  std::vector<std::mutex> locks(static_cast<size_t>(blocks));
  auto offer = [&](index_t qb, index_t rb, const double* tile) {
    std::lock_guard<std::mutex> guard(locks[qb]);
    const index_t rows = s.block_rows(n, qb);
    for (index_t r = 0; r < rows; ++r) {
      const index_t i = qb * kBlock + r;
      s.offer(candidates[i], tile + r * kBlock, s.packed_reference.norms[i], i, rb, true);
    }
  };
  const index_t work = kBlock * kBlock * std::max<index_t>(s.reference.cols, 1);
  parallel_for_polled(static_cast<index_t>(tiles.size()), n_threads, observer, [&](index_t t) {
    const auto [a, b] = tiles[t];
    std::vector<double> tile(static_cast<size_t>(kBlock * kBlock));
    s.dot_tile(s.packed_reference, n, a, b, tile.data());
    offer(a, b, tile.data());
    if (a == b) return;
    std::vector<double> transposed(tile.size());
    for (index_t r = 0; r < kBlock; ++r)
      for (index_t c = 0; c < kBlock; ++c) transposed[c * kBlock + r] = tile[r * kBlock + c];
    offer(b, a, transposed.data());
  }, 1, poll_batch(work, n_threads));
  KnnGraph graph = empty_graph(n, k);
  parallel_for_polled(n, n_threads, observer, [&](index_t i) {
    s.rank(candidates[i], i, k, graph);
  }, 64, 4096);
  return graph;
}

// Queries against the reference: one task per block of queries, over every reference block.
KnnGraph search_queries(const Search& s, int k, int n_threads, Observer* observer) {
  const index_t m = s.queries.rows, n = s.reference.rows;
  KnnGraph graph = empty_graph(m, k);
  const index_t work = kBlock * n * std::max<index_t>(s.reference.cols, 1);
  parallel_for_polled(s.blocks(m), n_threads, observer, [&](index_t qb) {
    const index_t rows = s.block_rows(m, qb);
    std::vector<double> tile(static_cast<size_t>(kBlock * kBlock));
    std::vector<QueryCandidates> candidates(static_cast<size_t>(rows), QueryCandidates(k));
    for (index_t rb = 0; rb < s.blocks(n); ++rb) {
      s.dot_tile(s.packed_queries, m, qb, rb, tile.data());
      for (index_t r = 0; r < rows; ++r) {
        const index_t i = qb * kBlock + r;
        s.offer(candidates[r], tile.data() + r * kBlock, s.packed_queries.norms[i], i, rb, false);
      }
    }
    for (index_t r = 0; r < rows; ++r) s.rank(candidates[r], qb * kBlock + r, k, graph);
  }, 1, poll_batch(work, n_threads));
  return graph;
}

// Squared distances could overflow: the VP-tree then (it ranks by the same keys).
bool fits_brute_force(const FloatFrame& frame) { return frame.pre_exponent <= kMaxPreExponent; }

}  // namespace

KnnGraph brute_force_neighbors(ConstMatrix X, int k, int n_threads, Observer* observer,
                               SimdLevel simd) {
  const Search s = prepare(X, X, true, simd, n_threads);
  if (!fits_brute_force(s.frame)) {
    return vptree_neighbors(X, k, n_threads, observer, Metric::kEuclidean);
  }
  poll(observer);
  return search_self(s, k, n_threads, observer);
}

KnnGraph brute_force_query_neighbors(ConstMatrix reference, ConstMatrix queries, int k,
                                     int n_threads, Observer* observer, SimdLevel simd) {
  const Search s = prepare(reference, queries, false, simd, n_threads);
  if (!fits_brute_force(s.frame)) {
    return vptree_query_neighbors(reference, queries, k, Metric::kEuclidean, n_threads, observer);
  }
  poll(observer);
  return search_queries(s, k, n_threads, observer);
}

}  // namespace turbotsne
