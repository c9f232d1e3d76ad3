#include "turbotsne/distance.hpp"

#include <stdexcept>
#include <string>

#include "turbotsne/parallel.hpp"

namespace turbotsne {

std::vector<double> normalized_rows(ConstMatrix X, int n_threads) {
  for (index_t i = 0; i < X.rows; ++i) {
    double norm2 = 0.0;
    for (index_t j = 0; j < X.cols; ++j) norm2 += X(i, j) * X(i, j);
    if (!(norm2 > 0.0)) {
      throw std::invalid_argument("the cosine metric is undefined for row " + std::to_string(i) +
                                  ", which has norm zero");
    }
  }
  std::vector<double> out(static_cast<size_t>(X.size()));
  parallel_for(0, X.rows, n_threads, [&](index_t i) {
    double norm2 = 0.0;
    for (index_t j = 0; j < X.cols; ++j) norm2 += X(i, j) * X(i, j);
    const double scale = 1.0 / std::sqrt(norm2);
    for (index_t j = 0; j < X.cols; ++j) out[i * X.cols + j] = X(i, j) * scale;
  }, 1024);
  return out;
}

void euclidean_to_cosine(std::vector<double>& distances) {
  for (double& d : distances) d = 0.5 * d * d;
}

}  // namespace turbotsne
