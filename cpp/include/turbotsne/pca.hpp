// Principal components for the default initialisation (Kobak & Berens, Nat. Commun. 2019).
#pragma once

#include "turbotsne/common.hpp"

namespace turbotsne {

// Writes the projections of the centred rows of X onto the top out.cols principal axes into
// out (X.rows x out.cols). Axes come from subspace iteration with Rayleigh-Ritz on the
// covariance; each axis' sign makes its largest-magnitude loading positive. Deterministic for
// any thread count. float32 rows give the bits of the same values in float64.
void pca_project(DataMatrix X, Matrix out, int n_threads);

// Eigen-decomposition of a small symmetric n x n matrix (row-major) by cyclic Jacobi rotations:
// eigenvalues descending into `values`, eigenvectors as the columns of `vectors` (n x n).
void symmetric_eigen(const double* A, int n, double* values, double* vectors);

}  // namespace turbotsne
