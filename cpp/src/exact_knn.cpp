#include "turbotsne/exact_knn.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include "turbotsne/brute_knn.hpp"

namespace turbotsne {
namespace {

ExactKnnAlgorithm resolve(const ExactKnnParams& params, index_t n_reference, index_t n_queries,
                          index_t d, int k, Metric metric) {
  if (params.algorithm == ExactKnnAlgorithm::kAuto) {
    return choose_exact_algorithm(n_reference, n_queries, d, k, metric);
  }
  return params.algorithm;
}

}  // namespace

// The measured rule (the timings are in bench/README.md, "VP-tree or brute force"): from 24
// dimensions the brute force is as fast or faster on real and unstructured data, and a little
// slower only on well-separated blobs, the tree's best case; below 24 the tree prunes well
// enough on structured data. Neither n nor k moved the crossover enough to be worth a term,
// and the tree prunes less under L1, so the same threshold serves every metric.
ExactKnnAlgorithm choose_exact_algorithm(index_t n_reference, index_t n_queries, index_t d,
                                         int k, Metric metric) {
  (void)n_reference;
  (void)n_queries;
  (void)k;
  (void)metric;
  return d >= kBruteForceMinDims ? ExactKnnAlgorithm::kBruteForce : ExactKnnAlgorithm::kVpTree;
}

KnnGraph find_exact_neighbors(ConstMatrix X, int k, int n_threads, Observer* observer,
                              Metric metric, const ExactKnnParams& params) {
  if (X.rows < 2) throw std::invalid_argument("find_exact_neighbors: need at least 2 points");
  if (k < 1 || k > X.rows - 1) {
    throw std::invalid_argument("find_exact_neighbors: k must be in [1, n - 1], got " +
                                std::to_string(k));
  }
  if (metric == Metric::kCosine) {
    const std::vector<double> unit = normalized_rows(X, n_threads);
    KnnGraph graph = find_exact_neighbors(ConstMatrix{unit.data(), X.rows, X.cols}, k,
                                          n_threads, observer, Metric::kEuclidean, params);
    euclidean_to_cosine(graph.distances);
    return graph;
  }
  if (resolve(params, X.rows, X.rows, X.cols, k, metric) == ExactKnnAlgorithm::kBruteForce) {
    return brute_force_neighbors(X, k, n_threads, observer, metric, params.brute_force());
  }
  return vptree_neighbors(X, k, n_threads, observer, metric);
}

KnnGraph query_exact_neighbors(ConstMatrix reference, ConstMatrix queries, int k,
                               Metric metric, int n_threads, Observer* observer,
                               const ExactKnnParams& params) {
  if (reference.rows < 1) throw std::invalid_argument("query_exact_neighbors: empty reference");
  if (queries.cols != reference.cols) {
    throw std::invalid_argument("query_exact_neighbors: queries have " +
                                std::to_string(queries.cols) + " columns, the reference " +
                                std::to_string(reference.cols));
  }
  if (k < 1 || k > reference.rows) {
    throw std::invalid_argument("query_exact_neighbors: k must be in [1, n_reference], got " +
                                std::to_string(k));
  }
  if (metric == Metric::kCosine) {
    const std::vector<double> ref = normalized_rows(reference, n_threads);
    const std::vector<double> qs = normalized_rows(queries, n_threads);
    KnnGraph graph = query_exact_neighbors(ConstMatrix{ref.data(), reference.rows, reference.cols},
                                           ConstMatrix{qs.data(), queries.rows, queries.cols}, k,
                                           Metric::kEuclidean, n_threads, observer, params);
    euclidean_to_cosine(graph.distances);
    return graph;
  }
  if (resolve(params, reference.rows, queries.rows, reference.cols, k, metric) ==
      ExactKnnAlgorithm::kBruteForce) {
    return brute_force_query_neighbors(reference, queries, k, n_threads, observer, metric,
                                       params.brute_force());
  }
  return vptree_query_neighbors(reference, queries, k, metric, n_threads, observer);
}

}  // namespace turbotsne
