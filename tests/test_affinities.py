"""Perplexity calibration and the symmetric P against numpy references."""

import contextlib
import numpy as np
import pytest
import scipy.sparse
from _reference import calibrate_row, joint_probabilities, perplexity_of_rows

import turbotsne
from turbotsne import _core


def test_rows_reach_the_target_perplexity(rng):
    sq = rng.exponential(size=(200, 90)) * rng.uniform(0.01, 100, size=(200, 1))
    for perplexity in (2.0, 10.0, 30.0, 60.0):
        P, beta, reached, converged = _core.calibrate_rows(sq, perplexity)
        assert converged.all()
        np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(perplexity_of_rows(P), perplexity, rtol=1e-5)
        np.testing.assert_allclose(reached, perplexity, rtol=1e-5)
        assert np.all(beta > 0)


def test_rows_match_the_bisection_reference(rng):
    sq = rng.exponential(size=(20, 45))
    P, *_ = _core.calibrate_rows(sq, 15.0)
    ref = np.array([calibrate_row(row, 15.0) for row in sq])
    np.testing.assert_allclose(P, ref, rtol=1e-7, atol=1e-15)


@pytest.mark.parametrize(
    "row",
    [
        np.full(30, 3.7),                     # all distances equal
        np.zeros(30),                         # duplicate points
        np.logspace(-300, 300, 30),           # squared distances over 600 decades
        np.r_[0.0, np.full(29, 1e300)],       # one near point, the rest at the edge of range
        np.r_[np.zeros(5), np.logspace(-5, 5, 25)],
    ],
    ids=["equal", "zero", "wide", "outlier", "ties"],
)
def test_degenerate_rows_give_finite_distributions(row):
    P, beta, reached, converged = _core.calibrate_rows(row[None, :].copy(), 10.0)
    assert np.all(np.isfinite(P)) and np.all(P >= 0)
    np.testing.assert_allclose(P.sum(), 1.0, rtol=1e-12)
    assert np.isfinite(beta).all() and np.isfinite(reached).all()


def test_wide_row_still_reaches_its_perplexity():
    # distances 1e-150 .. 1e150 (squared 1e-300 .. 1e300): the target is reachable.
    row = np.logspace(-300, 300, 90)[None, :].copy()
    P, _, reached, converged = _core.calibrate_rows(row, 5.0)
    assert converged.all()
    np.testing.assert_allclose(perplexity_of_rows(P), 5.0, rtol=1e-5)


def test_equal_distances_give_the_uniform_distribution():
    P, _, reached, converged = _core.calibrate_rows(np.full((1, 12), 2.0), 5.0)
    assert not converged[0]  # perplexity 12 is the only one reachable
    np.testing.assert_allclose(P, 1 / 12)


def test_conditional_rows_of_real_data_reach_the_target(digits):
    X, _ = digits
    indptr, indices, data = _core.affinities(X, 30.0, _core.NeighborParams(), 2, False)
    C = scipy.sparse.csr_matrix((data, indices, indptr), shape=(len(X), len(X))).toarray()
    # The values are float32 (each within 2^-24 of the double it rounds), summed here in double.
    np.testing.assert_allclose(C.sum(axis=1), 1.0, rtol=2.0**-23)
    np.testing.assert_allclose(perplexity_of_rows(C), 30.0, rtol=1e-5)
    assert np.all(np.diff(C.astype(bool).sum(axis=1)) == 0)  # 90 neighbours per row


@pytest.mark.parametrize("n,d,perplexity", [(150, 5, 10.0), (300, 20, 30.0), (40, 3, 2.5)])
def test_joint_probabilities_match_the_reference(rng, n, d, perplexity):
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d)
    P = turbotsne.joint_probabilities(X, perplexity=perplexity)
    assert isinstance(P, scipy.sparse.csr_matrix)
    assert P.shape == (n, n)
    ref = joint_probabilities(X, perplexity)
    dense = P.toarray()
    np.testing.assert_array_equal(dense > 0, ref > 0)
    np.testing.assert_allclose(dense, ref, rtol=1e-6, atol=0)
    np.testing.assert_allclose(dense, dense.T, rtol=1e-15)
    # Two float32 roundings (the conditional p, then their mean), the sum in double.
    np.testing.assert_allclose(P.sum(), 1.0, rtol=3 * 2.0**-24)


@pytest.mark.parametrize("neighbors", ["exact", "approx"])
@pytest.mark.parametrize("n,perplexity", [(30, 28.5), (90, 30.0), (60, 30.0), (12, 4.0), (3, 1.2),
                                          (5, 4.0), (30, 29.5)])
def test_all_other_points_are_neighbours_when_3_perplexity_reaches_n(rng, n, perplexity, neighbors):
    # scikit-learn's rule: min(n - 1, floor(3 perplexity)) neighbours, each row calibrated to
    # the perplexity, which any perplexity up to n - 1 allows (equal weights above, warned)
    X = rng.normal(size=(n, 4))
    above = perplexity > n - 1
    with (pytest.warns(UserWarning, match="equal weights") if above else contextlib.nullcontext()):
        P = turbotsne.joint_probabilities(X, perplexity=perplexity, neighbors=neighbors,
                                          random_state=0).toarray()
    np.testing.assert_allclose(P, joint_probabilities(X, perplexity), rtol=1e-6, atol=0)
    assert (P + np.eye(n) > 0).all()  # every pair is a neighbour pair
    C = turbotsne._core.affinities(X, perplexity, turbotsne._api._neighbor_params(neighbors, n, 0)[0],
                                   1, False)
    rows = scipy.sparse.csr_matrix((C[2], C[1], C[0]), shape=(n, n)).toarray()
    # up to n - 1, reached by equal weights (scikit-learn's perplexity < n; above n - 1 warns)
    np.testing.assert_allclose(perplexity_of_rows(rows), min(perplexity, n - 1), rtol=1e-5)
    for method in ("exact", "barnes_hut", "fft"):
        with (pytest.warns(UserWarning) if above else contextlib.nullcontext()):
            Y = turbotsne.tsne(X, perplexity=perplexity, method=method, neighbors=neighbors,
                               n_iter=60, random_state=0)
        assert np.isfinite(Y).all()


def test_joint_probabilities_independent_of_threads(digits):
    X, _ = digits
    a = turbotsne.joint_probabilities(X, n_jobs=1)
    b = turbotsne.joint_probabilities(X, n_jobs=2)
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("with_order", [False, True])
def test_symmetrize_matches_numpy_on_irregular_rows(rng, with_order):
    # Rows of 0 to 40 entries (so P is built in place with rows of every length, and an
    # order renumbers through a copy), some on the diagonal, some exactly zero: P is
    # (C + Cᵀ) / 2n with C's pattern and its transpose's, each value the float32 rounding of
    # the double sum, rows sorted by column, the same bits for any thread count.
    n = 300
    lengths = rng.integers(0, 41, size=n)
    lengths[rng.choice(n, 20, replace=False)] = 0
    rows = [np.sort(rng.choice(n, size=m, replace=False)) for m in lengths]
    indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    indices = np.concatenate(rows).astype(np.int32)
    data = rng.random(indptr[-1]).astype(np.float32).astype(np.float64)
    data[rng.random(data.size) < 0.05] = 0.0
    C = scipy.sparse.csr_matrix((data, indices, indptr), shape=(n, n))
    assert (C.diagonal() > 0).any()
    order = rng.permutation(n).astype(np.int32) if with_order else None
    results = [_core._testing.symmetrize(indptr, indices, data, order, threads) for threads in (1, 2)]
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    p_indptr, p_indices, p_data = results[0]
    P = scipy.sparse.csr_matrix((p_data, p_indices, p_indptr), shape=(n, n))
    pattern = scipy.sparse.csr_matrix((np.ones_like(data), indices, indptr), shape=(n, n))
    pattern = (pattern + pattern.T).tocsr()
    ref = ((C + C.T) / (2 * n)).toarray()
    if order is not None:
        pattern = pattern[order][:, order].tocsr()
        ref = ref[np.ix_(order, order)]
    pattern.sort_indices()
    np.testing.assert_array_equal(p_indptr, pattern.indptr)
    np.testing.assert_array_equal(p_indices, pattern.indices)
    np.testing.assert_allclose(P.toarray(), ref, rtol=2.0**-24, atol=0)
    assert np.array_equal(P.toarray(), P.toarray().T)


@pytest.mark.parametrize("with_roots", [False, True])
def test_breadth_first_order_matches_a_python_breadth_first_search(rng, with_roots):
    # How run_tsne numbers P from 50,000 points: breadth-first over the kNN graph, each row's
    # neighbours in their stored (nearest first) order, from the first root not yet placed.
    # Three separate groups (so the search restarts from later roots), a few self-loops and
    # entries outside [0, n) (skipped), as a graph with missing neighbours may hold.
    from collections import deque

    n, k = 600, 7
    group = rng.integers(0, 3, size=n)
    members = [np.flatnonzero(group == g) for g in range(3)]
    indices = np.stack([rng.choice(members[group[i]], size=k) for i in range(n)]).astype(np.int32)
    indices[rng.random((n, k)) < 0.03] = -1
    indices[rng.random((n, k)) < 0.01] = n + 5
    roots = rng.permutation(n).astype(np.int32) if with_roots else None
    order = _core._testing.breadth_first_order(indices, roots)

    expected, placed = [], np.zeros(n, dtype=bool)
    for root in (roots if with_roots else range(n)):
        if placed[root]:
            continue
        placed[root] = True
        queue = deque([root])
        while queue:
            i = queue.popleft()
            expected.append(i)
            for j in indices[i]:
                if 0 <= j < n and not placed[j]:
                    placed[j] = True
                    queue.append(j)
    assert order.dtype == np.int32
    np.testing.assert_array_equal(np.sort(order), np.arange(n))  # every point once
    np.testing.assert_array_equal(order, expected)
    with pytest.raises(ValueError, match="roots"):
        _core._testing.breadth_first_order(indices, np.arange(n - 1, dtype=np.int32))
    isolated = np.full((n, k), -1, dtype=np.int32)  # no edges: only the roots place points
    with pytest.raises(ValueError, match="roots"):
        _core._testing.breadth_first_order(isolated, np.r_[0, np.arange(n - 1)].astype(np.int32))
