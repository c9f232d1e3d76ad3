"""The affinity kernels besides t-SNE's perplexity calibration (openTSNE's Multiscale, Uniform
and FixedSigmaNN): multiscale ``perplexity=[...]``, ``affinities="uniform"`` with
``n_neighbors``, fixed-bandwidth ``sigma``; each against a numpy reference on the exact kNN
graph."""

import numpy as np
import pytest
import scipy.sparse

import turbotsne
from turbotsne import TSNE

from _reference import brute_knn, calibrate_row


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    centers = rng.normal(size=(3, 5)) * 4
    return centers[np.repeat(np.arange(3), 70)] + rng.normal(size=(210, 5))


def reference_joint(X, k, row_of):
    """(C + Cᵀ) / (2 n), C's row i = row_of(distances of i's k nearest) on those neighbours."""
    n = len(X)
    idx, dist = brute_knn(X, k)
    C = np.zeros((n, n))
    for i in range(n):
        C[i, idx[i]] = row_of(dist[i])
    return (C + C.T) / (2 * n)


def reference_multiscale(X, perplexities):
    k = min(len(X) - 1, int(3 * max(perplexities)))
    return reference_joint(X, k, lambda d: np.mean(
        [calibrate_row(d ** 2, p) for p in perplexities], axis=0))


def test_multiscale_is_the_equal_mixture_of_the_calibrated_kernels(data):
    P = turbotsne.joint_probabilities(data, [5, 40], neighbors="exact")
    expected = reference_multiscale(data, [5, 40])
    np.testing.assert_allclose(P.toarray(), expected, atol=1e-7 / len(data), rtol=1e-5)
    # ... which differs from each of its scales alone.
    for p in (5, 40):
        single = turbotsne.joint_probabilities(data, p, neighbors="exact").toarray()
        assert np.abs(single - expected).max() > 1e-4


def test_kernels_on_the_approximate_search_are_joint_distributions(data):
    for kw in (dict(perplexity=[5, 30]), dict(affinities="uniform", n_neighbors=8)):
        P = turbotsne.joint_probabilities(data, neighbors="approx", random_state=0, **kw)
        again = turbotsne.joint_probabilities(data, neighbors="approx", random_state=0,
                                              n_jobs=1, **kw)
        assert (P != again).nnz == 0 and (P != P.T).nnz == 0
        assert P.sum() == pytest.approx(1.0, abs=1e-6)


def test_multiscale_of_one_perplexity_is_the_standard_kernel(data):
    P1 = turbotsne.joint_probabilities(data, [12.0], neighbors="exact")
    P = turbotsne.joint_probabilities(data, 12.0, neighbors="exact")
    assert (P1 != P).nnz == 0


def test_uniform_affinities(data):
    P = turbotsne.joint_probabilities(data, affinities="uniform", n_neighbors=10,
                                      neighbors="exact")
    expected = reference_joint(data, 10, lambda d: np.full(len(d), 0.1))
    np.testing.assert_allclose(P.toarray(), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("sigma", [0.3, 2.0, 50.0])
def test_fixed_sigma_gaussian(data, sigma):
    P = turbotsne.joint_probabilities(data, sigma=sigma, n_neighbors=25, neighbors="exact")

    def row(d):
        w = np.exp(-(d ** 2 - d.min() ** 2) / (2 * sigma ** 2))
        return w / w.sum()

    expected = reference_joint(data, 25, row)
    np.testing.assert_allclose(P.toarray(), expected, rtol=1e-5, atol=1e-12)


def test_default_neighbour_count_of_uniform_and_sigma_is_three_perplexities(data):
    P = turbotsne.joint_probabilities(data, perplexity=4, affinities="uniform",
                                      neighbors="exact")
    np.testing.assert_allclose(
        P.toarray(), reference_joint(data, 12, lambda d: np.full(12, 1 / 12)), rtol=1e-6)


def test_kernels_from_precomputed_distances_and_scipy_metrics_agree(data):
    D = np.sqrt(((data[:, None] - data[None]) ** 2).sum(-1))
    for kw in (dict(perplexity=[5, 30]), dict(affinities="uniform", n_neighbors=8),
               dict(sigma=1.5, n_neighbors=20)):
        native = turbotsne.joint_probabilities(data, neighbors="exact", **kw).toarray()
        pre = turbotsne.joint_probabilities(D, metric="precomputed", **kw).toarray()
        via_scipy = turbotsne.joint_probabilities(data, metric="minkowski",
                                                  metric_params={"p": 2.5}, **kw)
        sparse_X = turbotsne.joint_probabilities(scipy.sparse.csr_matrix(data), **kw)
        np.testing.assert_allclose(pre, native, rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(sparse_X.toarray(), native, rtol=1e-5, atol=1e-12)
        assert via_scipy.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kw", [dict(perplexity=[5, 30]), dict(affinities="uniform", n_neighbors=8),
                                dict(sigma=1.5, n_neighbors=20)])
def test_tsne_and_the_estimator_use_the_kernel(data, kw):
    P = turbotsne.joint_probabilities(data, neighbors="exact", **kw)
    given = turbotsne.tsne(data, affinities=P, n_iter=300, random_state=0, method="exact")
    Y = turbotsne.tsne(data, n_iter=300, random_state=0, method="exact", **kw)
    est = TSNE(max_iter=300, random_state=0, method="exact", **kw).fit(data)
    assert np.array_equal(Y, given)
    assert np.array_equal(est.embedding_, given)
    assert np.isfinite(est.transform(data[:5] + 0.01)).all()
    one = turbotsne.tsne(data, n_iter=300, random_state=0, method="exact", n_jobs=1, **kw)
    assert np.array_equal(one, Y)


def test_kernel_errors(data):
    for kw, message in [
            (dict(perplexity=[]), "non-empty"),
            (dict(perplexity=[5, -1]), "perplexity"),
            (dict(perplexity=[5, 300]), "too large"),
            (dict(affinities="gaussian"), "affinities"),
            (dict(affinities="uniform", sigma=1.0), "sigma"),
            (dict(perplexity=[5, 20], sigma=1.0), "multiscale"),
            (dict(n_neighbors=10), "n_neighbors"),
            (dict(affinities="uniform", n_neighbors=210), "n_neighbors"),
            (dict(sigma=0.0), "sigma"),
            (dict(affinities=np.eye(210), sigma=1.0), "has no effect")]:
        with pytest.raises(ValueError, match=message):
            turbotsne.tsne(data, n_iter=10, **kw)
    with pytest.raises(TypeError, match="perplexity"):
        turbotsne.tsne(data, perplexity="30")
    with pytest.raises(TypeError, match="n_neighbors"):
        turbotsne.tsne(data, affinities="uniform", n_neighbors=2.5)
    graph = scipy.sparse.csr_matrix(np.where(np.eye(210, k=1) + np.eye(210, k=-1) > 0, 1.0, 0.0))
    with pytest.raises(ValueError, match="n_neighbors <= 1"):
        turbotsne.tsne(graph, metric="precomputed", init="random", affinities="uniform",
                       n_neighbors=3)


@pytest.mark.parametrize("kw", [dict(), dict(perplexity=[5, 30]),
                                dict(affinities="uniform", n_neighbors=8),
                                dict(sigma=1.5, n_neighbors=20)])
def test_transform_without_iterations_is_prepare_partial(data, kw):
    # openTSNE's prepare_partial: each new point at the mean of its neighbours' positions in
    # the map, weighted by its affinities (the fit's kernel) to them.
    est = TSNE(max_iter=250, random_state=0, method="exact", **kw).fit(data)
    new = data[:7] + np.random.default_rng(1).normal(scale=0.3, size=(7, data.shape[1]))
    kernel = est._kernel
    k = kernel.neighbor_count(len(data) + 1)
    expected = np.empty((7, 2))
    for i, x in enumerate(new):
        d = np.sqrt(((data - x) ** 2).sum(1))
        nearest = np.lexsort((np.arange(len(data)), d))[:k]
        if kernel.kind == "uniform":
            w = np.full(k, 1 / k)
        elif kernel.kind == "gaussian":
            w = np.exp(-(d[nearest] ** 2 - d[nearest].min() ** 2) / (2 * kernel.sigma ** 2))
            w /= w.sum()
        else:
            w = np.mean([calibrate_row(d[nearest] ** 2, p) for p in kernel.perplexities], axis=0)
        expected[i] = w @ est.embedding_[nearest]
    np.testing.assert_allclose(est.transform(new, n_iter=0), expected, rtol=1e-5, atol=1e-9)


def test_transform_with_given_new_to_reference_affinities(data):
    est = TSNE(max_iter=250, random_state=0, method="exact", perplexity=10).fit(data)
    new = data[:6] + np.random.default_rng(2).normal(scale=0.3, size=(6, data.shape[1]))
    k = 30
    M = np.zeros((6, len(data)))
    for i, x in enumerate(new):
        d = np.sqrt(((data - x) ** 2).sum(1))
        nearest = np.lexsort((np.arange(len(data)), d))[:k]
        M[i, nearest] = calibrate_row(d[nearest] ** 2, 10) * (i + 1)  # rows need not sum to 1
    for n_iter in (0, 100):
        by_data = est.transform(new, n_iter=n_iter)
        given = est.transform(None, n_iter=n_iter, affinities=scipy.sparse.csr_matrix(M))
        np.testing.assert_allclose(given, by_data, rtol=1e-5, atol=1e-6 * np.abs(by_data).max())
    other = M.copy()
    other[:, :100] = other[:, :100] * 0 + 1e-3
    assert not np.allclose(est.transform(None, affinities=other), by_data, atol=1e-2)
    for bad, message in [(np.zeros((2, len(data))), "row 0"), (-M, "non-negative"),
                         (M[:, :5], "shape")]:
        with pytest.raises(ValueError, match=message):
            est.transform(None, affinities=bad)
    with pytest.raises(ValueError, match="not both"):
        est.transform(new, perplexity=5, affinities=M)
