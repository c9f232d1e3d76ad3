"""The blocked brute-force exact kNN: bit-identical to the VP-tree, equal to numpy.

Euclidean, cosine (Euclidean over normalised rows) and Manhattan (L1 tiles).

Every case runs the brute force on each instruction set this processor has (SSE2 baseline,
AVX2, AVX-512), since their approximate keys differ in rounding while the result must not.
"""

import numpy as np
import pytest
from _reference import brute_knn

from turbotsne import _core

ALGO = _core.ExactKnnAlgorithm
EUCLIDEAN = _core.Metric.euclidean
COSINE = _core.Metric.cosine
SIMD = _core._testing.simd_levels()


def assert_same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


MANHATTAN = _core.Metric.manhattan


def brute_equals_tree(X, k, metric=EUCLIDEAN, threads=2):
    """The VP-tree's graph, after checking that the brute force gives the same bits."""
    tree = _core._testing.nearest_neighbors(X, k, threads, metric, ALGO.vptree)
    for simd in SIMD:
        assert_same(_core._testing.nearest_neighbors(X, k, threads, metric, ALGO.brute_force, simd), tree)
    # Candidates' keys recomputed from the rows in place (what data above 128 MiB gets) rather
    # than from the column-permuted copy.
    in_place = _core._testing.nearest_neighbors(X, k, threads, metric, ALGO.brute_force, max_permuted_bytes=0)
    assert_same(in_place, tree)
    return tree


def assert_matches_numpy(graph, X, k, exact_distances=False):
    ref_idx, ref_dist = brute_knn(X, k)
    np.testing.assert_array_equal(graph[0], ref_idx)
    if exact_distances:
        np.testing.assert_array_equal(graph[1], ref_dist)
    else:
        np.testing.assert_allclose(graph[1], ref_dist, rtol=1e-12, atol=1e-14)


# The VP-tree suite's cases, tiny n, k = n - 1, and shapes that straddle the kernel's panels
# (6 query rows, 8-32 reference rows), tiles (96 queries x 512 references) and float chunks
# (128 coordinates).
@pytest.mark.parametrize("n,d,k", [(2, 1, 1), (3, 2, 2), (50, 1, 7), (300, 3, 20), (400, 30, 45),
                                   (200, 2, 199), (1500, 5, 30), (300, 500, 40), (97, 129, 96),
                                   (600, 130, 90)])
def test_matches_vptree_and_numpy(rng, n, d, k):
    X = rng.normal(size=(n, d))
    assert_matches_numpy(brute_equals_tree(X, k), X, k)


def test_pixel_like_integers_with_ties_and_duplicates(rng):
    # Sparse small integers in 784-D (like thresholded pixels): squared distances are small
    # integers, so many are equal and ties are broken by the smaller index; some rows repeat.
    X = (rng.integers(1, 4, size=(1000, 784)) * (rng.random((1000, 784)) < 0.03)).astype(np.float64)
    X[500:540] = X[:40]
    graph = brute_equals_tree(X, 90)
    assert_matches_numpy(graph, X, 90, exact_distances=True)
    assert np.all(graph[0] != np.arange(1000)[:, None])  # self excluded...
    np.testing.assert_array_equal(graph[0][:40, 0], np.arange(500, 540))  # ...duplicates kept
    np.testing.assert_array_equal(graph[1][:40, 0], 0.0)


def test_many_duplicates(rng):
    # Three rows repeated ~300 times each: every query has ~300 candidates at distance 0, more
    # than a query keeps unranked (4 k + 64), so they are ranked exactly on the way (bounded
    # memory).
    X = np.vstack([rng.normal(size=(3, 40))[rng.integers(0, 3, size=900)], rng.normal(size=(20, 40))])
    assert_matches_numpy(brute_equals_tree(X, 10), X, 10)


def test_large_common_offset(rng):
    # 1e6 + small noise: ||x||² + ||y||² − 2 x·y would cancel catastrophically without the
    # search's centring; the exact ranking must hold either way.
    X = 1e6 + rng.normal(size=(500, 100)) * 1e-3
    assert_matches_numpy(brute_equals_tree(X, 30), X, 30)


def test_clusters_far_tighter_than_the_float_keys_resolve(rng):
    # Ten clusters of radius ~1e-6 spread ~1 apart (on an offset of 1e3): within a cluster the
    # float keys are noise (their error, ~1e-5 of the spread, dwarfs distances of ~1e-11), so
    # the order there comes only from the margin keeping every cluster mate as a candidate
    # and from the exact recomputation.
    centres = rng.normal(size=(10, 50))
    X = 1e3 + centres[np.arange(600) % 10] + rng.normal(size=(600, 50)) * 1e-6
    assert_matches_numpy(brute_equals_tree(X, 30), X, 30)


def l1_knn(A, B, k, exclude_self):
    """k nearest rows of B for each row of A by (L1 distance, index), one row at a time."""
    cols = np.arange(len(B))
    idx = np.empty((len(A), k), dtype=np.int64)
    for i, a in enumerate(A):
        D = np.abs(B - a).sum(axis=1)
        others = cols[cols != i] if exclude_self else cols
        idx[i] = others[np.lexsort((others, D[others]))[:k]]
    return idx, np.array([np.abs(B[row] - a).sum(axis=1) for a, row in zip(A, idx)])


@pytest.mark.parametrize("case", ["normal", "pixels", "clusters"])
def test_manhattan(rng, case):
    if case == "normal":
        X = rng.normal(size=(300, 50))
    elif case == "pixels":  # small integers: L1 distances tie often
        X = (rng.integers(1, 4, size=(500, 784)) * (rng.random((500, 784)) < 0.03)).astype(np.float64)
    else:  # tight clusters on an offset: the float tiles cannot order cluster mates
        X = 1e3 + rng.normal(size=(10, 50))[np.arange(600) % 10] + rng.normal(size=(600, 50)) * 1e-6
    graph = brute_equals_tree(X, 30, MANHATTAN)
    ref_idx, ref_dist = l1_knn(X, X, 30, exclude_self=True)
    np.testing.assert_array_equal(graph[0], ref_idx)
    np.testing.assert_allclose(graph[1], ref_dist, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("offset", [0.0, 50.0])
def test_cosine(rng, offset):
    X = offset + rng.normal(size=(300, 60))
    graph = brute_equals_tree(X, 20, COSINE)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    ref_idx, ref_dist = brute_knn(unit, 20)
    np.testing.assert_array_equal(graph[0], ref_idx)
    np.testing.assert_allclose(graph[1], ref_dist**2 / 2, rtol=1e-9, atol=1e-15)


def test_independent_of_thread_count(rng):
    X = rng.normal(size=(1200, 100))
    one = _core._testing.nearest_neighbors(X, 30, 1, EUCLIDEAN, ALGO.brute_force)
    for threads in (2, 3):
        assert_same(_core._testing.nearest_neighbors(X, 30, threads, EUCLIDEAN, ALGO.brute_force), one)
    assert_same(brute_equals_tree(X, 30, threads=3), one)


@pytest.mark.parametrize("metric", [EUCLIDEAN, COSINE, MANHATTAN])
def test_query_neighbors(rng, metric):
    ref = rng.normal(size=(700, 40))
    queries = np.vstack([rng.normal(size=(60, 40)), ref[:5]])  # also points of the reference
    tree = _core.query_neighbors(ref, queries, 25, metric, 2, ALGO.vptree)
    for simd in SIMD:
        assert_same(_core.query_neighbors(ref, queries, 25, metric, 2, ALGO.brute_force, simd), tree)
    assert_same(_core.query_neighbors(ref, queries, 25, metric, 2, ALGO.brute_force, max_permuted_bytes=0), tree)
    if metric == MANHATTAN:
        ref_idx, _ = l1_knn(queries, ref, 25, exclude_self=False)
    else:
        A = ref / np.linalg.norm(ref, axis=1, keepdims=True) if metric == COSINE else ref
        B = queries / np.linalg.norm(queries, axis=1, keepdims=True) if metric == COSINE else queries
        D = np.sqrt(((B[:, None, :] - A[None, :, :]) ** 2).sum(-1))
        cols = np.arange(len(ref))
        ref_idx = np.array([np.lexsort((cols, row))[:25] for row in D])
    np.testing.assert_array_equal(tree[0], ref_idx)
    np.testing.assert_array_equal(tree[0][60:, 0], np.arange(5))  # a reference point finds itself
    # k = n_reference: every reference row, ranked
    assert_same(_core.query_neighbors(ref[:50], queries, 50, metric, 2, ALGO.brute_force),
                _core.query_neighbors(ref[:50], queries, 50, metric, 2, ALGO.vptree))


def test_auto_rule():
    choose = _core._testing.choose_exact_algorithm
    assert choose(5000, 5000, 2, 90, EUCLIDEAN) == ALGO.vptree
    assert choose(5000, 5000, 23, 90, EUCLIDEAN) == ALGO.vptree
    assert choose(5000, 5000, 24, 90, EUCLIDEAN) == ALGO.brute_force
    assert choose(5000, 5000, 2000, 90, EUCLIDEAN) == ALGO.brute_force
    assert choose(20000, 20000, 784, 90, COSINE) == ALGO.brute_force
    assert choose(5000, 5000, 8, 90, MANHATTAN) == ALGO.vptree
    assert choose(5000, 5000, 2000, 90, MANHATTAN) == ALGO.brute_force
