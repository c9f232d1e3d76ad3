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
#include "turbotsne/dot_tiles.hpp"
#include "turbotsne/vptree.hpp"

namespace turbotsne {

// Every row's k nearest other rows (self excluded, duplicates kept), rows sorted by
// (distance, index). metric: kEuclidean or kManhattan (an L1 tile instead of the dot
// product, recomputed with manhattan_distance); cosine is searched as Euclidean over
// normalised rows by the caller. Data whose entries reach 2^500 (squared distances could
// overflow) is handed to the VP-tree.
KnnGraph brute_force_neighbors(ConstMatrix X, int k, int n_threads, Observer* observer,
                               Metric metric = Metric::kEuclidean,
                               SimdLevel simd = SimdLevel::kBest);

// The k nearest rows of `reference` for every row of `queries` (none excluded).
KnnGraph brute_force_query_neighbors(ConstMatrix reference, ConstMatrix queries, int k,
                                     int n_threads, Observer* observer,
                                     Metric metric = Metric::kEuclidean,
                                     SimdLevel simd = SimdLevel::kBest);

}  // namespace turbotsne
