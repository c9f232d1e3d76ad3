"""``turbotsne.TSNE``: a scikit-learn compatible estimator, with ``transform`` for new points.

scikit-learn is optional. When it is installed, ``TSNE`` derives from its ``BaseEstimator``
and ``TransformerMixin`` (so ``clone``, pipelines, tags and the HTML repr work); without it, a
small base class here provides ``get_params``/``set_params`` with the same behaviour.
"""

from __future__ import annotations

import inspect
from typing import Optional

import numpy as np
import scipy.sparse

from . import _core
from ._api import _METHODS, _tsne
from ._validation import (Choice, Int, NoneOr, Real, WordOr, check_data, check_n_jobs,
                          check_params, check_real, in_safe_range, safe_exponent)

__all__ = ["TSNE", "NotFittedError", "EXPECTED_FAILED_CHECKS"]

try:  # pragma: no branch - which one depends on the environment
    from sklearn.base import BaseEstimator as _Base, TransformerMixin as _Mixin
    from sklearn.exceptions import NotFittedError
    _HAVE_SKLEARN = True
except ImportError:
    _HAVE_SKLEARN = False

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before ``fit`` (scikit-learn's exception, when installed)."""

    class _Mixin:
        pass

    class _Base:
        """get_params / set_params as in scikit-learn, for when it is not installed."""

        @classmethod
        def _get_param_names(cls):
            signature = inspect.signature(cls.__init__)
            return sorted(p.name for p in signature.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for key, value in params.items():
                if key not in valid:
                    raise ValueError(
                        f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                        f"Valid parameters are: {valid!r}."
                    )
                setattr(self, key, value)
            return self

        def __repr__(self):
            defaults = {p.name: p.default for p in
                        inspect.signature(type(self).__init__).parameters.values()}
            changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                       if not (v is defaults.get(k) or
                               (isinstance(v, (int, float, str)) and v == defaults.get(k)))]
            return f"{type(self).__name__}({', '.join(changed)})"


#: What fit checks itself (the other parameters are tsne's and checked there), in this order.
_FIT_CONSTRAINTS = {
    "early_exaggeration": Real(0.0, lo_open=True),
    "learning_rate": WordOr(("auto",), Real(0.0, lo_open=True)),  # "auto": None
    "max_iter": NoneOr(Int(1)),  # None: 750
    "verbose": Int(0),
    "method": Choice(_METHODS),
}
#: What transform's parameters must be (perplexity None: the fit's), in this order.
_TRANSFORM_CONSTRAINTS = {
    "perplexity": NoneOr(Real(0.0, lo_open=True)),
    "n_iter": Int(0),
    "learning_rate": Real(0.0, lo_open=True),
    "theta": Real(0.0),
}

#: Checks of scikit-learn's check_estimator that cannot pass, and why (pass it as
#: ``expected_failed_checks``; tests/test_estimator.py does).
EXPECTED_FAILED_CHECKS = {
    "check_transformer_general": (
        "t-SNE is not inductive: transform places new points into the fitted embedding, so "
        "transform(X) on the training data is close to, not equal to, fit_transform(X)."),
    "check_transformer_data_not_an_array": (
        "the same: transform(X) of the training data only approximates fit_transform(X)."),
}


def _check_input(X, min_samples: int) -> np.ndarray:
    """check_data with scikit-learn's conventions for the estimator: complex data is a
    ValueError, object arrays of numbers are converted (other objects raise TypeError)."""
    if isinstance(X, np.ndarray) and X.dtype.kind in "cO":
        if X.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: X has dtype {X.dtype}; pass the "
                             f"real part, the modulus or both as real features.")
        X = X.astype(np.float64)
    return check_data(X, min_samples=min_samples)


class TSNE(_Mixin, _Base):
    """t-SNE as a scikit-learn estimator: ``from turbotsne import TSNE`` replaces
    ``from sklearn.manifold import TSNE``.

    The parameters that scikit-learn's ``TSNE`` has mean the same here, on the same scales
    (``learning_rate`` too: turbotsne's functional :func:`turbotsne.tsne` uses the 4 times
    larger bhtsne/openTSNE scale, and this class converts). The rest are turbotsne's.
    Unlike scikit-learn's, this estimator can place new points into a finished embedding
    with :meth:`transform`.

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the embedding.
    perplexity : float, default=30.0
        Effective number of neighbours, less than n_samples - 1; each point uses
        ``min(n_samples - 1, floor(3 * perplexity))`` neighbours (scikit-learn's rule).
    early_exaggeration : float, default=12.0
        Factor on the attraction during the first ``early_exaggeration_iter`` iterations.
    learning_rate : float or "auto", default="auto"
        On scikit-learn's scale (its gradient keeps a factor 4 that bhtsne, openTSNE and
        :func:`turbotsne.tsne` leave out): the value passed on is 4 times this one, in both
        phases. "auto" is the rule of :func:`turbotsne.tsne`: n_samples / early_exaggeration
        during early exaggeration, n_samples / exaggeration after it (at least 50 on
        turbotsne's scale; scikit-learn keeps n_samples / early_exaggeration / 4 throughout,
        which leaves a higher KL after the same iterations).
    max_iter : int or None, default=None
        Total iterations, early exaggeration included; None means 750 (scikit-learn: 1000).
    metric : {"euclidean", "cosine", "manhattan", "precomputed"}, default="euclidean"
        Distance of the neighbour search; "precomputed": X is a square distance matrix (or a
        sparse matrix of k-nearest-neighbour distances).
    init : {"pca", "random"} or ndarray of shape (n_samples, n_components), default="pca"
    verbose : int, default=0
        Progress on stderr when > 0 (as ``verbose=True`` in :func:`turbotsne.tsne`); the
        messages are records of the ``turbotsne`` logger whatever its value.
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        The same seed gives bit-identical output for any ``n_jobs``.
    method : {"auto", "barnes_hut", "exact", "fft"}, default="auto"
        Repulsion method (see :func:`turbotsne.tsne`); scikit-learn's values mean the same.
    angle : float, default=0.5
        Barnes-Hut's θ (``theta`` in :func:`turbotsne.tsne`).
    n_jobs : int or None, default=None
        Threads; None or -1: all CPUs (scikit-learn: None means one).
    neighbors : {"auto", "exact", "approx"}, default="auto"
        Exact (vantage-point tree, or brute force from 24 dimensions) or approximate
        (NN-descent) neighbour search.
    early_exaggeration_iter : int, default=250
    exaggeration : float, default=1.0
        Factor on the attraction after the early phase.
    dof : float, default=1.0
        Degrees of freedom of the Student-t kernel.
    max_step_norm : float or None, default=5.0
        Longest step a point may take in one iteration (on :func:`turbotsne.tsne`'s scale).

    Attributes
    ----------
    embedding_ : ndarray of shape (n_samples, n_components)
    kl_divergence_ : float
        KL(P‖Q) of the final embedding.
    n_iter_ : int
        Iterations run.
    n_features_in_ : int
    learning_rate_ : float
        The learning rate used during early exaggeration, on scikit-learn's scale (with
        "auto", the rate after it is ``n_samples / exaggeration / 4``).

    Examples
    --------
    >>> import numpy as np
    >>> from turbotsne import TSNE
    >>> X = np.random.default_rng(0).normal(size=(300, 5))
    >>> TSNE(random_state=0).fit_transform(X).shape
    (300, 2)
    """

    def __init__(self, n_components=2, *, perplexity=30.0, early_exaggeration=12.0,
                 learning_rate="auto", max_iter=None, metric="euclidean", init="pca", verbose=0,
                 random_state=None, method="auto", angle=0.5, n_jobs=None, neighbors="auto",
                 early_exaggeration_iter=250, exaggeration=1.0, dof=1.0, max_step_norm=5.0):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.metric = metric
        self.init = init
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.angle = angle
        self.n_jobs = n_jobs
        self.neighbors = neighbors
        self.early_exaggeration_iter = early_exaggeration_iter
        self.exaggeration = exaggeration
        self.dof = dof
        self.max_step_norm = max_step_norm

    # ------------------------------------------------------------------------------- fit

    def _n_jobs(self) -> int:
        return check_n_jobs(-1 if self.n_jobs is None else self.n_jobs, owner="TSNE")

    def fit_transform(self, X, y=None):
        """Embed X and return the embedding (``y`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, n_samples) distances
            when ``metric="precomputed"``.
        y : ignored

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_components)
        """
        fit = check_params(dict(early_exaggeration=self.early_exaggeration,
                                learning_rate=self.learning_rate, max_iter=self.max_iter,
                                verbose=self.verbose, method=self.method),
                           _FIT_CONSTRAINTS, owner="TSNE")
        precomputed = self.metric == "precomputed"
        if precomputed and scipy.sparse.issparse(X):
            data = X
            n_features = X.shape[1]
        else:
            data = _check_input(X, min_samples=2)
            n_features = data.shape[1]
        n = data.shape[0]
        early = fit["early_exaggeration"]
        if fit["learning_rate"] is None:
            learning_rate = "auto"  # tsne()'s rule; learning_rate_ reports its early phase
            lr_sklearn = max(n / early, 50.0) / 4.0
        else:
            lr_sklearn = fit["learning_rate"]
            learning_rate = 4.0 * lr_sklearn
        max_iter = 750 if fit["max_iter"] is None else fit["max_iter"]
        verbose = fit["verbose"] > 0
        Y, info = _tsne(
            data, self.n_components, perplexity=self.perplexity, method=fit["method"],
            neighbors=self.neighbors, metric=self.metric, init=self.init,
            learning_rate=learning_rate, n_iter=max_iter, early_exaggeration=early,
            early_exaggeration_iter=self.early_exaggeration_iter,
            exaggeration=self.exaggeration, max_step_norm=self.max_step_norm, dof=self.dof,
            theta=self.angle, random_state=self.random_state, n_jobs=self._n_jobs(),
            verbose=verbose,
        )
        self.embedding_ = Y
        self.kl_divergence_ = float(info["kl_divergence"])
        self.n_iter_ = int(info["n_iter"])
        self.n_features_in_ = int(n_features)
        self.learning_rate_ = float(lr_sklearn)
        # What transform needs: the reference data (not for precomputed distances, where
        # new points bring their distances to the reference points themselves).
        self._fit_X = None if precomputed else data
        self._fit_n_samples = n
        return Y

    def fit(self, X, y=None):
        """Embed X; the embedding is in ``embedding_``. Returns self."""
        self.fit_transform(X, y)
        return self

    # ------------------------------------------------------------------------- transform

    def _check_fitted(self):
        if not hasattr(self, "embedding_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                f"appropriate arguments before using 'transform'."
            )

    def transform(self, X, *, perplexity: Optional[float] = None, n_iter: int = 100,
                  learning_rate: float = 1.0, theta: Optional[float] = None):
        """Place new points into the fitted embedding, which stays fixed.

        Each new point gets Gaussian affinities to its ``min(n_fit_samples, floor(3 *
        perplexity))`` nearest points of the data given to ``fit`` (calibrated to the
        perplexity, as in fit), starts
        at the affinity-weighted mean of those points' positions, and is then moved by
        gradient descent on its own KL(p_·|new ‖ q_·|new) over the fixed reference embedding
        (Poličar, Stražar & Zupan 2019 place new points the same way in openTSNE). New points
        do not affect each other, so transforming them together or one at a time gives the
        same result.

        Parameters
        ----------
        X : array-like of shape (n_new, n_features), or (n_new, n_fit_samples) distances to
            the fitted points when ``metric="precomputed"``.
        perplexity : float, optional
            Defaults to the perplexity of the fit; less than n_fit_samples. Each new point
            uses ``min(n_fit_samples, floor(3 * perplexity))`` fitted points as neighbours.
        n_iter : int, default=100
            Gradient-descent iterations; 0 keeps the weighted-mean positions.
        learning_rate : float, default=1.0
            Step size of the per-point optimisation.
        theta : float, optional
            Barnes-Hut accuracy over the reference embedding (0: exact sums); defaults to
            ``angle``.

        Returns
        -------
        embedding : ndarray of shape (n_new, n_components)
        """
        self._check_fitted()
        checked = check_params(dict(perplexity=perplexity, n_iter=n_iter, learning_rate=learning_rate,
                                    theta=self.angle if theta is None else theta),
                               _TRANSFORM_CONSTRAINTS, owner="TSNE.transform")
        n_ref = self._fit_n_samples
        if self.metric == "precomputed":
            D = _check_input(X, min_samples=1)
            if D.shape[1] != n_ref:
                raise ValueError(
                    f"X has {D.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{n_ref} features as input (with metric='precomputed', the distances of "
                    f"each new point to the {n_ref} fitted points)."
                )
            if (D < 0).any():
                raise ValueError("X must hold non-negative distances (metric='precomputed').")
            D = in_safe_range(D)  # squared below: must not overflow
        else:
            if self._fit_X is None:
                raise ValueError("transform needs the data of the fit, which was not kept.")
            D = _check_input(X, min_samples=1)
            if D.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {D.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
        perplexity = checked.pop("perplexity")
        if perplexity is None:
            perplexity = float(self.perplexity)
        if not perplexity < n_ref:  # a new point has the n_ref fitted points as candidates
            raise ValueError(
                f"perplexity ({perplexity:g}) is too large for transform with {n_ref} fitted "
                f"samples: each new point has at most {n_ref} neighbours, and their weights can "
                f"be calibrated only to a perplexity below that (pass perplexity < {n_ref}).")
        threads = self._n_jobs()
        # Every reference point is a candidate (none is the query itself): n_ref + 1 points.
        k = _core.neighbor_count(n_ref + 1, perplexity)
        if self.metric == "precomputed":
            part = np.argpartition(D, k - 1, axis=1)[:, :k] if k < n_ref else \
                np.tile(np.arange(n_ref), (D.shape[0], 1))
            dist = np.take_along_axis(D, part, axis=1)
            order = np.lexsort((part, dist), axis=1)
            indices = np.take_along_axis(part, order, axis=1).astype(np.int32)
            distances = np.take_along_axis(dist, order, axis=1)
        else:
            # The fit's data and the new points by one power of two where they need it (as
            # in fit; cosine distances do not need it: they do not depend on the rows' scale).
            reference_X = self._fit_X
            exponent = safe_exponent(reference_X, D) if self.metric != "cosine" else 0
            if exponent:
                reference_X, D = np.ldexp(reference_X, exponent), np.ldexp(D, exponent)
            indices, distances = _core.query_neighbors(
                reference_X, D, k, getattr(_core.Metric, self.metric), threads)
        P_rows = _core.calibrate_rows(np.ascontiguousarray(distances ** 2), perplexity)[0]
        m = D.shape[0]
        reference = self.embedding_
        Y = np.einsum("ik,ikc->ic", P_rows, reference[indices])
        Y = np.ascontiguousarray(Y)
        params = _core.TransformParams()
        for name, value in checked.items():
            setattr(params, name, value)
        params.dof = check_real(self.dof, "dof", min_value=0.0, min_open=True, owner="TSNE")
        order = np.argsort(indices, axis=1, kind="stable")
        cols = np.take_along_axis(indices, order, axis=1)
        vals = np.take_along_axis(P_rows, order, axis=1)
        indptr = np.arange(0, m * k + 1, k, dtype=np.int64)
        _core.transform(indptr, np.ascontiguousarray(cols.ravel(), dtype=np.int32),
                        np.ascontiguousarray(vals.ravel()), reference, Y, params, threads,
                        None, [])
        return Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.non_deterministic = False
        return tags
