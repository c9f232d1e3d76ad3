#include "turbotsne/distance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "turbotsne/parallel.hpp"

namespace turbotsne {

namespace {

// A row's unit vector is x · 2^-exponent · inverse_norm. Ordinary rows: exponent 0 and
// inverse_norm 1 / sqrt(Σ x²). Rows whose Σ x² overflows or leaves the normal range (entries
// beyond about 1e154 or below 1e-154) are first scaled by the power of two that brings their
// largest entry into [0.5, 1), which is exact. inverse_norm is 0 for a row of zeros.
struct RowScale {
  int exponent = 0;
  double inverse_norm = 0.0;
};

RowScale row_scale(const double* x, index_t d) {
  double norm2 = 0.0;
  for (index_t j = 0; j < d; ++j) norm2 += x[j] * x[j];
  if (norm2 >= std::numeric_limits<double>::min() && norm2 <= std::numeric_limits<double>::max()) {
    return {0, 1.0 / std::sqrt(norm2)};
  }
  double top = 0.0;
  for (index_t j = 0; j < d; ++j) top = std::max(top, std::fabs(x[j]));
  if (!(top > 0.0) || !std::isfinite(top)) return {};
  RowScale out;
  std::frexp(top, &out.exponent);
  double scaled2 = 0.0;
  for (index_t j = 0; j < d; ++j) {
    const double t = std::ldexp(x[j], -out.exponent);
    scaled2 += t * t;
  }
  out.inverse_norm = 1.0 / std::sqrt(scaled2);
  return out;
}

}  // namespace

std::vector<index_t> columns_by_variance(ConstMatrix X) {
  const index_t d = X.cols;
  std::vector<double> variance(static_cast<size_t>(d), 0.0), mean(static_cast<size_t>(d), 0.0);
  for (index_t i = 0; i < X.rows; ++i)
    for (index_t j = 0; j < d; ++j) mean[j] += X(i, j);
  for (double& m : mean) m /= static_cast<double>(X.rows);
  for (index_t i = 0; i < X.rows; ++i)
    for (index_t j = 0; j < d; ++j) variance[j] += (X(i, j) - mean[j]) * (X(i, j) - mean[j]);
  std::vector<index_t> columns(static_cast<size_t>(d));
  std::iota(columns.begin(), columns.end(), 0);
  std::stable_sort(columns.begin(), columns.end(),
                   [&](index_t a, index_t b) { return variance[a] > variance[b]; });
  return columns;
}

std::vector<double> normalized_rows(ConstMatrix X, int n_threads) {
  for (index_t i = 0; i < X.rows; ++i) {
    if (!(row_scale(X.row(i), X.cols).inverse_norm > 0.0)) {
      throw std::invalid_argument("the cosine metric is undefined for row " + std::to_string(i) +
                                  ", which has norm zero");
    }
  }
  std::vector<double> out(static_cast<size_t>(X.size()));
  parallel_for(0, X.rows, n_threads, [&](index_t i) {
    const RowScale s = row_scale(X.row(i), X.cols);
    for (index_t j = 0; j < X.cols; ++j) {
      out[i * X.cols + j] = std::ldexp(X(i, j), -s.exponent) * s.inverse_norm;
    }
  }, 1024);
  return out;
}

void euclidean_to_cosine(Buffer<double>& distances) {
  for (double& d : distances) d = 0.5 * d * d;
}

}  // namespace turbotsne
