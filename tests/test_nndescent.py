"""Approximate neighbours (random-projection forest + NN-descent) against exact ones."""

import numpy as np
import pytest
from _reference import brute_knn, knn_accuracy

import turbotsne
from turbotsne import _core


def _approx(X, k, threads=2, seed=0, **kw):
    p = _core.ApproximateKnnParams()
    p.seed = seed
    for key, value in kw.items():
        setattr(p, key, value)
    return _core._testing.approximate_neighbors(np.ascontiguousarray(X), k, p, threads)


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
        exact_idx, exact_dist = _core._testing.nearest_neighbors(np.ascontiguousarray(X), k, 2)
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


def test_one_leaf_holding_every_point_gives_the_exact_lists(clustered):
    # No rounds, one tree whose only leaf is the whole set: the initial lists are the k best of
    # every point's leaf mates, i.e. the exact neighbours (ties by index, as the exact search).
    X = clustered[:700]
    idx, dist = _approx(X, 40, max_rounds=0, n_trees=1, leaf_size=len(X))
    exact_idx, exact_dist = _core._testing.nearest_neighbors(np.ascontiguousarray(X), 40, 2)
    np.testing.assert_array_equal(idx, exact_idx)
    np.testing.assert_allclose(dist, exact_dist, rtol=1e-12)


@pytest.mark.parametrize("leaf_size", [1, 2, 7])
def test_initial_lists_topped_up_where_leaves_are_small(clustered, leaf_size):
    # Leaves of 1 or 2 points leave every list short of k: hashed picks fill them; each row is
    # still k distinct other points sorted by distance, the same for any thread count.
    X = clustered[:500]
    runs = [_approx(X, 12, threads=t, max_rounds=0, n_trees=3, leaf_size=leaf_size) for t in (1, 2)]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    idx, dist = runs[0]
    assert not np.any(idx == np.arange(len(X))[:, None])
    assert all(len(set(row)) == 12 for row in idx)
    assert np.all(np.diff(dist, axis=1) >= 0)
    np.testing.assert_allclose(dist, np.linalg.norm(X[:, None, :] - X[idx], axis=2), rtol=1e-12)
    if leaf_size == 1:  # no leaf mates at all: the hashed picks are nowhere near the exact lists
        exact_idx, _ = _core._testing.nearest_neighbors(np.ascontiguousarray(X), 12, 2)
        assert _recall(idx, exact_idx) < 0.2


def test_more_rounds_do_not_lower_recall(clustered):
    exact_idx, _ = _core._testing.nearest_neighbors(clustered, 60, 2)
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
    _, info = turbotsne.tsne(X, neighbors="approx", n_iter=50, random_state=0, return_info=True)
    assert info["neighbors"] == "approx"
    _, info = turbotsne.tsne(X, n_iter=50, random_state=0, return_info=True)
    assert info["neighbors"] == "exact"  # below AUTO_APPROX_MIN_SAMPLES
    P_exact = turbotsne.joint_probabilities(X, neighbors="exact")
    P_approx = turbotsne.joint_probabilities(X, neighbors="approx", random_state=0)
    assert abs(P_approx - P_exact).sum() < 0.02  # nearly the same affinities


@pytest.mark.parametrize("neighbors, n_features", [("approx", 64), ("exact", 64), ("exact", 16)])
def test_tsne_in_the_searchs_locality_order_keeps_the_callers_order(digits, monkeypatch, neighbors,
                                                                    n_features):
    # From locality_min_samples points (here 0) the optimiser works on the points in the
    # breadth-first order of the kNN graph, from the neighbour search's locality order where
    # it has one: the approximate search's leaf order, the exact brute force's block order
    # (digits' 64 features), none for the VP-tree (their first 16 principal components). What
    # comes back (and what callbacks see) must be in the caller's order.
    X, labels = digits
    if n_features < X.shape[1]:
        centred = X - X.mean(axis=0)
        X = np.ascontiguousarray(centred @ np.linalg.svd(centred, full_matrices=False)[2][:n_features].T)
        assert _core._testing.choose_exact_algorithm(
            X.shape[0], X.shape[0], n_features, 90, _core.Metric.euclidean) == _core.ExactKnnAlgorithm.vptree
    seen = {}
    params_class = _core.TsneParams

    def params_without_threshold():
        params = params_class()
        assert params.locality_min_samples == 50000  # the default
        params.locality_min_samples = 0
        return params

    monkeypatch.setattr(_core, "TsneParams", params_without_threshold)

    def callback(iteration, kl, embedding):
        seen[iteration] = embedding
        return False

    runs = [turbotsne.tsne(X, neighbors=neighbors, method=m, n_iter=400, random_state=3,
                           n_jobs=j, callback=callback, callback_every=400)
            for m in ("barnes_hut", "fft") for j in (1, 2)]
    np.testing.assert_array_equal(runs[0], runs[1])  # bit-identical for any thread count
    np.testing.assert_array_equal(runs[2], runs[3])
    # the callback's last embedding is the returned one, row for row
    np.testing.assert_array_equal(seen[400], runs[3])
    for Y in (runs[0], runs[2]):
        assert knn_accuracy(Y, labels, 10) > 0.95
    # the same as in the data's order, up to rounding and the chaos of the optimisation
    monkeypatch.setattr(_core, "TsneParams", params_class)
    unpermuted = turbotsne.tsne(X, neighbors=neighbors, method="barnes_hut", n_iter=400,
                                random_state=3)
    assert not np.array_equal(unpermuted, runs[0])  # the permuted path did run
    assert abs(knn_accuracy(unpermuted, labels, 10) - knn_accuracy(runs[0], labels, 10)) < 0.01


def test_symmetrizing_in_an_order_is_a_relabelling(clustered):
    # symmetrize with an order (how run_tsne builds P in the locality order) gives exactly
    # the joint P with rows and columns renumbered, rows sorted by column; without, the joint P.
    from scipy.sparse import csr_matrix

    X = clustered[:500]
    P = turbotsne.joint_probabilities(X, neighbors="exact")
    conditional = _core.affinities(X, 30.0, _core.NeighborParams(), 1, False)
    order = np.random.default_rng(0).permutation(len(X)).astype(np.int32)
    for threads in (1, 2):
        indptr, indices, data = _core._testing.symmetrize(*conditional, order, threads)
        Q = csr_matrix((data, indices, indptr), shape=P.shape)
        np.testing.assert_array_equal(Q.toarray(), P.toarray()[np.ix_(order, order)])
        assert all(np.all(np.diff(indices[indptr[r]:indptr[r + 1]]) > 0) for r in range(len(X)))
        same = _core._testing.symmetrize(*conditional, None, threads)
        for ours, theirs in zip(same, (P.indptr, P.indices, P.data)):
            np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(ValueError, match="order must be a permutation"):
        _core._testing.symmetrize(*conditional, np.zeros(len(X), np.int32), 1)


def test_auto_neighbours_follow_the_documented_thresholds():
    # approx from AUTO_APPROX_MIN_SAMPLES points with at most 100 features, from
    # AUTO_APPROX_MIN_SAMPLES_WIDE with more; exact below (measured: bench/choose_auto.py neighbors)
    narrow, wide = turbotsne.AUTO_APPROX_MIN_SAMPLES, turbotsne.AUTO_APPROX_MIN_SAMPLES_WIDE
    assert wide < narrow
    for n, d, expected in [(narrow - 1, 50, "exact"), (narrow, 50, "approx"), (narrow, 100, "approx"),
                           (wide, 100, "exact"), (wide - 1, 784, "exact"), (wide, 784, "approx"),
                           (wide, 101, "approx")]:
        params, used = turbotsne._api._neighbor_params("auto", n, 0, d)
        assert used == expected, (n, d)
        method = turbotsne._core.NeighborMethod.approximate if expected == "approx" else turbotsne._core.NeighborMethod.exact
        assert params.method == method


@pytest.mark.parametrize("exponent", [-140, -70, 70, 300])
def test_data_of_any_magnitude_gets_the_neighbours_of_the_unit_scale_data(clustered, exponent):
    # Candidates are ranked by float32 keys: beyond float32's range every key of such data was
    # inf (or 0) and the neighbours came out by index order. The float32 copy is scaled by a
    # power of two now, which scales every key exactly.
    idx, dist = _approx(clustered, 30)
    idx_scaled, dist_scaled = _approx(np.ldexp(clustered, exponent), 30)
    np.testing.assert_array_equal(idx_scaled, idx)
    np.testing.assert_array_equal(dist_scaled, np.ldexp(dist, exponent))


@pytest.fixture
def core_inputs(monkeypatch):
    """The X arrays that tsne hands to the core."""
    seen = []
    real = _core.tsne

    def spy(X, *args, **kwargs):
        seen.append(X)
        return real(X, *args, **kwargs)

    monkeypatch.setattr(_core, "tsne", spy)
    return seen


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_float32_data_goes_to_the_search_as_it_is(clustered, metric, core_inputs):
    # No float64 copy (a third of the memory) and the bits of the same values in float64:
    # the RP trees, the final distances and the PCA start compute in double.
    X32 = clustered.astype(np.float32)
    kw = dict(neighbors="approx", metric=metric, n_iter=60, random_state=0)
    Y32 = turbotsne.tsne(X32, **kw)
    assert core_inputs[-1] is X32
    Y64 = turbotsne.tsne(X32.astype(np.float64), **kw)
    assert core_inputs[-1].dtype == np.float64
    np.testing.assert_array_equal(Y32, Y64)


def test_float32_data_is_converted_where_the_core_needs_float64(clustered, core_inputs,
                                                                  monkeypatch):
    X32 = clustered[:500].astype(np.float32)
    for kw in (dict(neighbors="exact"), dict(neighbors="approx", metric="cosine"),
               dict(neighbors="auto")):  # auto: exact search below AUTO_APPROX_MIN_SAMPLES
        turbotsne.tsne(X32, n_iter=10, random_state=0, **kw)
        assert core_inputs[-1].dtype == np.float64, kw
    # and the core refuses float32 rows where it would need float64 ones
    monkeypatch.setattr(turbotsne._api, "_uses_float32", lambda *args: True)
    with pytest.raises(ValueError, match="exact neighbour search needs float64 rows"):
        turbotsne.tsne(X32, neighbors="exact", n_iter=10)


def _keys_f32_reference(a, rows, manhattan):
    """The search's float32 keys summed in its documented order, in numpy float32: lane l adds
    the terms of coordinates j = l (mod 8) below d - d % 8 in order, the lanes are combined as
    ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)), and the tail's terms, added in order,
    come last."""
    t = a[None, :] - rows
    t = np.abs(t) if manhattan else t * t
    d = len(a)
    body = d - d % 8
    s = np.zeros((len(rows), 8), dtype=np.float32)
    for j in range(0, body, 8):
        s += t[:, j:j + 8]
    tail = np.zeros(len(rows), dtype=np.float32)
    for j in range(body, d):
        tail += t[:, j]
    return (((s[:, 0] + s[:, 4]) + (s[:, 1] + s[:, 5])) + ((s[:, 2] + s[:, 6]) + (s[:, 3] + s[:, 7]))) + tail


@pytest.mark.parametrize("manhattan", [False, True])
def test_one_to_many_keys_have_the_bits_of_the_documented_order(manhattan):
    # The joins score a point against its fellow candidates in one call (two rows at a time,
    # eight lanes per instruction with AVX2); every loop must give the same bits, those of the
    # one-pair kernel's order, or a pair's key would depend on which loop computed it.
    rng = np.random.default_rng(7)
    levels = [lv for lv in _core._testing.simd_levels() if lv != _core.SimdLevel.avx512]
    assert levels[0] == _core.SimdLevel.baseline
    for d in (1, 7, 8, 9, 16, 50, 67):
        for count in (0, 1, 2, 5):
            a = rng.normal(size=d).astype(np.float32) * 3
            rows = rng.normal(size=(count, d)).astype(np.float32) * 3
            expected = _keys_f32_reference(a, rows, manhattan)
            for level in levels:
                got = _core._testing.distances_f32(a, rows, manhattan, level)
                np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32), err_msg=f"{level} d={d}")
