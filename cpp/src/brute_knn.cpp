#include "turbotsne/brute_knn.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "turbotsne/buffer.hpp"
#include "turbotsne/candidates.hpp"
#include "turbotsne/distance.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/random.hpp"
#include "turbotsne/vptree.hpp"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace turbotsne {
namespace {

constexpr index_t kBlock = 192;       // rows per block of a tile: a multiple of every panel
static_assert(kBlock <= 256, "tile_hits keeps columns of a block in bytes");
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
// Manhattan (keys in units of s, L1 norms Lq, Lr, S = Lq + Lr): |key − s D̂| ≤ relative · S,
// key = the L1 tile, from the tile's l1.relative · ‖q − r‖₁ ≤ l1.relative · S, the map's
// δ S + 2 d η, and manhattan_distance's γ_(d+1) D̂ ≤ 1.01 γ_(d+1) S (no products to
// underflow), doubled likewise.
struct PairErrorBound {
  double relative = 0.0;
  double absolute = 0.0;
};

PairErrorBound pair_error_bound(index_t d, const FloatFrame& frame, Metric metric) {
  const auto gamma = [](double m) {
    const double u = std::ldexp(1.0, -53);
    return m * u / (1.0 - m * u);
  };
  const double dd = static_cast<double>(d);
  const double delta = 1.01 * (std::ldexp(1.0, -24) + std::ldexp(1.0, -53));
  const double eta = std::ldexp(1.0, -149) + std::ldexp(1.0, -1074 - frame.exponent);
  PairErrorBound bound;
  if (metric == Metric::kManhattan) {
    bound.relative = 2.0 * (l1_error_bound(d).relative + delta + 1.01 * gamma(dd + 1.0));
    bound.absolute = 2.0 * (2.0 * dd * eta);
    return bound;
  }
  const DotErrorBound dot = dot_error_bound(d);
  bound.relative = 2.0 * (dot.relative + 4.01 * delta + gamma(dd) + 4.1 * std::ldexp(1.0, -53) +
                          2.01 * gamma(dd + 2.0));
  bound.absolute = 2.0 * (2.0 * dot.absolute + 8.1 * dd * eta +
                          (dd + 1.0) * std::ldexp(1.0, -1074 - 2 * frame.total_exponent()));
  return bound;
}

// The metric's key between reference row `a`, read in the VP-tree's column order through
// `columns` (columns[t]: the original column at position t), and `b`, already in that order:
// the arithmetic of squared_distance / manhattan_distance term for term (four accumulators,
// the same early exit every 16 coordinates), so the same bits as the tree, without first
// scattering `a` into a permuted copy (that copy was a third of the search on 5,000 x 2,000).
template <bool kL1>
double gathered_key(const double* a, const index_t* columns, const double* b, index_t d, double bound) {
  auto term = [&](index_t j) {
    const double t = a[columns[j]] - b[j];
    if constexpr (kL1) {
      return std::fabs(t);
    } else {
      return t * t;
    }
  };
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  index_t j = 0;
  for (; j + 4 <= d; j += 4) {
    s0 += term(j);
    s1 += term(j + 1);
    s2 += term(j + 2);
    s3 += term(j + 3);
    if ((j + 4) % 16 == 0) {
      const double partial = (s0 + s1) + (s2 + s3);
      if (partial > bound) return partial;
    }
  }
  for (; j < d; ++j) s0 += term(j);
  return (s0 + s1) + (s2 + s3);
}

// What exact recomputation needs: the metric's key (squared_distance or manhattan_distance)
// over rows in the VP-tree's column order (so the same bits as the tree), and the frame's
// scale to compare exact keys with the approximate ones.
struct ExactKeys {
  ConstMatrix reference;
  Metric metric = Metric::kEuclidean;  // kEuclidean or kManhattan
  std::vector<index_t> columns;   // columns[t]: the column at position t of the VP-tree's order
  std::vector<double> permuted;   // the reference rows in that order, where small enough (else empty)
  int total_exponent = 0;         // the frame's units are keys · 2^(-key_power · this)
  int key_power = 2;              // Euclidean keys scale as s², Manhattan ones as s

  // The key between reference row `row` and a query already in the tree's order.
  double key(index_t row, const double* query, double bound) const {
    const index_t d = reference.cols;
    if (!permuted.empty()) {
      const double* a = permuted.data() + row * d;
      return with_metric_keys(metric, [&](auto keys) { return keys.key(a, query, d, bound); });
    }
    const double* a = reference.row(row);
    return metric == Metric::kManhattan ? gathered_key<true>(a, columns.data(), query, d, bound)
                                        : gathered_key<false>(a, columns.data(), query, d, bound);
  }
  void permute(const double* row, double* out) const {
    for (size_t t = 0; t < columns.size(); ++t) out[t] = row[columns[t]];
  }
  // An exact key in the frame's units, or +inf where scaling it would round.
  double scaled(double key) const {
    const double s = std::ldexp(key, -key_power * total_exponent);
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

// One query's search state: the candidates whose lower bound was at most tau when they were
// seen, with their upper bounds. tau is the k-th smallest upper bound among them, updated
// whenever the list has doubled (so it may lag: it is always an upper bound of the k-th exact
// squared distance, and only decreases). The candidates left at the end, lower ≤ final tau,
// include the true k nearest. Where too many candidates survive (near-duplicates: all within
// the error bound of each other), they are ranked exactly on the way into a heap of the k
// best, whose k-th exact key then also bounds tau: memory stays O(k) per query.
class QueryCandidates {
 public:
  explicit QueryCandidates(int k) : k_(k) {}

  // Candidates need a lower bound at most this.
  double tau() const { return tau_; }

  // Offers reference row j at approximate key `key` (in the frame's units) with error bound
  // `margin`; `query` is the query's original row (for ranking exactly on the way).
  void consider(double key, double margin, std::int32_t j, const ExactKeys& exact,
                const double* query) {
    kept_.push_back({float_below(key - margin), float_above(key + margin), j});
    if (kept_.size() >= prune_at_) prune(exact, query);
  }

  // Applies the final tau and sorts the candidates left by (lower bound, index).
  void settle() {
    update_tau();
    drop_above_tau();
    std::sort(kept_.begin(), kept_.end(), [](const Entry& x, const Entry& y) {
      return x.lower < y.lower || (x.lower == y.lower && x.index < y.index);
    });
  }

  // The k nearest by (exact distance, index), sorted, into indices and distances (after
  // settle()). Candidates are tried by increasing lower bound; once one's lower bound exceeds
  // the k-th exact key (in the frame's units) so do all later ones.
  void rank(const ExactKeys& exact, const double* query, std::int32_t* indices,
            double* distances) const {
    Candidates best(k_, indices, distances);
    for (int c = 0; c < exact_size_; ++c) best.offer(exact_keys_[c], exact_indices_[c]);
    offer_exactly(best, exact, query);
    with_metric_keys(exact.metric, [&](auto keys) { best.finish<decltype(keys)>(); });
  }

 private:
  struct Entry {
    float lower, upper;  // bounds of the approximate key, rounded outwards
    std::int32_t index;
  };

  // tau = min(tau, k-th smallest upper bound held): k rows are at most that far.
  void update_tau() {
    if (kept_.size() < static_cast<size_t>(k_)) return;
    const auto kth = kept_.begin() + (k_ - 1);
    std::nth_element(kept_.begin(), kth, kept_.end(),
                     [](const Entry& x, const Entry& y) { return x.upper < y.upper; });
    tau_ = std::min<double>(tau_, kth->upper);
  }
  void drop_above_tau() {
    const double tau = tau_;
    kept_.erase(std::remove_if(kept_.begin(), kept_.end(),
                               [tau](const Entry& e) { return e.lower > tau; }),
                kept_.end());
  }
  void prune(const ExactKeys& exact, const double* query) {
    update_tau();
    drop_above_tau();
    const size_t most = 4 * static_cast<size_t>(k_) + 64;
    if (kept_.size() > most) {  // rank them exactly now
      exact_indices_.resize(static_cast<size_t>(k_));
      exact_keys_.resize(static_cast<size_t>(k_));
      settle();
      Candidates best(k_, exact_indices_.data(), exact_keys_.data(), exact_size_);
      offer_exactly(best, exact, query);
      exact_size_ = best.size();
      kept_.clear();
      if (exact_size_ == k_) tau_ = std::min(tau_, exact.scaled(best.bound()));
    }
    prune_at_ = std::max<size_t>(2 * kept_.size(), 2 * static_cast<size_t>(k_) + 64);
  }
  // Offers kept_ (sorted) to best with exact keys.
  void offer_exactly(Candidates& best, const ExactKeys& exact, const double* query) const {
    std::vector<double> q(static_cast<size_t>(exact.reference.cols));
    exact.permute(query, q.data());
    for (const Entry& e : kept_) {
      const double bound = best.bound();
      if (e.lower > exact.scaled(bound)) break;
      const double d2 = exact.key(e.index, q.data(), bound);
      if (d2 <= bound) best.offer(d2, e.index);
    }
  }

  int k_;
  double tau_ = std::numeric_limits<double>::infinity();
  std::vector<Entry> kept_;
  size_t prune_at_ = 0;
  std::vector<std::int32_t> exact_indices_;  // the exactly ranked heap (empty until needed)
  std::vector<double> exact_keys_;
  int exact_size_ = 0;
};

// An order of the rows in which every run of kBlock rows is compact: ranges are halved
// (the first half a whole number of blocks) at the median of the projections on the
// difference of two of their rows, chosen by hashing the range. Deterministic.
std::vector<std::int32_t> locality_order(ConstMatrix X) {
  const auto n = static_cast<std::int32_t>(X.rows);
  const index_t d = X.cols;
  std::vector<std::int32_t> order(static_cast<size_t>(n));
  for (std::int32_t i = 0; i < n; ++i) order[i] = i;
  std::vector<std::pair<double, std::int32_t>> keyed;
  std::vector<double> direction(static_cast<size_t>(d));
  std::vector<std::pair<std::int32_t, std::int32_t>> stack{{0, n}};
  while (!stack.empty()) {
    const auto [begin, end] = stack.back();
    stack.pop_back();
    const std::int32_t size = end - begin;
    if (size <= kBlock) continue;
    const std::uint64_t h = mix64((static_cast<std::uint64_t>(begin) << 32) ^
                                  static_cast<std::uint32_t>(end));
    const std::int32_t a = order[begin + static_cast<std::int32_t>(h % size)];
    const std::int32_t b = order[begin + static_cast<std::int32_t>(mix64(h) % size)];
    for (index_t j = 0; j < d; ++j) direction[j] = X(a, j) - X(b, j);
    keyed.resize(static_cast<size_t>(size));
    for (std::int32_t p = 0; p < size; ++p) {
      const double* x = X.row(order[begin + p]);
      double key = 0.0;
      for (index_t j = 0; j < d; ++j) key += x[j] * direction[j];
      keyed[p] = {key, order[begin + p]};
    }
    const std::int32_t half = static_cast<std::int32_t>((size / 2 + kBlock - 1) / kBlock * kBlock);
    std::nth_element(keyed.begin(), keyed.begin() + half, keyed.end());
    for (std::int32_t p = 0; p < size; ++p) order[begin + p] = keyed[p].second;
    stack.push_back({begin + half, end});
    stack.push_back({begin, begin + half});
  }
  return order;
}

// A point set in the kernel's float panels, rows in locality order, with the squared (or, for
// Manhattan, L1) norms of its mapped rows. Positions (in that order) index panels and norms;
// order maps them back to rows.
struct PackedRows {
  std::vector<std::int32_t> order;  // position -> row
  std::vector<float> panels;
  std::vector<double> norms;
};

PackedRows pack_rows(ConstMatrix X, const FloatFrame& frame, int panel_rows, bool l1_norms,
                     int n_threads) {
  const index_t n = X.rows, d = X.cols;
  const index_t panels = (n + panel_rows - 1) / panel_rows;
  PackedRows packed;
  packed.order = locality_order(X);
  packed.panels.resize(static_cast<size_t>(panels * panel_rows * d));
  packed.norms.assign(static_cast<size_t>(panels * panel_rows), 0.0);
  parallel_for(0, panels, n_threads, [&](index_t p) {
    pack_panels(X, packed.order.data() + p * panel_rows,
                std::min<index_t>(panel_rows, n - p * panel_rows), panel_rows, frame,
                packed.panels.data() + p * panel_rows * d, packed.norms.data() + p * panel_rows,
                l1_norms);
  }, 16);
  return packed;
}

// The centre (mean of the mapped rows) of every block of kBlock positions.
std::vector<double> block_centres(const PackedRows& packed, index_t rows, index_t d,
                                  int panel_rows) {
  const index_t blocks = (rows + kBlock - 1) / kBlock;
  std::vector<double> centres(static_cast<size_t>(blocks * d), 0.0);
  for (index_t p = 0; p * panel_rows < rows; ++p) {
    double* centre = centres.data() + (p * panel_rows / kBlock) * d;
    const float* panel = packed.panels.data() + p * panel_rows * d;
    for (index_t j = 0; j < d; ++j)
      for (int r = 0; r < panel_rows; ++r) centre[j] += panel[j * panel_rows + r];
  }
  for (index_t b = 0; b < blocks; ++b) {
    const double count = static_cast<double>(std::min(kBlock, rows - b * kBlock));
    for (index_t j = 0; j < d; ++j) centres[b * d + j] /= count;
  }
  return centres;
}

// The filter of one tile row: the columns c whose pair may be among their query's nearest,
// those with wn[c] + tw · dots[c] + offset ≤ their tau (one for all, or tau[c] per column).
// With wn[c] = (nw − rel') · norm_c and offset = (nw − rel') · norm − abs', that is the
// pair's key nw (norm + norm_c) + tw · dot less a bound rel' · (norm + norm_c) + abs' a
// little wider than the error bound (filter_bound): the few roundings of this evaluation,
// grouped otherwise than the key's, can then only let more pairs through, never fewer, and a
// pair let through is ranked by its own bounds (QueryCandidates). Writes the columns into
// hits (increasing) and returns their number. Most of a search's time outside the tiles: on
// x86-64 also with AVX2 (the same values; no FMA) where the tiles' kernel is AVX2 or AVX-512.
inline double filter_value(double wn, double tw, double dot, double offset) {
  return (wn + tw * dot) + offset;
}

template <bool kPerColumn>
int tile_hits_portable(const double* dots, const double* wn, int count, double tw, double offset,
                       const double* tau, double tau_all, std::uint8_t* hits, int first = 0) {
  int m = 0;
  for (int c = 0; c < count; ++c) {
    const double v = filter_value(wn[c], tw, dots[c], offset);
    hits[m] = static_cast<std::uint8_t>(first + c);
    m += v <= (kPerColumn ? tau[c] : tau_all) ? 1 : 0;
  }
  return m;
}

#if defined(__GNUC__) && defined(__x86_64__)
#define TURBOTSNE_TILE_HITS_AVX2 1
template <bool kPerColumn>
__attribute__((target("avx2"))) int tile_hits_avx2(const double* dots, const double* wn, int count,
                                                   double tw, double offset, const double* tau,
                                                   double tau_all, std::uint8_t* hits) {
  // filter_value, four columns at a time
  const __m256d weight = _mm256_set1_pd(tw), shift = _mm256_set1_pd(offset);
  const __m256d all = _mm256_set1_pd(tau_all);
  int m = 0, c = 0;
  for (; c + 4 <= count; c += 4) {
    const __m256d v = _mm256_add_pd(
        _mm256_add_pd(_mm256_loadu_pd(wn + c), _mm256_mul_pd(weight, _mm256_loadu_pd(dots + c))), shift);
    const __m256d t = kPerColumn ? _mm256_loadu_pd(tau + c) : all;
    unsigned bits = static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(v, t, _CMP_LE_OQ)));
    while (bits != 0) {
      hits[m++] = static_cast<std::uint8_t>(c + __builtin_ctz(bits));
      bits &= bits - 1;
    }
  }
  return m + tile_hits_portable<kPerColumn>(dots + c, wn + c, count - c, tw, offset,
                                            kPerColumn ? tau + c : nullptr, tau_all, hits + m, c);
}
#endif

// `level`: the tiles' kernel's (AVX2 and AVX-512 are only chosen where the processor runs
// them), so that a search forced to the baseline runs the portable filter too.
template <bool kPerColumn>
int tile_hits(SimdLevel level, const double* dots, const double* wn, int count, double tw,
              double offset, const double* tau, double tau_all, std::uint8_t* hits) {
#if defined(TURBOTSNE_TILE_HITS_AVX2)
  if (level == SimdLevel::kAvx2 || level == SimdLevel::kAvx512) {
    return tile_hits_avx2<kPerColumn>(dots, wn, count, tw, offset, tau, tau_all, hits);
  }
#else
  (void)level;
#endif
  return tile_hits_portable<kPerColumn>(dots, wn, count, tw, offset, tau, tau_all, hits);
}

// The filter's bound, wider than the pair error bound b: 2^-40 relative (8192 units
// in the last place of the sum, against the dozen that evaluating either form may round by:
// |tw · dot| ≤ the sum of the norms, so every term is within a few times the sum) and as much
// of the absolute part, plus the smallest normal double against underflow.
PairErrorBound filter_bound(const PairErrorBound& b) {
  return {b.relative + std::ldexp(1.0, -40),
          b.absolute * (1.0 + std::ldexp(1.0, -40)) + std::numeric_limits<double>::min()};
}

// Everything a search needs besides the candidates: the data, its float panels, the bound.
// A pair's approximate key is norm_weight · (norm_q + norm_r) + tile_weight · tile: for
// Euclidean Nq + Nr − 2 q·r (squared norms, dot-product tiles), for Manhattan the L1 tile
// itself (0 · L1 norms + 1 · tile; the norms only enter the bound).
struct Search {
  ConstMatrix reference, queries;
  Metric metric = Metric::kEuclidean;
  double norm_weight = 1.0, tile_weight = -2.0;
  DotKernel kernel;
  FloatFrame frame;
  PairErrorBound bound;
  PairErrorBound filter;  // the bound the tiles are filtered with (filter_bound)
  ExactKeys exact;
  PackedRows packed_reference, packed_queries;  // packed_queries: empty for self search

  index_t blocks(index_t rows) const { return (rows + kBlock - 1) / kBlock; }
  index_t block_rows(index_t rows, index_t block) const {
    return std::min(kBlock, rows - block * kBlock);
  }
  // tile = the dot products of query block `qb` (rows of `query_set`) with reference block
  // `rb`, row-major kBlock x kBlock (entries past the blocks' rows are left undefined).
  void dot_tile(const PackedRows& query_set, index_t query_rows, index_t qb, index_t rb,
                double* tile) const {
    const index_t d = reference.cols;
    const int nr = kernel.panel_rows;
    (metric == Metric::kManhattan ? kernel.accumulate_l1 : kernel.accumulate)(
                      query_set.panels.data() + qb * kBlock * d,
                      packed_reference.panels.data() + rb * kBlock * d,
                      (block_rows(query_rows, qb) + nr - 1) / nr,
                      (block_rows(reference.rows, rb) + nr - 1) / nr, d, tile, kBlock);
  }
  // wn[c] = (nw − rel') · norm_c for the columns of a block (see tile_hits).
  void weighted_norms(const double* norms, index_t count, double* wn) const {
    const double weight = norm_weight - filter.relative;
    for (index_t c = 0; c < count; ++c) wn[c] = weight * norms[c];
  }
  // tile_hits' offset for a row point of squared (or L1) norm `norm`.
  double filter_offset(double norm) const {
    return (norm_weight - filter.relative) * norm - filter.absolute;
  }
  // Offers reference row j (original index) to the query of original row `query`.
  void consider(QueryCandidates& candidates, double dot, double norm_sum, std::int32_t j,
                std::int32_t query) const {
    candidates.consider(norm_weight * norm_sum + tile_weight * dot,
                        bound.relative * norm_sum + bound.absolute, j, exact, queries.row(query));
  }
  // Offers a tile to the queries of its rows (block qb of query_set, `candidates` theirs),
  // the references being the columns (block rb); with `self`, a query skips itself.
  void offer_rows(const double* tile, const PackedRows& query_set, index_t query_rows,
                  index_t qb, index_t rb, bool self, QueryCandidates* candidates) const {
    const int cols = static_cast<int>(block_rows(reference.rows, rb));
    const double* norms = packed_reference.norms.data() + rb * kBlock;
    const std::int32_t* rows = packed_reference.order.data() + rb * kBlock;
    double wn[kBlock];
    std::uint8_t hits[kBlock];
    weighted_norms(norms, cols, wn);
    for (index_t r = 0; r < block_rows(query_rows, qb); ++r) {
      const index_t i = qb * kBlock + r;
      const double norm = query_set.norms[i];
      const double* dots = tile + r * kBlock;
      const double offset = filter_offset(norm);
      const int m = tile_hits<false>(kernel.level, dots, wn, cols, tile_weight, offset, nullptr,
                                     candidates[r].tau(), hits);
      for (int h = 0; h < m; ++h) {
        const int c = hits[h];
        // tau may have fallen on the way (the candidates are pruned as they grow)
        if (filter_value(wn[c], tile_weight, dots[c], offset) > candidates[r].tau()) continue;
        if (self && rb * kBlock + c == i) continue;
        consider(candidates[r], dots[c], norm + norms[c], rows[c], query_set.order[i]);
      }
    }
  }
  // Self search: offers the tile of blocks (a, b) to b's queries, the references being a's
  // rows (the tile read by rows, one tau per column).
  void offer_columns(const double* tile, index_t a, index_t b, QueryCandidates* candidates) const {
    const index_t rows = block_rows(reference.rows, a);
    const int cols = static_cast<int>(block_rows(reference.rows, b));
    const double* norms = packed_reference.norms.data() + b * kBlock;
    const std::int32_t* queries_of = packed_reference.order.data() + b * kBlock;
    double wn[kBlock], tau[kBlock];
    std::uint8_t hits[kBlock];
    weighted_norms(norms, cols, wn);
    for (int c = 0; c < cols; ++c) tau[c] = candidates[c].tau();
    for (index_t r = 0; r < rows; ++r) {
      const index_t j = a * kBlock + r;
      const double norm = packed_reference.norms[j];
      const double* dots = tile + r * kBlock;
      const int m = tile_hits<true>(kernel.level, dots, wn, cols, tile_weight, filter_offset(norm),
                                    tau, 0.0, hits);
      for (int h = 0; h < m; ++h) {
        const int c = hits[h];
        consider(candidates[c], dots[c], norm + norms[c], packed_reference.order[j], queries_of[c]);
        tau[c] = candidates[c].tau();
      }
    }
  }
  // Ranks the candidates of the query of original row `query` into its row of the graph.
  void rank(QueryCandidates& candidates, std::int32_t query, int k, KnnGraph& graph) const {
    candidates.settle();
    candidates.rank(exact, queries.row(query), graph.indices.data() + query * k,
                    graph.distances.data() + static_cast<index_t>(query) * k);
  }
};

Search prepare(ConstMatrix reference, ConstMatrix queries, bool self, Metric metric,
               const BruteForceOptions& options, int n_threads) {
  if (metric == Metric::kCosine) {
    throw std::invalid_argument("brute force: search cosine as Euclidean over normalised rows");
  }
  const bool l1 = metric == Metric::kManhattan;
  Search s;
  s.reference = reference;
  s.queries = queries;
  s.metric = metric;
  s.norm_weight = l1 ? 0.0 : 1.0;
  s.tile_weight = l1 ? 1.0 : -2.0;
  s.kernel = dot_kernel(options.simd);
  s.frame = float_frame(reference, self ? ConstMatrix{} : queries);
  s.bound = pair_error_bound(reference.cols, s.frame, metric);
  s.filter = filter_bound(s.bound);
  s.exact.reference = reference;
  s.exact.metric = metric;
  s.exact.key_power = l1 ? 1 : 2;
  s.exact.columns = columns_by_variance(reference);
  // The recomputed keys read the reference rows in the tree's column order: a permuted copy
  // (contiguous, vectorised) where it is small enough, else gathered in place.
  if (static_cast<double>(reference.rows) * reference.cols * sizeof(double) <= options.max_permuted_bytes) {
    s.exact.permuted.resize(static_cast<size_t>(reference.rows * reference.cols));
    parallel_for(0, reference.rows, n_threads, [&](index_t i) {
      s.exact.permute(reference.row(i), s.exact.permuted.data() + i * reference.cols);
    }, 64);
  }
  s.exact.total_exponent = s.frame.total_exponent();
  s.packed_reference = pack_rows(reference, s.frame, s.kernel.panel_rows, l1, n_threads);
  if (!self) s.packed_queries = pack_rows(queries, s.frame, s.kernel.panel_rows, l1, n_threads);
  return s;
}

// About 2^28 multiply-adds per thread between polls (a fraction of a second).
index_t poll_batch(index_t tiles_work, int n_threads) {
  return std::max<index_t>(1, static_cast<index_t>(268435456.0 / static_cast<double>(tiles_work))) *
         std::max(n_threads, 1);
}

// Self search: the tile of blocks (a, b) serves a's queries (references in b) and, read
// transposed, b's queries (references in a), so only tiles with a <= b are computed, nearest
// the diagonal first (blocks close in the locality order are close in space, so tau falls
// early). Tiles run in any order on any thread, each block's candidates behind a mutex: the
// order of offers moves tau only on the way, never the candidates that survive it, so the
// result does not depend on the schedule.
KnnGraph search_self(const Search& s, int k, int n_threads, Observer* observer) {
  const index_t n = s.reference.rows;
  const index_t blocks = s.blocks(n);
  std::vector<std::pair<index_t, index_t>> tiles;
  for (index_t gap = 0; gap < blocks; ++gap)
    for (index_t a = 0; a + gap < blocks; ++a) tiles.emplace_back(a, a + gap);
  std::vector<QueryCandidates> candidates(static_cast<size_t>(n), QueryCandidates(k));
  std::vector<std::mutex> locks(static_cast<size_t>(blocks));
  const index_t work = kBlock * kBlock * std::max<index_t>(s.reference.cols, 1);
  parallel_for_polled(static_cast<index_t>(tiles.size()), n_threads, observer, [&](index_t t) {
    const auto [a, b] = tiles[t];
    std::vector<double> tile(static_cast<size_t>(kBlock * kBlock));
    s.dot_tile(s.packed_reference, n, a, b, tile.data());
    {
      std::lock_guard<std::mutex> guard(locks[a]);
      s.offer_rows(tile.data(), s.packed_reference, n, a, b, a == b, &candidates[a * kBlock]);
    }
    if (a != b) {
      std::lock_guard<std::mutex> guard(locks[b]);
      s.offer_columns(tile.data(), a, b, &candidates[b * kBlock]);
    }
  }, 1, poll_batch(work, n_threads), "tiles");  // then "points": the progress of two steps
  // Exact ranking in the locality order: consecutive queries share many candidates, so the
  // rows they recompute are often still in cache. Each query's candidates are freed once it
  // is ranked, so that the graph's rows (resident as they are written) take the place of
  // the candidate lists instead of adding to them: the search's peak is the lists' (the
  // heap's free pages are handed back after each batch: glibc keeps them otherwise).
  KnnGraph graph = empty_graph(n, k);
  parallel_for_polled(n, n_threads, observer, [&](index_t p) {
    s.rank(candidates[p], s.packed_reference.order[p], k, graph);
    candidates[p] = QueryCandidates(k);
  }, 64, 4096, "points", release_free_heap);
  // The blocks' order is a locality order of the points (see locality_order): the optimiser
  // can take it (TsneParams::locality_min_samples).
  graph.locality_order = s.packed_reference.order;
  return graph;
}

// Queries against the reference: one task per block of queries (in locality order), over the
// reference blocks by increasing distance between block centres (so tau falls early).
KnnGraph search_queries(const Search& s, int k, int n_threads, Observer* observer) {
  const index_t m = s.queries.rows, n = s.reference.rows, d = s.reference.cols;
  const int nr = s.kernel.panel_rows;
  const std::vector<double> query_centres = block_centres(s.packed_queries, m, d, nr);
  const std::vector<double> reference_centres = block_centres(s.packed_reference, n, d, nr);
  KnnGraph graph = empty_graph(m, k);
  const index_t work = kBlock * n * std::max<index_t>(d, 1);
  parallel_for_polled(s.blocks(m), n_threads, observer, [&](index_t qb) {
    const index_t rows = s.block_rows(m, qb);
    std::vector<std::pair<double, index_t>> by_distance(static_cast<size_t>(s.blocks(n)));
    for (index_t rb = 0; rb < s.blocks(n); ++rb) {
      by_distance[rb] = {squared_distance(query_centres.data() + qb * d,
                                          reference_centres.data() + rb * d, d),
                         rb};
    }
    std::sort(by_distance.begin(), by_distance.end());
    std::vector<double> tile(static_cast<size_t>(kBlock * kBlock));
    std::vector<QueryCandidates> candidates(static_cast<size_t>(rows), QueryCandidates(k));
    for (const auto& [unused, rb] : by_distance) {
      s.dot_tile(s.packed_queries, m, qb, rb, tile.data());
      s.offer_rows(tile.data(), s.packed_queries, m, qb, rb, false, candidates.data());
    }
    for (index_t r = 0; r < rows; ++r) {
      s.rank(candidates[r], s.packed_queries.order[qb * kBlock + r], k, graph);
    }
  }, 1, poll_batch(work, n_threads));
  return graph;
}

// Squared distances could overflow: the VP-tree then (it ranks by the same keys).
bool fits_brute_force(const FloatFrame& frame) { return frame.pre_exponent <= kMaxPreExponent; }

}  // namespace

KnnGraph brute_force_neighbors(ConstMatrix X, int k, int n_threads, Observer* observer,
                               Metric metric, const BruteForceOptions& options) {
  const Search s = prepare(X, X, true, metric, options, n_threads);
  if (!fits_brute_force(s.frame)) return vptree_neighbors(X, k, n_threads, observer, metric);
  poll(observer);
  return search_self(s, k, n_threads, observer);
}

KnnGraph brute_force_query_neighbors(ConstMatrix reference, ConstMatrix queries, int k,
                                     int n_threads, Observer* observer, Metric metric,
                                     const BruteForceOptions& options) {
  const Search s = prepare(reference, queries, false, metric, options, n_threads);
  if (!fits_brute_force(s.frame)) {
    return vptree_query_neighbors(reference, queries, k, metric, n_threads, observer);
  }
  poll(observer);
  return search_queries(s, k, n_threads, observer);
}

}  // namespace turbotsne
