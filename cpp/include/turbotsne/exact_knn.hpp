// Exact k-nearest neighbours: the entry points that validate, search cosine as Euclidean over
// normalised rows, and choose between the VP-tree (low dimension, where it prunes) and the
// blocked brute force (high dimension, where no tree can). Both give the same graph, bit for
// bit: rows sorted by (distance, index), ties broken by the smaller index.
#pragma once

#include "turbotsne/brute_knn.hpp"
#include "turbotsne/common.hpp"
#include "turbotsne/distance.hpp"
#include "turbotsne/dot_tiles.hpp"
#include "turbotsne/progress.hpp"
#include "turbotsne/vptree.hpp"

namespace turbotsne {

enum class ExactKnnAlgorithm {
  kAuto,        // choose_exact_algorithm
  kVpTree,      // vptree.hpp
  kBruteForce,  // brute_knn.hpp
};

struct ExactKnnParams {
  ExactKnnAlgorithm algorithm = ExactKnnAlgorithm::kAuto;
  SimdLevel simd = SimdLevel::kBest;  // the brute force's instruction set (for tests)
  double max_permuted_bytes = kDefaultMaxPermutedBytes;  // see BruteForceOptions (for tests)

  BruteForceOptions brute_force() const { return {simd, max_permuted_bytes}; }
};

// From this many dimensions kAuto takes the brute force (measured: see exact_knn.cpp).
constexpr index_t kBruteForceMinDims = 24;

// What kAuto means for n_reference rows searched by n_queries queries in d dimensions:
// the measured rule (see exact_knn.cpp), the same for every metric.
ExactKnnAlgorithm choose_exact_algorithm(index_t n_reference, index_t n_queries, index_t d, int k,
                                         Metric metric);

// Exact k nearest neighbours of every row among the other rows (self excluded, duplicates
// kept), in parallel, by the given metric (distances in its units: cosine ones are 1 - cos).
// The result does not depend on the thread count or the algorithm.
KnnGraph find_exact_neighbors(ConstMatrix X, int k, int n_threads,
                              Observer* observer = nullptr,
                              Metric metric = Metric::kEuclidean,
                              const ExactKnnParams& params = {});

// Exact k nearest rows of `reference` for every row of `queries` (no row is excluded): an
// m x k graph (n = m) whose indices are rows of reference, each row sorted by (distance,
// index). Parallel over the queries; the result does not depend on the thread count.
KnnGraph query_exact_neighbors(ConstMatrix reference, ConstMatrix queries, int k,
                               Metric metric, int n_threads, Observer* observer = nullptr,
                               const ExactKnnParams& params = {});

}  // namespace turbotsne
