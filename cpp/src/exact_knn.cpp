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
  if (params.algorithm == ExactKnnAlgorithm::kBruteForce && metric == Metric::kManhattan) {
    throw std::invalid_argument(
        "algorithm: the brute force supports the euclidean and cosine metrics, not manhattan");
  }
  return params.algorithm;
}

}  // namespace

ExactKnnAlgorithm choose_exact_algorithm(index_t n_reference, index_t n_queries, index_t d,
                                         int k, Metric metric) {
  (void)n_reference;
  (void)n_queries;
  (void)k;
  if (metric == Metric::kManhattan) return ExactKnnAlgorithm::kVpTree;
  return d >= 16 ? ExactKnnAlgorithm::kBruteForce : ExactKnnAlgorithm::kVpTree;
}

KnnGraph find_nearest_neighbors(ConstMatrix X, int k, int n_threads, Observer* observer,
                                Metric metric, const ExactKnnParams& params) {
  if (X.rows < 2) throw std::invalid_argument("find_nearest_neighbors: need at least 2 points");
  if (k < 1 || k > X.rows - 1) {
    throw std::invalid_argument("find_nearest_neighbors: k must be in [1, n - 1], got " +
                                std::to_string(k));
  }
  if (metric == Metric::kCosine) {
    const std::vector<double> unit = normalized_rows(X, n_threads);
    KnnGraph graph = find_nearest_neighbors(ConstMatrix{unit.data(), X.rows, X.cols}, k,
                                            n_threads, observer, Metric::kEuclidean, params);
    euclidean_to_cosine(graph.distances);
    return graph;
  }
  if (resolve(params, X.rows, X.rows, X.cols, k, metric) == ExactKnnAlgorithm::kBruteForce) {
    return brute_force_neighbors(X, k, n_threads, observer, params.simd);
  }
  return vptree_neighbors(X, k, n_threads, observer, metric);
}

KnnGraph query_nearest_neighbors(ConstMatrix reference, ConstMatrix queries, int k,
                                 Metric metric, int n_threads, Observer* observer,
                                 const ExactKnnParams& params) {
  if (reference.rows < 1) throw std::invalid_argument("query_nearest_neighbors: empty reference");
  if (queries.cols != reference.cols) {
    throw std::invalid_argument("query_nearest_neighbors: queries have " +
                                std::to_string(queries.cols) + " columns, the reference " +
                                std::to_string(reference.cols));
  }
  if (k < 1 || k > reference.rows) {
    throw std::invalid_argument("query_nearest_neighbors: k must be in [1, n_reference], got " +
                                std::to_string(k));
  }
  if (metric == Metric::kCosine) {
    const std::vector<double> ref = normalized_rows(reference, n_threads);
    const std::vector<double> qs = normalized_rows(queries, n_threads);
    KnnGraph graph = query_nearest_neighbors(ConstMatrix{ref.data(), reference.rows, reference.cols},
                                             ConstMatrix{qs.data(), queries.rows, queries.cols}, k,
                                             Metric::kEuclidean, n_threads, observer, params);
    euclidean_to_cosine(graph.distances);
    return graph;
  }
  if (resolve(params, reference.rows, queries.rows, reference.cols, k, metric) ==
      ExactKnnAlgorithm::kBruteForce) {
    return brute_force_query_neighbors(reference, queries, k, n_threads, observer, params.simd);
  }
  return vptree_query_neighbors(reference, queries, k, metric, n_threads, observer);
}

}  // namespace turbotsne
