"""Plain numpy reference implementations the core is tested against.

Written for clarity, not speed: O(n²) memory and time, float64 throughout.
"""

from __future__ import annotations

import numpy as np


def squared_distances(X: np.ndarray) -> np.ndarray:
    diff = X[:, None, :] - X[None, :, :]
    return np.einsum("ijk,ijk->ij", diff, diff)


def brute_knn(X: np.ndarray, k: int):
    """k nearest other rows by (distance, index): indices and Euclidean distances.

    One row of distances at a time (O(n·d) memory), so that high-dimensional cases fit.
    """
    n = len(X)
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k))
    cols = np.arange(n)
    for i in range(n):
        diff = X - X[i]
        D = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        others = cols[cols != i]
        order = np.lexsort((others, D[others]))[:k]  # primary key: distance, then index
        idx[i] = others[order]
        dist[i] = D[others[order]]
    return idx, dist


def calibrate_row(sq: np.ndarray, perplexity: float, iterations: int = 200) -> np.ndarray:
    """p_j ∝ exp(-beta sq_j) with perplexity exp(H) = target, by bisection on log(beta)."""
    shifted = sq - sq.min()
    target = np.log(perplexity)

    def distribution(log_beta):
        w = np.exp(-np.exp(log_beta) * shifted)
        return w / w.sum()

    def entropy(p):
        nz = p > 0
        return -np.sum(p[nz] * np.log(p[nz]))

    lo, hi = -745.0, 745.0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if entropy(distribution(mid)) > target:
            lo = mid
        else:
            hi = mid
    return distribution(0.5 * (lo + hi))


def perplexity_of_rows(P_rows: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(P_rows > 0, np.log(np.where(P_rows > 0, P_rows, 1.0)), 0.0)
    return np.exp(-np.sum(P_rows * logs, axis=1))


def joint_probabilities(X: np.ndarray, perplexity: float) -> np.ndarray:
    """Dense symmetric P over the exact kNN graph, k = min(n-1, floor(3 perplexity))."""
    n = len(X)
    k = max(1, min(n - 1, int(np.floor(3 * perplexity))))
    idx, dist = brute_knn(X, k)
    C = np.zeros((n, n))
    for i in range(n):
        C[i, idx[i]] = calibrate_row(dist[i] ** 2, perplexity)
    return (C + C.T) / (2 * n)


def kernel(Y: np.ndarray, dof: float = 1.0) -> np.ndarray:
    """w_ij = (1 + d²/α)^(−α), zero on the diagonal."""
    W = (1.0 + squared_distances(Y) / dof) ** (-dof)
    np.fill_diagonal(W, 0.0)
    return W


def kl_divergence(P: np.ndarray, Y: np.ndarray, dof: float = 1.0) -> float:
    W = kernel(Y, dof)
    Q = W / W.sum()
    nz = P > 0
    return float(np.sum(P[nz] * np.log(P[nz] / Q[nz])))


def kl_gradient(P: np.ndarray, Y: np.ndarray, dof: float = 1.0) -> np.ndarray:
    """∂KL/∂y_i = 4 Σ_j (p_ij − q_ij) w_ij^(1/α) (y_i − y_j)."""
    W = kernel(Y, dof)
    Q = W / W.sum()
    B = 1.0 + squared_distances(Y) / dof  # w^(1/α) = 1/b
    M = (P - Q) / B
    np.fill_diagonal(M, 0.0)
    return 4.0 * (M.sum(axis=1)[:, None] * Y - M @ Y)


def knn_accuracy(Y: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out accuracy of a k-NN majority vote in the embedding."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(Y).query(Y, k + 1)
    votes = labels[idx[:, 1:]]
    pred = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in votes])
    return float(np.mean(pred == labels))
