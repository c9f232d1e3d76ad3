"""Contrastive embeddings (turbotsne.contrastive_embedding, spectrum): the losses' gradients,
their relation to the paper's full losses, quality on digits, determinism, errors."""

import numpy as np
import pytest
import scipy.sparse
from scipy.spatial import cKDTree

import turbotsne
from turbotsne import _core

from _reference import knn_accuracy, squared_distances

LOSSES = ("neg", "nce", "infonce")


def _tiny_graph(rng, n=9):
    """A symmetric P over a random sparse graph (every row non-empty), summing to 1."""
    A = (rng.random((n, n)) < 0.4) * rng.random((n, n))
    A[np.arange(n), (np.arange(n) + 1) % n] = 0.5  # a ring: no empty row
    np.fill_diagonal(A, 0.0)
    A = A + A.T
    P = scipy.sparse.csr_matrix(A / A.sum())
    return (P.indptr.astype(np.int64), P.indices.astype(np.int32), P.data), P.toarray()


def _opt(loss, dof=1.0, k=3, m=4):
    opt = _core.ContrastiveOptimizerParams()
    opt.loss = getattr(_core.ContrastiveLoss, loss)
    opt.dof = dof
    opt.positives_per_epoch = k
    opt.n_negatives = m
    return opt


def _sampled(csr, Y, opt, z, epoch=3):
    return _core._testing.sampled_contrastive_loss(*csr, Y, opt, z, 7, epoch, 1)


@pytest.mark.parametrize("dof", [1.0, 0.6])
@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_matches_finite_differences(rng, loss, dof):
    # Each point's gradient is that of its own sampled terms in its own position; the samples
    # are hashed from (seed, epoch, point, slot), so moving a point keeps them.
    csr, _ = _tiny_graph(rng)
    Y = rng.normal(scale=1.5, size=(9, 2))
    opt, z = _opt(loss, dof), 30.0
    _, grad, dlogz = _sampled(csr, Y, opt, z)
    h = 1e-6
    fd = np.empty_like(Y)
    for i in range(Y.shape[0]):
        for a in range(Y.shape[1]):
            Yp, Ym = Y.copy(), Y.copy()
            Yp[i, a] += h
            Ym[i, a] -= h
            fd[i, a] = (_sampled(csr, Yp, opt, z)[0][i] - _sampled(csr, Ym, opt, z)[0][i]) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7 * np.abs(fd).max())
    assert np.abs(grad).max() > 1e-3  # not trivially zero
    if loss != "infonce":  # the derivative in log Z, which NCE's Newton step on Z uses
        t = 1e-5
        up = _sampled(csr, Y, opt, z * np.exp(t))[0].sum()
        down = _sampled(csr, Y, opt, z * np.exp(-t))[0].sum()
        assert dlogz == pytest.approx((up - down) / (2 * t), rel=1e-5)


def _full_loss(P, Y, z, m, dof):
    """The paper's NCE/NEG loss over all pairs: -Σ p_ij log ρ_ij - (m/|X|) Σ_{i≠j} log(1-ρ_ij),
    ρ = q / (q + z m / |X|), |X| = n (n - 1)."""
    n = len(Y)
    q = (1.0 + squared_distances(Y) / dof) ** -dof
    c = z * m / (n * (n - 1))
    rho = q / (q + c)
    off = ~np.eye(n, dtype=bool)
    return -np.sum(P[off] * np.log(rho[off])) - m / (n * (n - 1)) * np.sum(np.log1p(-rho[off]))


@pytest.mark.parametrize("loss", ["neg", "nce"])
def test_sampled_gradient_estimates_the_papers_loss(rng, loss):
    # With positives drawn ∝ p_ij and uniform noise, the mean of the sampled loss over points
    # estimates the full loss and each point's gradient n/2 times its gradient (the other half
    # of every pair's force reaches the partner through the partner's own samples).
    csr, P = _tiny_graph(rng)
    n, m, z, dof = 9, 4, 40.0, 1.0
    Y = rng.normal(scale=1.5, size=(n, 2))
    loss_i, grad, _ = _sampled(csr, Y, _opt(loss, dof, k=40000, m=m), z)
    ref = _full_loss(P, Y, z, m, dof)
    h = 1e-6
    ref_grad = np.empty_like(Y)
    for i in range(n):
        for a in range(2):
            E = np.zeros_like(Y)
            E[i, a] = h
            ref_grad[i, a] = (_full_loss(P, Y + E, z, m, dof) - _full_loss(P, Y - E, z, m, dof)) / (2 * h)
    assert loss_i.mean() == pytest.approx(ref, rel=0.02)
    np.testing.assert_allclose(grad, n / 2 * ref_grad, rtol=0.05, atol=0.03 * np.abs(ref_grad).max() * n / 2)


def test_umap_z_bar_makes_neg_umaps_classifier():
    # Z̄ = |X|/m: c = Z̄ m / |X| = 1, UMAP's q / (q + 1).
    assert turbotsne.umap_z_bar(1000, 5) == pytest.approx(1000 * 999 / 5)
    assert turbotsne.tsne_z_bar(1000) == 100_000
    assert turbotsne.umap_z_bar(1000, 5) > turbotsne.tsne_z_bar(1000)


def _recall10(X, Y):
    _, a = cKDTree(X).query(X, 11)
    _, b = cKDTree(Y).query(Y, 11)
    return np.mean([len(np.intersect1d(r[1:], s[1:])) / 10 for r, s in zip(a, b)])


def _compactness(Y, labels):
    """Mean distance to the own class centre over mean distance between class centres."""
    classes = np.unique(labels)
    centres = np.array([Y[labels == c].mean(axis=0) for c in classes])
    within = np.mean([np.linalg.norm(Y[labels == c] - centres[k], axis=1).mean()
                      for k, c in enumerate(classes)])
    between = np.mean([np.linalg.norm(a - b) for k, a in enumerate(centres) for b in centres[k + 1:]])
    return within / between


@pytest.fixture(scope="module")
def digits_P(digits):
    return turbotsne.joint_probabilities(digits[0])


def test_nce_on_digits_matches_tsne(digits, digits_P):
    X, labels = digits
    Y_tsne = turbotsne.tsne(X, affinities=digits_P, random_state=0)
    # NCE's optimum approaches t-SNE's with more noise pairs (m = 5 stays ~0.1 below t-SNE's
    # recall on digits); fewer positives per epoch keep the cost of the run.
    Y, info = turbotsne._contrastive._contrastive(X, loss="nce", affinities=digits_P,
                                                  n_negatives=50, positives_per_epoch=3,
                                                  learning_rate=3.0, random_state=0)
    assert knn_accuracy(Y, labels) >= 0.93
    assert _recall10(X, Y) >= _recall10(X, Y_tsne) - 0.05
    # The learned Z is of the order of t-SNE's partition function (NCE approximates t-SNE).
    q = 1.0 / (1.0 + squared_distances(Y_tsne))
    z_tsne = q.sum() - len(X)
    assert 0.25 < info["z"] / z_tsne < 4.0
    # ...and far from the start (UMAP's Z̄), which it was not told.
    assert info["z"] < 0.5 * turbotsne.umap_z_bar(len(X))


def test_neg_at_umaps_z_bar_is_more_compact_than_near_tsnes(digits, digits_P):
    X, labels = digits
    n = len(X)
    common = dict(loss="neg", affinities=digits_P, random_state=0, n_epochs=300)
    umap_like = turbotsne.contrastive_embedding(X, z_bar=turbotsne.umap_z_bar(n), **common)
    tsne_like = turbotsne.contrastive_embedding(X, z_bar=turbotsne.tsne_z_bar(n), **common)
    assert _compactness(umap_like, labels) < 0.9 * _compactness(tsne_like, labels)
    assert knn_accuracy(umap_like, labels) >= 0.9


def test_infonce_on_digits(digits, digits_P):
    X, labels = digits
    Y = turbotsne.contrastive_embedding(X, loss="infonce", affinities=digits_P, random_state=0,
                                        n_epochs=200)
    assert knn_accuracy(Y, labels) >= 0.93


def test_random_start_is_poor_and_optimisation_fixes_it(digits, digits_P):
    X, labels = digits
    Y0 = np.random.default_rng(1).normal(size=(len(X), 2))
    assert knn_accuracy(Y0, labels) < 0.3
    Y = turbotsne.contrastive_embedding(X, init=Y0, affinities=digits_P, random_state=0,
                                        n_epochs=300)
    assert knn_accuracy(Y, labels) >= 0.9


@pytest.mark.parametrize("loss", LOSSES)
def test_deterministic_for_a_seed_and_any_thread_count(digits, digits_P, loss):
    X = digits[0][:600]
    kw = dict(loss=loss, n_epochs=40, random_state=3, perplexity=10)
    a = turbotsne.contrastive_embedding(X, n_jobs=2, **kw)
    b = turbotsne.contrastive_embedding(X, n_jobs=2, **kw)
    c = turbotsne.contrastive_embedding(X, n_jobs=1, **kw)
    d = turbotsne.contrastive_embedding(X, n_jobs=2, **{**kw, "random_state": 4})
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert not np.allclose(a, d)
    assert np.isfinite(a).all()


def test_given_affinities_give_the_same_embedding(digits):
    X = digits[0][:500]
    P = turbotsne.joint_probabilities(X, perplexity=10)
    kw = dict(n_epochs=30, random_state=0, perplexity=10)
    assert np.array_equal(turbotsne.contrastive_embedding(X, **kw),
                          turbotsne.contrastive_embedding(X, affinities=P, **kw))


def test_precomputed_distances_and_3d(digits):
    X = digits[0][:300]
    D = np.sqrt(squared_distances(X))
    Y = turbotsne.contrastive_embedding(D, metric="precomputed", init="random", n_epochs=20,
                                        random_state=0, perplexity=10)
    assert Y.shape == (300, 2) and np.isfinite(Y).all()
    Y3 = turbotsne.contrastive_embedding(X, 3, n_epochs=20, random_state=0, perplexity=10,
                                         dof=0.8)
    Y5 = turbotsne.contrastive_embedding(X, 5, n_epochs=20, random_state=0, perplexity=10)
    assert Y3.shape == (300, 3) and Y5.shape == (300, 5)
    assert np.isfinite(Y3).all() and np.isfinite(Y5).all()


def test_callback_sees_epochs_and_can_stop(digits):
    X = digits[0][:300]
    seen = []

    def cb(epoch, loss, Y):
        seen.append((epoch, loss, Y.shape))
        return epoch >= 20

    Y = turbotsne.contrastive_embedding(X, n_epochs=100, callback=cb, callback_every=10,
                                        random_state=0, perplexity=10)
    assert [s[0] for s in seen] == [10, 20]
    assert all(np.isfinite(s[1]) and s[1] > 0 and s[2] == (300, 2) for s in seen)
    assert Y.shape == (300, 2)


def test_verbose_reports_epochs(digits, capsys):
    turbotsne.contrastive_embedding(digits[0][:300], n_epochs=50, verbose=True, random_state=0,
                                    perplexity=10, loss="nce")
    err = capsys.readouterr().err
    assert "loss=nce" in err and "50/50" in err and "done in" in err


def test_spectrum_shares_start_and_orders_compactness(digits):
    X, labels = digits[0][:800], digits[1][:800]
    z, E = turbotsne.spectrum(X, n_epochs=150, random_state=0)
    assert E.shape == (5, 800, 2)
    np.testing.assert_allclose(z, np.geomspace(turbotsne.tsne_z_bar(800),
                                               turbotsne.umap_z_bar(800), 5))
    # Each panel is the embedding contrastive_embedding gives from the same P and start.
    one = turbotsne.contrastive_embedding(X, z_bar=z[2], n_epochs=150, random_state=0)
    assert np.array_equal(E[2], one)
    assert _compactness(E[-1], labels) < _compactness(E[0], labels)
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    fig = turbotsne.plot_spectrum(z, E, labels)
    assert len(fig.axes) == 5 and "UMAP" in fig.axes[-1].get_title()


def test_spectrum_from_affinities_alone(digits):
    P = turbotsne.joint_probabilities(digits[0][:300], perplexity=10)
    z, E = turbotsne.spectrum(None, [1e4, 1e5], affinities=P, init="random", n_epochs=20,
                              random_state=0)
    one = turbotsne.contrastive_embedding(None, affinities=P, init="random", z_bar=1e5,
                                          n_epochs=20, random_state=0)
    assert E.shape == (2, 300, 2) and np.array_equal(E[1], one)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(loss="umap"), ValueError, "'loss'"),
    (dict(loss=3), TypeError, "'loss'"),
    (dict(z_bar=-1.0), ValueError, "'z_bar'"),
    (dict(z_bar=float("nan")), ValueError, "'z_bar'"),
    (dict(z_bar="big"), TypeError, "'z_bar'"),
    (dict(z_bar=1e-300), ValueError, "z_bar"),  # c = z_bar m / |X| would underflow
    (dict(loss="nce", z_bar=1e300), ValueError, "z_bar"),
    (dict(loss="infonce", z_bar=10.0), ValueError, "'z_bar'"),
    (dict(n_negatives=0), ValueError, "'n_negatives'"),
    (dict(n_epochs=0), ValueError, "'n_epochs'"),
    (dict(n_epochs=2.5), TypeError, "'n_epochs'"),
    (dict(positives_per_epoch=0), ValueError, "'positives_per_epoch'"),
    (dict(learning_rate=0.0), ValueError, "'learning_rate'"),
    (dict(learning_rate=float("inf")), ValueError, "'learning_rate'"),
    (dict(dof=-1.0), ValueError, "'dof'"),
    (dict(max_step_norm=0.0), ValueError, "'max_step_norm'"),
    (dict(perplexity=100.0), ValueError, "perplexity"),
    (dict(n_components=0), ValueError, "'n_components'"),
    (dict(init="spectral"), ValueError, "'init'"),
    (dict(init=np.zeros((5, 2))), ValueError, "init"),
    (dict(n_jobs=0), ValueError, "'n_jobs'"),
    (dict(metric="precomputed"), ValueError, "init='pca'"),
    (dict(metric="cosine", affinities=np.eye(100)), ValueError, "metric"),
    (dict(callback=3), TypeError, "'callback'"),
    (dict(callback_every=0), ValueError, "'callback_every'"),
])
def test_bad_input_is_an_error_naming_the_parameter(rng, kwargs, error, words):
    X = rng.normal(size=(100, 4))
    with pytest.raises(error, match=words):
        turbotsne.contrastive_embedding(X, n_epochs=kwargs.pop("n_epochs", 5), **kwargs)


def test_bad_data_is_an_error(rng):
    X = rng.normal(size=(50, 3))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        turbotsne.contrastive_embedding(X)
    with pytest.raises(ValueError, match="X is None"):
        turbotsne.contrastive_embedding(None)
    with pytest.raises(ValueError, match="z_bars"):
        turbotsne.spectrum(rng.normal(size=(50, 3)), z_bars=[], perplexity=5)
    with pytest.raises(ValueError, match="z_bars"):
        turbotsne.spectrum(rng.normal(size=(50, 3)), z_bars=[1.0, -2.0], perplexity=5)
    for bad, words in [(dict(n_epochs=0), "'n_epochs'"), (dict(learning_rate=-1.0), "'learning_rate'"),
                       (dict(init=np.zeros((3, 2))), "init"), (dict(n_negatives=0), "'n_negatives'")]:
        with pytest.raises(ValueError, match=words):
            turbotsne.spectrum(rng.normal(size=(50, 3)), perplexity=5, **bad)


