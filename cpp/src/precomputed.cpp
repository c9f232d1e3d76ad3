#include "turbotsne/precomputed.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "turbotsne/parallel.hpp"

namespace turbotsne {
namespace {

using Keyed = std::pair<double, std::int32_t>;

// Writes the k smallest of `candidates` (by distance, then index) into row i of graph.
void keep_nearest(std::vector<Keyed>& candidates, index_t i, KnnGraph& graph) {
  const int k = graph.k;
  std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end());
  for (int c = 0; c < k; ++c) {
    graph.distances[i * k + c] = candidates[c].first;
    graph.indices[i * k + c] = candidates[c].second;
  }
}

}  // namespace

KnnGraph nearest_in_rows(ConstMatrix D, index_t self_offset, int k, int n_threads,
                         Observer* observer) {
  const index_t rows = D.rows;
  const index_t n = D.cols;
  const bool exclude_self = self_offset >= 0;
  if (exclude_self && self_offset + rows > n) {
    throw std::invalid_argument("nearest_in_rows: rows [self_offset, self_offset + rows) must be "
                                "columns of D");
  }
  const index_t candidates_per_row = exclude_self ? n - 1 : n;
  if (k < 1 || k > candidates_per_row) {
    throw std::invalid_argument("nearest_in_rows: k must be in [1, " +
                                std::to_string(candidates_per_row) + "], got " + std::to_string(k));
  }
  if (n > (index_t{1} << 31) - 1) throw std::invalid_argument("nearest_in_rows: too many columns");
  KnnGraph graph = empty_graph(rows, k);
  parallel_for_polled(rows, n_threads, observer, [&](index_t i) {
    std::vector<Keyed> candidates;
    candidates.reserve(static_cast<size_t>(n));
    const index_t self = exclude_self ? self_offset + i : -1;
    for (index_t j = 0; j < n; ++j) {
      if (j != self) candidates.emplace_back(D(i, j), static_cast<std::int32_t>(j));
    }
    keep_nearest(candidates, i, graph);
  }, 16, 1024);
  return graph;
}

KnnGraph neighbors_from_distance_matrix(ConstMatrix D, int k, int n_threads, Observer* observer) {
  if (D.cols != D.rows) throw std::invalid_argument("the distance matrix must be square");
  if (k < 1 || k > D.rows - 1) {
    throw std::invalid_argument("neighbors_from_distance_matrix: k must be in [1, n - 1], got " +
                                std::to_string(k));
  }
  return nearest_in_rows(D, 0, k, n_threads, observer);
}

KnnGraph neighbors_from_sparse_distances(const DistanceCsrView& D, int k, int n_threads,
                                         Observer* observer) {
  const index_t n = D.n_rows;
  if (D.n_cols != n) throw std::invalid_argument("the distance matrix must be square");
  if (k < 1 || k > n - 1) {
    throw std::invalid_argument("neighbors_from_sparse_distances: k must be in [1, n - 1], got " +
                                std::to_string(k));
  }
  KnnGraph graph = empty_graph(n, k);
  parallel_for_polled(n, n_threads, observer, [&](index_t i) {
    {
      std::vector<Keyed> candidates;
      for (std::int64_t e = D.indptr[i]; e < D.indptr[i + 1]; ++e) {
        if (D.indices[e] != i) candidates.emplace_back(D.values[e], D.indices[e]);
      }
      // Repeated columns: keep each column's smallest distance.
      std::sort(candidates.begin(), candidates.end(),
                [](const Keyed& a, const Keyed& b) { return a.second != b.second ? a.second < b.second : a.first < b.first; });
      candidates.erase(std::unique(candidates.begin(), candidates.end(),
                                   [](const Keyed& a, const Keyed& b) { return a.second == b.second; }),
                       candidates.end());
      if (static_cast<index_t>(candidates.size()) < k) {
        throw std::invalid_argument("row " + std::to_string(i) + " of the sparse distance matrix has " +
                                    std::to_string(candidates.size()) + " neighbours, fewer than k = " +
                                    std::to_string(k));
      }
      keep_nearest(candidates, i, graph);
    }
  }, 256);
  return graph;
}

}  // namespace turbotsne
