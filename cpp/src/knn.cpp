#include "turbotsne/knn.hpp"

#include <algorithm>
#include <cmath>

namespace turbotsne {

int neighbor_count(index_t n_samples, double perplexity) {
  const double k = std::floor(3.0 * perplexity);
  return static_cast<int>(std::max<double>(1.0, std::min<double>(k, n_samples - 1)));
}

KnnGraph find_neighbors(DataMatrix X, int k, const NeighborParams& params, int n_threads,
                        Observer* observer) {
  if (params.method == NeighborMethod::kApproximate) {
    return find_approximate_neighbors(X, k, params.approximate, n_threads, observer,
                                      params.metric);
  }
  return find_exact_neighbors(X.doubles("the exact neighbour search"), k, n_threads, observer,
                              params.metric, params.exact);
}

}  // namespace turbotsne
