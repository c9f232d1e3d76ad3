"""Every invalid input gets a TypeError/ValueError naming the parameter, before any C++ runs."""

import time

import numpy as np
import pytest
import scipy.sparse

import turbotsne
from turbotsne import _core

X = np.random.default_rng(0).normal(size=(100, 3))


@pytest.mark.parametrize(
    "data,error,match",
    [
        (np.zeros(10), ValueError, "X must be 2-D"),
        (np.zeros((2, 3, 4)), ValueError, "X must be 2-D"),
        (np.zeros((1, 3)), ValueError, "at least 2 samples"),
        (np.zeros((5, 0)), ValueError, "at least 1 feature"),
        (np.array([[1.0, np.nan]] * 5), ValueError, "X must be finite"),
        (np.array([[1.0, np.inf]] * 5), ValueError, "X must be finite"),
        (np.array([["a", "b"]] * 5), TypeError, "real numbers"),
        (np.ones((5, 2), dtype=complex), TypeError, "real numbers"),
        (np.ones((5, 2), dtype=object), TypeError, "real numbers"),
        (scipy.sparse.csr_matrix(np.array([[1.0, np.nan]] * 5)), ValueError,
         "X must be finite.*at row 0, column 1"),
        (scipy.sparse.csr_matrix((1, 3)), ValueError, "at least 2 samples"),
        (scipy.sparse.csr_matrix(np.ones((5, 2), dtype=complex)), TypeError, "real numbers"),
        ([[1, 2], [3]], ValueError, "could not be converted"),
    ],
)
def test_invalid_data(data, error, match):
    with pytest.raises(error, match=match):
        turbotsne.tsne(data)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"perplexity": 0}, ValueError, "'perplexity'.*range \\(0"),
        ({"perplexity": -1.0}, ValueError, "'perplexity'"),
        ({"perplexity": np.nan}, ValueError, "'perplexity'"),
        ({"perplexity": "30"}, TypeError, "'perplexity'"),
        ({"perplexity": 100}, ValueError, "perplexity \\(100\\) is too large for 100 samples"),
        ({"n_components": 0}, ValueError, "'n_components'"),
        ({"n_components": 2.0}, TypeError, "'n_components'"),
        ({"n_components": True}, TypeError, "'n_components'"),
        ({"n_components": 4, "method": "barnes_hut"}, ValueError, "n_components in \\{1, 2, 3\\}"),
        ({"method": "fast"}, ValueError, "'method'.*'exact'"),
        ({"method": None}, TypeError, "'method'"),
        ({"init": "laplacian"}, ValueError, "'init'"),
        ({"init": np.zeros((100, 3))}, ValueError, "init must have shape \\(n_samples, n_components\\) = \\(100, 2\\)"),
        ({"init": np.full((100, 2), np.nan)}, ValueError, "init must be finite"),
        ({"init": [[0, 0]] * 100}, TypeError, "init must be a numpy array"),
        ({"learning_rate": 0}, ValueError, "'learning_rate'"),
        ({"learning_rate": "fast"}, ValueError, "'learning_rate'"),
        ({"learning_rate": np.inf}, ValueError, "'learning_rate'"),
        ({"n_iter": 0}, ValueError, "'n_iter'"),
        ({"n_iter": 10.5}, TypeError, "'n_iter'"),
        ({"early_exaggeration": 0}, ValueError, "'early_exaggeration'"),
        ({"early_exaggeration_iter": -1}, ValueError, "'early_exaggeration_iter'"),
        ({"exaggeration": -2}, ValueError, "'exaggeration'"),
        ({"dof": 0}, ValueError, "'dof'"),
        ({"max_step_norm": 0}, ValueError, "'max_step_norm'"),
        ({"max_step_norm": np.nan}, ValueError, "'max_step_norm'"),
        ({"max_step_norm": "5"}, TypeError, "'max_step_norm'"),
        ({"theta": -0.1}, ValueError, "'theta'"),
        ({"theta": np.inf}, ValueError, "'theta'"),
        ({"random_state": -1}, ValueError, "'random_state'"),
        ({"random_state": 1.5}, TypeError, "'random_state'"),
        ({"random_state": 2**64}, ValueError, "'random_state'"),
        ({"n_jobs": 0}, ValueError, "'n_jobs'"),
        ({"n_jobs": 1.0}, TypeError, "'n_jobs'"),
        ({"callback": 3}, TypeError, "'callback'"),
        ({"callback_every": 0}, ValueError, "'callback_every'"),
        ({"method": "fft", "n_components": 3}, ValueError, "n_components in \\{1, 2\\}"),
        ({"n_interpolation_points": 0}, ValueError, "'n_interpolation_points'"),
        ({"n_interpolation_points": 11}, ValueError, "'n_interpolation_points'"),
        ({"n_interpolation_points": 3.0}, TypeError, "'n_interpolation_points'"),
        ({"min_num_intervals": 0}, ValueError, "'min_num_intervals'"),
        ({"ints_in_interval": 0.0}, ValueError, "'ints_in_interval'"),
        ({"ints_in_interval": np.nan}, ValueError, "'ints_in_interval'"),
    ],
)
def test_invalid_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        turbotsne.tsne(X, **kwargs)


def test_messages_name_the_value_received():
    with pytest.raises(ValueError) as info:
        turbotsne.tsne(X, perplexity=-3)
    assert "Got -3.0 instead" in str(info.value)


@pytest.mark.parametrize(
    "func,kwargs,match",
    [
        (turbotsne.joint_probabilities, {"perplexity": 100}, "too large"),
        (turbotsne.joint_probabilities, {"n_jobs": 0}, "'n_jobs'"),
    ],
)
def test_other_functions_validate_too(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(X, **kwargs)


def test_kl_divergence_validates_y_and_dof():
    P = turbotsne.joint_probabilities(X, perplexity=5)
    with pytest.raises(ValueError, match="Y must be finite"):
        turbotsne.kl_divergence(P, np.full((100, 2), np.nan))
    with pytest.raises(ValueError, match="'dof'"):
        turbotsne.kl_divergence(P, np.zeros((100, 2)), dof=-1)


def test_numpy_scalars_are_accepted():
    Y = turbotsne.tsne(X, n_components=np.int64(2), perplexity=np.float32(5), n_iter=np.int32(20))
    assert Y.shape == (100, 2)


@pytest.mark.parametrize("kwargs", [{"method": "exact"}, {"method": "auto", "n_components": 4}])
def test_exact_refuses_more_samples_than_its_limit(kwargs):
    n = turbotsne.EXACT_SAMPLES_LIMIT + 1
    big = np.random.default_rng(0).normal(size=(n, 3))
    start = time.perf_counter()
    with pytest.raises(ValueError, match="EXACT_SAMPLES_LIMIT = 20000 samples; got n_samples=20001"):
        turbotsne.tsne(big, **kwargs)
    assert time.perf_counter() - start < 5.0  # refused before any O(n²) work starts
    # the same call on fewer samples runs
    assert turbotsne.tsne(big[:200], n_iter=10, **kwargs).shape == (200, kwargs.get("n_components", 2))


def test_constraint_tables_give_the_checks_own_messages():
    from turbotsne._validation import (CallableOrNone, Choice, ChoiceOrArray, Int, Jobs, NoneOr,
                                       Real, Seed, WordOr, check_choice, check_int, check_n_jobs,
                                       check_params, check_real, check_seed)
    cases = [
        (Choice(("a", "b")), "c", lambda v: check_choice(v, "x", ("a", "b"))),
        (Choice(("a", "b")), 1, lambda v: check_choice(v, "x", ("a", "b"))),
        (ChoiceOrArray(("a", "b")), "c", lambda v: check_choice(v, "x", ("a", "b"))),
        (Seed(), -1, lambda v: check_seed(v)),
        (Jobs(), 0, lambda v: check_n_jobs(v)),
        (Int(1), 0, lambda v: check_int(v, "x", min_value=1)),
        (Int(1, 10), 2.5, lambda v: check_int(v, "x", min_value=1, max_value=10)),
        (Real(0.0, lo_open=True), 0.0, lambda v: check_real(v, "x", min_value=0.0, min_open=True)),
        (NoneOr(Real(0.0, lo_open=True)), -1.0, lambda v: check_real(v, "x", min_value=0.0, min_open=True)),
        (WordOr(("auto",), Real(0.0, lo_open=True)), "fast", lambda v: check_choice(v, "x", ("auto",))),
        (WordOr(("auto",), Real(0.0, lo_open=True)), -3.0, lambda v: check_real(v, "x", min_value=0.0, min_open=True)),
    ]
    for rule, bad, check in cases:
        with pytest.raises((TypeError, ValueError)) as ours:
            check_params({"x": bad}, {"x": rule}, owner="tsne")
        with pytest.raises((TypeError, ValueError)) as theirs:
            check(bad)
        assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
    assert check_params({"a": None, "b": "auto", "c": 3}, {"a": NoneOr(Int(1)), "b": WordOr(("auto",), Real()),
                                                           "c": Int(1)}, owner="tsne") == {"a": None, "b": None, "c": 3}
    # the first violation in the table's order is the one reported
    with pytest.raises(ValueError, match="'first'"):
        check_params({"first": 0, "second": 0}, {"first": Int(1), "second": Int(1)}, owner="tsne")
    with pytest.raises(TypeError, match="'x' parameter of tsne must be callable or None"):
        check_params({"x": 3}, {"x": CallableOrNone()}, owner="tsne")
    array = np.zeros((2, 2))
    got = check_params({"i": array, "s": 7, "j": 2, "c": print},
                       {"i": ChoiceOrArray(("a",)), "s": Seed(), "j": Jobs(), "c": CallableOrNone()},
                       owner="tsne")
    assert got["i"] is array and got["s"] == 7 and got["j"] == 2 and got["c"] is print


def _bad_value(rule):
    """A value each kind of constraint refuses."""
    from turbotsne import _validation as v
    if isinstance(rule, (v.NoneOr, v.WordOr)):
        return "not-a-value" if isinstance(rule, v.NoneOr) else -1.0
    from turbotsne._metrics import MetricRule
    return {v.Int: 0.5, v.Real: "x", v.Choice: "nope", v.ChoiceOrArray: "nope", v.Seed: 1.5,
            v.Jobs: 0, v.CallableOrNone: 3, MetricRule: "nope"}[type(rule)]


def _fitted_tsne():
    return turbotsne.TSNE(perplexity=5, max_iter=20, random_state=0).fit(X)


def _entry_points():
    from turbotsne import _api, _contrastive, _estimator
    run = _api._RUN_CONSTRAINTS
    tsne_table = {**run, "method": None, **_api._REPULSION_CONSTRAINTS, **_api._OPTIMIZER_CONSTRAINTS}
    contrastive_table = {**run, **_contrastive._OPTIMIZER_CONSTRAINTS}
    spectrum_names = ("metric", "neighbors", "n_jobs", "random_state", "perplexity", "n_components",
                      "init", "n_negatives", "n_epochs", "learning_rate", "dof")
    joint_names = ("metric", "neighbors", "n_jobs", "random_state", "perplexity")
    from turbotsne._validation import Choice
    tsne_table["method"] = Choice(_api._METHODS)
    return [
        ("tsne", lambda data, **kw: turbotsne.tsne(data, **kw), tsne_table),
        ("contrastive_embedding", lambda data, **kw: turbotsne.contrastive_embedding(data, **kw),
         contrastive_table),
        ("spectrum", lambda data, **kw: turbotsne.spectrum(data, **kw),
         {k: contrastive_table[k] for k in spectrum_names}),
        ("joint_probabilities", lambda data, **kw: turbotsne.joint_probabilities(data, **kw),
         {k: run[k] for k in joint_names}),
        ("TSNE", lambda data, **kw: turbotsne.TSNE(**kw).fit(data), _estimator._FIT_CONSTRAINTS),
        ("TSNE.transform", lambda data, **kw: _fitted_tsne().transform(data, **kw),
         _estimator._TRANSFORM_CONSTRAINTS),
    ]


@pytest.mark.parametrize("owner,call,table", _entry_points(), ids=lambda e: e if isinstance(e, str) else "")
def test_every_table_entry_is_checked_before_the_input(owner, call, table):
    # Each parameter of each entry point's tables is refused by name, with the entry point as
    # its owner, even when the data are bad too: the parameters are checked first.
    bad_data = np.full((100, 3), np.nan)
    for name, rule in table.items():
        with pytest.raises((TypeError, ValueError), match=f"'{name}' parameter of {owner}"):
            call(bad_data, **{name: _bad_value(rule)})


@pytest.mark.parametrize(
    "setup,match",
    [
        (lambda p: setattr(p, "method", _core.Method.barnes_hut) or setattr(p.repulsion, "theta", -1.0),
         "theta must be finite and >= 0"),
        (lambda p: setattr(p, "method", _core.Method.fft) or setattr(p.repulsion.interpolation, "n_interpolation_points", 0),
         "n_interpolation_points must be in"),
        (lambda p: setattr(p, "method", _core.Method.fft) or setattr(p, "n_components", 3),
         "FFT method supports 1 or 2 embedding dimensions"),
        (lambda p: setattr(p, "dof", 0.0), "dof must be positive and finite"),
        (lambda p: setattr(p.optimizer, "n_iter", 0), "n_iter must be >= 1"),
        (lambda p: setattr(p.neighbors, "method", _core.NeighborMethod.approximate) or
         setattr(p.neighbors.approximate, "n_trees", 0), "n_trees must be >= 1"),
        (lambda p: setattr(p, "perplexity", 100.0), "less than n_samples"),
    ],
    ids=["theta", "interpolation", "fft_dims", "dof", "n_iter", "n_trees", "perplexity"],
)
def test_core_entry_point_refuses_what_a_cpp_caller_could_break_before_any_work(setup, match):
    # The C++ checks, reached directly (as the harness would): each refused by its owner
    # (the parameters' validate, the repulsion's constructor, the neighbour search's start)
    # before any stage has done work.
    params = _core.TsneParams()
    params.n_components = 2
    params.perplexity = 5.0
    params.init = _core.Init.random
    params.optimizer.n_iter = 10
    setup(params)
    data = np.random.default_rng(0).normal(size=(100, 3))
    Y = np.zeros((100, params.n_components))
    events = []
    with pytest.raises(ValueError, match=match):
        _core.tsne(data, Y, params, None, [], lambda *a: events.append(a), lambda *a: events.append(a))
    assert events == []
