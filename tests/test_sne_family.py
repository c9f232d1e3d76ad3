"""The SNE family (objective= of tsne; sne.hpp): SNE, symmetric SNE and UNI-SNE, each cost
against a numpy reference, each gradient against finite differences of its own cost, and
what the methods they cannot use say."""

import numpy as np
import pytest
import scipy.sparse
from _reference import knn_accuracy, squared_distances

import turbotsne
from turbotsne import _core

OBJECTIVES = ("sne", "symmetric_sne", "uni_sne")


def _affinities(n: int, seed: int, objective: str) -> scipy.sparse.csr_matrix:
    """A random sparse P of float32-representable values (the core stores P in float32):
    conditional rows summing to 1 for SNE, the joint (C + Cᵀ) / (2 n) otherwise."""
    rng = np.random.default_rng(seed)
    C = rng.random((n, n))
    np.fill_diagonal(C, 0.0)
    C[C < 0.5] = 0.0
    C /= C.sum(axis=1, keepdims=True)
    P = C if objective == "sne" else (C + C.T) / (2 * n)
    return scipy.sparse.csr_matrix(P.astype(np.float32).astype(np.float64))


def _core_gradient(objective, P, Y, background=0.0, exaggeration=1.0, n_jobs=1):
    return _core.sne_gradient(getattr(_core.Objective, objective),
                              P.indptr.astype(np.int64), P.indices.astype(np.int32),
                              P.data.astype(np.float64), np.ascontiguousarray(Y), background,
                              exaggeration, n_jobs)


def _reference_cost(objective: str, P: np.ndarray, Y: np.ndarray, background: float) -> float:
    """The objectives written densely: SNE Σ_i KL(P_i‖Q_i) with q_j|i ∝ exp(−d²) per row;
    symmetric SNE KL(P‖Q) with q_ij ∝ exp(−d²) over all pairs; UNI-SNE's Q mixed with the
    uniform ρ / (n (n − 1))."""
    n = len(Y)
    G = np.exp(-squared_distances(Y))
    np.fill_diagonal(G, 0.0)
    if objective == "sne":
        Q = G / G.sum(axis=1, keepdims=True)
    else:
        Q = (1.0 - background) * G / G.sum() + background / (n * (n - 1))
    nz = P > 0
    return float(np.sum(P[nz] * np.log(P[nz] / Q[nz])))


@pytest.mark.parametrize("objective,background", [("sne", 0.0), ("symmetric_sne", 0.0),
                                                  ("uni_sne", 0.1), ("uni_sne", 0.5)])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_cost_matches_the_dense_reference(objective, background, dims):
    n = 25
    P = _affinities(n, dims, objective)
    Y = np.random.default_rng(10 + dims).normal(scale=1.5, size=(n, dims))
    cost, _ = _core_gradient(objective, P, Y, background)
    assert cost == pytest.approx(_reference_cost(objective, P.toarray(), Y, background),
                                 rel=1e-10)


@pytest.mark.parametrize("objective,background", [("sne", 0.0), ("symmetric_sne", 0.0),
                                                  ("uni_sne", 0.1), ("uni_sne", 0.6)])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_gradient_is_the_derivative_of_its_cost(objective, background, dims):
    """Central differences of the core's own cost, coordinate by coordinate."""
    n = 20
    P = _affinities(n, 3 + dims, objective)
    Y = np.random.default_rng(dims).normal(scale=2.0, size=(n, dims))
    _, grad = _core_gradient(objective, P, Y, background)
    h = 1e-5
    numeric = np.zeros_like(Y)
    for i in range(n):
        for c in range(dims):
            step = np.zeros_like(Y)
            step[i, c] = h
            numeric[i, c] = (_core_gradient(objective, P, Y + step, background)[0]
                             - _core_gradient(objective, P, Y - step, background)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7 * np.abs(numeric).max())


def test_exaggeration_multiplies_the_attraction_only():
    """Symmetric SNE's gradient with P exaggerated by α: 4 Σ_j (α p_ij − q_ij)(y_i − y_j)."""
    n, alpha = 30, 12.0
    P = _affinities(n, 5, "symmetric_sne")
    Y = np.random.default_rng(5).normal(size=(n, 2))
    _, grad = _core_gradient("symmetric_sne", P, Y, exaggeration=alpha)
    G = np.exp(-squared_distances(Y))
    np.fill_diagonal(G, 0.0)
    M = alpha * P.toarray() - G / G.sum()
    expected = 4.0 * (M.sum(axis=1)[:, None] * Y - M @ Y)
    np.testing.assert_allclose(grad, expected, rtol=1e-9, atol=1e-12)


def test_uni_sne_without_background_is_symmetric_sne():
    P = _affinities(30, 2, "uni_sne")
    Y = np.random.default_rng(2).normal(size=(30, 2))
    cost_u, grad_u = _core_gradient("uni_sne", P, Y, 0.0)
    cost_s, grad_s = _core_gradient("symmetric_sne", P, Y)
    assert cost_u == cost_s
    np.testing.assert_array_equal(grad_u, grad_s)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_far_apart_points_neither_underflow_nor_overflow(objective):
    """exp(−d²) of points thousands of units apart is 0 in double: the normalisers are kept
    relative to each row's nearest point, so cost and gradient stay finite."""
    n, background = 12, 0.1 if objective == "uni_sne" else 0.0
    P = _affinities(n, 4, objective)
    Y = np.random.default_rng(4).normal(size=(n, 2)) * 1000.0
    cost, grad = _core_gradient(objective, P, Y, background)
    assert np.isfinite(cost) and np.isfinite(grad).all()
    if objective == "uni_sne":  # the background bounds it: q_ij >= ρ / (n (n − 1))
        p = P.data
        assert 0.0 < cost <= np.sum(p * np.log(p * n * (n - 1) / background)) + 1e-9
    else:  # P's pairs are thousands of units apart: a huge cost, not inf or NaN
        assert cost > 1000.0


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_same_seed_same_bits_for_any_thread_count(objective, digits):
    X = digits[0][:300]
    runs = [turbotsne.tsne(X, objective=objective, n_iter=120, early_exaggeration_iter=40,
                           random_state=7, n_jobs=jobs) for jobs in (1, 2, 3)]
    for Y in runs[1:]:
        np.testing.assert_array_equal(runs[0], Y)


def test_uni_sne_background_is_off_during_early_exaggeration(digits):
    """Cook et al. switch the background on once the map has formed: through early
    exaggeration UNI-SNE is symmetric SNE, bit for bit, and afterwards it is not."""
    X = digits[0][:200]
    common = dict(random_state=1, n_jobs=2, early_exaggeration_iter=60)
    uni = turbotsne.tsne(X, objective="uni_sne", n_iter=60, **common)
    sym = turbotsne.tsne(X, objective="symmetric_sne", n_iter=60, **common)
    np.testing.assert_array_equal(uni, sym)
    uni = turbotsne.tsne(X, objective="uni_sne", n_iter=120, **common)
    sym = turbotsne.tsne(X, objective="symmetric_sne", n_iter=120, **common)
    assert not np.array_equal(uni, sym)


def test_reported_cost_is_the_objective_at_the_result(digits):
    """info["kl_divergence"] of each objective is its cost at the returned embedding, for
    the P it ran on (recomputed here: SNE's conditional, the others' joint)."""
    X = digits[0][:250]
    for objective in OBJECTIVES:
        Y, info = turbotsne.tsne(X, objective=objective, n_iter=150, early_exaggeration_iter=50,
                                 random_state=3, n_jobs=2, return_info=True)
        P = _core.affinities(np.ascontiguousarray(X, dtype=np.float64), 30.0,
                             _core.NeighborParams(), 2, objective != "sne")
        P = scipy.sparse.csr_matrix((P[2], P[1], P[0]), shape=(250, 250))
        cost, _ = _core_gradient(objective, P, Y, 0.1 if objective == "uni_sne" else 0.0)
        assert info["kl_divergence"] == pytest.approx(cost, rel=1e-9)
        assert info["method"] == "exact"


def test_crowding_problem_shows_in_the_neighbourhoods(digits):
    """The crowding problem in numbers: on digits, t-SNE's heavy-tailed Q keeps the classes
    apart better than symmetric SNE's Gaussian Q (10-NN accuracy of the labels)."""
    X, y = digits[0][:600], digits[1][:600]
    acc = {objective: knn_accuracy(turbotsne.tsne(X, objective=objective, random_state=0,
                                                  n_jobs=2, n_iter=400), y)
           for objective in ("tsne", "symmetric_sne")}
    assert acc["tsne"] > 0.9
    assert acc["tsne"] > acc["symmetric_sne"]


def test_sne_from_precomputed_distances_and_fixed_sigma(digits):
    """SNE's conditional P also comes from a distance matrix and from the other kernels
    (the closures' conditional path); the runs are finite and close to the data's."""
    X = digits[0][:200]
    D = np.sqrt(squared_distances(X))
    _, from_data = turbotsne.tsne(X, objective="sne", n_iter=100, neighbors="exact",
                                  random_state=2, return_info=True)
    _, from_d = turbotsne.tsne(D, metric="precomputed", objective="sne", init="random",
                               n_iter=100, random_state=2, return_info=True)
    assert np.isfinite(from_d["kl_divergence"])
    Y, info = turbotsne.tsne(X, objective="sne", sigma=20.0, n_neighbors=30, n_iter=100,
                             random_state=2, return_info=True)
    assert np.isfinite(Y).all() and np.isfinite(info["kl_divergence"])
    assert from_data["kl_divergence"] > 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(objective="sne", method="barnes_hut"), "objective='sne' supports method='exact'"),
    (dict(objective="symmetric_sne", method="fft"), "supports method='exact'"),
    (dict(objective="uni_sne", dof=0.5), "dof=0.5"),
    (dict(objective="tsne", background=0.1), "background=0.1 is UNI-SNE's"),
    (dict(objective="sne", background=0.1), "needs objective='uni_sne'"),
    (dict(objective="uni_sne", background=1.0), "background"),
    (dict(objective="uni_sne", background=-0.1), "background"),
    (dict(objective="uni_sne", background=float("nan")), "background"),
    (dict(objective="student"), "'objective' parameter"),
    (dict(objective="sne", init="spectral"), "init='spectral'"),
])
def test_what_the_family_cannot_do_is_refused_by_name(kwargs, match, digits):
    with pytest.raises(ValueError, match=match):
        turbotsne.tsne(digits[0][:100], **kwargs)


def test_sne_refuses_a_joint_affinity_matrix():
    P = _affinities(40, 1, "symmetric_sne")
    with pytest.raises(ValueError, match="conditional distribution"):
        turbotsne.tsne(None, affinities=P, init="random", objective="sne")
    Y = turbotsne.tsne(None, affinities=P, init="random", objective="symmetric_sne",
                       n_iter=50, random_state=0)
    assert np.isfinite(Y).all()


def test_more_than_the_exact_limit_is_refused(monkeypatch):
    from turbotsne import _api

    monkeypatch.setattr(_api, "EXACT_SAMPLES_LIMIT", 50)
    X = np.random.default_rng(0).normal(size=(60, 3))
    with pytest.raises(ValueError, match="EXACT_SAMPLES_LIMIT = 50"):
        turbotsne.tsne(X, objective="symmetric_sne", perplexity=5)


def test_verbose_names_the_objective(digits, capsys):
    turbotsne.tsne(digits[0][:100], objective="uni_sne", n_iter=60, verbose=True,
                   random_state=0)
    err = capsys.readouterr().err
    assert "objective=uni_sne" in err and "method=exact" in err


def test_callback_sees_the_cost_and_can_stop(digits):
    seen = []

    def callback(iteration, cost, Y):
        seen.append((iteration, cost))
        return iteration >= 100

    Y, info = turbotsne.tsne(digits[0][:150], objective="symmetric_sne", n_iter=300,
                             callback=callback, callback_every=50, random_state=0,
                             return_info=True)
    assert [i for i, _ in seen] == [50, 100]
    assert info["stopped"] and info["n_iter"] == 100
    assert all(np.isfinite(c) and c > 0 for _, c in seen)


def test_knn_accuracy_against_the_reference(digits):
    Y = np.random.default_rng(0).normal(size=(300, 2))
    labels = digits[1][:300]
    assert turbotsne.knn_accuracy(Y, labels) == knn_accuracy(Y, labels)
    # labels of any sortable type: the same votes as their integer codes
    names = np.array([f"digit {v}" for v in labels])
    assert turbotsne.knn_accuracy(Y, names, k=5) == knn_accuracy(Y, labels, k=5)
    with pytest.raises(ValueError, match="one label per row"):
        turbotsne.knn_accuracy(Y, labels[:10])
    with pytest.raises(ValueError, match="'k' parameter"):
        turbotsne.knn_accuracy(Y, labels, k=300)


def test_crowding_runs_each_objective_as_tsne_does(digits):
    X, y = digits[0][:200], digits[1][:200]
    options = dict(random_state=4, n_jobs=2, n_iter=100, early_exaggeration_iter=40)
    result = turbotsne.crowding(X, y, objectives=("symmetric_sne", "tsne"), **options)
    assert list(result["embeddings"]) == ["symmetric_sne", "tsne"]
    for objective in ("symmetric_sne", "tsne"):
        Y, info = turbotsne.tsne(X, objective=objective, return_info=True, **options)
        np.testing.assert_array_equal(result["embeddings"][objective], Y)
        assert result["cost"][objective] == info["kl_divergence"]
        assert result["knn_accuracy"][objective] == knn_accuracy(Y, y)
    assert turbotsne.crowding(X, objectives=("tsne",), **options)["knn_accuracy"]["tsne"] is None
    with pytest.raises(ValueError, match="objectives must be"):
        turbotsne.crowding(X, y, objectives="tsne")
    with pytest.raises(ValueError, match="crowding sets tsne's objective"):
        turbotsne.crowding(X, y, objective="sne")


def test_plot_crowding_titles_each_panel(digits):
    import matplotlib

    matplotlib.use("Agg")
    X, y = digits[0][:150], digits[1][:150]
    result = turbotsne.crowding(X, y, objectives=("sne", "tsne"), random_state=0, n_iter=60,
                                early_exaggeration_iter=20)
    fig = turbotsne.plot_crowding(result, y)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [f"SNE\n10-NN accuracy {result['knn_accuracy']['sne']:.3f}",
                      f"t-SNE\n10-NN accuracy {result['knn_accuracy']['tsne']:.3f}"]
    offsets = [ax.collections[0].get_offsets() for ax in fig.axes]
    np.testing.assert_array_equal(offsets[0], result["embeddings"]["sne"])
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_estimator_takes_the_objective_and_refuses_to_continue_it(digits):
    X = digits[0][:200]
    est = turbotsne.TSNE(objective="uni_sne", background=0.2, random_state=0, max_iter=120,
                         early_exaggeration_iter=40, n_jobs=2)
    Y = est.fit_transform(X)
    expected, info = turbotsne.tsne(X, objective="uni_sne", background=0.2, random_state=0,
                                    n_iter=120, early_exaggeration_iter=40, n_jobs=2,
                                    return_info=True)
    np.testing.assert_array_equal(Y, expected)
    assert est.kl_divergence_ == info["kl_divergence"]
    assert est.get_params()["objective"] == "uni_sne"
    with pytest.raises(ValueError, match="TSNE.optimize works on t-SNE embeddings"):
        est.optimize(10)
    with pytest.raises(ValueError, match="TSNE.transform works on t-SNE embeddings"):
        est.transform(X[:5])
    est.set_params(objective="tsne", background=None).fit(X)  # t-SNE again: both work
    est.optimize(10)
    assert est.transform(X[:5]).shape == (5, 2)
