#include "turbotsne/knn.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

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

std::vector<std::int32_t> breadth_first_order(const KnnGraph& graph,
                                              const std::vector<std::int32_t>& roots) {
  const index_t n = graph.n;
  if (!roots.empty() && static_cast<index_t>(roots.size()) != n) {
    throw std::invalid_argument("breadth_first_order: roots must hold every point once");
  }
  std::vector<std::int32_t> order;
  order.reserve(static_cast<size_t>(n));
  std::vector<unsigned char> placed(static_cast<size_t>(n), 0);
  size_t head = 0;
  for (index_t r = 0; r < n; ++r) {
    const std::int32_t root = roots.empty() ? static_cast<std::int32_t>(r) : roots[static_cast<size_t>(r)];
    if (root < 0 || root >= n) throw std::invalid_argument("breadth_first_order: a root outside [0, n)");
    if (placed[root]) continue;
    placed[root] = 1;
    order.push_back(root);
    for (; head < order.size(); ++head) {
      const std::int32_t* row = graph.indices.data() + static_cast<index_t>(order[head]) * graph.k;
      for (int c = 0; c < graph.k; ++c) {
        const std::int32_t j = row[c];
        if (j >= 0 && j < n && !placed[j]) {
          placed[j] = 1;
          order.push_back(j);
        }
      }
    }
  }
  if (order.size() != static_cast<size_t>(n)) {  // a root repeated, so another one missing
    throw std::invalid_argument("breadth_first_order: roots must hold every point once");
  }
  return order;
}

}  // namespace turbotsne
