"""The vantage-point tree (the exact search below 24 dimensions) against brute force."""

import numpy as np
import pytest
from _reference import brute_knn

from turbotsne import _core


def _vptree(X, k, n_threads):
    return _core._testing.nearest_neighbors(X, k, n_threads, algorithm=_core.ExactKnnAlgorithm.vptree)


@pytest.mark.parametrize("n,d,k", [(2, 1, 1), (50, 1, 7), (300, 3, 20), (400, 30, 45), (200, 2, 199), (1500, 5, 30), (2000, 2, 10)])
def test_matches_brute_force(rng, n, d, k):
    X = rng.normal(size=(n, d))
    idx, dist = _vptree(X, k, 2)
    ref_idx, ref_dist = brute_knn(X, k)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12, atol=1e-14)


def test_ties_are_broken_by_index(rng):
    # Points on an integer grid: many exactly equal distances.
    X = rng.integers(0, 4, size=(300, 3)).astype(np.float64)
    idx, dist = _vptree(X, 40, 2)
    ref_idx, ref_dist = brute_knn(X, 40)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)


def test_self_is_excluded_but_duplicates_are_not():
    X = np.zeros((30, 4))
    X[15:] = 1.0
    idx, dist = _vptree(X, 5, 2)
    assert not np.any(idx == np.arange(30)[:, None])
    # each point's five nearest are exact duplicates, lowest indices first
    np.testing.assert_array_equal(dist, 0.0)
    np.testing.assert_array_equal(idx[0], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(idx[20], [15, 16, 17, 18, 19])


def test_independent_of_thread_count(rng):
    X = rng.normal(size=(5000, 10))
    a = _vptree(X, 30, 1)
    b = _vptree(X, 30, 2)
    c = _vptree(X, 30, 3)
    for x, y in [(a, b), (a, c)]:
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])


@pytest.mark.parametrize("k", [0, 10])
def test_invalid_k_is_a_value_error(rng, k):
    X = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match="k must be in"):
        _vptree(X, k, 1)
