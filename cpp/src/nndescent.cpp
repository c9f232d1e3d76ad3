#include "turbotsne/nndescent.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "turbotsne/distance.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/prefetch.hpp"
#include "turbotsne/random.hpp"

namespace turbotsne {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
using FloatMatrix = MatrixView<const float>;
constexpr index_t kJoinBatch = 1024;  // points whose local joins share one threshold snapshot
constexpr int kApplyBuckets = 64;     // buckets of targets whose proposals are applied in parallel

// A row as double: float64 rows as they are, float32 rows widened into this buffer.
struct WideRow {
  std::vector<double> buffer;
  const double* of(const double* row, index_t) { return row; }
  const double* of(const float* row, index_t d) {
    buffer.resize(static_cast<size_t>(d));
    for (index_t j = 0; j < d; ++j) buffer[j] = row[j];
    return buffer.data();
  }
};

// Whether `row` (k indices) holds j: one comparison per entry, or-ed, which the compiler
// vectorises (on x86-64 Linux also compiled for AVX2, chosen at run time).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
bool row_holds(const std::int32_t* row, int k, std::int32_t j) {
  int found = 0;
  for (int c = 0; c < k; ++c) found |= row[c] == j ? 1 : 0;
  return found != 0;
}

std::uint64_t hash3(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  return mix64(mix64(mix64(a) ^ b) ^ c);
}

// A random-projection tree as a permutation of the points cut into leaves: leaf l holds
// order[leaf_start[l], leaf_start[l + 1]).
struct RpTree {
  std::vector<std::int32_t> order;
  std::vector<std::int32_t> leaf_start;
};

// Splits ranges by the hyperplane halfway between two of their points, chosen by hashing
// (seed, tree, range), until leaves hold at most leaf_size points. Rows are float64 or
// float32 (Rows = MatrixView<const T>); all arithmetic is in double.
template <class Rows>
RpTree build_rp_tree(Rows X, std::uint64_t seed, int tree, int leaf_size) {
  const auto n = static_cast<std::int32_t>(X.rows);
  const index_t d = X.cols;
  RpTree t;
  t.order.resize(n);
  for (std::int32_t i = 0; i < n; ++i) t.order[i] = i;
  std::vector<double> normal(static_cast<size_t>(d));
  std::vector<std::int32_t> scratch;
  struct Range {
    std::int32_t begin, end;
  };
  std::vector<Range> stack{{0, n}};
  std::vector<Range> leaves;
  while (!stack.empty()) {
    const Range r = stack.back();
    stack.pop_back();
    const std::int32_t size = r.end - r.begin;
    if (size <= leaf_size) {
      leaves.push_back(r);
      continue;
    }
    const std::uint64_t h = hash3(seed, static_cast<std::uint64_t>(tree),
                                  (static_cast<std::uint64_t>(r.begin) << 32) | static_cast<std::uint32_t>(r.end));
    const std::int32_t a = t.order[r.begin + static_cast<std::int32_t>(h % size)];
    std::int32_t b = t.order[r.begin + static_cast<std::int32_t>(mix64(h) % (size - 1))];
    if (b == a) b = t.order[r.end - 1];
    double offset = 0.0;
    for (index_t j = 0; j < d; ++j) {
      const double xa = X(a, j), xb = X(b, j);
      normal[j] = xa - xb;
      offset += normal[j] * 0.5 * (xa + xb);
    }
    // Stable partition: left side first, order otherwise kept.
    scratch.clear();
    std::int32_t left_end = r.begin;
    for (std::int32_t p = r.begin; p < r.end; ++p) {
      const std::int32_t i = t.order[p];
      double s = -offset;
      for (index_t j = 0; j < d; ++j) s += normal[j] * static_cast<double>(X(i, j));
      // Points on the plane (duplicates of a and b among them) go by a hash of their index.
      const bool left = s < 0.0 || (s == 0.0 && (mix64(h ^ static_cast<std::uint64_t>(i)) & 1));
      if (left) {
        t.order[left_end++] = i;
      } else {
        scratch.push_back(i);
      }
    }
    std::copy(scratch.begin(), scratch.end(), t.order.begin() + left_end);
    if (left_end == r.begin || left_end == r.end) left_end = r.begin + size / 2;  // degenerate
    stack.push_back({left_end, r.end});
    stack.push_back({r.begin, left_end});
  }
  std::sort(leaves.begin(), leaves.end(), [](const Range& x, const Range& y) { return x.begin < y.begin; });
  t.leaf_start.reserve(leaves.size() + 1);
  for (const Range& r : leaves) t.leaf_start.push_back(r.begin);
  t.leaf_start.push_back(n);
  return t;
}

// Neighbour lists: row i holds k entries sorted by (key, index), keys being the metric's
// (distance.hpp: squared distances for Euclidean); unused slots have index -1 and key +inf.
// `fresh` marks entries not yet used in a local join.
struct Lists {
  index_t n = 0;
  int k = 0;
  Buffer<float> dist;         // keys, from the float32 rows (see squared_distance_f32)
  Buffer<std::int32_t> idx;   // handed over as the graph's indices (to_graph)
  LargeVector<std::uint8_t> fresh;

  float worst(index_t i) const { return dist[i * k + k - 1]; }
  void prefetch_row(index_t i) const {
    prefetch_range(dist.data() + i * k, static_cast<size_t>(k) * sizeof(float));
    prefetch_range(idx.data() + i * k, static_cast<size_t>(k) * sizeof(std::int32_t));
    prefetch_range(fresh.data() + i * k, static_cast<size_t>(k));
  }

  // Whether j is an entry of row i. A pair's key is always computed by the same function, so
  // when j is there its key is the one just computed: looking for the index alone answers
  // whether (key, j) is an entry. The joins ask this of nearly every pair that beats the
  // k-th key (over 99% of them are there already in the later rounds), so it is a scan of
  // the row's indices without branches rather than a binary search by key, whose loads and
  // branches depend on each other (it was a third of the joins' time on MNIST).
  bool contains(index_t i, std::int32_t j) const { return row_holds(idx.data() + i * k, k, j); }

  // Merges candidates (sorted by (distance, index), no repeats) into row i; returns how many
  // entered. A pair's distance is always computed by the same function, so a candidate that
  // is already in the row has exactly its key there and is skipped as equal. The entries
  // before the first candidate's place (found by bisection) stay where they are: only the
  // row's tail from there is moved to the buffers and merged back.
  int merge(index_t i, const std::pair<float, std::int32_t>* cand, int count,
            std::vector<float>& d_buf, std::vector<std::int32_t>& i_buf, std::vector<std::uint8_t>& f_buf) {
    float* rd = dist.data() + i * k;
    std::int32_t* ri = idx.data() + i * k;
    std::uint8_t* rf = fresh.data() + i * k;
    auto before = [](float d, std::int32_t j, float cd, std::int32_t cj) { return d < cd || (d == cd && j < cj); };
    if (count == 0 || !before(cand[0].first, cand[0].second, rd[k - 1], ri[k - 1])) {
      return 0;  // nothing beats the k-th entry
    }
    int lo = 0, hi = k - 1;  // the first entry not before cand[0] is in [lo, hi]
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (before(rd[mid], ri[mid], cand[0].first, cand[0].second)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    const int tail = k - lo;
    d_buf.assign(rd + lo, rd + k);
    i_buf.assign(ri + lo, ri + k);
    f_buf.assign(rf + lo, rf + k);
    int a = 0, b = 0, out = lo, inserted = 0;
    while (out < k && (a < tail || b < count)) {
      if (b < count && a < tail && d_buf[a] == cand[b].first && i_buf[a] == cand[b].second) {
        ++b;  // already present
        continue;
      }
      if (b >= count || (a < tail && before(d_buf[a], i_buf[a], cand[b].first, cand[b].second))) {
        rd[out] = d_buf[a];
        ri[out] = i_buf[a];
        rf[out] = f_buf[a];
        ++a;
      } else {
        rd[out] = cand[b].first;
        ri[out] = cand[b].second;
        rf[out] = 1;
        ++b;
        ++inserted;
      }
      ++out;
    }
    return inserted;
  }
};

struct Update {
  std::int32_t target;
  std::int32_t source;
  float dist;
  bool operator<(const Update& o) const {
    if (target != o.target) return target < o.target;
    if (dist != o.dist) return dist < o.dist;
    return source < o.source;
  }
  bool operator==(const Update& o) const { return target == o.target && source == o.source && dist == o.dist; }
};

}  // namespace

void ApproximateKnnParams::validate() const {
  require(n_trees >= 1, "n_trees must be >= 1, got " + std::to_string(n_trees));
  require(leaf_size >= 0, "leaf_size must be >= 0 (0: automatic), got " + std::to_string(leaf_size));
  require(max_candidates >= 0, "max_candidates must be >= 0 (0: automatic)");
  require(max_rounds >= 0, "max_rounds must be >= 0");
  require(delta >= 0.0 && std::isfinite(delta), "delta must be finite and >= 0");
}

namespace {

// 1. The random-projection forest, trees in parallel: batches of one tree per thread, so that
// progress is reported as trees get built.
template <class Rows>
std::vector<RpTree> build_forest(Rows X, const ApproximateKnnParams& params, int leaf_size,
                                 int n_threads, Observer* observer) {
  std::vector<RpTree> forest(static_cast<size_t>(params.n_trees));
  parallel_for_polled(params.n_trees, n_threads, observer, [&](index_t t) {
    forest[t] = build_rp_tree(X, params.seed, static_cast<int>(t), leaf_size);
  }, 1, std::max(n_threads, 1), "trees");
  return forest;
}

// The points in the first tree's leaf order, where a point's neighbours mostly sit nearby in
// memory: the search works on positions in it.
struct LeafOrder {
  std::vector<std::int32_t> perm;  // position -> point
  LargeVector<std::int32_t> inv;   // point -> position
  LargeVector<float> xp;           // the rows in that order, rounded to float32
};

// The power of two the float32 copy is scaled by: 0 for data whose largest magnitude is within
// 2^±20 (ordinary data: the copy holds the values as they are), otherwise the one that brings
// it into [0.5, 1), so that float32 keys (squared distances) neither overflow nor underflow
// for data of any magnitude. A power of two scales every key exactly, which changes no ranking.
template <class Rows>
int float_copy_exponent(Rows X, int n_threads) {
  struct Largest {
    double value = 0.0;
    Largest& operator+=(const Largest& o) {
      value = std::max(value, o.value);
      return *this;
    }
  };
  const index_t d = X.cols;
  const double largest = blocked_sum<Largest>(X.rows, n_threads, [&](index_t b, index_t e) {
    Largest m;
    for (index_t i = b; i < e; ++i)
      for (index_t j = 0; j < d; ++j) m.value = std::max(m.value, std::fabs(static_cast<double>(X(i, j))));
    return m;
  }).value;
  if (largest == 0.0 || (largest >= 0x1p-20 && largest <= 0x1p20)) return 0;
  int exponent = 0;
  std::frexp(largest, &exponent);
  return -exponent;
}

template <class Rows>
LeafOrder leaf_order(Rows X, const RpTree& tree, int n_threads) {
  const index_t n = X.rows;
  const index_t d = X.cols;
  LeafOrder o;
  o.perm = tree.order;
  o.inv.resize(static_cast<size_t>(n));
  for (index_t p = 0; p < n; ++p) o.inv[o.perm[p]] = static_cast<std::int32_t>(p);
  o.xp.resize(static_cast<size_t>(n) * d);
  const int exponent = float_copy_exponent(X, n_threads);
  parallel_for(0, n, n_threads, [&](index_t p) {
    const auto* row = X.row(o.perm[p]);
    for (index_t j = 0; j < d; ++j) {
      o.xp[p * d + j] = static_cast<float>(exponent == 0 ? static_cast<double>(row[j])
                                                         : std::ldexp(static_cast<double>(row[j]), exponent));
    }
  }, 1024);
  return o;
}

// 2. The initial lists: the k best of each point's leaf mates over all trees (topped up with
// hashed picks where the leaves hold too few). Leaf by leaf, tree after tree: a leaf's rows are
// gathered once, each pair of mates is scored once (keys are symmetric) and every mate gets the
// others merged into its row. A point lies in one leaf per tree, so the leaves of a tree are
// merged in parallel without sharing a row, and a row ends as the k best of the same set of
// candidates in any order: the lists of scoring each point against the union of its leaves, at
// ~n_trees random rows read per point instead of one per candidate (~8 · 45 at k = 90).
template <class Keys>
void merge_leaf(FloatMatrix Xp, const RpTree& tree, index_t leaf, const LeafOrder& order, Lists& L) {
  const index_t d = Xp.cols;
  const std::int32_t* members = tree.order.data() + tree.leaf_start[leaf];
  const auto s = static_cast<index_t>(tree.leaf_start[leaf + 1] - tree.leaf_start[leaf]);
  if (s < 2) return;
  thread_local std::vector<std::int32_t> pos;
  thread_local std::vector<float> rows, keys, db;
  thread_local std::vector<std::int32_t> ib;
  thread_local std::vector<std::uint8_t> fb;
  thread_local std::vector<std::pair<float, std::int32_t>> cand;
  pos.resize(static_cast<size_t>(s));
  rows.resize(static_cast<size_t>(s * d));
  keys.resize(static_cast<size_t>(s * s));
  const size_t row_bytes = static_cast<size_t>(d) * sizeof(float);
  // Rows scattered over a copy of the data far larger than the caches (1M x 50: 200 MB):
  // asked for ahead (prefetch.hpp), they come in parallel instead of each load waiting.
  constexpr index_t kAhead = 8;  // rows asked for ahead of their copy
  for (index_t a = 0; a < s; ++a) pos[a] = order.inv[members[a]];
  for (index_t a = 0; a < std::min(kAhead, s); ++a) prefetch_range(Xp.row(pos[a]), row_bytes);
  for (index_t a = 0; a < s; ++a) {
    if (a + kAhead < s) prefetch_range(Xp.row(pos[a + kAhead]), row_bytes);
    std::copy(Xp.row(pos[a]), Xp.row(pos[a]) + d, rows.data() + a * d);
  }
  for (index_t a = 0; a + 1 < s; ++a) {
    float* row = keys.data() + a * s;
    Keys::keys(rows.data() + a * d, rows.data() + (a + 1) * d, s - a - 1, d, row + a + 1);
    for (index_t b = a + 1; b < s; ++b) keys[b * s + a] = row[b];
  }
  for (index_t a = 0; a < s; ++a) {
    cand.clear();
    for (index_t b = 0; b < s; ++b) {
      if (b != a) cand.emplace_back(keys[a * s + b], pos[b]);
    }
    std::sort(cand.begin(), cand.end());
    L.merge(pos[a], cand.data(), static_cast<int>(cand.size()), db, ib, fb);
  }
}

template <class Keys>
Lists initial_lists(FloatMatrix Xp, const std::vector<RpTree>& forest, const LeafOrder& order,
                    int k, std::uint64_t seed, int n_threads, Observer* observer) {
  const index_t n = Xp.rows;
  const index_t d = Xp.cols;
  const auto n_trees = static_cast<index_t>(forest.size());
  const char* unit = "points (initial candidates)";
  Lists L;
  L.n = n;
  L.k = k;
  fill_advised(L.dist, static_cast<size_t>(n) * k, kInf);  // rows read at random in the joins
  fill_advised(L.idx, static_cast<size_t>(n) * k, std::int32_t{-1});
  L.fresh.assign(static_cast<size_t>(n) * k, 1);
  // Progress in points' worth of work: a tree's pass over its leaves is n / n_trees of it.
  constexpr index_t kBatch = 16384;  // points per batch of leaves
  for (index_t t = 0; t < n_trees; ++t) {
    const RpTree& tree = forest[t];
    const auto n_leaves = static_cast<index_t>(tree.leaf_start.size()) - 1;
    for (index_t l0 = 0; l0 < n_leaves;) {
      index_t l1 = l0 + 1;
      while (l1 < n_leaves && tree.leaf_start[l1] - tree.leaf_start[l0] < kBatch) ++l1;
      report_progress(observer, unit, (t * n + tree.leaf_start[l0]) / n_trees, n);
      poll(observer);
      parallel_for(l0, l1, n_threads, [&](index_t leaf) { merge_leaf<Keys>(Xp, tree, leaf, order, L); }, 4);
      l0 = l1;
    }
  }
  // Rows the leaves left short of k: hashed picks (not the point, not already there), scored,
  // and the row sorted again.
  parallel_for(0, n, n_threads, [&](index_t i) {
    std::int32_t* ri = L.idx.data() + i * k;
    float* rd = L.dist.data() + i * k;
    if (ri[k - 1] >= 0) return;
    const int found = static_cast<int>(std::find(ri, ri + k, -1) - ri);
    int size = found;
    for (std::uint64_t extra = 0; size < k; ++extra) {
      const auto j = static_cast<std::int32_t>(hash3(seed, static_cast<std::uint64_t>(i), extra) % n);
      if (j != i && std::find(ri, ri + size, j) == ri + size) ri[size++] = j;
    }
    std::vector<std::pair<float, std::int32_t>> row(static_cast<size_t>(k));
    for (int c = 0; c < k; ++c) {
      row[c] = {c < found ? rd[c] : Keys::key(Xp.row(i), Xp.row(ri[c]), d, kInf), ri[c]};
    }
    std::sort(row.begin(), row.end());
    for (int c = 0; c < k; ++c) {
      rd[c] = row[c].first;
      ri[c] = row[c].second;
    }
  }, 1024);
  report_progress(observer, unit, n, n);
  poll(observer);
  return L;
}

// 3a. Each point's forward candidates: its nearest max_cand fresh entries (then no longer
// fresh) as new ones, its nearest max_cand used entries as old ones (-1: none).
void forward_candidates(Lists& L, int max_cand, int n_threads, std::vector<std::int32_t>& fwd_new,
                        std::vector<std::int32_t>& fwd_old) {
  const index_t n = L.n;
  const int k = L.k;
  fwd_new.assign(static_cast<size_t>(n) * max_cand, -1);
  fwd_old.assign(static_cast<size_t>(n) * max_cand, -1);
  parallel_for(0, n, n_threads, [&](index_t i) {
    int nn = 0, no = 0;
    for (int c = 0; c < k; ++c) {
      const index_t e = i * k + c;
      if (L.idx[e] < 0) continue;
      if (L.fresh[e]) {
        if (nn < max_cand) {
          fwd_new[i * max_cand + nn++] = L.idx[e];
          L.fresh[e] = 0;
        }
      } else if (no < max_cand) {
        fwd_old[i * max_cand + no++] = L.idx[e];
      }
    }
  }, 1024);
}

// 3a. Candidate lists (CSR: start, list) = forward ∪ reverse, the reverse part capped at
// max_cand by a hashed order so that hubs do not dominate.
void candidate_lists(const std::vector<std::int32_t>& fwd, index_t n, int max_cand,
                     std::uint64_t salt, int n_threads, std::vector<std::int64_t>& start,
                     std::vector<std::int32_t>& list) {
  std::vector<std::int64_t> rcount(n + 1, 0);
  for (std::int32_t j : fwd) {
    if (j >= 0) ++rcount[j + 1];
  }
  for (index_t i = 0; i < n; ++i) rcount[i + 1] += rcount[i];
  std::vector<std::int32_t> rev(static_cast<size_t>(rcount[n]));
  {
    std::vector<std::int64_t> fill(rcount.begin(), rcount.end() - 1);
    for (index_t i = 0; i < n; ++i) {
      for (int c = 0; c < max_cand; ++c) {
        const std::int32_t j = fwd[i * max_cand + c];
        if (j >= 0) rev[fill[j]++] = static_cast<std::int32_t>(i);
      }
    }
  }
  // Each point's list (at most 2 max_cand entries) is built in a slot of that width, then the
  // slots are packed to the front in order (slot i starts at or after its packed place): no
  // per-point allocation, whose freed blocks glibc would keep resident.
  const index_t width = 2 * static_cast<index_t>(max_cand);
  list.resize(static_cast<size_t>(n * width));
  parallel_for(0, n, n_threads, [&](index_t i) {
    std::int32_t* m = list.data() + i * width;
    int size = 0;
    for (int c = 0; c < max_cand; ++c) {
      if (fwd[i * max_cand + c] >= 0) m[size++] = fwd[i * max_cand + c];
    }
    std::int32_t* r = rev.data() + rcount[i];
    const index_t n_rev = rcount[i + 1] - rcount[i];
    if (n_rev > max_cand) {
      std::sort(r, r + n_rev, [&](std::int32_t x, std::int32_t y) {
        const auto hx = hash3(salt, static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(x));
        const auto hy = hash3(salt, static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(y));
        return hx != hy ? hx < hy : x < y;
      });
    }
    for (index_t c = 0; c < std::min<index_t>(n_rev, max_cand); ++c) m[size++] = r[c];
    std::sort(m, m + size);
    start[i + 1] = std::unique(m, m + size) - m;  // the size, for now
  }, 1024);
  start[0] = 0;
  for (index_t i = 0; i < n; ++i) {
    const index_t size = start[i + 1];
    start[i + 1] = start[i] + size;
    if (start[i] != i * width) {
      std::copy(list.begin() + i * width, list.begin() + i * width + size, list.begin() + start[i]);
    }
  }
  list.resize(static_cast<size_t>(start[n]));
}

// 3b, c. One round's local joins, in batches of points: pairs (new, new) and (new, old) among
// each point's candidates; a pair is proposed to each side whose current k-th key it beats,
// and a batch's proposals are applied grouped by target in (key, index) order. Returns the
// number of entries replaced.
template <class Keys>
std::int64_t local_joins(FloatMatrix Xp, Lists& L, const std::vector<std::int64_t>& new_start,
                         const std::vector<std::int32_t>& new_list,
                         const std::vector<std::int64_t>& old_start,
                         const std::vector<std::int32_t>& old_list, int n_threads,
                         Observer* observer) {
  const index_t n = Xp.rows;
  const index_t d = Xp.cols;
  std::int64_t changed = 0;
  // Each point's current k-th distance, refreshed after every batch for the rows it changed.
  LargeVector<float> threshold(n);
  parallel_for(0, n, n_threads, [&](index_t i) { threshold[i] = L.worst(i); }, 4096);
  std::vector<std::vector<Update>> per_point;  // each point's proposals (kept for their capacity)
  std::vector<Update> all;                     // a batch's, by bucket of targets
  const size_t row_bytes = static_cast<size_t>(d) * sizeof(float);
  const size_t row_idx_bytes = static_cast<size_t>(L.k) * sizeof(std::int32_t);
  for (index_t b0 = 0; b0 < n; b0 += kJoinBatch) {
    if ((b0 / kJoinBatch) % 16 == 0) poll(observer);
    const index_t b1 = std::min(n, b0 + kJoinBatch);
    per_point.resize(static_cast<size_t>(b1 - b0));
    parallel_for(b0, b1, n_threads, [&](index_t v) {
      std::vector<Update>& out = per_point[v - b0];
      // The candidates (new ones first) with their rows copied side by side and their
      // thresholds: each row is read from the scattered copy once, all of them asked for
      // before the first is needed, as are the lists the proposals will be checked against.
      thread_local std::vector<std::int32_t> ids;
      thread_local std::vector<float> rows, thr, keys;
      const index_t n_new = new_start[v + 1] - new_start[v];
      // Every pair has a new side: a point with none proposes nothing, and its old
      // candidates' rows (up to 2 max_cand random reads) are not fetched. In the later
      // rounds, when few entries change, most points have no new candidate.
      if (n_new == 0) return;
      const index_t m = n_new + old_start[v + 1] - old_start[v];
      ids.assign(new_list.begin() + new_start[v], new_list.begin() + new_start[v + 1]);
      ids.insert(ids.end(), old_list.begin() + old_start[v], old_list.begin() + old_start[v + 1]);
      rows.resize(static_cast<size_t>(m * d));
      thr.resize(static_cast<size_t>(m));
      keys.resize(static_cast<size_t>(m));
      for (index_t x = 0; x < m; ++x) {
        prefetch_range(Xp.row(ids[x]), row_bytes);
        prefetch_line(&threshold[ids[x]]);
      }
      for (index_t x = 0; x < m; ++x) {
        std::copy(Xp.row(ids[x]), Xp.row(ids[x]) + d, rows.data() + x * d);
        thr[x] = threshold[ids[x]];
        prefetch_range(L.idx.data() + static_cast<index_t>(ids[x]) * L.k, row_idx_bytes);
      }
      for (index_t x = 0; x < n_new; ++x) {
        const std::int32_t a = ids[x];
        Keys::keys(rows.data() + x * d, rows.data() + (x + 1) * d, m - x - 1, d, keys.data());
        for (index_t y = x + 1; y < m; ++y) {
          const std::int32_t c = ids[y];
          if (a == c) continue;
          const float dd = keys[y - x - 1];
          // Rows do not change during the joins, so "already there" can be checked here.
          if (dd < thr[x] && !L.contains(a, c)) out.push_back({a, c, dd});
          if (dd < thr[y] && !L.contains(c, a)) out.push_back({c, a, dd});
        }
      }
    }, 8);
    // c. Apply: the batch's proposals, grouped by target in (distance, index) order, each
    // target's merged into its row. In parallel by buckets of targets (target mod
    // kApplyBuckets): the proposals are scattered to their buckets (counts, offsets, copies:
    // bucket-major, each bucket's in point order), then each bucket is sorted, freed of
    // repeats and merged. A target's group, and so its row, is the same in any schedule.
    const index_t points = b1 - b0;
    std::vector<index_t> offset(static_cast<size_t>(points * kApplyBuckets), 0);
    parallel_for(0, points, n_threads, [&](index_t p) {
      index_t* count = offset.data() + p * kApplyBuckets;
      for (const Update& u : per_point[p]) ++count[u.target % kApplyBuckets];
    }, 64);
    std::vector<index_t> bucket_start(kApplyBuckets + 1, 0);
    {  // the count of (point p, bucket b) becomes the start of its run, bucket-major
      index_t total = 0;
      for (int bucket = 0; bucket < kApplyBuckets; ++bucket) {
        bucket_start[bucket] = total;
        for (index_t p = 0; p < points; ++p) {
          index_t& slot = offset[p * kApplyBuckets + bucket];
          const index_t count = slot;
          slot = total;
          total += count;
        }
      }
      bucket_start[kApplyBuckets] = total;
      all.resize(static_cast<size_t>(total));
    }
    parallel_for(0, points, n_threads, [&](index_t p) {
      index_t* next = offset.data() + p * kApplyBuckets;
      for (const Update& u : per_point[p]) all[next[u.target % kApplyBuckets]++] = u;
      per_point[p].clear();
    }, 64);
    std::int64_t inserted_by_bucket[kApplyBuckets] = {};
    parallel_for(0, kApplyBuckets, n_threads, [&](index_t bucket) {
      thread_local std::vector<std::pair<float, std::int32_t>> cand;
      thread_local std::vector<float> db;
      thread_local std::vector<std::int32_t> ib;
      thread_local std::vector<std::uint8_t> fb;
      const auto first = all.begin() + bucket_start[bucket];
      auto last = all.begin() + bucket_start[bucket + 1];
      std::sort(first, last);
      last = std::unique(first, last);
      for (auto group = first; group != last;) {
        const std::int32_t target = group->target;
        cand.clear();  // sorted by (distance, source) and without repeats
        for (; group != last && group->target == target; ++group) cand.emplace_back(group->dist, group->source);
        if (group != last) L.prefetch_row(group->target);  // the next group's, while this one merges
        inserted_by_bucket[bucket] += L.merge(target, cand.data(), static_cast<int>(cand.size()), db, ib, fb);
        threshold[target] = L.worst(target);
      }
    }, 1);
    for (const std::int64_t inserted : inserted_by_bucket) changed += inserted;
  }
  return changed;
}

// Back to the caller's ids, in L's own index array (the graph takes it; L is left empty):
// the rows are moved to their points' places by following the permutation's cycles, then
// each neighbour's distance is computed again in double from X (the float32 keys only chose
// the neighbours; float32 rows are widened to double first, so that they give the bits of the
// same values in float64) and each row sorted by (distance, index).
template <class Keys, class Rows>
KnnGraph to_graph(Lists& L, const LeafOrder& order, Rows X, int n_threads) {
  const index_t n = L.n;
  const int k = L.k;
  const std::vector<std::int32_t>& perm = order.perm;
  L.fresh = LargeVector<std::uint8_t>();
  L.dist = Buffer<float>();
  parallel_for(0, n * k, n_threads, [&](index_t e) { L.idx[e] = perm[L.idx[e]]; }, 1 << 16);
  scatter_rows(perm, k, L.idx.data());  // the row at position p belongs to point perm[p]
  KnnGraph graph;
  graph.n = n;
  graph.k = k;
  graph.indices = std::move(L.idx);
  graph.distances.resize_uninitialized(static_cast<size_t>(n) * k);
  parallel_for(0, n, n_threads, [&](index_t i) {
    thread_local std::vector<std::pair<double, std::int32_t>> entries;
    thread_local WideRow a, b;
    entries.resize(static_cast<size_t>(k));
    std::int32_t* idx = graph.indices.data() + i * k;
    const double* xi = a.of(X.row(i), X.cols);
    // The neighbours' rows lie anywhere in X: their first lines are asked for ahead.
    constexpr int kAhead = 6;
    for (int c = 0; c < std::min(kAhead, k); ++c) prefetch_line(X.row(idx[c]));
    for (int c = 0; c < k; ++c) {
      if (c + kAhead < k) prefetch_line(X.row(idx[c + kAhead]));
      entries[c] = {Keys::key(xi, b.of(X.row(idx[c]), X.cols), X.cols,
                              std::numeric_limits<double>::infinity()), idx[c]};
    }
    std::sort(entries.begin(), entries.end());
    for (int c = 0; c < k; ++c) {
      graph.distances[i * k + c] = Keys::to_distance(entries[c].first);
      idx[c] = entries[c].second;
    }
  }, 256);
  graph.locality_order = perm;
  L = Lists{};
  return graph;
}

// The search for one metric's keys (see distance.hpp): candidates come from Euclidean random
// projections for any metric; every comparison ranks by Keys.
template <class Keys, class Rows>
KnnGraph approximate_neighbors(Rows X, int k, const ApproximateKnnParams& params,
                               int n_threads, Observer* observer) {
  const index_t n = X.rows;
  if (n < 2) throw std::invalid_argument("find_approximate_neighbors: need at least 2 points");
  if (n > std::numeric_limits<std::int32_t>::max() - 1) {
    throw std::invalid_argument("find_approximate_neighbors: at most 2^31 - 2 points are supported");
  }
  if (k < 1 || k > n - 1) {
    throw std::invalid_argument("find_approximate_neighbors: k must be in [1, n - 1], got " + std::to_string(k));
  }
  const int leaf_size = params.leaf_size > 0 ? params.leaf_size : std::max(24, k / 2);
  const int max_cand = params.max_candidates > 0 ? params.max_candidates : std::min(k, 8);

  std::vector<RpTree> forest = build_forest(X, params, leaf_size, n_threads, observer);
  LeafOrder order = leaf_order(X, forest[0], n_threads);
  const FloatMatrix Xp{order.xp.data(), n, X.cols};
  Lists L = initial_lists<Keys>(Xp, forest, order, k, params.seed, n_threads, observer);
  forest.clear();

  // 3. NN-descent rounds.
  std::vector<std::int64_t> new_start(n + 1), old_start(n + 1);
  std::vector<std::int32_t> new_list, old_list, fwd_new, fwd_old;
  report_progress(observer, "rounds", 0, params.max_rounds);
  for (int round = 0; round < params.max_rounds; ++round) {
    forward_candidates(L, max_cand, n_threads, fwd_new, fwd_old);
    candidate_lists(fwd_new, n, max_cand, hash3(params.seed, 2 * round, 1), n_threads, new_start, new_list);
    candidate_lists(fwd_old, n, max_cand, hash3(params.seed, 2 * round + 1, 2), n_threads, old_start,
                    old_list);
    const std::int64_t changed =
        local_joins<Keys>(Xp, L, new_start, new_list, old_start, old_list, n_threads, observer);
    report_progress(observer, "rounds", round + 1, params.max_rounds,
                    static_cast<double>(changed) / (static_cast<double>(n) * k));
    poll(observer);
    if (static_cast<double>(changed) < params.delta * static_cast<double>(n) * k) break;
  }
  order.xp = LargeVector<float>();  // the rows' copy is not needed any more
  return to_graph<Keys>(L, order, X, n_threads);
}

}  // namespace

KnnGraph find_approximate_neighbors(DataMatrix data, int k, const ApproximateKnnParams& params,
                                    int n_threads, Observer* observer, Metric metric) {
  params.validate();
  if (metric == Metric::kCosine) {
    const ConstMatrix X = data.doubles("the cosine metric");
    const std::vector<double> unit = normalized_rows(X, n_threads);
    KnnGraph graph = approximate_neighbors<EuclideanKeys>(ConstMatrix{unit.data(), X.rows, X.cols},
                                                          k, params, n_threads, observer);
    euclidean_to_cosine(graph.distances);
    return graph;
  }
  return with_metric_keys(metric, [&](auto keys) {
    return data.visit([&](auto X) {
      return approximate_neighbors<decltype(keys)>(X, k, params, n_threads, observer);
    });
  });
}

}  // namespace turbotsne
