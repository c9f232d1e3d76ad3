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

// The measured rule. CPU seconds of the self search, k = 90, 1 thread, VP-tree / brute
// force (AVX-512), on this project's 2-core machine (shared, load 3; bench/README.md):
//   d                      4     8    12    16    24    32    50
//   normal 20k            0.53  1.47  2.24  2.44  3.68  4.02  4.77   (no structure)
//   normal 2k             0.70  0.95  1.00  1.08  1.45  1.36  1.65
//   blobs 20k (10 blobs)  0.40  0.51  0.56  0.63  0.83  0.84  0.97   (the tree's best case)
//   blobs 2k              0.59  0.59  0.59  0.75  0.80  0.86  0.74
//   first d principal components:   10    20    30    50
//   MNIST 20k                      1.25  2.34  3.22  4.40
//   Fashion-MNIST 20k              0.60  0.86  1.16  1.85
//   CBMC CITE-seq 8617             0.73  0.98  1.23  1.64
//   Zeisel 3005                    0.74  0.85  0.93  1.00
// From 24 dimensions the brute force is as fast or faster on all real data and
// unstructured data, and at most 1.25x slower on well-separated blobs; below, the tree
// prunes well enough on structured data. Neither n (2,000 to 40,000: Fashion-MNIST 40k
// PCA-50 1.84, blobs 40k x 50 1.21, x 24 0.84) nor k (15 to 300: the brute force loses a
// little ground as k grows, e.g. CBMC 24-D 1.24 / 1.12 / 0.98) moved the crossover enough to
// be worth a term. Manhattan, the same way:
//   d                      8    16    24    32    50
//   normal 20k            1.56  2.89  4.23  3.80  5.10
//   blobs 20k             0.57  0.72  0.83  0.88  0.98
//   blobs 5k              0.66  0.77  0.94  0.90  1.00
//   first d principal components:   10    20    30    50
//   MNIST 20k                      1.40  3.23  4.49  5.66
//   Fashion-MNIST 20k              0.70  1.56  2.73  4.80
//   CBMC CITE-seq 8617             0.84  1.40  1.94  4.04
// (the tree prunes less under L1), so the same threshold serves every metric.
ExactKnnAlgorithm choose_exact_algorithm(index_t n_reference, index_t n_queries, index_t d,
                                         int k, Metric metric) {
  (void)n_reference;
  (void)n_queries;
  (void)k;
  (void)metric;
  return d >= kBruteForceMinDims ? ExactKnnAlgorithm::kBruteForce : ExactKnnAlgorithm::kVpTree;
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
    return brute_force_neighbors(X, k, n_threads, observer, metric, params.brute_force());
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
    return brute_force_query_neighbors(reference, queries, k, n_threads, observer, metric,
                                       params.brute_force());
  }
  return vptree_query_neighbors(reference, queries, k, metric, n_threads, observer);
}

}  // namespace turbotsne
