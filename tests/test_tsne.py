"""End-to-end behaviour of turbotsne.tsne."""

import numpy as np
import pytest
from _reference import knn_accuracy

import turbotsne
from turbotsne import _core
from turbotsne._validation import check_data


def _small(rng, n=300, d=10):
    X, labels = turbotsne.make_blobs(n, d, 4, random_state=int(rng.integers(1000)))
    return X, labels


def test_returns_float64_array_of_the_right_shape(rng):
    X, _ = _small(rng)
    for n_components, method in [(1, "barnes_hut"), (2, "barnes_hut"), (3, "barnes_hut"), (4, "exact"),
                                 (1, "fft"), (2, "fft")]:
        Y = turbotsne.tsne(X, n_components, method=method, n_iter=100, random_state=0)
        assert Y.shape == (len(X), n_components)
        assert Y.dtype == np.float64 and Y.flags.c_contiguous
        assert np.isfinite(Y).all()


@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
def test_kl_decreases_over_a_run(rng, method):
    X, _ = _small(rng)
    P = turbotsne.joint_probabilities(X)
    kls = []
    Y = turbotsne.tsne(X, method=method, random_state=1, callback_every=25,
                       callback=lambda it, kl, emb: kls.append((it, kl, turbotsne.kl_divergence(P, emb))))
    assert [it for it, _, _ in kls] == list(range(25, 751, 25))
    after_early = [kl for it, kl, _ in kls if it > 250]
    assert after_early[-1] < kls[0][1]
    # The exact KL of the reported embeddings is non-increasing once exaggeration is off
    # (allowing rounding-level wiggles). The reported KL of BH and FFT carries their Z
    # estimate, whose error (about 1e-4 of KL for FFT) can make it wiggle more.
    exact = [e for it, _, e in kls if it > 250]
    assert all(b <= a * (1 + 1e-4) for a, b in zip(exact, exact[1:]))
    final = turbotsne.kl_divergence(P, Y)
    # the last report is one iteration before the end; BH's and FFT's KL carry their Z estimate
    assert final <= after_early[-1] * (1 + (1e-3 if method == "exact" else 2e-2))


@pytest.fixture(scope="module")
def digits_runs(digits):
    X, labels = digits
    return {m: turbotsne.tsne(X, method=m, random_state=0, return_info=True) for m in ("exact", "barnes_hut", "fft")}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
def test_digits_quality(digits, digits_runs, method):
    X, labels = digits
    Y, info = digits_runs[method]
    assert info["method"] == method
    assert knn_accuracy(Y, labels, 10) >= 0.975
    # the KL reported equals the exact KL of the returned embedding (exact) or is close
    exact_kl = turbotsne.kl_divergence(turbotsne.joint_probabilities(X), Y)
    assert info["kl_divergence"] == pytest.approx(exact_kl, rel=1e-9 if method == "exact" else 2e-2)


def test_random_init_is_not_already_good(digits):
    # the quality bar above is not met by the initialisation alone
    X, labels = digits
    Y0 = _core.initial_embedding(X, 2, _core.Init.random, 0, 1)
    assert knn_accuracy(Y0, labels, 10) < 0.3


@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
@pytest.mark.parametrize("init", ["pca", "random"])
def test_bit_identical_for_any_thread_count(digits, method, init):
    X, _ = digits
    X = X[:700]
    runs = [turbotsne.tsne(X, method=method, init=init, n_iter=300, random_state=7, n_jobs=j)
            for j in (1, 2, 3)]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0], other)


def test_same_seed_same_result_other_seed_other_result(rng):
    X, _ = _small(rng)
    a = turbotsne.tsne(X, init="random", n_iter=150, random_state=3)
    b = turbotsne.tsne(X, init="random", n_iter=150, random_state=3)
    c = turbotsne.tsne(X, init="random", n_iter=150, random_state=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    g = turbotsne.tsne(X, init="random", n_iter=150, random_state=np.random.default_rng(5))
    assert np.isfinite(g).all()


def test_pca_init_is_scaled_principal_components(digits):
    X, _ = digits
    Y0 = _core.initial_embedding(X, 2, _core.Init.pca, 0, 2)
    Xc = X - X.mean(axis=0)
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
    ref = Xc @ Vt[:2].T
    for c in range(2):  # sign convention: largest loading positive
        if Vt[c][np.argmax(np.abs(Vt[c]))] < 0:
            ref[:, c] *= -1
    ref *= 1e-4 / ref[:, 0].std()
    np.testing.assert_allclose(Y0, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    assert Y0[:, 0].std() == pytest.approx(1e-4, rel=1e-12)


def test_random_init_has_the_documented_scale(rng):
    X, _ = _small(rng, n=4000)
    Y0 = _core.initial_embedding(X, 2, _core.Init.random, 11, 2)
    assert Y0.std() == pytest.approx(1e-4, rel=0.05)


def test_init_array_is_used_and_not_modified(rng):
    X, _ = _small(rng)
    init = rng.normal(size=(len(X), 2))
    before = init.copy()
    Y = turbotsne.tsne(X, init=init, n_iter=1, learning_rate=1e-9)
    np.testing.assert_array_equal(init, before)
    np.testing.assert_allclose(Y, init - init.mean(axis=0), atol=1e-6)


@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
def test_max_step_norm_bounds_each_points_step(rng, method):
    X, _ = _small(rng)
    init = rng.normal(scale=1e-3, size=(len(X), 2))
    init -= init.mean(axis=0)
    # A learning rate this large throws points far in one step unless steps are clipped.
    kw = dict(method=method, init=init, n_iter=1, learning_rate=1e6)
    free = turbotsne.tsne(X, max_step_norm=None, **kw)
    clipped = turbotsne.tsne(X, max_step_norm=0.01, **kw)
    assert np.linalg.norm(free - init, axis=1).max() > 1.0
    # Each step is at most 0.01 long; recentring moves all points by the mean step.
    steps = np.linalg.norm(clipped - init, axis=1)
    assert steps.max() <= 0.02 + 1e-12
    assert np.median(steps) > 0.005
    # A bound no step reaches changes nothing, bit for bit.
    np.testing.assert_array_equal(turbotsne.tsne(X, max_step_norm=1e12, **kw), free)


def test_no_copy_of_float64_c_contiguous_input(rng):
    X = np.ascontiguousarray(rng.normal(size=(50, 3)))
    assert check_data(X) is X
    assert check_data(np.asfortranarray(X)) is not X


def test_other_dtypes_and_layouts_give_the_same_result(rng):
    X = rng.integers(0, 50, size=(200, 5))
    ref = turbotsne.tsne(X.astype(np.float64), n_iter=100, random_state=0)
    for variant in (X, X.astype(np.float32), np.asfortranarray(X.astype(np.float64)), X.tolist()):
        np.testing.assert_array_equal(turbotsne.tsne(variant, n_iter=100, random_state=0), ref)


def test_callback_receives_copies_and_can_stop_the_run(rng):
    X, _ = _small(rng)
    seen = []

    def callback(iteration, kl, embedding):
        seen.append((iteration, kl, embedding))
        embedding[:] = 1e9  # must not affect the run
        return iteration >= 60

    Y = turbotsne.tsne(X, random_state=0, callback=callback, callback_every=20)
    assert [s[0] for s in seen] == [20, 40, 60]
    assert all(np.isfinite(s[1]) and s[2].shape == (len(X), 2) for s in seen)
    assert np.abs(Y).max() < 1e3
    _, info = turbotsne.tsne(X, random_state=0, callback=callback, callback_every=20, return_info=True)
    assert info["n_iter"] == 60 and info["stopped"]


def test_callback_exceptions_propagate(rng):
    X, _ = _small(rng)

    def callback(iteration, kl, embedding):
        raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        turbotsne.tsne(X, callback=callback, callback_every=10)


def test_verbose_prints_stages_and_progress_on_stderr(rng, capsys):
    X, _ = _small(rng)
    turbotsne.tsne(X, n_iter=100, verbose=True, random_state=0)
    captured = capsys.readouterr()
    assert captured.out == ""
    for word in ("neighbors", "affinities", "init", "optimize", "iteration    50/100", "KL", "ETA"):
        assert word in captured.err


def test_auto_method_follows_the_documented_threshold(rng):
    X, _ = _small(rng, n=turbotsne.AUTO_EXACT_MAX_SAMPLES + 1)
    cases = {
        (turbotsne.AUTO_EXACT_MAX_SAMPLES, 2): "exact",
        (turbotsne.AUTO_EXACT_MAX_SAMPLES + 1, 2): "barnes_hut",
        (turbotsne.AUTO_EXACT_MAX_SAMPLES + 1, 1): "barnes_hut",
        (turbotsne.AUTO_EXACT_MAX_SAMPLES + 1, 3): "barnes_hut",
        (turbotsne.AUTO_EXACT_MAX_SAMPLES + 1, 4): "exact",
    }
    for (n, dims), expected in cases.items():
        _, info = turbotsne.tsne(X[:n], dims, n_iter=1, return_info=True)
        assert info["method"] == expected, (n, dims)
    # FFT for 1 and 2 components from AUTO_FFT_MIN_SAMPLES on, Barnes-Hut below it and in 3-D
    fft = turbotsne.AUTO_FFT_MIN_SAMPLES
    assert turbotsne.AUTO_EXACT_MAX_SAMPLES < fft <= turbotsne.EXACT_SAMPLES_LIMIT * 10
    for (n, dims), expected in {(fft - 1, 2): "barnes_hut", (fft, 2): "fft", (fft, 1): "fft",
                                (fft - 1, 1): "barnes_hut", (fft, 3): "barnes_hut",
                                (fft, 4): "exact"}.items():
        if expected == "exact":
            with pytest.raises(ValueError, match="EXACT_SAMPLES_LIMIT"):
                turbotsne._api._resolve_method("auto", n, dims)
            continue
        assert turbotsne._api._resolve_method("auto", n, dims) == expected, (n, dims)


def test_former_threshold_names_still_read_with_a_deprecation_warning():
    for old, new in turbotsne._api.DEPRECATED_NAMES.items():
        with pytest.warns(DeprecationWarning, match=f"turbotsne.{old} is deprecated; use turbotsne.{new}"):
            assert getattr(turbotsne, old) == getattr(turbotsne, new)
        assert new in turbotsne.__all__ and old not in turbotsne.__all__
    with pytest.raises(AttributeError, match="no attribute 'EXACT_MAX'"):
        turbotsne.EXACT_MAX


@pytest.mark.parametrize("n, exaggeration", [(1200, 1.0), (1200, 3.0), (300, 1.0)])
def test_auto_learning_rate_is_n_over_each_phases_exaggeration(rng, n, exaggeration):
    # n / 12 during early exaggeration, n / exaggeration after it, at least 50 (n = 300: 50
    # early, 300 after).
    X, _ = _small(rng, n=n)
    kw = dict(n_iter=300, exaggeration=exaggeration, method="barnes_hut", random_state=0, n_jobs=1)
    auto = turbotsne.tsne(X, **kw)
    early, late = max(n / 12, 50), max(n / exaggeration, 50)
    explicit, _ = turbotsne._api._tsne(X, learning_rate=early, _optimizer={"late_learning_rate": late}, **kw)
    np.testing.assert_array_equal(auto, explicit)
    assert not np.array_equal(auto, turbotsne.tsne(X, learning_rate=early, **kw))


@pytest.mark.parametrize("n", [2, 3, 5])
def test_tiny_inputs(n):
    X = np.arange(n * 2, dtype=np.float64).reshape(n, 2) ** 1.5
    perplexity = (n - 1) / 3 - 1e-3  # as large as the neighbour count allows
    for method in ("exact", "barnes_hut", "fft"):
        Y = turbotsne.tsne(X, method=method, perplexity=perplexity, n_iter=200, random_state=0)
        assert Y.shape == (n, 2) and np.isfinite(Y).all()


def test_return_info_must_be_a_bool(digits):
    X, _ = digits
    with pytest.raises(TypeError, match="'return_info' parameter of tsne must be a bool"):
        turbotsne.tsne(X[:100], n_iter=1, return_info=1)
