"""turbotsne.TSNE: the scikit-learn compatible estimator and its transform."""

import copy
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import turbotsne
from turbotsne import TSNE


def pca50(X):
    Xc = X - X.mean(0)
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    return np.ascontiguousarray(Xc @ vt[:50].T)


def knn_accuracy(train, train_labels, test, test_labels, k=10):
    """Majority vote of the k nearest training points (ties to the smaller label), in numpy."""
    d2 = (test ** 2).sum(1)[:, None] - 2 * test @ train.T + (train ** 2).sum(1)[None]
    nearest = np.argsort(d2, axis=1, kind="stable")[:, :k]
    votes = np.zeros((len(test), train_labels.max() + 1), dtype=int)
    np.add.at(votes, (np.repeat(np.arange(len(test)), k), train_labels[nearest].ravel()), 1)
    return float(np.mean(votes.argmax(1) == test_labels))


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(4, 8)) * 6
    labels = np.repeat(np.arange(4), 60)
    return centers[labels] + rng.normal(size=(240, 8)), labels


def test_fit_sets_the_scikit_learn_attributes(small):
    X, _ = small
    est = TSNE(random_state=0, max_iter=300, method="exact")
    assert est.fit(X) is est
    assert est.embedding_.shape == (240, 2) and np.isfinite(est.embedding_).all()
    assert est.n_iter_ == 300
    assert est.n_features_in_ == 8
    assert est.learning_rate_ == pytest.approx(max(240 / 12, 50) / 4)  # tsne()'s rule, sklearn's scale
    P = turbotsne.joint_probabilities(X, perplexity=30)
    assert est.kl_divergence_ == pytest.approx(turbotsne.kl_divergence(P, est.embedding_), rel=1e-6)


def test_fit_transform_is_tsne_with_the_learning_rate_on_scikit_learns_scale(small):
    X, _ = small
    Y = TSNE(learning_rate=30.0, max_iter=200, random_state=1, angle=0.3, n_jobs=1).fit_transform(X)
    want = turbotsne.tsne(X, learning_rate=120.0, n_iter=200, random_state=1, theta=0.3, n_jobs=1)
    np.testing.assert_array_equal(Y, want)


def test_get_params_set_params_round_trip():
    est = TSNE(perplexity=12.0, method="fft")
    params = est.get_params()
    assert params["perplexity"] == 12.0 and params["method"] == "fft"
    assert set(params) >= {"n_components", "perplexity", "early_exaggeration", "learning_rate",
                           "max_iter", "metric", "init", "verbose", "random_state", "method",
                           "angle", "n_jobs"}
    other = TSNE().set_params(**params)
    assert other.get_params() == params
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(not_a_parameter=1)


def test_clone_keeps_the_parameters_and_drops_the_fit(small):
    from sklearn.base import clone

    est = TSNE(perplexity=10, random_state=0, max_iter=100).fit(small[0])
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "embedding_")


def test_scikit_learn_parameter_names_are_accepted_as_in_scikit_learn():
    from sklearn.manifold import TSNE as SklearnTSNE

    ours = TSNE().get_params()
    theirs = SklearnTSNE().get_params()
    shared = {"n_components", "perplexity", "early_exaggeration", "learning_rate", "max_iter",
              "metric", "init", "verbose", "random_state", "method", "angle", "n_jobs"}
    assert shared <= set(ours) and shared <= set(theirs)


def test_works_without_scikit_learn_installed():
    code = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None          # any import of scikit-learn now fails
        import numpy as np
        from turbotsne import TSNE, NotFittedError
        X = np.random.default_rng(0).normal(size=(120, 5))
        est = TSNE(perplexity=10, random_state=0, max_iter=100)
        try:
            est.transform(X)
        except NotFittedError as exc:
            assert isinstance(exc, ValueError) and isinstance(exc, AttributeError)
        else:
            raise AssertionError("transform before fit did not raise")
        Y = est.fit_transform(X)
        assert Y.shape == (120, 2) and np.isfinite(Y).all()
        assert est.transform(X[:7]).shape == (7, 2)
        assert est.set_params(perplexity=5).get_params()["perplexity"] == 5
        assert "perplexity=5" in repr(est)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_default_perplexity_works_on_small_data_as_in_scikit_learn(rng):
    # perplexity 30 on 40 samples: every other point is a neighbour (scikit-learn's rule);
    # transform then uses all 40 fitted points as the neighbours of each new point
    X = rng.normal(size=(40, 3))
    est = TSNE(random_state=0, max_iter=100).fit(X)
    assert np.isfinite(est.embedding_).all()
    new = X[:4] + 0.01
    start = est.transform(new, n_iter=0)
    P = turbotsne._core.calibrate_rows(np.ascontiguousarray(
        ((new[:, None, :] - X[None]) ** 2).sum(-1)), 30.0)[0]
    np.testing.assert_allclose(start, P @ est.embedding_, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="perplexity \\(40\\) is too large for transform with 40 fitted"):
        est.transform(new, perplexity=40.0)
    with pytest.raises(ValueError, match="perplexity \\(40\\) is too large for 40 samples"):
        TSNE(perplexity=40.0).fit(X)


# ------------------------------------------------------------------------------- transform

@pytest.fixture(scope="module")
def digits_split(digits):
    X, y = digits
    X = pca50(X)
    order = np.random.default_rng(0).permutation(len(X))
    test, train = order[: len(X) // 10], order[len(X) // 10:]
    est = TSNE(random_state=0).fit(X[train])
    return est, X[train], y[train], X[test], y[test]


def test_transform_of_held_out_digits_classifies_like_the_input_space(digits_split):
    est, X_train, y_train, X_test, y_test = digits_split
    Y_test = est.transform(X_test)
    assert Y_test.shape == (len(X_test), 2) and np.isfinite(Y_test).all()
    in_embedding = knn_accuracy(est.embedding_, y_train, Y_test, y_test)
    in_input = knn_accuracy(X_train, y_train, X_test, y_test)
    assert in_embedding >= in_input - 0.03, (in_embedding, in_input)


def test_transform_is_deterministic_and_independent_of_batching_and_threads(digits_split):
    est, _, _, X_test, _ = digits_split
    first = est.transform(X_test)
    np.testing.assert_array_equal(est.transform(X_test), first)
    np.testing.assert_array_equal(est.transform(X_test[:5]), first[:5])
    one_thread = copy.copy(est)
    one_thread.n_jobs = 1
    np.testing.assert_array_equal(one_thread.transform(X_test), first)


def test_transform_optimisation_improves_on_the_weighted_mean_start(digits_split):
    est, X_train, y_train, X_test, y_test = digits_split
    start = est.transform(X_test, n_iter=0)
    moved = est.transform(X_test)
    assert not np.array_equal(start, moved)
    assert knn_accuracy(est.embedding_, y_train, moved, y_test) >= \
        knn_accuracy(est.embedding_, y_train, start, y_test)


def test_transform_of_a_training_point_lands_near_its_own_position(digits_split):
    est, X_train, _, _, _ = digits_split
    Y = est.transform(X_train[:50])
    spread = np.ptp(est.embedding_, axis=0).max()
    assert np.median(np.linalg.norm(Y - est.embedding_[:50], axis=1)) < 0.02 * spread


def test_transform_errors(digits_split, small):
    est = digits_split[0]
    with pytest.raises(ValueError, match="X has 3 features, but TSNE is expecting 50 features"):
        est.transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n_iter"):
        est.transform(digits_split[3][:2], n_iter=-1)
    with pytest.raises(ValueError, match="learning_rate"):
        est.transform(digits_split[3][:2], learning_rate=0)
    with pytest.raises(ValueError, match="NaN|finite"):
        est.transform(np.full((2, 50), np.nan))
    with pytest.raises(turbotsne.NotFittedError, match="not fitted"):
        TSNE().transform(small[0])


def test_precomputed_distances_fit_and_transform(small):
    X, labels = small
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    est = TSNE(metric="precomputed", init="random", random_state=0, max_iter=300).fit(D[:200, :200])
    Y = est.transform(D[200:, :200])
    assert Y.shape == (40, 2)
    assert knn_accuracy(est.embedding_, labels[:200], Y, labels[200:]) >= 0.95
    with pytest.raises(ValueError, match="200"):
        est.transform(D[200:, :150])


def test_estimator_errors_name_the_parameter(small):
    X, _ = small
    for params, name in [(dict(perplexity=-1), "perplexity"), (dict(learning_rate="fast"), "learning_rate"),
                         (dict(max_iter=0), "max_iter"), (dict(method="bh"), "method"),
                         (dict(angle=-1.0), "theta|angle"), (dict(n_jobs=0), "n_jobs"),
                         (dict(early_exaggeration=0), "early_exaggeration")]:
        with pytest.raises((ValueError, TypeError), match=name):
            TSNE(**params).fit(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    from turbotsne._estimator import EXPECTED_FAILED_CHECKS

    check_estimator(TSNE(perplexity=2, max_iter=300, random_state=0, n_jobs=1),
                    expected_failed_checks=EXPECTED_FAILED_CHECKS)


# ------------------------------------------------------------ scikit-learn conventions

def test_feature_names_and_pandas_output(small):
    pd = pytest.importorskip("pandas")
    X, _ = small
    frame = pd.DataFrame(X[:, :6], columns=[f"gene{i}" for i in range(6)])
    est = TSNE(perplexity=10, max_iter=100, random_state=0).set_output(transform="pandas")
    out = est.fit_transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["tsne0", "tsne1"]
    assert list(est.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(out.to_numpy(), est.embedding_)
    assert list(est.get_feature_names_out()) == ["tsne0", "tsne1"]
    moved = est.transform(frame.iloc[:5])
    assert isinstance(moved, pd.DataFrame) and list(moved.index) == list(range(5))
    with pytest.raises(ValueError, match="(?s)feature names should match.*same order"):
        est.transform(frame.iloc[:5, ::-1])
    with pytest.raises(ValueError, match="(?s)feature names should match.*unseen at fit time:\n- other"):
        est.transform(frame.iloc[:5].rename(columns={"gene0": "other"}))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.transform(frame.iloc[:5].to_numpy())
    with pytest.raises(TypeError, match="only supported if all input features have string names"):
        TSNE(perplexity=10, max_iter=50).fit(frame.set_axis(["a", 1, 2, 3, 4, 5], axis=1))
    plain = TSNE(perplexity=10, max_iter=50, random_state=0).fit(X[:, :6])
    assert not hasattr(plain, "feature_names_in_")
    with pytest.raises(ValueError, match="input_features should have length equal to number of features \\(6\\)"):
        plain.get_feature_names_out(["a"])


def test_stopping_rules_of_scikit_learn(small):
    X, _ = small
    base = dict(perplexity=10, max_iter=750, random_state=0)
    full = TSNE(**base).fit(X)
    assert full.n_iter_ == 750
    # the defaults (None) never stop a run early: the same embedding as before the options
    np.testing.assert_array_equal(TSNE(**base, n_iter_without_progress=None).fit_transform(X),
                                  full.embedding_)
    # a gradient-norm threshold above any norm stops at the first check (iteration 50)
    assert TSNE(**base, min_grad_norm=1e9).fit(X).n_iter_ == 50
    # no patience: stops at the first check whose KL is not below the best one after early
    # exaggeration (a learning rate far too large makes the KL rise, as in scikit-learn's test)
    seen = []
    diverging = dict(base, max_iter=1000, learning_rate=1e6, max_step_norm=None,
                     early_exaggeration_iter=0, method="exact")
    TSNE(**diverging, callback_every=50, callback=lambda it, kl, Y: seen.append(kl)).fit(X)
    rise = next(i for i in range(1, len(seen)) if seen[i] >= min(seen[:i]))
    best = int(np.argmin(seen[:rise]))  # the best KL before the first rise
    assert TSNE(**diverging, n_iter_without_progress=-1).fit(X).n_iter_ == 50 * (rise + 1) < 1000
    # with patience 50: stops at the first check more than 50 iterations after the best
    later = next(i for i in range(best + 2, len(seen)) if min(seen[best + 1:i + 1]) >= seen[best])
    assert TSNE(**diverging, n_iter_without_progress=50).fit(X).n_iter_ == 50 * (later + 1)


def test_stopping_rule_on_a_given_kl_sequence():
    from turbotsne._api import _stopping_rule
    kls = {50: 9.0, 100: 5.0, 150: 4.0, 200: 4.5, 250: 3.9, 300: 4.0, 350: 4.1, 400: 4.2}

    def first_stop(rule):
        return next((it for it, kl in kls.items() if rule(it, kl, 1.0)), None)

    assert first_stop(_stopping_rule(None, None, 100) or (lambda *a: False)) is None
    assert first_stop(_stopping_rule(-1, None, 100)) == 200      # 200: not below 4.0
    assert first_stop(_stopping_rule(-1, None, 150)) == 300      # best counted after 150 only
    assert first_stop(_stopping_rule(100, None, 0)) == 400      # best 3.9 at 250, 400 - 250 > 100
    assert first_stop(_stopping_rule(None, 4.0, 0, grad_scale=4.0)) == 50  # 4 * 1.0 <= 4
    assert first_stop(_stopping_rule(None, 3.9, 0, grad_scale=4.0)) is None


def test_callback_and_affinities_as_in_tsne(small):
    X, _ = small
    P = turbotsne.joint_probabilities(X, perplexity=10)
    ref = turbotsne.tsne(X, perplexity=10, n_iter=200, random_state=0, learning_rate=400.0)
    est = TSNE(affinities=P, max_iter=200, random_state=0, learning_rate=100.0)
    np.testing.assert_array_equal(est.fit_transform(X), ref)
    calls = []
    TSNE(perplexity=10, max_iter=200, random_state=0,
         callback=lambda it, kl, Y: calls.append(it) or it >= 100, callback_every=25).fit(X)
    assert calls == [25, 50, 75, 100]
    no_data = TSNE(affinities=P, init="random", max_iter=100, random_state=0).fit(None)
    assert no_data.embedding_.shape == (len(X), 2)
    with pytest.raises(ValueError, match="transform needs the data of the fit"):
        no_data.transform(X[:3])
