"""Approximate neighbours (random-projection forest + NN-descent) against exact ones."""

import numpy as np
import pytest
from _reference import brute_knn

import turbotsne
from turbotsne import _core


def _approx(X, k, threads=2, seed=0, **kw):
    p = _core.ApproximateKnnParams()
    p.seed = seed
    for key, value in kw.items():
        setattr(p, key, value)
    return _core.approximate_neighbors(np.ascontiguousarray(X), k, p, threads)


def _recall(approx_idx, exact_idx):
    return np.mean([len(np.intersect1d(a, b)) for a, b in zip(approx_idx, exact_idx)]) / exact_idx.shape[1]


@pytest.fixture(scope="module")
def clustered():
    rng = np.random.default_rng(3)
    X, _ = turbotsne.make_blobs(3000, 20, 15, random_state=3)
    return X + rng.normal(size=X.shape) * 0.5


def test_recall_against_exact(clustered, digits):
    for X, k in ((clustered, 90), (digits[0], 90), (clustered, 15)):
        idx, dist = _approx(X, k)
        exact_idx, exact_dist = _core.nearest_neighbors(np.ascontiguousarray(X), k, 2)
        assert _recall(idx, exact_idx) >= 0.99
        # distances are true distances of the pairs returned
        np.testing.assert_allclose(dist, np.linalg.norm(X[:, None, :] - X[idx], axis=2), rtol=1e-12)


def test_rows_are_valid(clustered):
    idx, dist = _approx(clustered, 30)
    n = len(clustered)
    assert not np.any(idx == np.arange(n)[:, None])  # self excluded
    assert all(len(set(row)) == 30 for row in idx)  # no repeats
    assert np.all((idx >= 0) & (idx < n))
    keys = dist + 0.0  # sorted by (distance, index)
    assert np.all(np.diff(keys, axis=1) >= 0)
    ties = np.diff(keys, axis=1) == 0
    assert np.all(np.diff(idx, axis=1)[ties] > 0)


def test_more_rounds_do_not_lower_recall(clustered):
    exact_idx, _ = _core.nearest_neighbors(clustered, 60, 2)
    recalls = [_recall(_approx(clustered, 60, max_rounds=r)[0], exact_idx) for r in (0, 1, 3)]
    assert recalls[0] < recalls[1] <= recalls[2]
    assert recalls[0] < 0.9  # the forest alone is not enough: the refinement matters


def test_deterministic_for_any_thread_count(clustered):
    a = _approx(clustered, 45, threads=1, seed=5)
    b = _approx(clustered, 45, threads=2, seed=5)
    c = _approx(clustered, 45, threads=3, seed=5)
    for other in (b, c):
        np.testing.assert_array_equal(a[0], other[0])
        np.testing.assert_array_equal(a[1], other[1])


@pytest.mark.parametrize("case", ["identical", "two_points_repeated", "tiny", "k_is_n_minus_1", "one_dim"])
def test_degenerate_inputs(rng, case):
    if case == "identical":
        X, k = np.ones((200, 5)), 10
    elif case == "two_points_repeated":
        X, k = np.repeat(np.eye(2, 4), 100, axis=0), 20
    elif case == "tiny":
        X, k = rng.normal(size=(3, 2)), 2
    elif case == "k_is_n_minus_1":
        X, k = rng.normal(size=(40, 3)), 39
    else:
        X, k = rng.normal(size=(500, 1)), 12
    idx, dist = _approx(X, k)
    exact_idx, exact_dist = brute_knn(X, k)
    # the k-th distance found equals the true one wherever the search is complete
    np.testing.assert_allclose(np.sort(dist, axis=1), exact_dist, rtol=1e-9, atol=1e-12)
    assert not np.any(idx == np.arange(len(X))[:, None])


@pytest.mark.parametrize("field,value", [("n_trees", 0), ("leaf_size", -1), ("max_candidates", -1),
                                         ("max_rounds", -1), ("delta", -1.0)])
def test_invalid_parameters(clustered, field, value):
    with pytest.raises(ValueError, match=field):
        _approx(clustered[:50], 5, **{field: value})


def test_tsne_uses_approximate_neighbours_when_asked(digits):
    X, labels = digits
    _, info = turbotsne._api._tsne(X, neighbors="approx", n_iter=50, random_state=0)
    assert info["neighbors"] == "approx"
    _, info = turbotsne._api._tsne(X, n_iter=50, random_state=0)
    assert info["neighbors"] == "exact"  # below APPROX_MIN_SAMPLES
    P_exact = turbotsne.joint_probabilities(X, neighbors="exact")
    P_approx = turbotsne.joint_probabilities(X, neighbors="approx", random_state=0)
    assert abs(P_approx - P_exact).sum() < 0.02  # nearly the same affinities
