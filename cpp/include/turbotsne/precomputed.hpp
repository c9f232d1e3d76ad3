// Neighbours from distances the caller computed: a dense square matrix or a sparse kNN graph
// (e.g. from an approximate nearest-neighbour index).
#pragma once

#include "turbotsne/common.hpp"
#include "turbotsne/knn_graph.hpp"
#include "turbotsne/progress.hpp"

namespace turbotsne {

// The k nearest of every row of a dense n x n distance matrix D (row i: distances from point
// i), the diagonal ignored, rows sorted by (distance, index). D need not be symmetric.
KnnGraph neighbors_from_distance_matrix(ConstMatrix D, int k, int n_threads,
                                        Observer* observer = nullptr);

// The k nearest of each row of a block D of distances (rows x n; row i: the distances from
// one point to the n points of the columns), rows sorted by (distance, index). With
// self_offset >= 0, row i is point self_offset + i itself, whose own column is skipped; with
// self_offset < 0 (queries outside the columns' points) every column is a candidate.
KnnGraph nearest_in_rows(ConstMatrix D, index_t self_offset, int k, int n_threads,
                         Observer* observer = nullptr);

// The k nearest of every row of a sparse n x n distance matrix: a row's stored entries, less
// the diagonal, are its candidates (a column stored twice counts once, at its smaller
// distance); the k smallest by (distance, index) are kept. Throws std::invalid_argument when
// a row has fewer than k candidates.
KnnGraph neighbors_from_sparse_distances(const DistanceCsrView& D, int k, int n_threads,
                                         Observer* observer = nullptr);

}  // namespace turbotsne
