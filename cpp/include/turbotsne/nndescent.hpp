// Approximate k-nearest neighbours for large n: a random-projection forest gives every point
// candidates, NN-descent (Dong, Moses, Li, WWW 2011) refines them by looking at neighbours
// of neighbours. Deterministic for a seed and any thread count: random choices come from
// hashes of (seed, tree, node) rather than a shared stream, and each round's updates are
// collected as a set and applied per point in (distance, index) order.
#pragma once

#include <cstdint>

#include "turbotsne/common.hpp"
#include "turbotsne/distance.hpp"
#include "turbotsne/knn_graph.hpp"
#include "turbotsne/progress.hpp"

namespace turbotsne {

struct ApproximateKnnParams {
  int n_trees = 8;            // random-projection trees for the initial candidates
  int leaf_size = 0;          // points per leaf at most; 0: max(24, k / 2)
  int max_candidates = 0;     // new (and old) candidates per point per round; 0: min(k, 8)
  int max_rounds = 16;        // NN-descent rounds at most
  double delta = 0.003;       // stop when a round changes fewer than delta · n · k entries
  std::uint64_t seed = 0;
  void validate() const;      // throws std::invalid_argument naming the parameter
};

// k approximate nearest neighbours of every row among the other rows, rows sorted by
// (distance, index) like find_exact_neighbors. The candidates come from Euclidean random
// projections whatever the metric; the distances they are ranked by are the metric's. X may be
// float32 for the Euclidean and Manhattan metrics (cosine needs float64).
KnnGraph find_approximate_neighbors(DataMatrix X, int k, const ApproximateKnnParams& params,
                                    int n_threads, Observer* observer = nullptr,
                                    Metric metric = Metric::kEuclidean);

}  // namespace turbotsne
