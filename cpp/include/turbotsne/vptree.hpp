// Exact k-nearest neighbours with a vantage-point tree (Yianilos 1993), the structure bhtsne
// and FIt-SNE use for exact search. Valid for any true metric: Euclidean and Manhattan here;
// cosine by the Euclidean search over normalised rows.
#pragma once

#include <cstdint>
#include <vector>

#include "turbotsne/common.hpp"
#include "turbotsne/distance.hpp"
#include "turbotsne/knn_graph.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/progress.hpp"

namespace turbotsne {

class VpTree {
 public:
  // Builds over the rows of X, which must outlive the tree. Parallel over subtrees; the tree
  // itself does not depend on the thread count. metric: kEuclidean or kManhattan (cosine is
  // searched as Euclidean over normalised rows: see find_exact_neighbors).
  explicit VpTree(ConstMatrix X, int n_threads = 1, Metric metric = Metric::kEuclidean);

  // The k nearest rows to `query` by (distance, index), skipping row `exclude` (-1: none).
  // Writes k indices and distances sorted ascending; k must be at most the number of rows
  // (minus one if one is excluded).
  void query(const double* query, int k, index_t exclude, std::int32_t* indices,
             double* distances) const;

  // Like query(), for the point at `position` of the tree order, excluding itself.
  void query_position(index_t position, int k, std::int32_t* indices, double* distances) const;

  // The rows in tree order (rows close in space are close in this order).
  const std::vector<std::int32_t>& order() const { return order_; }

 private:
  struct Node {
    std::int32_t begin = 0;   // range [begin, end) of order_; order_[begin] is the vantage point
    std::int32_t end = 0;     // leaves hold all points of the range and no vantage point
    std::int32_t split = 0;   // inside child: [begin + 1, split), outside child: [split, end)
    std::int32_t inside = -1;  // child node ids (-1 for a leaf)
    std::int32_t outside = -1;
    double radius = 0.0;      // distance from the vantage point to order_[split]
  };

  void search(const double* permuted_query, int k, index_t exclude, std::int32_t* indices,
              double* distances) const;
  template <class Keys>
  void search_keys(const double* permuted_query, int k, index_t exclude, std::int32_t* indices,
                   double* distances) const;
  static std::int32_t split_of(std::int32_t begin, std::int32_t end);
  void partition(std::int32_t begin, std::int32_t end, ExceptionCollector& errors);
  std::int32_t make_nodes(std::int32_t begin, std::int32_t end);

  ConstMatrix X_;
  Metric metric_;
  std::vector<std::int32_t> order_;
  std::vector<Node> nodes_;
  std::vector<index_t> columns_;  // search order of the columns: decreasing variance
  std::vector<double> points_;    // rows in tree order, columns in search order
  std::vector<double> radius_;  // during construction: radius of the node whose range starts here
};

// The exact searches by a VP-tree (see exact_knn.hpp for the entry points that validate, handle
// cosine and choose between the tree and the brute force). metric: kEuclidean or kManhattan.
// Every row's k nearest other rows (self excluded), rows of the graph sorted by
// (distance, index):
KnnGraph vptree_neighbors(ConstMatrix X, int k, int n_threads, Observer* observer,
                          Metric metric);
// and the k nearest rows of `reference` for every row of `queries` (no row excluded).
KnnGraph vptree_query_neighbors(ConstMatrix reference, ConstMatrix queries, int k,
                                Metric metric, int n_threads, Observer* observer);

}  // namespace turbotsne
