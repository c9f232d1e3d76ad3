// The neighbour search a run uses: exact (exact_knn.hpp: VP-tree or blocked brute force) or
// approximate (nndescent.hpp: random-projection forest + NN-descent), the metric, and how
// many neighbours a perplexity needs.
#pragma once

#include "turbotsne/common.hpp"
#include "turbotsne/distance.hpp"
#include "turbotsne/exact_knn.hpp"
#include "turbotsne/knn_graph.hpp"
#include "turbotsne/nndescent.hpp"
#include "turbotsne/progress.hpp"

namespace turbotsne {

enum class NeighborMethod {
  kExact,        // VP-tree or blocked brute force (ExactKnnParams)
  kApproximate,  // random-projection forest + NN-descent
};

struct NeighborParams {
  NeighborMethod method = NeighborMethod::kExact;
  Metric metric = Metric::kEuclidean;
  ExactKnnParams exact;              // which exact search (kAuto: by dimension and size)
  ApproximateKnnParams approximate;  // its seed is set from TsneParams::seed by run_tsne
};

// k = min(n − 1, ⌊3·perplexity⌋), at least 1.
int neighbor_count(index_t n_samples, double perplexity);

// The k nearest neighbours of every row by the chosen method and metric. float32 rows: the
// approximate search only (Euclidean or Manhattan).
KnnGraph find_neighbors(DataMatrix X, int k, const NeighborParams& params, int n_threads,
                        Observer* observer = nullptr);

}  // namespace turbotsne
