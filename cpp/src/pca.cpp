#include "turbotsne/pca.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "turbotsne/parallel.hpp"
#include "turbotsne/random.hpp"

namespace turbotsne {
namespace {

constexpr index_t kRowBlock = 256;           // rows per covariance update (fits in cache)
constexpr index_t kMaxCovarianceDim = 4096;  // above this, C·V is applied through X
constexpr int kOversample = 8;               // extra vectors in the subspace iteration
constexpr int kMaxIterations = 300;
constexpr double kResidualTolerance = 1e-9;

using Dense = std::vector<double>;  // row-major

// Orthonormalises the columns of Q (rows x cols) by modified Gram-Schmidt, twice.
// Columns that vanish (rank deficiency) become zero.
void orthonormalise(Dense& Q, index_t rows, int cols) {
  for (int pass = 0; pass < 2; ++pass) {
    for (int j = 0; j < cols; ++j) {
      for (int i = 0; i < j; ++i) {
        double dot = 0.0;
        for (index_t r = 0; r < rows; ++r) dot += Q[r * cols + i] * Q[r * cols + j];
        for (index_t r = 0; r < rows; ++r) Q[r * cols + j] -= dot * Q[r * cols + i];
      }
      double norm = 0.0;
      for (index_t r = 0; r < rows; ++r) norm += Q[r * cols + j] * Q[r * cols + j];
      norm = std::sqrt(norm);
      const double scale = norm > 1e-280 ? 1.0 / norm : 0.0;
      for (index_t r = 0; r < rows; ++r) Q[r * cols + j] *= scale;
    }
  }
}

}  // namespace

void symmetric_eigen(const double* A_in, int n, double* values, double* vectors) {
  Dense A(A_in, A_in + static_cast<size_t>(n) * n);
  Dense V(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) V[i * n + i] = 1.0;
  double scale = 0.0;
  for (double a : A) scale = std::max(scale, std::fabs(a));
  for (int sweep = 0; sweep < 100 && scale > 0.0; ++sweep) {
    double off = 0.0;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) off = std::max(off, std::fabs(A[p * n + q]));
    if (off <= 1e-15 * scale) break;
    for (int p = 0; p < n; ++p) {
      for (int q = p + 1; q < n; ++q) {
        const double apq = A[p * n + q];
        if (apq == 0.0) continue;
        // Rotation that zeroes A[p][q] (Golub & Van Loan, Algorithm 8.5.2).
        const double tau = (A[q * n + q] - A[p * n + p]) / (2.0 * apq);
        const double t = (tau >= 0.0 ? 1.0 : -1.0) / (std::fabs(tau) + std::sqrt(1.0 + tau * tau));
        const double c = 1.0 / std::sqrt(1.0 + t * t);
        const double s = t * c;
        for (int k = 0; k < n; ++k) {  // A ← A J (columns p, q)
          const double akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // A ← Jᵀ A (rows p, q)
          const double apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < n; ++k) {  // V ← V J
          const double vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return A[a * n + a] > A[b * n + b]; });
  for (int j = 0; j < n; ++j) {
    values[j] = A[order[j] * n + order[j]];
    for (int i = 0; i < n; ++i) vectors[i * n + j] = V[i * n + order[j]];
  }
}

namespace {

// (n − 1) × the covariance of X, or, for wide X, the product with it through X itself: the
// operator the subspace iteration applies. Rows are float64 or float32 (MatrixView<const T>);
// the arithmetic is in double.
template <class Rows>
struct Covariance {
  Rows X;
  const Dense& mean;
  int n_threads;
  bool use_covariance;
  Dense C;  // d x d when use_covariance

  Covariance(Rows X_, const Dense& mean_, int n_threads_)
      : X(X_), mean(mean_), n_threads(n_threads_), use_covariance(X_.cols <= kMaxCovarianceDim) {
    if (use_covariance) build();
  }

  // C, accumulated block of rows after block of rows in a fixed order; the work inside a
  // block is split over output rows (the upper triangle), then mirrored.
  void build() {
    const index_t n = X.rows;
    const index_t d = X.cols;
    Dense centred(static_cast<size_t>(kRowBlock * d));
    C.assign(static_cast<size_t>(d * d), 0.0);
    for (index_t r0 = 0; r0 < n; r0 += kRowBlock) {
      const index_t rows = std::min(kRowBlock, n - r0);
      for (index_t r = 0; r < rows; ++r)
        for (index_t j = 0; j < d; ++j) centred[r * d + j] = X(r0 + r, j) - mean[j];
      parallel_for(0, d, n_threads, [&](index_t a) {
        double* c_row = C.data() + a * d;
        for (index_t r = 0; r < rows; ++r) {
          const double* x = centred.data() + r * d;
          const double xa = x[a];
          for (index_t b = a; b < d; ++b) c_row[b] += xa * x[b];
        }
      }, 4);
    }
    for (index_t a = 0; a < d; ++a)
      for (index_t b = 0; b < a; ++b) C[a * d + b] = C[b * d + a];
  }

  // Z = (n − 1) C Q for Q (d x m).
  void apply(const Dense& Q, int m, Dense& Z) const {
    const index_t n = X.rows;
    const index_t d = X.cols;
    Z.assign(static_cast<size_t>(d * m), 0.0);
    if (use_covariance) {
      parallel_for(0, d, n_threads, [&](index_t a) {
        for (index_t b = 0; b < d; ++b) {
          const double cab = C[a * d + b];
          for (int j = 0; j < m; ++j) Z[a * m + j] += cab * Q[b * m + j];
        }
      }, 8);
      return;
    }
    // Through X: Z = Xcᵀ (Xc Q), the inner product by rows, the outer by fixed row blocks.
    Dense T(static_cast<size_t>(n * m));
    parallel_for(0, n, n_threads, [&](index_t i) {
      for (int j = 0; j < m; ++j) {
        double s = 0.0;
        for (index_t a = 0; a < d; ++a) s += (X(i, a) - mean[a]) * Q[a * m + j];
        T[i * m + j] = s;
      }
    }, 64);
    for (index_t r0 = 0; r0 < n; r0 += kRowBlock) {
      const index_t r1 = std::min(n, r0 + kRowBlock);
      parallel_for(0, d, n_threads, [&](index_t a) {
        for (index_t i = r0; i < r1; ++i) {
          const double xa = X(i, a) - mean[a];
          for (int j = 0; j < m; ++j) Z[a * m + j] += xa * T[i * m + j];
        }
      }, 16);
    }
  }
};

// The top k eigenvectors of the covariance (d x k, column j the j-th), by subspace iteration
// on m ≥ k vectors with Rayleigh-Ritz, from a seeded random start. Components beyond the rank
// of X (k > d) are zero.
template <class Rows>
Dense top_components(const Covariance<Rows>& cov, index_t d, int k, int m) {
  Dense Q(static_cast<size_t>(d * m));
  Rng rng(0x5EEDu);
  for (double& q : Q) q = rng.normal();
  orthonormalise(Q, d, m);
  Dense Z, H(static_cast<size_t>(m) * m), U(static_cast<size_t>(m) * m), lambda(m);
  Dense V(static_cast<size_t>(d) * k);
  for (int it = 0; it < kMaxIterations; ++it) {
    cov.apply(Q, m, Z);
    for (int a = 0; a < m; ++a)
      for (int b = 0; b < m; ++b) {
        double s = 0.0;
        for (index_t r = 0; r < d; ++r) s += Q[r * m + a] * Z[r * m + b];
        H[a * m + b] = s;
      }
    for (int a = 0; a < m; ++a)
      for (int b = a + 1; b < m; ++b) H[a * m + b] = H[b * m + a] = 0.5 * (H[a * m + b] + H[b * m + a]);
    symmetric_eigen(H.data(), m, lambda.data(), U.data());
    // Ritz vectors V = Q U and residuals ‖Z U − V Λ‖ of the top k.
    double worst = 0.0;
    for (int j = 0; j < k && j < m; ++j) {
      double res = 0.0;
      for (index_t r = 0; r < d; ++r) {
        double v = 0.0, zu = 0.0;
        for (int a = 0; a < m; ++a) {
          v += Q[r * m + a] * U[a * m + j];
          zu += Z[r * m + a] * U[a * m + j];
        }
        V[r * k + j] = v;
        res += (zu - lambda[j] * v) * (zu - lambda[j] * v);
      }
      worst = std::max(worst, std::sqrt(res));
    }
    if (worst <= kResidualTolerance * std::max(lambda[0], 0.0)) break;
    // Next subspace: Z rotated to Ritz order, orthonormalised.
    for (index_t r = 0; r < d; ++r) {
      for (int j = 0; j < m; ++j) {
        double s = 0.0;
        for (int a = 0; a < m; ++a) s += Z[r * m + a] * U[a * m + j];
        Q[r * m + j] = s;
      }
    }
    orthonormalise(Q, d, m);
  }
  for (int j = m; j < k; ++j)
    for (index_t r = 0; r < d; ++r) V[r * k + j] = 0.0;
  return V;
}

// The sign of each axis: its largest-magnitude loading is positive (the first one on ties).
void fix_signs(Dense& V, index_t d, int k) {
  for (int j = 0; j < k; ++j) {
    index_t arg = 0;
    for (index_t r = 1; r < d; ++r)
      if (std::fabs(V[r * k + j]) > std::fabs(V[arg * k + j])) arg = r;
    if (V[arg * k + j] < 0.0)
      for (index_t r = 0; r < d; ++r) V[r * k + j] = -V[r * k + j];
  }
}

template <class Rows>
void project(Rows X, Matrix out, int n_threads) {
  const index_t n = X.rows;
  const index_t d = X.cols;
  const int k = static_cast<int>(out.cols);
  if (out.rows != n || k < 1) throw std::invalid_argument("pca_project: bad output shape");
  const int m = static_cast<int>(std::min<index_t>(d, k + kOversample));
  const Dense mean = column_means(X, n_threads);
  const Covariance<Rows> cov(X, mean, n_threads);
  Dense V = top_components(cov, d, k, m);
  fix_signs(V, d, k);
  parallel_for(0, n, n_threads, [&](index_t i) {
    for (int j = 0; j < k; ++j) {
      double s = 0.0;
      for (index_t a = 0; a < d; ++a) s += (X(i, a) - mean[a]) * V[a * k + j];
      out(i, j) = s;
    }
  }, 256);
}

}  // namespace

void pca_project(DataMatrix X, Matrix out, int n_threads) {
  X.visit([&](auto rows) { project(rows, out, n_threads); });
}

}  // namespace turbotsne
