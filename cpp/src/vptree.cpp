#include "turbotsne/vptree.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "turbotsne/candidates.hpp"
#include "turbotsne/distance.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/random.hpp"

namespace turbotsne {
namespace {

constexpr std::int32_t kLeafSize = 64;      // ranges this small are scanned directly
constexpr std::int32_t kTaskCutoff = 4096;  // subtrees this large are built as OpenMP tasks

}  // namespace

VpTree::VpTree(ConstMatrix X, int n_threads, Metric metric) : X_(X), metric_(metric) {
  if (metric == Metric::kCosine) {
    throw std::invalid_argument("VpTree: search cosine as Euclidean over normalised rows");
  }
  if (X.rows > std::numeric_limits<std::int32_t>::max() - 1) {
    throw std::invalid_argument("VpTree: at most 2^31 - 2 points are supported");
  }
  const auto n = static_cast<std::int32_t>(X.rows);
  order_.resize(n);
  radius_.assign(n, 0.0);
  for (std::int32_t i = 0; i < n; ++i) order_[i] = i;
  nodes_.reserve(static_cast<size_t>(2 * (n / kLeafSize + 1)));
  // Two passes: the recursive partitioning of order_ runs as OpenMP tasks on disjoint ranges;
  // node records are then appended serially in pre-order, so node ids never depend on the
  // order in which tasks ran.
  ExceptionCollector errors;
#pragma omp parallel num_threads(std::max(n_threads, 1))
#pragma omp single
  partition(0, n, errors);
  errors.rethrow();
  make_nodes(0, n);
  radius_.clear();
  radius_.shrink_to_fit();

  // Search copy of the points: rows in tree order (leaves are contiguous in memory), columns
  // by decreasing variance (partial distances grow fastest, so early exits come sooner).
  const index_t d = X.cols;
  columns_ = columns_by_variance(X);
  points_.resize(static_cast<size_t>(n) * d);
  parallel_for(0, n, n_threads, [&](index_t p) {
    const double* src = X.row(order_[p]);
    double* dst = points_.data() + p * d;
    for (index_t j = 0; j < d; ++j) dst[j] = src[columns_[j]];
  }, 1024);
}

std::int32_t VpTree::split_of(std::int32_t begin, std::int32_t end) {
  return begin + 1 + (end - begin - 1) / 2;
}

// Moves a vantage point to order_[begin] and partitions the rest of the range around the
// median distance to it: order_[begin+1, split) are no farther than order_[split], the rest no
// nearer. Keys are (distance, index), so the partition is unique.
void VpTree::partition(std::int32_t begin, std::int32_t end, ExceptionCollector& errors) {
  if (end - begin <= kLeafSize) return;
  errors.run([&] {
    // The vantage point is a position chosen by hashing the range: reproducible, and as good
    // as a random choice for balancing.
    const std::int32_t pick = begin + static_cast<std::int32_t>(
        mix64((static_cast<std::uint64_t>(begin) << 32) ^ static_cast<std::uint32_t>(end)) %
        static_cast<std::uint64_t>(end - begin));
    std::swap(order_[begin], order_[pick]);
    const double* vp = X_.row(order_[begin]);
    const std::int32_t split = split_of(begin, end);
    std::vector<std::pair<double, std::int32_t>> keyed(end - begin - 1);
    with_metric_keys(metric_, [&](auto keys) {
      using Keys = decltype(keys);
      constexpr double kNoBound = std::numeric_limits<double>::infinity();
      for (std::int32_t p = begin + 1; p < end; ++p) {
        keyed[p - begin - 1] = {Keys::key(X_.row(order_[p]), vp, X_.cols, kNoBound), order_[p]};
      }
      std::nth_element(keyed.begin(), keyed.begin() + (split - begin - 1), keyed.end());
      // Kept now: the child partitions below move order_[split] away.
      radius_[begin] = Keys::to_distance(keyed[split - begin - 1].first);
    });
    for (std::int32_t p = begin + 1; p < end; ++p) order_[p] = keyed[p - begin - 1].second;
  });
  const std::int32_t split = split_of(begin, end);
  if (end - begin >= kTaskCutoff) {
#pragma omp task default(shared) firstprivate(begin, split)
    partition(begin + 1, split, errors);
#pragma omp task default(shared) firstprivate(split, end)
    partition(split, end, errors);
#pragma omp taskwait
  } else {
    partition(begin + 1, split, errors);
    partition(split, end, errors);
  }
}

std::int32_t VpTree::make_nodes(std::int32_t begin, std::int32_t end) {
  const auto id = static_cast<std::int32_t>(nodes_.size());
  nodes_.push_back(Node{begin, end, end, -1, -1, 0.0});
  if (end - begin <= kLeafSize) return id;
  const std::int32_t split = split_of(begin, end);
  const double radius = radius_[begin];
  const std::int32_t inside = make_nodes(begin + 1, split);
  const std::int32_t outside = make_nodes(split, end);
  Node& node = nodes_[id];
  node.split = split;
  node.radius = radius;
  node.inside = inside;
  node.outside = outside;
  return id;
}

void VpTree::query(const double* q, int k, index_t exclude, std::int32_t* indices,
                   double* distances) const {
  std::vector<double> permuted(columns_.size());
  for (size_t j = 0; j < columns_.size(); ++j) permuted[j] = q[columns_[j]];
  search(permuted.data(), k, exclude, indices, distances);
}

void VpTree::query_position(index_t position, int k, std::int32_t* indices,
                            double* distances) const {
  search(points_.data() + position * X_.cols, k, order_[position], indices, distances);
}

void VpTree::search(const double* q, int k, index_t exclude, std::int32_t* indices,
                    double* distances) const {
  with_metric_keys(metric_, [&](auto keys) {
    search_keys<decltype(keys)>(q, k, exclude, indices, distances);
  });
}

template <class Keys>
void VpTree::search_keys(const double* q, int k, index_t exclude, std::int32_t* indices,
                         double* distances) const {
  Candidates best(k, indices, distances);  // keys (Euclidean: squared) until finish()
  if (k <= 0 || nodes_.empty()) return;
  const index_t d = X_.cols;
  // Depth-first search with an explicit stack of (node, lower bound on the distance from q to
  // any point of that node). A node is skipped only when its bound exceeds the current k-th
  // distance by more than rounding could explain, so equal distances are never pruned.
  struct Pending {
    std::int32_t node;
    double lower;
  };
  std::vector<Pending> stack;
  stack.reserve(64);
  stack.push_back({0, 0.0});
  while (!stack.empty()) {
    const Pending top = stack.back();
    stack.pop_back();
    if (Keys::to_key(top.lower) > best.bound()) continue;
    const Node& node = nodes_[top.node];
    if (node.inside < 0) {  // leaf
      for (std::int32_t p = node.begin; p < node.end; ++p) {
        const std::int32_t i = order_[p];
        if (i == exclude) continue;
        const double bound = best.bound();
        const double d2 = Keys::key(points_.data() + p * d, q, d, bound);
        if (d2 <= bound) best.offer(d2, i);
      }
      continue;
    }
    const std::int32_t vp = order_[node.begin];
    // Beyond radius + tau from the vantage point, neither it nor the inside child can hold a
    // neighbour: the distance to it is then only needed up to that bound.
    const double far = node.radius + Keys::to_distance(best.bound());
    const double far2 = Keys::to_key(far) * (1.0 + 1e-12);
    const double d2 = Keys::key(points_.data() + static_cast<index_t>(node.begin) * d, q, d, far2);
    if (d2 > far2) {
      stack.push_back({node.outside, 0.0});
      continue;
    }
    if (vp != exclude) best.offer(d2, vp);
    const double dist = Keys::to_distance(d2);
    // Triangle inequality: inside points lie within radius of vp, outside ones beyond it.
    // The slack covers the rounding of the three distances involved.
    const double slack = 1e-12 * (dist + node.radius);
    const double lower_inside = std::max(0.0, dist - node.radius - slack);
    const double lower_outside = std::max(0.0, node.radius - dist - slack);
    // Push the farther child first so the nearer one is searched first.
    if (dist < node.radius) {
      stack.push_back({node.outside, lower_outside});
      stack.push_back({node.inside, lower_inside});
    } else {
      stack.push_back({node.inside, lower_inside});
      stack.push_back({node.outside, lower_outside});
    }
  }
  best.template finish<Keys>();
}

KnnGraph vptree_neighbors(ConstMatrix X, int k, int n_threads, Observer* observer,
                          Metric metric) {
  const VpTree tree(X, n_threads, metric);
  poll(observer);
  KnnGraph graph = empty_graph(X.rows, k);
  // Queries in tree order: consecutive queries are near each other and walk similar paths.
  // Batches of 1024 queries between polls keep Ctrl-C prompt (a query can take a millisecond
  // in high dimensions).
  const std::vector<std::int32_t>& order = tree.order();
  parallel_for_polled(X.rows, n_threads, observer, [&](index_t t) {
    const index_t i = order[t];
    tree.query_position(t, k, graph.indices.data() + i * k, graph.distances.data() + i * k);
  }, 16, 1024);
  return graph;
}

KnnGraph vptree_query_neighbors(ConstMatrix reference, ConstMatrix queries, int k,
                                Metric metric, int n_threads, Observer* observer) {
  const VpTree tree(reference, n_threads, metric);
  poll(observer);
  KnnGraph graph = empty_graph(queries.rows, k);
  parallel_for_polled(queries.rows, n_threads, observer, [&](index_t i) {
    tree.query(queries.row(i), k, -1, graph.indices.data() + i * k, graph.distances.data() + i * k);
  }, 16, 1024);
  return graph;
}

}  // namespace turbotsne
