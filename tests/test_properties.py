"""Property-based tests of ``turbotsne.tsne`` (hypothesis).

For any finite X (2-60 rows, 1-8 columns: floats of any magnitude from 1e-300 to the
largest double, either sign, integers of every dtype, duplicated rows, constant columns) and
any parameters from their documented ranges, ``tsne`` returns a finite float64 array of
shape (n_samples, n_components), or a ValueError for one of the documented invalid
combinations; never a crash, a hang, another exception or NaN. Invalid parameters and data
get the documented ValueError/TypeError, whose message names the parameter.

Examples are kept fast (a few iterations each). The hypothesis profile comes from
tests/conftest.py: "ci" (derandomized: the same examples on every run; chosen when the CI
environment variable is set), "dev" (the default: fresh examples each run) or "thorough"
(HYPOTHESIS_PROFILE=thorough: 20 times the examples, for a local hunt).
"""

from __future__ import annotations

import math

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import turbotsne

pytestmark = pytest.mark.usefixtures("hang_guard")

_INT_DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
               np.uint64]
_DOUBLE_MAX = np.finfo(np.float64).max


def examples(n: int) -> settings:
    """n examples under the "dev" and "ci" profiles (max_examples 100), more under "thorough"."""
    return settings(max_examples=max(1, n * settings.default.max_examples // 100))


def _magnitudes(low_exp: int, high_exp: int):
    """Floats m * 10**e with e in [low_exp, high_exp], either sign, and exact zeros."""
    scaled = st.builds(lambda m, e, s: s * m * 10.0 ** e, st.floats(1.0, 9.99),
                       st.integers(low_exp, high_exp), st.sampled_from([-1.0, 1.0]))
    return st.one_of(st.just(0.0), scaled)


_ELEMENTS = {
    # ordinary data
    "normal": st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
    # 1e-300 .. 1e300 in one matrix
    "wide": _magnitudes(-300, 299),
    # all huge or all tiny
    "huge": _magnitudes(250, 299),
    "tiny": _magnitudes(-300, -250),
    # anything finite, the largest doubles and the subnormals included
    "any": st.floats(allow_nan=False, allow_infinity=False),
    "extreme": st.sampled_from([_DOUBLE_MAX, -_DOUBLE_MAX, 5e-324, -5e-324, 0.0, 1.0]),
}


@st.composite
def data_matrices(draw, min_rows: int = 2, max_rows: int = 60):
    """Finite X with n in [min_rows, max_rows], d in 1..8, of any magnitude or integer dtype,
    often with duplicated rows and constant columns."""
    n = draw(st.integers(min_rows, max_rows), label="n")
    d = draw(st.integers(1, 8), label="d")
    kind = draw(st.sampled_from(sorted(_ELEMENTS) + ["int"]), label="kind")
    if kind == "int":
        dtype = draw(st.sampled_from(_INT_DTYPES), label="dtype")
        X = draw(hnp.arrays(dtype, (n, d)))
    else:
        X = draw(hnp.arrays(np.float64, (n, d), elements=_ELEMENTS[kind]))
    X = np.array(X)  # writable
    if n > 2 and draw(st.booleans(), label="duplicate rows"):
        src = draw(st.integers(0, n - 1))
        dst = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n))
        X[dst] = X[src]
    if draw(st.booleans(), label="constant column"):
        X[:, draw(st.integers(0, d - 1))] = X.flat[0]
    return X


def _positive(low: float, high: float):
    """Positive floats in [low, high], spread over the orders of magnitude."""
    return st.builds(lambda e: 10.0 ** e, st.floats(math.log10(low), math.log10(high)))


@st.composite
def valid_parameters(draw, n: int):
    """Keyword arguments of tsne, each from its documented range."""
    n_components = draw(st.integers(1, 3), label="n_components")
    kw = dict(
        n_components=n_components,
        method=draw(st.sampled_from(["auto", "exact", "barnes_hut", "fft"])),
        neighbors=draw(st.sampled_from(["auto", "exact", "approx"])),
        metric=draw(st.sampled_from(["euclidean", "cosine", "manhattan"])),
        # mostly allowed for this n, sometimes not (the documented ValueError)
        perplexity=draw(st.one_of(_positive(1e-3, max(float(n), 2e-3)), _positive(1e-300, 100.0))),
        learning_rate=draw(st.one_of(st.just("auto"), _positive(1e-3, 1e6))),
        n_iter=draw(st.integers(1, 30)),
        early_exaggeration=draw(_positive(1e-2, 1e3)),
        early_exaggeration_iter=draw(st.integers(0, 30)),
        exaggeration=draw(_positive(1e-2, 1e2)),
        max_step_norm=draw(st.one_of(st.none(), _positive(1e-3, 1e3))),
        dof=draw(st.one_of(st.just(1.0), _positive(1e-2, 1e3))),
        theta=draw(st.floats(0.0, 10.0)),
        n_interpolation_points=draw(st.integers(1, 8)),
        min_num_intervals=draw(st.integers(1, 100)),
        ints_in_interval=draw(_positive(0.1, 100.0)),
        random_state=draw(st.integers(0, 2**64 - 1)),
        n_jobs=draw(st.sampled_from([1, 2])),
    )
    init = draw(st.sampled_from(["pca", "random", "array"]), label="init kind")
    if init == "array":
        kw["init"] = draw(hnp.arrays(np.float64, (n, n_components),
                                     elements=st.floats(-1e4, 1e4, allow_nan=False)))
    else:
        kw["init"] = init
    return kw


def _documented_refusals(X: np.ndarray, kw: dict) -> list:
    """Words of the ValueErrors the documentation announces for this data and these
    parameters (any of them may come first)."""
    reasons = []
    if not kw["perplexity"] < X.shape[0]:
        reasons.append("perplexity")
    if kw["method"] == "fft" and kw["n_components"] > 2:
        reasons.append("method='fft'")
    if kw["metric"] == "cosine" and not X.any(axis=1).all():
        reasons.append("norm zero")
    return reasons


@given(data=st.data())
@examples(400)
def test_finite_data_and_valid_parameters_give_a_finite_embedding(data):
    X = data.draw(data_matrices(), label="X")
    kw = data.draw(valid_parameters(X.shape[0]), label="parameters")
    refusals = _documented_refusals(X, kw)
    try:
        with warnings.catch_warnings():  # perplexity in (n - 1, n): equal weights, warned
            warnings.filterwarnings("ignore", message=".*equal weights", category=UserWarning)
            Y = turbotsne.tsne(X, **kw)
    except ValueError as exc:
        assert any(words in str(exc) for words in refusals), repr(exc)
        return
    assert not refusals, "expected a ValueError"
    assert isinstance(Y, np.ndarray) and Y.dtype == np.float64
    assert Y.shape == (X.shape[0], kw["n_components"])
    assert np.isfinite(Y).all()


@given(data=st.data())
@examples(60)
def test_same_seed_same_embedding_for_any_n_jobs(data):
    """Determinism holds on degenerate data too (duplicates, constant columns, any scale)."""
    X = data.draw(data_matrices(min_rows=4), label="X")
    n = X.shape[0]
    kw = dict(
        perplexity=data.draw(st.floats(0.1, (n - 1) / 3.0), label="perplexity"),
        method=data.draw(st.sampled_from(["exact", "barnes_hut", "fft"]), label="method"),
        neighbors=data.draw(st.sampled_from(["exact", "approx"]), label="neighbors"),
        init=data.draw(st.sampled_from(["pca", "random"]), label="init"),
        n_iter=20, early_exaggeration_iter=10, random_state=data.draw(st.integers(0, 2**32)),
    )
    Y1 = turbotsne.tsne(X, n_jobs=1, **kw)
    Y2 = turbotsne.tsne(X, n_jobs=2, **kw)
    assert np.isfinite(Y1).all()
    assert np.array_equal(Y1, Y2)


# ---------------------------------------------------------------------------------------
# Invalid parameters and data: the documented error type, naming what is wrong.

_X = np.random.default_rng(0).normal(size=(30, 3))

_NOT_REAL = st.one_of(st.text(max_size=4), st.none(), st.just([1.0]), st.just(1j),
                      st.just(object()), st.booleans())
_NOT_INT = st.one_of(_NOT_REAL, st.floats(allow_nan=True), st.just(np.float64(2.0)))
_NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
_NOT_POSITIVE = st.one_of(st.floats(max_value=0.0), _NON_FINITE)
_NEGATIVE = st.one_of(st.floats(max_value=0.0, exclude_max=True), _NON_FINITE)


def _bad_choice(choices):
    return st.one_of(st.text(max_size=8).filter(lambda s: s not in choices), st.integers(),
                     st.none(), st.just(["exact"]))


# parameter -> invalid values (with perplexity 5 on 30 samples the rest is valid)
_INVALID = {
    "n_components": st.one_of(st.integers(max_value=0), _NOT_INT),
    "perplexity": st.one_of(_NOT_POSITIVE, _NOT_REAL, st.floats(10.0, 1e300)),
    "method": _bad_choice({"auto", "exact", "barnes_hut", "fft"}),
    "neighbors": _bad_choice({"auto", "exact", "approx"}),
    "metric": _bad_choice({"euclidean", "cosine", "manhattan", "precomputed"}),
    "learning_rate": st.one_of(_NOT_POSITIVE, st.text(max_size=6).filter(lambda s: s != "auto"),
                               st.none(), st.just(1j)),
    "n_iter": st.one_of(st.integers(max_value=0), _NOT_INT),
    "early_exaggeration": st.one_of(_NOT_POSITIVE, _NOT_REAL),
    "early_exaggeration_iter": st.one_of(st.integers(max_value=-1), _NOT_INT),
    "exaggeration": st.one_of(_NOT_POSITIVE, _NOT_REAL),
    "max_step_norm": st.one_of(_NOT_POSITIVE, st.text(max_size=3), st.just(1j)),
    "dof": st.one_of(_NOT_POSITIVE, _NOT_REAL),
    "theta": st.one_of(_NEGATIVE, _NOT_REAL),
    "n_interpolation_points": st.one_of(st.integers(max_value=0), st.integers(11), _NOT_INT),
    "min_num_intervals": st.one_of(st.integers(max_value=0), st.integers(1001), _NOT_INT),
    "ints_in_interval": st.one_of(_NOT_POSITIVE, _NOT_REAL),
    "random_state": st.one_of(st.integers(max_value=-1), st.integers(min_value=2**64),
                              st.floats(), st.text(max_size=3), st.just([1])),
    "n_jobs": st.one_of(st.just(0), _NOT_INT),
    "callback_every": st.one_of(st.integers(max_value=0), _NOT_INT),
    "callback": st.one_of(st.integers(), st.text(max_size=3)),
}


@given(data=st.data(), name=st.sampled_from(sorted(_INVALID)))
@examples(300)
def test_an_invalid_parameter_is_refused_by_name(data, name):
    value = data.draw(_INVALID[name], label=name)
    with pytest.raises((ValueError, TypeError)) as info:
        turbotsne.tsne(_X, perplexity=5.0, n_iter=3, **{name: value})
    assert name in str(info.value)


@given(init=st.one_of(
    # wrong shape
    hnp.arrays(np.float64, st.tuples(st.integers(0, 40).filter(lambda k: k != 30), st.just(2))),
    hnp.arrays(np.float64, st.tuples(st.just(30), st.integers(0, 4).filter(lambda k: k != 2))),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=4, max_side=4)),
    # not finite
    hnp.arrays(np.float64, (30, 2), elements=st.floats()).filter(lambda a: not np.isfinite(a).all()),
    # wrong dtype
    hnp.arrays(st.sampled_from([np.complex128, np.str_, np.object_, np.datetime64]), (30, 2)),
    # not an array, or an unknown name
    st.lists(st.lists(st.floats(), min_size=2, max_size=2), min_size=30, max_size=30),
    st.text(max_size=8).filter(lambda s: s not in ("pca", "random")),
    st.none(), st.integers(),
))
@examples(80)
def test_an_invalid_init_is_refused_by_name(init):
    with pytest.raises((ValueError, TypeError)) as info:
        turbotsne.tsne(_X, perplexity=5.0, n_iter=3, init=init)
    assert "init" in str(info.value)


@given(X=st.one_of(
    # non-finite values
    hnp.arrays(np.float64, st.tuples(st.integers(2, 20), st.integers(1, 4)),
               elements=st.floats()).filter(lambda a: not np.isfinite(a).all()),
    hnp.arrays(np.float32, (10, 2), elements=st.floats(width=32)).filter(
        lambda a: not np.isfinite(a).all()),
    # empty, a single row, no columns
    hnp.arrays(np.float64, st.tuples(st.integers(0, 1), st.integers(0, 4))),
    hnp.arrays(np.float64, st.tuples(st.integers(2, 5), st.just(0))),
    # not 2-D
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=1, max_side=10)),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=3, max_dims=4, min_side=1, max_side=4)),
    # not real numbers
    hnp.arrays(st.sampled_from([np.complex128, np.str_, np.object_, np.datetime64]), (10, 2)),
    st.lists(st.text(max_size=3), min_size=2, max_size=5),
    st.lists(st.lists(st.floats(-1, 1), min_size=1, max_size=3), min_size=2, max_size=5).filter(
        lambda rows: len({len(r) for r in rows}) > 1),  # ragged
    st.none(), st.text(max_size=5), st.integers(),
))
@examples(100)
def test_invalid_data_is_refused_by_name(X):
    with pytest.raises((ValueError, TypeError)) as info:
        turbotsne.tsne(X, perplexity=0.3, n_iter=3)
    assert "X" in str(info.value)
