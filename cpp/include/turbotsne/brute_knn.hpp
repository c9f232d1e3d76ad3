// Exact k-nearest neighbours by blocked brute force, for high-dimensional data where a tree
// cannot prune. Blocks of queries meet blocks of reference rows in cache-tiled products over
// float coordinates (dot_tiles.hpp): ||x||² + ||y||² − 2 x·y for Euclidean, Σ|x − y| for
// Manhattan. Every query keeps the candidates whose approximate key is within a rigorous
// error bound of its k-th smallest upper bound, then recomputes them with the metric's exact
// key (squared_distance, manhattan_distance) in the VP-tree's column order and ranks by
// (distance, index). The result is therefore the VP-tree's, bit for bit, for any thread count
// and instruction set. Memory: the float copy of the rows (4 bytes per coordinate), tiles,
// and O(k) per query, never n².
#pragma once

#include "turbotsne/common.hpp"
#include "turbotsne/distance.hpp"
#include "turbotsne/dot_tiles.hpp"
#include "turbotsne/knn_graph.hpp"
#include "turbotsne/progress.hpp"

namespace turbotsne {

// The exact recomputation of the kept candidates' keys reads the reference rows in the
// VP-tree's column order: from a permuted copy (vectorised) where it takes at most this many
// bytes, else gathered from the rows in place. 8 · n · d bytes; 128 MiB is 20,000 x 800.
constexpr double kDefaultMaxPermutedBytes = 128.0 * 1024 * 1024;

struct BruteForceOptions {
  SimdLevel simd = SimdLevel::kBest;                      // the tiles' instruction set
  double max_permuted_bytes = kDefaultMaxPermutedBytes;  // 0: never copy (for tests)
};

// Every row's k nearest other rows (self excluded, duplicates kept), rows sorted by
// (distance, index). metric: kEuclidean or kManhattan (an L1 tile instead of the dot
// product, recomputed with manhattan_distance); cosine is searched as Euclidean over
// normalised rows by the caller. Data whose entries reach 2^500 (squared distances could
// overflow) is handed to the VP-tree.
KnnGraph brute_force_neighbors(ConstMatrix X, int k, int n_threads, Observer* observer,
                               Metric metric = Metric::kEuclidean,
                               const BruteForceOptions& options = {});

// The k nearest rows of `reference` for every row of `queries` (none excluded).
KnnGraph brute_force_query_neighbors(ConstMatrix reference, ConstMatrix queries, int k,
                                     int n_threads, Observer* observer,
                                     Metric metric = Metric::kEuclidean,
                                     const BruteForceOptions& options = {});

}  // namespace turbotsne
