"""Metrics of the neighbour search, precomputed distances and affinities, query_neighbors."""

import numpy as np
import pytest
import scipy.sparse

import turbotsne
from turbotsne import _core

METRICS = ("euclidean", "cosine", "manhattan")


def pairwise(A, B, metric):
    """Plain numpy distances between the rows of A and B in the metric's units."""
    if metric == "euclidean":
        return np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(-1))
    if metric == "manhattan":
        return np.abs(A[:, None, :] - B[None, :, :]).sum(-1)
    a = A / np.linalg.norm(A, axis=1, keepdims=True)
    b = B / np.linalg.norm(B, axis=1, keepdims=True)
    return 1.0 - a @ b.T


def brute_knn(A, B, k, metric, exclude_self):
    """k nearest rows of B for each row of A by (distance, index)."""
    D = pairwise(A, B, metric)
    cols = np.arange(len(B))
    idx = np.empty((len(A), k), dtype=np.int64)
    for i in range(len(A)):
        others = cols[cols != i] if exclude_self else cols
        idx[i] = others[np.lexsort((others, D[i, others]))[:k]]
    return idx, np.take_along_axis(D, idx, axis=1)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n,d,k", [(400, 3, 10), (600, 20, 30), (300, 50, 90)])
def test_exact_search_matches_brute_force(rng, metric, n, d, k):
    X = rng.normal(size=(n, d))
    idx, dist = _core._testing.nearest_neighbors(X, k, 2, getattr(_core.Metric, metric))
    ref_idx, ref_dist = brute_knn(X, X, k, metric, exclude_self=True)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_approximate_search_recall(rng, metric):
    centers = rng.normal(scale=4.0, size=(20, 10))
    X = centers[rng.integers(0, 20, size=3000)] + rng.normal(size=(3000, 10))
    k = 10
    params = _core.ApproximateKnnParams()
    params.seed = 1
    idx, dist = _core._testing.approximate_neighbors(X, k, params, 2, getattr(_core.Metric, metric))
    ref_idx, _ = brute_knn(X, X, k, metric, exclude_self=True)
    recall = np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(idx, ref_idx)])
    assert recall >= 0.99
    # the reported distances are the metric's, for the neighbours it reports
    np.testing.assert_allclose(dist, np.take_along_axis(pairwise(X, X, metric), idx.astype(np.int64), 1),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_query_neighbors_matches_brute_force(rng, metric):
    ref = rng.normal(size=(700, 8))
    queries = np.vstack([rng.normal(size=(50, 8)), ref[:5]])  # also points of the reference
    idx, dist = _core.query_neighbors(ref, queries, 12, getattr(_core.Metric, metric), 2)
    assert idx.dtype == np.int32 and idx.shape == (55, 12) and dist.shape == (55, 12)
    ref_idx, ref_dist = brute_knn(queries, ref, 12, metric, exclude_self=False)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(idx[50:, 0], np.arange(5))  # a reference point finds itself


def test_query_neighbors_independent_of_thread_count_and_ties_by_index(rng):
    ref = rng.integers(0, 3, size=(500, 3)).astype(np.float64)  # many equal distances
    queries = rng.integers(0, 3, size=(200, 3)).astype(np.float64)
    a = _core.query_neighbors(ref, queries, 20, _core.Metric.manhattan, 1)
    b = _core.query_neighbors(ref, queries, 20, _core.Metric.manhattan, 2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    ref_idx, _ = brute_knn(queries, ref, 20, "manhattan", exclude_self=False)
    np.testing.assert_array_equal(a[0], ref_idx)


def test_query_neighbors_rejects_bad_k_and_shapes(rng):
    ref = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="k must be in"):
        _core.query_neighbors(ref, ref, 11, _core.Metric.euclidean, 1)
    with pytest.raises(ValueError, match="columns"):
        _core.query_neighbors(ref, rng.normal(size=(4, 2)), 3, _core.Metric.euclidean, 1)


@pytest.mark.parametrize("metric", METRICS)
def test_affinities_use_the_squared_metric_distance(rng, metric):
    X = rng.normal(size=(200, 6))
    P = turbotsne.joint_probabilities(X, 10, 2, metric=metric)
    # conditional rows from the brute-force neighbours with p ∝ exp(-β d²)
    idx, dist = brute_knn(X, X, 30, metric, exclude_self=True)
    indptr, cols, data = _core.affinities_from_neighbors(idx.astype(np.int32), dist, 10.0, 2)
    ref = scipy.sparse.csr_matrix((data, cols, indptr), shape=(200, 200))
    np.testing.assert_allclose(P.toarray(), ref.toarray(), rtol=1e-8, atol=1e-15)
    if metric != "euclidean":  # and it differs from the Euclidean P
        assert abs(P - turbotsne.joint_probabilities(X, 10, 2)).max() > 1e-4


@pytest.mark.parametrize("metric", METRICS)
def test_precomputed_dense_gives_the_metric_affinities(rng, metric):
    X = rng.normal(size=(250, 5))
    D = pairwise(X, X, metric)
    np.fill_diagonal(D, 7.0)  # the diagonal is ignored
    P = turbotsne.joint_probabilities(D, 12, 2, metric="precomputed")
    ref = turbotsne.joint_probabilities(X, 12, 2, metric=metric, neighbors="exact")
    assert (P != ref).nnz == 0 or np.array_equal(P.indices, ref.indices)
    np.testing.assert_allclose(P.toarray(), ref.toarray(), rtol=1e-8, atol=1e-15)


def test_precomputed_sparse_knn_graph_gives_the_euclidean_affinities(rng):
    from sklearn.neighbors import kneighbors_graph

    X = rng.normal(size=(300, 4))
    ref = turbotsne.joint_probabilities(X, 10, 2, neighbors="exact")
    # exactly the 30 = 3 * perplexity neighbours (sklearn), and a wider graph (numpy) of
    # which each row's 30 nearest are kept
    G = kneighbors_graph(X, 30, mode="distance")
    idx, dist = brute_knn(X, X, 45, "euclidean", exclude_self=True)
    wide = scipy.sparse.csr_matrix((dist.ravel(), idx.ravel(), np.arange(0, 300 * 45 + 1, 45)),
                                   shape=(300, 300))
    for graph in (G, wide, wide.tocoo()):
        P = turbotsne.joint_probabilities(graph, 10, 2, metric="precomputed")
        np.testing.assert_allclose(P.toarray(), ref.toarray(), rtol=1e-7, atol=1e-15)


def test_sparse_graph_with_too_few_neighbours_says_what_fits(rng):
    from sklearn.neighbors import kneighbors_graph

    G = kneighbors_graph(rng.normal(size=(100, 3)), 20, mode="distance").tolil()
    G[7, G.rows[7][:5]] = 0
    G = G.tocsr()
    G.eliminate_zeros()
    with pytest.raises(ValueError, match=r"= 30 neighbours .* row 7 has 15 .* perplexity < 5\.33"):
        turbotsne.tsne(G, metric="precomputed", perplexity=10, init="random")
    Y = turbotsne.tsne(G, metric="precomputed", perplexity=5, init="random", n_iter=50, random_state=0)
    assert np.isfinite(Y).all()


def test_affinities_from_joint_probabilities_give_the_same_embedding(rng):
    X = rng.normal(size=(200, 5))
    for init in ("pca", "random"):
        Y = turbotsne.tsne(X, random_state=3, n_iter=150, n_jobs=2, init=init)
        P = turbotsne.joint_probabilities(X, 30, 2)
        np.testing.assert_array_equal(Y, turbotsne.tsne(X, affinities=P, random_state=3, n_iter=150,
                                                        n_jobs=2, init=init))
    Y = turbotsne.tsne(X, random_state=3, n_iter=150, init="random")
    np.testing.assert_array_equal(Y, turbotsne.tsne(None, affinities=P.toarray(), random_state=3,
                                                    n_iter=150, init="random"))


def test_affinities_are_symmetrised_and_normalised(rng):
    X = rng.normal(size=(150, 4))
    P = turbotsne.joint_probabilities(X, 10, 2)
    # an asymmetric, unnormalised matrix with the same (P + Pᵀ) / sum
    upper = scipy.sparse.triu(P, k=1) * 7.0
    Y = turbotsne.tsne(None, affinities=P, init="random", random_state=0, n_iter=100)
    Z = turbotsne.tsne(None, affinities=upper, init="random", random_state=0, n_iter=100)
    np.testing.assert_allclose(Y, Z, rtol=1e-6, atol=1e-8)
    seen = []
    turbotsne.tsne(None, affinities=upper, init="random", random_state=0, n_iter=20,
                   callback=lambda it, kl, emb: seen.append(kl), callback_every=10)
    assert len(seen) == 2 and all(np.isfinite(seen))


@pytest.mark.parametrize("metric", ["cosine", "manhattan"])
def test_non_euclidean_tsne_is_independent_of_thread_count(rng, metric):
    X = rng.normal(size=(400, 6))
    for neighbors in ("exact", "approx"):
        a = turbotsne.tsne(X, metric=metric, neighbors=neighbors, random_state=5, n_iter=100, n_jobs=1)
        b = turbotsne.tsne(X, metric=metric, neighbors=neighbors, random_state=5, n_iter=100, n_jobs=2)
        np.testing.assert_array_equal(a, b)


def test_errors(rng):
    X = rng.normal(size=(50, 3))
    with pytest.raises(ValueError, match="'metric' parameter of tsne must be one of.*'chebyshev'"
                                         ".*or a callable"):
        turbotsne.tsne(X, metric="chebychev")
    with pytest.raises(TypeError, match="'metric' parameter of joint_probabilities"):
        turbotsne.joint_probabilities(X, 5, metric=2)
    Z = X.copy()
    Z[17] = 0.0
    with pytest.raises(ValueError, match="first is row 17.*cosine"):
        turbotsne.tsne(Z, metric="cosine")
    with pytest.raises(ValueError, match="first is row 17"):
        turbotsne.joint_probabilities(Z, 5, metric="cosine")
    D = pairwise(X, X, "euclidean")
    with pytest.raises(ValueError, match="square .* got shape \\(50, 3\\)"):
        turbotsne.tsne(X, metric="precomputed", init="random")
    bad = D.copy()
    bad[3, 4] = -1.0
    with pytest.raises(ValueError, match="non-negative .* row 3, column 4"):
        turbotsne.tsne(bad, metric="precomputed", init="random")
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="non-negative .* row 3, column 4"):
        turbotsne.joint_probabilities(bad, 5, metric="precomputed")
    with pytest.raises(ValueError, match="negative"):
        turbotsne.tsne(scipy.sparse.csr_matrix(-D), metric="precomputed", init="random")
    with pytest.raises(ValueError, match="init='pca' cannot be used with metric='precomputed'"):
        turbotsne.tsne(D, metric="precomputed")
    with pytest.raises(ValueError, match="X is None"):
        turbotsne.tsne(None)
    P = turbotsne.joint_probabilities(X, 5)
    with pytest.raises(ValueError, match="init='pca' needs X"):
        turbotsne.tsne(None, affinities=P)
    with pytest.raises(ValueError, match=r"\(49, 49\) to match"):
        turbotsne.tsne(X[:49], affinities=P)
    with pytest.raises(ValueError, match="square"):
        turbotsne.tsne(None, affinities=np.ones((5, 4)), init="random")
    with pytest.raises(ValueError, match="non-negative"):
        turbotsne.tsne(None, affinities=-P, init="random")
    with pytest.raises(ValueError, match="all zeros"):
        turbotsne.tsne(None, affinities=np.zeros((5, 5)), init="random")
    with pytest.raises(ValueError, match="metric='cosine' has no effect"):
        turbotsne.tsne(X, affinities=P, metric="cosine")
    with pytest.raises(TypeError, match="real"):
        turbotsne.tsne(None, affinities=np.full((5, 5), "a"), init="random")


def test_sparse_graph_counts_distinct_off_diagonal_neighbours(rng):
    # Each point needs floor(3 * perplexity) = 9 candidates: distinct stored columns, its own
    # column and repeats not counted (the check is vectorised; this pins what it counts).
    import scipy.sparse

    X = rng.normal(size=(40, 3))
    dist = np.linalg.norm(X[:, None] - X[None], axis=2)
    rows = []
    for i in range(40):
        cols = [int(j) for j in np.argsort(dist[i]) if j != i][:9]
        if i == 5:
            cols = cols + [cols[0], i]  # a repeat and the diagonal: still 9 candidates
        rows.append(cols[::-1])  # unsorted
    def graph(rows):
        indptr = np.r_[0, np.cumsum([len(r) for r in rows])]
        cols = np.concatenate(rows)
        vals = np.array([dist[i, j] for i, r in enumerate(rows) for j in r])
        return scipy.sparse.csr_matrix((vals, cols, indptr), shape=(40, 40))
    Y = turbotsne.tsne(graph(rows), metric="precomputed", perplexity=3.0, init="random",
                       n_iter=50, random_state=0)
    assert np.isfinite(Y).all()
    rows[5] = [j for j in rows[5] if j != rows[5][2]]  # drop one real neighbour: 8 candidates
    with pytest.raises(ValueError, match=r"row 5 has 8 \(the fewest\)"):
        turbotsne.tsne(graph(rows), metric="precomputed", perplexity=3.0, init="random")


@pytest.mark.parametrize("sparse", [False, True])
def test_precomputed_distances_report_their_neighbour_and_affinity_times(rng, sparse):
    # those two stages run before the core's optimisation, in the Python layer; their seconds
    # belong in info["timings"] like those of a run from data
    X = rng.normal(size=(300, 4))
    D = pairwise(X, X, "euclidean")
    if sparse:
        D = scipy.sparse.csr_matrix(np.where(D <= np.sort(D, axis=1)[:, [40]], D, 0.0))
    _, info = turbotsne.tsne(D, metric="precomputed", perplexity=10, init="random",
                             n_iter=10, random_state=0, return_info=True)
    assert info["timings"]["neighbors"] > 0.0
    assert info["timings"]["affinities"] > 0.0
