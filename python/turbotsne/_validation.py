"""Validation of user input, done once before any C++ runs.

Every failure is a ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, wrong
value) whose message names the parameter, the value received and what was expected.
"""

from __future__ import annotations

import numbers
import os
from typing import Any, NamedTuple, Optional

import numpy as np
import scipy.sparse

__all__ = [
    "check_data",
    "check_embedding",
    "check_int",
    "check_real",
    "check_choice",
    "check_seed",
    "check_n_jobs",
    "check_affinity_matrix",
    "check_affinities",
    "check_cosine_rows",
    "check_precomputed",
    "in_safe_range",
    "safe_exponent",
]

#: Data whose largest magnitude lies in [2**-SAFE_EXPONENT, 2**SAFE_EXPONENT] (about 4e-121 to
#: 3e120) is used as it is. Beyond, squared distances and PCA's covariances would overflow to
#: inf (and give NaN affinities) or underflow to 0 (and make distinct points identical), so
#: such data is first multiplied by a power of two, which is exact in floating point.
SAFE_EXPONENT = 400


def _fmt(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_data(X, *, name: str = "X", min_samples: int = 2, dtype=np.float64) -> np.ndarray:
    """Return ``X`` as a 2-D C-contiguous array of ``dtype`` (float64, or float32 where the
    caller can use it), copying only when needed.

    C-contiguous input of that dtype is returned as it is (no copy); other floats, integer,
    boolean and Fortran-ordered input is converted once.
    """
    if scipy.sparse.issparse(X):
        raise TypeError(
            f"{name} must be a dense array; got a scipy.sparse matrix. "
            f"Convert it with {name}.toarray() (or reduce it with TruncatedSVD first)."
        )
    if isinstance(X, np.ndarray):
        arr = X
    else:
        try:
            arr = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"{name} could not be converted to a numeric array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers (bool, integer or float); got dtype {arr.dtype}."
        )
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got {arr.ndim}-D with shape {arr.shape}."
            + (" Reshape your data: X.reshape(-1, 1) if it has a single feature, X.reshape(1, -1)"
               " if it is a single sample." if arr.ndim == 1 else "")
        )
    n, d = arr.shape
    if n < min_samples:
        raise ValueError(f"{name} must have at least {min_samples} samples (rows); got {n} "
                         f"sample(s) (shape={arr.shape}).")
    if d < 1:
        raise ValueError(f"{name} must have at least 1 feature (column); got 0 feature(s) "
                         f"(shape={arr.shape}) while a minimum of 1 is required.")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not _all_finite(arr):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name} must be finite (no NaN or inf); found {arr[tuple(bad)]} at row {bad[0]}, "
            f"column {bad[1]}."
        )
    return arr


def _all_finite(arr: np.ndarray, rows: int = 1 << 16) -> bool:
    """Whether every value of a 2-D array is finite, checked in blocks of rows (no mask the
    size of the data: 500 MB for 10 million float32 rows of 50)."""
    return all(np.isfinite(arr[i:i + rows]).all() for i in range(0, arr.shape[0], rows))


def _exponents(top: np.ndarray) -> np.ndarray:
    """Per largest magnitude: 0 when it is 0 or in the safe range, else the power of two
    that brings it into [0.5, 1)."""
    top = np.asarray(top, dtype=np.float64)
    out = np.zeros(top.shape, dtype=np.int32)
    outside = (top > 0.0) & ((top < 2.0**-SAFE_EXPONENT) | (top > 2.0**SAFE_EXPONENT))
    out[outside] = -np.frexp(top[outside])[1]
    return out


def _largest_magnitude(a, axis=None):
    """max |a| without a temporary copy of a (a is real, finite and not empty)."""
    return np.maximum(np.max(a, axis=axis), -np.min(a, axis=axis))


def safe_exponent(*arrays: np.ndarray) -> int:
    """The power of two that in_safe_range would apply to all these arrays together."""
    top = max((float(_largest_magnitude(a)) for a in arrays if a.size), default=0.0)
    return int(_exponents(top))


def in_safe_range(X: np.ndarray, *, per_row: bool = False) -> np.ndarray:
    """X (validated: real, finite), itself when its largest magnitude is in the safe range
    (ordinary data: no copy, and results bit for bit as without this step), otherwise a copy
    times the power of two that brings the largest magnitude into [0.5, 1). Distances then
    scale by that exact power of two, which t-SNE does not see: each point's bandwidth is
    calibrated to its perplexity on any distance scale, and the PCA initialisation is
    rescaled. Values more than 2**1074 times smaller than the largest one become 0, as they
    would in any squared distance to it.

    per_row: each row by its own power of two (for the cosine metric, which the scale of a row
    does not change), so that rows of tiny and of huge norm can be told apart from zero.
    """
    if X.size == 0:
        return X
    if per_row:
        exponents = _exponents(_largest_magnitude(X, axis=1))
        return np.ldexp(X, exponents[:, None]) if exponents.any() else X
    exponent = safe_exponent(X)
    return np.ldexp(X, exponent) if exponent else X


def check_embedding(Y, n_samples: int, n_components: int, *, name: str) -> np.ndarray:
    """A user-given embedding (e.g. init): shape (n_samples, n_components), finite; a copy."""
    if not isinstance(Y, np.ndarray):
        raise TypeError(f"{name} must be a numpy array; got {type(Y).__name__}.")
    if Y.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {Y.dtype}.")
    if Y.shape != (n_samples, n_components):
        raise ValueError(
            f"{name} must have shape (n_samples, n_components) = ({n_samples}, {n_components});"
            f" got {Y.shape}."
        )
    out = np.array(Y, dtype=np.float64, order="C", copy=True)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} must be finite; it contains NaN or infinity.")
    return out


def check_int(value, name: str, *, min_value: int | None = None, max_value: int | None = None,
              owner: str = "tsne") -> int:
    """An integer (Python or numpy, not bool) in [min_value, max_value]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"The '{name}' parameter of {owner} must be an int{_range_text(min_value, max_value)}."
            f" Got {_fmt(value)} of type {type(value).__name__} instead."
        )
    value = int(value)
    if (min_value is not None and value < min_value) or (max_value is not None and value > max_value):
        raise ValueError(
            f"The '{name}' parameter of {owner} must be an int{_range_text(min_value, max_value)}."
            f" Got {value} instead."
        )
    return value


def _range_text(lo, hi, *, lo_open=False, hi_open=False) -> str:
    if lo is None and hi is None:
        return ""
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    lo_s = "-inf" if lo is None else str(lo)
    hi_s = "inf" if hi is None else str(hi)
    return f" in the range {left}{lo_s}, {hi_s}{right}"


def check_real(value, name: str, *, min_value: float | None = None, max_value: float | None = None,
               min_open: bool = False, max_open: bool = False, owner: str = "tsne") -> float:
    """A finite real number (not bool) in the given range; min_open excludes min_value,
    max_open max_value."""
    rng = _range_text(min_value, max_value, lo_open=min_open, hi_open=max_open)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"The '{name}' parameter of {owner} must be a float{rng}."
            f" Got {_fmt(value)} of type {type(value).__name__} instead."
        )
    value = float(value)
    ok = np.isfinite(value)
    if ok and min_value is not None:
        ok = value > min_value if min_open else value >= min_value
    if ok and max_value is not None:
        ok = value < max_value if max_open else value <= max_value
    if not ok:
        raise ValueError(f"The '{name}' parameter of {owner} must be a float{rng}. Got {value} instead.")
    return value


class Int(NamedTuple):
    """Constraint: an int in [lo, hi] (None: unbounded), checked by :func:`check_int`."""

    lo: Optional[int] = None
    hi: Optional[int] = None

    def check(self, value, name: str, owner: str):
        return check_int(value, name, min_value=self.lo, max_value=self.hi, owner=owner)


class Real(NamedTuple):
    """Constraint: a finite float in [lo, hi] (open at lo with lo_open, at hi with hi_open),
    :func:`check_real`."""

    lo: Optional[float] = None
    hi: Optional[float] = None
    lo_open: bool = False
    hi_open: bool = False

    def check(self, value, name: str, owner: str):
        return check_real(value, name, min_value=self.lo, max_value=self.hi, min_open=self.lo_open,
                          max_open=self.hi_open, owner=owner)


class NoneOr(NamedTuple):
    """Constraint: None, or what ``inner`` accepts."""

    inner: Any

    def check(self, value, name: str, owner: str):
        return None if value is None else self.inner.check(value, name, owner)


class WordOr(NamedTuple):
    """Constraint: a string among ``words`` (returned as None: the core's "automatic"), or
    what ``inner`` accepts."""

    words: tuple
    inner: Any

    def check(self, value, name: str, owner: str):
        if isinstance(value, str):
            check_choice(value, name, self.words, owner=owner)
            return None
        return self.inner.check(value, name, owner)


class Choice(NamedTuple):
    """Constraint: a string among ``words``, :func:`check_choice`."""

    words: tuple

    def check(self, value, name: str, owner: str):
        return check_choice(value, name, self.words, owner=owner)


class ChoiceOrArray(NamedTuple):
    """Constraint: a string among ``words``, or anything else as it is (an array, checked
    where the shape it needs is known)."""

    words: tuple

    def check(self, value, name: str, owner: str):
        return check_choice(value, name, self.words, owner=owner) if isinstance(value, str) else value


class Seed(NamedTuple):
    """Constraint: a ``random_state``, returned as the 64-bit seed of :func:`check_seed`."""

    def check(self, value, name: str, owner: str):
        return check_seed(value, owner=owner)


class Jobs(NamedTuple):
    """Constraint: joblib-style ``n_jobs``, returned as a thread count (:func:`check_n_jobs`)."""

    def check(self, value, name: str, owner: str):
        return check_n_jobs(value, owner=owner)


class CallableOrNone(NamedTuple):
    """Constraint: None or a callable (returned as it is)."""

    def check(self, value, name: str, owner: str):
        if value is not None and not callable(value):
            raise TypeError(f"The '{name}' parameter of {owner} must be callable or None. "
                            f"Got {_fmt(value)} instead.")
        return value


def check_params(values: dict, constraints: dict, *, owner: str) -> dict:
    """``values`` checked against a table of constraints (name -> Int, Real, NoneOr, WordOr,
    Choice, ChoiceOrArray, Seed, Jobs, CallableOrNone), in the table's order; returns the checked values by
    name. The first violation raises the TypeError or ValueError that names the parameter."""
    return {name: rule.check(values[name], name, owner) for name, rule in constraints.items()}


def check_choice(value, name: str, choices, *, owner: str = "tsne") -> str:
    options = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(
            f"The '{name}' parameter of {owner} must be one of {options}. Got {_fmt(value)} instead."
        )
    if value not in choices:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be one of {options}. Got {value!r} instead."
        )
    return value


def check_bool(value, name: str, *, owner: str = "tsne") -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"The '{name}' parameter of {owner} must be a bool. Got {_fmt(value)} instead.")
    return bool(value)


def check_seed(random_state, *, owner: str = "tsne") -> int:
    """A 64-bit seed from None (fresh entropy), an int >= 0, or a numpy Generator/RandomState."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63, dtype=np.int64))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1)) << 32 | int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, numbers.Integral):
        raise TypeError(
            f"The 'random_state' parameter of {owner} must be None, an int in the range "
            f"[0, 2**64 - 1], a numpy.random.Generator or a numpy.random.RandomState. "
            f"Got {_fmt(random_state)} instead."
        )
    if not 0 <= int(random_state) < 2**64:
        raise ValueError(
            f"The 'random_state' parameter of {owner} must be an int in the range "
            f"[0, 2**64 - 1]. Got {int(random_state)} instead."
        )
    return int(random_state)


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_n_jobs(n_jobs, *, owner: str = "tsne") -> int:
    """Thread count from joblib-style n_jobs: k > 0 threads, -1 all CPUs, -2 all but one..."""
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(
            f"The 'n_jobs' parameter of {owner} must be a non-zero int (-1 for all CPUs)."
            f" Got {_fmt(n_jobs)} instead."
        )
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError(
            f"The 'n_jobs' parameter of {owner} must be a non-zero int (-1 for all CPUs). Got 0 instead."
        )
    if n_jobs > 0:
        return n_jobs
    return max(1, available_cpus() + 1 + n_jobs)


def _as_csr(P, name: str) -> scipy.sparse.csr_matrix:
    """A float64 CSR copy of a sparse or dense real 2-D matrix."""
    if scipy.sparse.issparse(P):
        if P.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real matrix (sparse or dense); got dtype {P.dtype}.")
        return scipy.sparse.csr_matrix(P, dtype=np.float64, copy=True)
    arr = np.asarray(P)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real matrix (sparse or dense); got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n_samples, n_samples) matrix; got shape {arr.shape}.")
    return scipy.sparse.csr_matrix(arr.astype(np.float64))


def _csr_arrays(P: scipy.sparse.csr_matrix):
    return (
        np.ascontiguousarray(P.indptr, dtype=np.int64),
        np.ascontiguousarray(P.indices, dtype=np.int32),
        np.ascontiguousarray(P.data, dtype=np.float64),
    )


def check_affinity_matrix(P, n_samples: int, *, name: str = "P"):
    """P as (indptr int64, indices int32, data float64) of a CSR matrix that sums to 1."""
    P = _as_csr(P, name)
    if P.shape != (n_samples, n_samples):
        raise ValueError(
            f"{name} must have shape (n_samples, n_samples) = ({n_samples}, {n_samples}) to match "
            f"the embedding; got {P.shape}."
        )
    P.sum_duplicates()
    if not np.isfinite(P.data).all() or (P.data < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative values.")
    total = float(P.data.sum())
    if not abs(total - 1.0) <= 1e-6:
        raise ValueError(f"{name} must sum to 1 (a joint distribution); its entries sum to {total!r}.")
    return _csr_arrays(P)


def check_affinities(P, n_samples: int | None, *, name: str = "affinities"):
    """User affinities as the CSR arrays of a symmetric joint distribution.

    P (sparse or dense, square, finite, non-negative, not all zero) becomes
    (P + Pᵀ) / sum(P + Pᵀ). A P that already is one (symmetric and summing to 1 within
    1e-6, float32's rounding, like the output of ``joint_probabilities``) is used unchanged,
    bit for bit.
    Returns (indptr, indices, data, n_samples).
    """
    P = _as_csr(P, name)
    n = P.shape[0]
    if P.shape[0] != P.shape[1]:
        raise ValueError(f"{name} must be a square (n_samples, n_samples) matrix; got shape {P.shape}.")
    if n_samples is not None and n != n_samples:
        raise ValueError(
            f"{name} must have shape (n_samples, n_samples) = ({n_samples}, {n_samples}) to match "
            f"X; got {P.shape}."
        )
    if n < 2:
        raise ValueError(f"{name} must describe at least 2 samples; got shape {P.shape}.")
    P.sum_duplicates()
    if not np.isfinite(P.data).all() or (P.data < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative values.")
    P.eliminate_zeros()
    if P.nnz == 0:
        raise ValueError(f"{name} must have at least one positive entry; it is all zeros.")
    P.data = in_safe_range(P.data)  # P + Pᵀ must not overflow
    P.sort_indices()
    PT = P.T.tocsr()
    PT.sort_indices()
    already_joint = (
        np.array_equal(P.indptr, PT.indptr) and np.array_equal(P.indices, PT.indices)
        and np.array_equal(P.data, PT.data) and abs(float(P.data.sum()) - 1.0) <= 1e-6
    )
    if not already_joint:
        P = (P + PT).tocsr()
        P.sort_indices()
        P.data /= P.data.sum()
    return (*_csr_arrays(P), n)


def check_cosine_rows(X, *, name: str = "X") -> None:
    """Under the cosine metric every row needs a non-zero norm (a non-zero entry: a norm that
    underflows is not zero). X is a dense array or a scipy.sparse matrix."""
    top = (np.asarray(abs(X).max(axis=1).todense()).ravel() if scipy.sparse.issparse(X)
           else _largest_magnitude(X, axis=1))
    zero = np.flatnonzero(~(top > 0.0))
    if zero.size:
        raise ValueError(
            f"{name} has {zero.size} row(s) of norm zero (the first is row {zero[0]}); the cosine "
            f"metric is undefined for them. Remove those rows or use another metric."
        )


def check_precomputed(D, *, name: str = "X"):
    """A precomputed distance matrix: ("dense", float64 array) or ("sparse", csr_matrix).

    Dense: square, at least 2 rows, finite and non-negative off the diagonal (the diagonal
    is ignored). Sparse: square, stored values finite and non-negative.
    """
    what = "with metric='precomputed'"
    if scipy.sparse.issparse(D):
        csr = _as_csr(D, name)
        if csr.shape[0] != csr.shape[1] or csr.shape[0] < 2:
            raise ValueError(
                f"{name} {what} must be a square (n_samples, n_samples) distance matrix with "
                f"n_samples >= 2; got a sparse matrix of shape {csr.shape}."
            )
        bad = ~np.isfinite(csr.data) | (csr.data < 0)
        if bad.any():
            raise ValueError(
                f"{name} {what} must hold finite, non-negative distances; found "
                f"{csr.data[np.flatnonzero(bad)[0]]}."
            )
        csr.data = in_safe_range(csr.data)  # squared distances must not overflow
        return "sparse", csr
    arr = np.asarray(D) if not isinstance(D, np.ndarray) else D
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} {what} must hold real numbers; got dtype {arr.dtype}.")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 2:
        raise ValueError(
            f"{name} {what} must be a square (n_samples, n_samples) distance matrix with "
            f"n_samples >= 2; got shape {arr.shape}."
        )
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    off = ~np.eye(arr.shape[0], dtype=bool)
    bad = off & ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} {what} must hold finite, non-negative distances off the diagonal; found "
            f"{arr[i, j]} at row {i}, column {j}."
        )
    exponent = safe_exponent(arr[off])  # squared distances must not overflow
    return "dense", (np.ldexp(arr, exponent) if exponent else arr)
