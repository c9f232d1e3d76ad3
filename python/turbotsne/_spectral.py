"""``init="spectral"``: the leading non-trivial eigenvectors of the normalised affinity graph.

For the symmetric P with degrees d_i = Σ_j p_ij, the generalised eigenproblem P v = λ D v
(the random walk D⁻¹P's eigenvectors; the same as Laplacian eigenmaps, Belkin & Niyogi 2003)
has the constant vector as its top solution (λ = 1); the next ``n_components`` are the
embedding. They are computed as D^(-1/2) u for the eigenvectors u of the symmetric
D^(-1/2) P D^(-1/2), by ARPACK from a fixed start vector: a single-threaded computation, so
the result is the same for any n_jobs. Each column's sign makes its largest-magnitude entry
positive, and the result is scaled so that the first column has standard deviation 1e-4,
like the PCA start (openTSNE's spectral initialisation does the same scaling).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

#: Standard deviation of the first column (the core's kInitStd).
INIT_STD = 1e-4


def spectral_init(indptr, indices, data, n: int, n_components: int) -> np.ndarray:
    """The spectral start (n, n_components) of the symmetric affinities in CSR arrays."""
    P = scipy.sparse.csr_matrix((np.asarray(data, dtype=np.float64), indices, indptr),
                                shape=(n, n))
    degree = np.asarray(P.sum(axis=1)).ravel()
    if (degree <= 0).any():
        row = int(np.flatnonzero(degree <= 0)[0])
        raise ValueError(f"init='spectral' needs every point to have an affinity to another; "
                         f"point {row} has none. Pass init='pca' or 'random'.")
    scale = 1.0 / np.sqrt(degree)
    A = scipy.sparse.diags(scale) @ P @ scipy.sparse.diags(scale)
    wanted = n_components + 1
    if wanted >= n - 1 or n < 50:
        # Few points: the dense eigendecomposition (ARPACK needs wanted < n - 1).
        values, vectors = np.linalg.eigh(A.toarray())
        vectors = vectors[:, np.argsort(-values, kind="stable")[:wanted]]
    else:
        # A fixed start vector (not the trivial eigenvector) makes ARPACK deterministic.
        v0 = np.cos(np.arange(n, dtype=np.float64) * 0.7 + 0.3)
        values, vectors = scipy.sparse.linalg.eigsh(A, k=wanted, which="LA", v0=v0,
                                                    tol=1e-10, maxiter=max(1000, 20 * n))
        vectors = vectors[:, np.argsort(-values, kind="stable")]
    Y = vectors[:, 1:wanted] * scale[:, None]
    if Y.shape[1] < n_components:  # fewer eigenvectors than components (n tiny)
        Y = np.hstack([Y, np.zeros((n, n_components - Y.shape[1]))])
    for c in range(n_components):
        column = Y[:, c]
        if column[np.argmax(np.abs(column))] < 0:
            Y[:, c] = -column
    Y -= Y.mean(axis=0)
    std = Y[:, 0].std()
    if not std > 0:
        raise ValueError("init='spectral' found no spread in the affinity graph's "
                         "eigenvectors; pass init='pca' or 'random'.")
    return np.ascontiguousarray(Y * (INIT_STD / std))
