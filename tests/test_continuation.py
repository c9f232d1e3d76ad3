"""TSNE.optimize: continuing a fitted optimisation in stages (openTSNE's TSNEEmbedding.optimize),
with gains and momentum carried on, and new affinities between stages."""

import numpy as np
import pytest

import turbotsne
from turbotsne import TSNE


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(5)
    centers = rng.normal(size=(5, 6)) * 5
    labels = np.repeat(np.arange(5), 90)
    return centers[labels] + rng.normal(size=(450, 6))


class LocalityTSNE(TSNE):
    """TSNE optimising in the approximate search's locality order already from 100 points
    (by default from 100,000), so that the continuation's permuted state is exercised."""

    _core_params = {"locality_min_samples": 100}


@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
def test_staged_run_equals_one_run_bit_for_bit(blobs, method):
    one = TSNE(max_iter=750, method=method, random_state=0).fit(blobs)
    staged = TSNE(max_iter=250, method=method, random_state=0).fit(blobs).optimize(500)
    three = TSNE(max_iter=300, method=method, random_state=0, n_jobs=1).fit(blobs)
    three.optimize(200).optimize(250)
    assert np.array_equal(staged.embedding_, one.embedding_)
    assert np.array_equal(three.embedding_, one.embedding_)  # and for any thread count
    assert staged.n_iter_ == three.n_iter_ == 750
    assert staged.kl_divergence_ == one.kl_divergence_


@pytest.mark.parametrize("method", ["barnes_hut", "fft"])
def test_staged_run_in_locality_order_equals_one_run(blobs, method):
    kwargs = dict(method=method, neighbors="approx", random_state=1)
    one = LocalityTSNE(max_iter=600, **kwargs).fit(blobs)
    seen = []
    staged = LocalityTSNE(max_iter=250, callback=lambda it, kl, Y: seen.append(it),
                          callback_every=7, **kwargs).fit(blobs)
    order = staged._state.order
    assert order.size == len(blobs) and not np.array_equal(order, np.arange(len(blobs)))
    staged.optimize(350)
    assert np.array_equal(staged.embedding_, one.embedding_)
    assert seen[-1] == 350 - 350 % 7  # a stage's callback counts that stage's iterations


def test_a_stage_changes_exaggeration_learning_rate_and_momentum_as_one_run_would(blobs):
    # One run whose phase after early exaggeration has exaggeration 3, learning rate 100 (on
    # scikit-learn's scale, 400 on tsne's) and momentum 0.6, as two stages.
    one, _ = turbotsne._api._tsne(blobs, method="exact", random_state=0, n_iter=600,
                                  exaggeration=3.0,
                                  _optimizer=dict(late_learning_rate=400.0, momentum_late=0.6))
    # The first stage is the early exaggeration (its default length, 200 iterations).
    staged = TSNE(max_iter=200, method="exact", random_state=0).fit(blobs)
    staged.optimize(400, exaggeration=3.0, learning_rate=100.0, momentum=0.6)
    assert np.array_equal(staged.embedding_, one)
    default = TSNE(max_iter=200, method="exact", random_state=0).fit(blobs).optimize(400)
    assert not np.array_equal(default.embedding_, one)


def test_gains_and_momentum_are_carried_not_restarted(blobs):
    staged = TSNE(max_iter=250, method="exact", random_state=0).fit(blobs)
    restart = TSNE(max_iter=250, method="exact", random_state=0).fit(blobs)
    restarted = TSNE(max_iter=500, init=restart.embedding_, early_exaggeration_iter=0,
                     method="exact", random_state=0).fit(blobs)
    staged.optimize(500)
    assert not np.allclose(staged.embedding_, restarted.embedding_, atol=1e-3)


def test_new_perplexity_between_stages(blobs):
    P10 = turbotsne.joint_probabilities(blobs, perplexity=10, neighbors="exact")
    by_perplexity = TSNE(max_iter=250, method="exact", random_state=0).fit(blobs)
    by_perplexity.optimize(300, perplexity=10)
    by_matrix = TSNE(max_iter=250, method="exact", random_state=0).fit(blobs)
    by_matrix.optimize(300, affinities=P10)
    kept = TSNE(max_iter=250, method="exact", random_state=0).fit(blobs).optimize(300)
    assert np.array_equal(by_perplexity.embedding_, by_matrix.embedding_)
    assert not np.allclose(kept.embedding_, by_matrix.embedding_, atol=1e-2)
    # The KL reported is against the new P (method="exact": the exact KL).
    assert by_matrix.kl_divergence_ == pytest.approx(
        turbotsne.kl_divergence(P10, by_matrix.embedding_), rel=1e-9)
    # ... and the new P stays for the stages after.
    by_matrix.optimize(50)
    assert by_matrix.kl_divergence_ == pytest.approx(
        turbotsne.kl_divergence(P10, by_matrix.embedding_), rel=1e-9)


def test_new_affinities_are_put_in_the_optimizers_point_order(blobs):
    P10 = turbotsne.joint_probabilities(blobs, perplexity=10, neighbors="exact")
    est = LocalityTSNE(max_iter=250, method="exact", neighbors="approx", random_state=2)
    est.fit(blobs).optimize(200, affinities=P10)
    assert est.kl_divergence_ == pytest.approx(
        turbotsne.kl_divergence(P10, est.embedding_), rel=1e-9)


def test_a_stage_with_other_dof_reports_that_kernels_kl(blobs):
    est = TSNE(max_iter=250, method="exact", random_state=0).fit(blobs).optimize(200, dof=0.5)
    P = turbotsne.joint_probabilities(blobs, neighbors="exact")
    assert est.kl_divergence_ == pytest.approx(
        turbotsne.kl_divergence(P, est.embedding_, dof=0.5), rel=1e-9)
    assert est.kl_divergence_ != pytest.approx(
        turbotsne.kl_divergence(P, est.embedding_, dof=1.0), rel=1e-3)


def test_optimize_errors(blobs):
    with pytest.raises(turbotsne.NotFittedError):
        TSNE().optimize(10)
    est = TSNE(max_iter=250, method="exact", random_state=0).fit(blobs)
    for kwargs, word in [(dict(n_iter=0), "n_iter"), (dict(n_iter=5, momentum=1.0), "momentum"),
                         (dict(n_iter=5, exaggeration=0), "exaggeration"),
                         (dict(n_iter=5, learning_rate=-1), "learning_rate"),
                         (dict(n_iter=5, perplexity=450), "perplexity"),
                         (dict(n_iter=5, perplexity=5, affinities=np.eye(450)), "not both"),
                         (dict(n_iter=5, affinities=np.eye(3)), "affinities")]:
        with pytest.raises(ValueError, match=word):
            est.optimize(**kwargs)
    with pytest.raises(TypeError, match="n_iter"):
        est.optimize(2.5)
    before = est.embedding_.copy()
    est.optimize(5)
    assert not np.array_equal(est.embedding_, before)

    D = np.sqrt(((blobs[:, None] - blobs[None]) ** 2).sum(-1))
    pre = TSNE(max_iter=250, metric="precomputed", init="random", random_state=0).fit(D)
    with pytest.raises(ValueError, match="pass affinities instead"):
        pre.optimize(5, perplexity=10)
    pre.optimize(5)  # continuing with the fit's P works


def test_an_interrupted_stage_leaves_the_embedding_and_refuses_to_continue(blobs):
    def stop_by_raising(iteration, kl, Y):
        raise KeyError("stop")

    est = TSNE(max_iter=250, method="exact", random_state=0, callback_every=10).fit(blobs)
    before, n_iter = est.embedding_.copy(), est.n_iter_
    est.callback = stop_by_raising
    with pytest.raises(KeyError):
        est.optimize(100)
    assert np.array_equal(est.embedding_, before) and est.n_iter_ == n_iter
    est.callback = None
    with pytest.raises(ValueError, match="call fit again"):
        est.optimize(10)
    est.fit(blobs).optimize(10)  # a new fit starts a new optimisation


def test_a_pickled_or_copied_estimator_continues_the_same_way(blobs):
    import copy
    import pickle

    est = LocalityTSNE(max_iter=250, method="barnes_hut", neighbors="approx",
                       random_state=0).fit(blobs)
    restored = pickle.loads(pickle.dumps(est))
    copied = copy.deepcopy(est)
    est.optimize(100)
    assert np.array_equal(restored.optimize(100).embedding_, est.embedding_)
    assert np.array_equal(copied.optimize(100).embedding_, est.embedding_)
