"""Metrics beyond the native three and sparse X: the exact blocked search of _metrics,
checked against numpy distances written here and the reference calibration."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse

import turbotsne
from turbotsne import _metrics
from _reference import calibrate_row


def _pairwise(A, B, metric, params=None):
    """Distances between the rows of A and B, in plain numpy (the definitions)."""
    params = params or {}
    diff = A[:, None, :] - B[None, :, :]
    if metric == "chebyshev":
        return np.abs(diff).max(-1)
    if metric == "minkowski":
        return (np.abs(diff) ** params["p"]).sum(-1) ** (1.0 / params["p"])
    if metric == "sqeuclidean":
        return (diff**2).sum(-1)
    if metric == "canberra":
        den = np.abs(A)[:, None, :] + np.abs(B)[None, :, :]
        return np.where(den > 0, np.abs(diff) / np.where(den > 0, den, 1.0), 0.0).sum(-1)
    if metric == "braycurtis":
        return np.abs(diff).sum(-1) / np.abs(A[:, None, :] + B[None, :, :]).sum(-1)
    if metric == "correlation":
        a = A - A.mean(1, keepdims=True)
        b = B - B.mean(1, keepdims=True)
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        return np.maximum(1.0 - a @ b.T, 0.0)
    if metric == "mahalanobis":
        VI = params["VI"]
        return np.sqrt(np.maximum(np.einsum("ijk,kl,ijl->ij", diff, VI, diff), 0.0))
    if metric == "seuclidean":
        return np.sqrt((diff**2 / params["V"]).sum(-1))
    if metric == "hamming":
        return (A[:, None, :] != B[None, :, :]).mean(-1)
    if metric == "jaccard":
        a, b = A[:, None, :] != 0, B[None, :, :] != 0
        union = (a | b).sum(-1)
        return np.where(union > 0, ((a ^ b).sum(-1)) / np.where(union > 0, union, 1), 0.0)
    raise AssertionError(metric)


def _reference_P(D, perplexity):
    """Dense joint P from a full distance matrix: the k nearest other rows by (distance,
    index), calibrated on squared distances, symmetrised."""
    n = len(D)
    k = max(1, min(n - 1, int(np.floor(3 * perplexity))))
    C = np.zeros((n, n))
    cols = np.arange(n)
    for i in range(n):
        others = cols[cols != i]
        nearest = others[np.lexsort((others, D[i, others]))[:k]]
        C[i, nearest] = calibrate_row(D[i, nearest] ** 2, perplexity)
    return (C + C.T) / (2 * n)


def _data(rng, metric, n=120, d=6):
    if metric in ("hamming", "jaccard"):
        return (rng.random((n, 24)) < 0.3).astype(float)
    if metric in ("canberra", "braycurtis"):
        return rng.random((n, d)) + 0.1
    return rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d)


CASES = [("chebyshev", None), ("minkowski", {"p": 3}), ("minkowski", {"p": 0.5}),
         ("sqeuclidean", None), ("canberra", None), ("braycurtis", None), ("correlation", None),
         ("mahalanobis", None), ("seuclidean", None), ("hamming", None), ("jaccard", None)]


@pytest.mark.parametrize("metric,params", CASES)
def test_scipy_metrics_give_the_reference_affinities(rng, metric, params):
    X = _data(rng, metric)
    ref_params = dict(params or {})
    if metric == "mahalanobis":
        ref_params["VI"] = np.linalg.inv(np.cov(X, rowvar=False))
    if metric == "seuclidean":
        ref_params["V"] = X.var(axis=0, ddof=1)
    P = turbotsne.joint_probabilities(X, perplexity=8, metric=metric, metric_params=params)
    ref = _reference_P(_pairwise(X, X, metric, ref_params), 8)
    np.testing.assert_allclose(P.toarray(), ref, rtol=1e-6, atol=1e-12)


def test_a_callable_metric_and_its_params(rng):
    X = rng.normal(size=(80, 4))
    w = np.array([1.0, 2.0, 0.5, 3.0])

    def weighted_l1(u, v, weights):
        return float(np.abs(u - v) @ weights)

    P = turbotsne.joint_probabilities(X, perplexity=5, metric=weighted_l1,
                                      metric_params={"weights": w})
    D = np.abs(X[:, None, :] - X[None, :, :]) @ w
    np.testing.assert_allclose(P.toarray(), _reference_P(D, 5), rtol=1e-6, atol=1e-12)


def test_minkowski_1_and_2_and_the_aliases_are_the_native_metrics(rng):
    X = rng.normal(size=(150, 5))
    for native, others in [("euclidean", [("minkowski", None), ("minkowski", {"p": 2}), ("l2", None)]),
                           ("manhattan", [("minkowski", {"p": 1}), ("l1", None), ("cityblock", None)])]:
        ref = turbotsne.tsne(X, metric=native, perplexity=10, n_iter=60, random_state=0)
        for metric, params in others:
            Y = turbotsne.tsne(X, metric=metric, metric_params=params, perplexity=10, n_iter=60,
                               random_state=0)
            np.testing.assert_array_equal(Y, ref)


def test_blocked_search_is_the_same_for_any_thread_count_and_block(rng, monkeypatch):
    X = rng.normal(size=(300, 4))
    a = turbotsne.tsne(X, metric="chebyshev", perplexity=10, n_iter=80, random_state=0, n_jobs=1)
    b = turbotsne.tsne(X, metric="chebyshev", perplexity=10, n_iter=80, random_state=0, n_jobs=2)
    np.testing.assert_array_equal(a, b)
    monkeypatch.setattr(_metrics, "_BLOCK_BYTES", 8 * 300 * 7)  # blocks of 7 rows
    c = turbotsne.tsne(X, metric="chebyshev", perplexity=10, n_iter=80, random_state=0, n_jobs=2)
    np.testing.assert_array_equal(a, c)


def test_metric_errors(rng):
    X = rng.normal(size=(60, 4))
    with pytest.raises(ValueError, match="metric_params .* not used by metric='euclidean'"):
        turbotsne.tsne(X, metric_params={"p": 3})
    with pytest.raises(ValueError, match="neighbors='approx' is not available for metric='chebyshev'"):
        turbotsne.tsne(X, metric="chebyshev", neighbors="approx")
    with pytest.raises(ValueError, match="metric_params\\['p'\\].*positive"):
        turbotsne.tsne(X, metric="minkowski", metric_params={"p": -1})
    with pytest.raises(TypeError, match="'metric_params' parameter of tsne must be a dict"):
        turbotsne.tsne(X, metric="minkowski", metric_params=3)
    Z = X.copy()
    Z[7] = 1.0  # a constant row: its correlation with anything is undefined
    with pytest.raises(ValueError, match="metric='correlation' of tsne gave nan .* rows 0 and 7 of X.*constant row"):
        turbotsne.tsne(Z, metric="correlation")
    with pytest.raises(ValueError, match="covariance of X is singular"):
        turbotsne.tsne(np.hstack([X, X[:, :1]]), metric="mahalanobis")
    with pytest.raises(ValueError, match="feature 2 of X has no variance"):
        turbotsne.tsne(np.hstack([X[:, :2], np.ones((60, 1))]), metric="seuclidean")
    with pytest.raises(ValueError, match="gave nan as the distance between rows 0 and 0 of X"):
        turbotsne.tsne(X, metric=lambda u, v: float("nan"))
    with pytest.raises(ValueError, match="gave -1.0"):
        turbotsne.joint_probabilities(X, 5, metric=lambda u, v: -1.0)
    with pytest.raises(ValueError, match="has no effect when affinities are given"):
        turbotsne.tsne(X, metric="chebyshev", affinities=turbotsne.joint_probabilities(X, 5))


# ------------------------------------------------------------------------------ sparse X

def _sparse(rng, n=250, d=60, density=0.15):
    S = scipy.sparse.random(n, d, density=density, random_state=rng, format="csr")
    S.data = np.round(S.data * 10) + 1.0  # counts
    rows = np.asarray(S.getnnz(axis=1)) > 0
    return S[rows]


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan", "chebyshev", "sqeuclidean"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_gives_the_affinities_of_its_dense_copy(rng, metric, fmt):
    S = _sparse(rng)
    P = turbotsne.joint_probabilities(S.asformat(fmt), perplexity=10, metric=metric)
    dense = turbotsne.joint_probabilities(S.toarray(), perplexity=10, metric=metric,
                                          neighbors="exact")
    np.testing.assert_allclose(P.toarray(), dense.toarray(), rtol=1e-5, atol=1e-12)


def test_sparse_pca_init_is_the_leading_principal_components(rng):
    S = _sparse(rng, n=300, d=80)
    Y0 = _metrics.sparse_pca_init(S, 2, seed=0)
    D = S.toarray()
    D -= D.mean(axis=0)
    _, _, Vt = np.linalg.svd(D, full_matrices=False)
    V = Vt[:2].T * np.sign(Vt[:2].T[np.abs(Vt[:2].T).argmax(axis=0), [0, 1]])  # largest loading > 0
    ref = D @ V
    ref *= 1e-4 / ref[:, 0].std()
    np.testing.assert_allclose(Y0, ref, rtol=1e-7, atol=1e-12)
    # and it is what tsne starts from
    a = turbotsne.tsne(S, perplexity=10, n_iter=50, random_state=0)
    b = turbotsne.tsne(S.toarray(), perplexity=10, n_iter=50, random_state=0, neighbors="exact",
                       init=Y0)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_sparse_input_is_never_densified(rng, monkeypatch):
    # 3,000 x 20,000 at 0.2 %: the dense copy would take 480 MB, the CSR matrix 1.4 MB
    S = scipy.sparse.random(3000, 20000, density=0.002, random_state=rng, format="csr")
    S.data += 1.0
    S = S[np.asarray(S.getnnz(axis=1)) > 0]
    dense_bytes = S.shape[0] * S.shape[1] * 8
    tracemalloc.start()
    try:
        turbotsne.joint_probabilities(S, perplexity=10, metric="cosine")
        Y0 = _metrics.sparse_pca_init(S, 2, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.isfinite(Y0).all()
    assert peak < dense_bytes / 6, (peak, dense_bytes)


def test_sparse_errors(rng):
    S = _sparse(rng)
    with pytest.raises(ValueError, match="neighbors='approx' is not available for sparse X.*TruncatedSVD"):
        turbotsne.tsne(S, neighbors="approx")
    Z = S.tolil()
    Z[3, :] = 0
    with pytest.raises(ValueError, match="first is row 3.*cosine"):
        turbotsne.tsne(Z.tocsr(), metric="cosine")
    with pytest.raises(ValueError, match="mahalanobis.*sparse X needs metric_params"):
        turbotsne.tsne(S, metric="mahalanobis")


def test_estimator_fits_and_transforms_sparse_and_scipy_metrics(rng):
    S = _sparse(rng, n=300)
    est = turbotsne.TSNE(perplexity=10, max_iter=200, random_state=0).fit(S[:250])
    new = est.transform(S[250:], n_iter=0)
    assert new.shape == (S.shape[0] - 250, 2) and np.isfinite(new).all()
    np.testing.assert_array_equal(est.transform(S[250:].toarray(), n_iter=0), new)
    X = rng.normal(size=(200, 5))
    est = turbotsne.TSNE(metric="mahalanobis", perplexity=10, max_iter=200, random_state=0)
    est.fit(X[:150])
    # each new point starts at the P-weighted mean of its nearest fitted points, by the
    # fit's metric (VI from the fit's data)
    VI = np.linalg.inv(np.cov(X[:150], rowvar=False))
    D = _pairwise(X[150:], X[:150], "mahalanobis", {"VI": VI})
    k = 30
    start = est.transform(X[150:], n_iter=0)
    for i in range(len(D)):
        nearest = np.lexsort((np.arange(150), D[i]))[:k]
        p = calibrate_row(D[i, nearest] ** 2, 10)
        np.testing.assert_allclose(start[i], p @ est.embedding_[nearest], rtol=1e-6, atol=1e-12)


def test_sparse_input_is_not_changed_and_duplicates_are_summed(rng):
    S = _sparse(rng, n=120, d=30)
    coo = S.tocoo()
    half = coo.data / 2  # every entry stored twice, in reversed order within rows
    data = np.concatenate([half, half])[::-1].copy()
    rows = np.concatenate([coo.row, coo.row])[::-1].copy()
    cols = np.concatenate([coo.col, coo.col])[::-1].copy()
    order = np.lexsort((-cols, rows))  # rows in order, columns descending: unsorted indices
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=S.shape[0]))])
    messy = scipy.sparse.csr_matrix((data[order], cols[order], indptr), shape=S.shape)
    assert not messy.has_canonical_format
    kept = (messy.data.copy(), messy.indices.copy(), messy.indptr.copy())
    P = turbotsne.joint_probabilities(messy, perplexity=8)
    for before, after in zip(kept, (messy.data, messy.indices, messy.indptr)):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_allclose(P.toarray(), turbotsne.joint_probabilities(S, perplexity=8).toarray(),
                               rtol=1e-5, atol=1e-12)


def test_contrastive_embedding_takes_the_aliases_and_scipy_metrics(rng):
    X = rng.normal(size=(200, 5))
    kw = dict(n_epochs=20, random_state=0, perplexity=10)
    np.testing.assert_array_equal(turbotsne.contrastive_embedding(X, metric="l2", **kw),
                                  turbotsne.contrastive_embedding(X, **kw))
    P = turbotsne.joint_probabilities(X, perplexity=10, metric="chebyshev")
    np.testing.assert_array_equal(turbotsne.contrastive_embedding(X, metric="chebyshev", **kw),
                                  turbotsne.contrastive_embedding(X, affinities=P, **kw))


def test_sparse_x_with_given_affinities_is_used_for_the_pca_init(rng):
    S = _sparse(rng, n=200, d=40)
    P = turbotsne.joint_probabilities(S, perplexity=10)
    a = turbotsne.tsne(S, affinities=P, n_iter=50, random_state=0)
    b = turbotsne.tsne(None, affinities=P, init=_metrics.sparse_pca_init(S, 2, seed=0), n_iter=50,
                       random_state=0)
    np.testing.assert_array_equal(a, b)
