"""Metrics beyond the core's native three, and sparse input: an exact blocked search.

The core finds neighbours natively for the euclidean, cosine and manhattan metrics of dense
rows. Everything else that scikit-learn users pass (scipy's distance names, ``minkowski`` with
``metric_params={"p": ...}``, ``mahalanobis``, boolean metrics, a callable ``metric(u, v)``) and
scipy.sparse input go through an exact brute-force search here: the distances of a block of
rows to every row (scipy's ``cdist``, or sparse products for the euclidean and cosine metrics
of sparse rows, which never densify X), and the core's ``nearest_in_rows`` keeps each row's k
nearest by (distance, index). Time O(n² d), memory O(block · n) on top of X (O(nnz) for
sparse X): slower than the native search, exact, and deterministic for any thread count.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NamedTuple, Optional, Union

import numpy as np
import scipy.sparse
import scipy.spatial.distance

from . import _core
from ._validation import _fmt, check_cosine_rows

__all__ = ["NATIVE_METRICS", "SCIPY_METRICS", "BOOLEAN_METRICS", "MetricSpec", "resolve_metric",
           "check_sparse_data", "blocked_neighbors", "sparse_pca_init", "prepare_data"]

#: The metrics the core computes itself (dense rows).
NATIVE_METRICS = ("euclidean", "cosine", "manhattan")
#: scikit-learn's other names for them.
ALIASES = {"l2": "euclidean", "l1": "manhattan", "cityblock": "manhattan"}
#: scipy.spatial.distance metrics, computed by the blocked search.
SCIPY_METRICS = ("braycurtis", "canberra", "chebyshev", "correlation", "minkowski",
                 "seuclidean", "sqeuclidean", "mahalanobis", "hamming", "jensenshannon",
                 "jaccard", "dice", "rogerstanimoto", "russellrao", "sokalsneath", "yule")
#: Metrics of boolean vectors: X is read as X != 0, as scikit-learn does.
BOOLEAN_METRICS = ("jaccard", "dice", "rogerstanimoto", "russellrao", "sokalsneath", "yule")
#: Every metric name accepted (besides a callable and "precomputed").
METRIC_NAMES = NATIVE_METRICS + tuple(ALIASES) + SCIPY_METRICS
#: Bytes of distances one block of rows may hold.
_BLOCK_BYTES = 64 << 20


class MetricSpec(NamedTuple):
    """A metric as the search needs it: ``name`` (a native or scipy name, or "callable"),
    ``native`` (the core's search applies; for dense X), ``params`` (keyword arguments of the
    distance) and ``func`` (the callable, or None)."""

    name: str
    native: bool
    params: dict
    func: Optional[Callable]

    def describe(self) -> str:
        if self.func is not None:
            return f"metric={getattr(self.func, '__name__', 'callable')}"
        return f"metric={self.name!r}" + (f" with metric_params={self.params!r}"
                                         if self.params else "")


def _metric_error(metric, owner: str) -> Exception:
    names = ", ".join(repr(m) for m in NATIVE_METRICS + ("precomputed",) + tuple(ALIASES)
                      + SCIPY_METRICS)
    kind = TypeError if not isinstance(metric, str) else ValueError
    return kind(f"The 'metric' parameter of {owner} must be one of {names}, or a callable "
                f"metric(u, v) -> float. Got {_fmt(metric)} instead.")


class MetricRule(NamedTuple):
    """Constraint of _validation's tables: a metric name (or "precomputed") or a callable,
    returned as it is (resolved with metric_params by :func:`resolve_metric`)."""

    def check(self, value, name: str, owner: str):
        if callable(value) and not isinstance(value, str):
            return value
        if not isinstance(value, str) or value not in METRIC_NAMES + ("precomputed",):
            raise _metric_error(value, owner)
        return value


def resolve_metric(metric, metric_params, owner: str) -> Union[str, MetricSpec]:
    """``metric`` and ``metric_params`` checked: "precomputed", or the MetricSpec of the search.

    minkowski with p = 1 or 2 (and no weights) is the native manhattan or euclidean metric,
    with p = inf chebyshev; the aliases l1, l2, cityblock are native too."""
    if metric_params is None:
        params = {}
    elif isinstance(metric_params, dict):
        params = dict(metric_params)
    else:
        raise TypeError(f"The 'metric_params' parameter of {owner} must be a dict or None. "
                        f"Got {_fmt(metric_params)} instead.")
    if callable(metric) and not isinstance(metric, str):
        return MetricSpec("callable", False, params, metric)
    if not isinstance(metric, str) or metric not in METRIC_NAMES + ("precomputed",):
        raise _metric_error(metric, owner)
    metric = ALIASES.get(metric, metric)
    if metric == "minkowski" and set(params) <= {"p"}:
        p = params.get("p", 2)
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) \
                or not p > 0:
            raise ValueError(f"metric_params['p'] of {owner} (minkowski) must be a positive "
                             f"number. Got {_fmt(p)} instead.")
        native = {1: "manhattan", 2: "euclidean"}.get(p)
        if native is not None:
            return MetricSpec(native, True, {}, None)
        if p == np.inf:
            return MetricSpec("chebyshev", False, {}, None)
        return MetricSpec("minkowski", False, {"p": float(p)}, None)
    if metric in NATIVE_METRICS + ("precomputed",):
        if params:
            raise ValueError(f"metric_params {params!r} is not used by metric={metric!r}: leave "
                             f"it None (metric_params are for metrics such as 'minkowski' "
                             f"{{'p': ...}}, 'mahalanobis' {{'VI': ...}}, 'seuclidean' "
                             f"{{'V': ...}} or a callable's keyword arguments).")
        return metric if metric == "precomputed" else MetricSpec(metric, True, {}, None)
    return MetricSpec(metric, False, params, None)


# --------------------------------------------------------------------------- sparse input

def check_sparse_data(X, *, name: str = "X", min_samples: int = 2) -> scipy.sparse.csr_matrix:
    """A scipy.sparse matrix (any format) as float64 CSR with sorted, summed indices and
    finite values; copies only what the conversion needs (O(nnz))."""
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D; got a sparse array of shape {X.shape}.")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got a sparse matrix of dtype {X.dtype}.")
    n, d = X.shape
    if n < min_samples:
        raise ValueError(f"{name} must have at least {min_samples} samples (rows); got {n} "
                         f"sample(s) (shape={X.shape}).")
    if d < 1:
        raise ValueError(f"{name} must have at least 1 feature (column); got shape {X.shape}.")
    csr = scipy.sparse.csr_matrix(X, dtype=np.float64)  # may share X's arrays
    if not csr.has_canonical_format:  # sorted without duplicates; never changes X itself
        csr = csr.copy()
        csr.sum_duplicates()
    bad = ~np.isfinite(csr.data)
    if bad.any():
        e = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(csr.indptr, e, side="right") - 1)
        raise ValueError(f"{name} must be finite (no NaN or inf); found {csr.data[e]} at row "
                         f"{row}, column {csr.indices[e]}.")
    top = np.abs(csr.data).max(initial=0.0)
    if top > 2.0**500 or 0.0 < top < 2.0**-500:  # squared norms must neither overflow nor vanish
        csr.data = np.ldexp(csr.data, -np.frexp(top)[1])
    return csr


def _row_norms_squared(X: scipy.sparse.csr_matrix) -> np.ndarray:
    return np.asarray(X.multiply(X).sum(axis=1)).ravel()


def _column_variances(X) -> np.ndarray:
    """The unbiased variance of each column of dense or sparse X (without densifying it)."""
    if not scipy.sparse.issparse(X):
        return np.var(X, axis=0, ddof=1)
    n = X.shape[0]
    mean = np.asarray(X.mean(axis=0)).ravel()
    return (np.asarray(X.multiply(X).mean(axis=0)).ravel() - mean**2) * (n / max(n - 1, 1))


def prepare_data(X, spec: MetricSpec, owner: str):
    """The rows the search reads for ``spec``, and ``spec`` with the data-dependent defaults
    filled in (mahalanobis' VI and seuclidean's V from the covariance of X, as scipy's
    ``cdist`` would derive them from its two inputs together)."""
    sparse = scipy.sparse.issparse(X)
    if spec.name == "cosine":
        check_cosine_rows(X)
    if spec.name in BOOLEAN_METRICS:
        X = (X != 0).astype(np.float64) if sparse else (X != 0)
    params = dict(spec.params)
    if spec.name == "seuclidean" and "V" not in params:
        V = _column_variances(X)
        if not (V > 0).all():
            raise ValueError(
                f"metric='seuclidean' of {owner}: feature {int(np.argmin(V))} of X has no "
                f"variance; pass metric_params={{'V': variances}} yourself.")
        params["V"] = V
    if spec.name == "mahalanobis" and "VI" not in params:
        if sparse:
            raise ValueError(f"metric='mahalanobis' of {owner} with sparse X needs "
                             f"metric_params={{'VI': inverse_covariance}} (the covariance of "
                             f"sparse X is not formed here).")
        V = params.pop("V", None)
        V = np.atleast_2d(np.cov(X, rowvar=False) if V is None else np.asarray(V, dtype=np.float64))
        try:
            params["VI"] = np.linalg.inv(V).T.copy()
        except np.linalg.LinAlgError:
            raise ValueError(
                f"metric='mahalanobis' of {owner}: the covariance of X is singular (fewer "
                f"samples than features, or dependent features); pass "
                f"metric_params={{'VI': inverse_covariance}} yourself.") from None
    return X, spec._replace(params=params)


# ------------------------------------------------------------------------------- distances

def _dense_block(A, B, spec: MetricSpec) -> np.ndarray:
    """Distances of the rows of A to the rows of B (dense arrays) by ``spec``."""
    if spec.func is not None:
        func = functools.partial(spec.func, **spec.params) if spec.params else spec.func
        return scipy.spatial.distance.cdist(A, B, metric=lambda u, v: float(func(u, v)))
    name = "cityblock" if spec.name == "manhattan" else spec.name
    return scipy.spatial.distance.cdist(A, B, metric=name, **spec.params)


def _sparse_block(A: scipy.sparse.csr_matrix, B: scipy.sparse.csr_matrix, spec: MetricSpec,
                  norms_A, norms_B, column_block: int) -> np.ndarray:
    """Distances of the sparse rows of A to those of B: by products for euclidean (and
    sqeuclidean) and cosine, else by ``cdist`` on dense copies of blocks of rows of B."""
    if spec.name in ("euclidean", "sqeuclidean", "cosine"):
        G = (A @ B.T).toarray()
        if spec.name == "cosine":
            G /= norms_A[:, None]
            G /= norms_B[None, :]
            return np.clip(1.0 - G, 0.0, 2.0, out=G)
        G *= -2.0
        G += norms_A[:, None]
        G += norms_B[None, :]
        np.maximum(G, 0.0, out=G)
        return G if spec.name == "sqeuclidean" else np.sqrt(G, out=G)
    dense_A = A.toarray()
    return np.hstack([_dense_block(dense_A, B[c:c + column_block].toarray(), spec)
                      for c in range(0, B.shape[0], column_block)])


def _check_block(D: np.ndarray, first_row: int, spec: MetricSpec, owner: str,
                 queries: bool) -> None:
    bad = ~(np.isfinite(D) & (D >= 0))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        hint = (" (a constant row has no correlation)" if spec.name == "correlation" else
                " (boolean metrics are undefined between two all-zero rows)"
                if spec.name in BOOLEAN_METRICS else "")
        raise ValueError(
            f"{spec.describe()} of {owner} gave {float(D[i, j])!r} as the distance between "
            + (f"new row {first_row + i} and fitted row {j}" if queries else
               f"rows {first_row + i} and {j} of X")
            + f": distances must be finite and non-negative{hint}.")


def blocked_neighbors(X, k: int, spec: MetricSpec, n_threads: int, *, owner: str,
                      queries=None, on_block: Optional[Callable[[int, int], None]] = None):
    """The exact k nearest neighbours ``(indices int32 (m, k), distances float64 (m, k))`` of
    every row of ``queries`` among the rows of X (of X itself, less each row, when queries is
    None), by ``spec`` (prepared by :func:`prepare_data`), rows sorted by (distance, index).

    Works in blocks of rows whose distances to all of X take at most 64 MB; within a block
    ``n_threads`` threads compute slices (scipy's cdist and sparse products release the GIL)
    and the core selects the nearest. ``on_block(done, total)`` is called after each block."""
    sparse = scipy.sparse.issparse(X)
    Q = X if queries is None else queries
    n, m = X.shape[0], Q.shape[0]
    # Sparse products hold the block's distances about three times over (the sparse product,
    # its dense copy, the slices stacked): a smaller block keeps them within _BLOCK_BYTES.
    budget = _BLOCK_BYTES // 4 if sparse else _BLOCK_BYTES
    rows = int(max(1, min(m, budget // (8 * max(n, 1)))))
    norms_X = norms_Q = None
    if sparse and spec.name in ("euclidean", "sqeuclidean", "cosine"):
        norms_X = _row_norms_squared(X)
        norms_Q = norms_X if queries is None else _row_norms_squared(Q)
        if spec.name == "cosine":
            norms_X, norms_Q = np.sqrt(norms_X), np.sqrt(norms_Q)
    column_block = int(max(1, (16 << 20) // (8 * X.shape[1])))
    indices = np.empty((m, k), dtype=np.int32)
    distances = np.empty((m, k), dtype=np.float64)

    def block(a: int, b: int) -> np.ndarray:
        if sparse:
            return _sparse_block(Q[a:b], X, spec, norms_Q[a:b] if norms_Q is not None else None,
                                 norms_X, column_block)
        return _dense_block(Q[a:b], X, spec)

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        for a in range(0, m, rows):
            b = min(m, a + rows)
            step = -(-(b - a) // n_threads)
            parts = [(s, min(b, s + step)) for s in range(a, b, step)]
            D = np.vstack(list(pool.map(lambda ab: block(*ab), parts))) if len(parts) > 1 \
                else block(a, b)
            D = np.ascontiguousarray(D, dtype=np.float64)
            _check_block(D, a, spec, owner, queries is not None)
            idx, dist = _core.nearest_in_rows(D, k, a if queries is None else -1, n_threads)
            indices[a:b], distances[a:b] = idx, dist
            if on_block is not None:
                on_block(b, m)
    return indices, _in_calibration_range(distances)


def _in_calibration_range(distances: np.ndarray) -> np.ndarray:
    """Rows whose largest distance would overflow when squared (or vanish) scaled by a power
    of two: each point's bandwidth is calibrated to its perplexity on any distance scale."""
    top = distances.max(axis=1)
    outside = (top > 2.0**500) | ((top > 0) & (top < 2.0**-500))
    if outside.any():
        distances[outside] = np.ldexp(distances[outside], -np.frexp(top[outside])[1][:, None])
    return distances


# ------------------------------------------------------------------------ PCA of sparse X

def sparse_pca_init(X: scipy.sparse.csr_matrix, n_components: int, seed: int) -> np.ndarray:
    """The PCA initialisation of sparse X without densifying it: the leading principal
    components by a truncated SVD of the centred matrix (an implicit operator), each axis'
    sign fixed by its largest loading as the core does, scaled so that the first has standard
    deviation 1e-4. Columns without variance get Gaussian noise of that scale."""
    import scipy.sparse.linalg

    n, d = X.shape
    mean = np.asarray(X.mean(axis=0)).ravel()
    k = min(n_components, d, n - 1)
    if min(n, d) <= k + 1 or min(n, d) <= 8:
        dense = X.toarray() - mean  # at most 8 columns or rows: small
        _, s, Vt = np.linalg.svd(dense, full_matrices=False)
        V, s = Vt[:k].T, s[:k]
    else:
        op = scipy.sparse.linalg.LinearOperator(
            (n, d), dtype=np.float64,
            matvec=lambda v: X @ v.ravel() - mean @ v.ravel(),
            rmatvec=lambda u: X.T @ u.ravel() - mean * u.ravel().sum(),
            matmat=lambda V: X @ V - np.outer(np.ones(n), mean @ V),
            rmatmat=lambda U: X.T @ U - np.outer(mean, U.sum(axis=0)))
        v0 = np.random.default_rng(0).normal(size=min(n, d))
        _, s, Vt = scipy.sparse.linalg.svds(op, k=k, v0=v0, solver="arpack")
        order = np.argsort(-s, kind="stable")
        V, s = Vt[order].T, s[order]
    for j in range(V.shape[1]):
        if V[np.argmax(np.abs(V[:, j])), j] < 0:
            V[:, j] = -V[:, j]
    Y = np.zeros((n, n_components))
    Y[:, :k] = X @ V - mean @ V
    rng = np.random.default_rng(seed)
    s0 = Y[:, 0].std()
    for c in range(n_components):
        sc = Y[:, c].std()
        if s0 > 0 and np.isfinite(s0) and sc > 1e-12 * s0:
            Y[:, c] *= 1e-4 / s0
        else:
            Y[:, c] = 1e-4 * rng.normal(size=n)
    return np.ascontiguousarray(Y)
