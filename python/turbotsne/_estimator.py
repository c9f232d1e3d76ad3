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

import warnings

from . import _core, _kernels, _metrics
from ._anndata_check import reject_anndata
from ._api import _METHODS, _tsne, joint_probabilities
from ._progress import Progress, run_observed
from ._validation import (Choice, Int, NoneOr, Real, WordOr, _as_csr, check_affinities,
                          check_data, check_n_jobs, check_params, check_real, in_safe_range,
                          safe_exponent)

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

#: What optimize's parameters must be (None: the fit's value), in this order.
_OPTIMIZE_CONSTRAINTS = {
    "n_iter": Int(1),
    "exaggeration": NoneOr(Real(0.0, lo_open=True)),
    "learning_rate": WordOr(("auto",), Real(0.0, lo_open=True)),  # "auto": None
    "momentum": Real(0.0, 1.0, hi_open=True),
    "dof": NoneOr(Real(0.0, lo_open=True)),
    "perplexity": NoneOr(Real(0.0, lo_open=True)),
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


def _feature_names(X) -> Optional[np.ndarray]:
    """The column names of a DataFrame-like X as scikit-learn reads them: an object array when
    all are strings, None when there are none or none is a string; mixed names are a
    TypeError (scikit-learn's rule)."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    names = np.asarray(columns, dtype=object)
    are_str = np.array([isinstance(c, str) for c in names], dtype=bool)
    if are_str.all() and names.size:
        return names
    if are_str.any():
        raise TypeError(
            "Feature names are only supported if all input features have string names, but "
            f"your input has {sorted({type(c).__name__ for c in names})} as feature name / "
            "column name types. Convert all column names to strings, e.g. X.columns = "
            "X.columns.astype(str).")
    return None


def _check_input(X, min_samples: int, *, sparse: bool = False):
    """check_data with scikit-learn's conventions for the estimator: complex data is a
    ValueError, object arrays of numbers are converted (other objects raise TypeError);
    scipy.sparse X is accepted (as float64 CSR) when ``sparse``."""
    if scipy.sparse.issparse(X):
        if not sparse:
            raise TypeError("X must be a dense array here; got a scipy.sparse matrix.")
        if X.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: X has dtype {X.dtype}.")
        return _metrics.check_sparse_data(X, min_samples=min_samples)
    if hasattr(X, "iloc") and hasattr(X, "to_numpy"):  # a DataFrame: its values
        X = X.to_numpy()
    if isinstance(X, np.ndarray) and X.dtype.kind in "cO":
        if X.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: X has dtype {X.dtype}; pass the "
                             f"real part, the modulus or both as real features.")
        X = X.astype(np.float64)
    return check_data(X, min_samples=min_samples)


def _new_point_affinities(affinities, n_ref: int) -> scipy.sparse.csr_matrix:
    """transform's ``affinities`` (n_new, n_ref), checked, as CSR rows summing to 1."""
    M = _as_csr(affinities, "affinities")
    if M.shape[1] != n_ref or M.shape[0] < 1:
        raise ValueError(f"affinities must have shape (n_new, {n_ref}) (one row per new point, "
                         f"one column per fitted point); got {M.shape}.")
    M.sum_duplicates()
    if not np.isfinite(M.data).all() or (M.data < 0).any():
        raise ValueError("affinities must hold finite, non-negative values.")
    M.eliminate_zeros()
    M.data = in_safe_range(M.data)
    sums = np.asarray(M.sum(axis=1)).ravel()
    if not (sums > 0).all():
        row = int(np.flatnonzero(~(sums > 0))[0])
        raise ValueError(f"affinities: row {row} has no positive entry; every new point needs "
                         f"an affinity to at least one fitted point.")
    M = (scipy.sparse.diags(1.0 / sums) @ M).tocsr()
    M.sort_indices()
    return M


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
    perplexity : float or list of floats, default=30.0
        Effective number of neighbours, less than n_samples; each point uses
        ``min(n_samples - 1, floor(3 * perplexity))`` neighbours (scikit-learn's rule). A
        list gives multiscale affinities (see :func:`turbotsne.tsne`).
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
    metric : str or callable, default="euclidean"
        Distance of the neighbour search, as in :func:`turbotsne.tsne`: the native
        "euclidean", "cosine", "manhattan" (aliases "l2", "l1", "cityblock"), scipy's names
        ("chebyshev", "minkowski", "correlation", "mahalanobis", "jaccard", ...) or a callable
        ``metric(u, v) -> float`` (an exact blocked search); "precomputed": X is a square
        distance matrix (or a sparse matrix of k-nearest-neighbour distances).
    init : {"pca", "random", "spectral"} or ndarray of shape (n_samples, n_components), default="pca"
        See :func:`turbotsne.tsne`.
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
    early_exaggeration_iter : int, default=200
        Length of the early-exaggeration phase (see :func:`turbotsne.tsne`; the peers' 250
        on request).
    exaggeration : float, default=1.0
        Factor on the attraction after the early phase.
    dof : float, default=1.0
        Degrees of freedom of the Student-t kernel.
    max_step_norm : float or None, default=5.0
        Longest step a point may take in one iteration (on :func:`turbotsne.tsne`'s scale).
    n_iter_without_progress : int or None, default=None
        Stop when the KL divergence (checked every 50 iterations) has not improved for more
        than this many iterations after early exaggeration (scikit-learn's meaning; its
        default is 300). None: never.
    min_grad_norm : float or None, default=None
        Stop when the gradient norm (checked every 50 iterations, on scikit-learn's scale) is
        at most this (scikit-learn's default is 1e-7). None: never.
    metric_params : dict or None, default=None
        Keyword arguments of the metric (``{"p": 3}`` for "minkowski", ``{"VI": ...}`` for
        "mahalanobis", a callable's own), as in scikit-learn.
    affinities : sparse or dense matrix of shape (n_samples, n_samples), or "uniform", optional
        Input affinities to use instead of computing them (see :func:`turbotsne.tsne`); X may
        then be None when ``init`` is not "pca" (and transform is unavailable). "uniform":
        uniform kNN affinities with ``n_neighbors``.
    callback : callable, optional
        ``callback(iteration, kl_divergence, embedding) -> stop?`` every ``callback_every``
        iterations, as in :func:`turbotsne.tsne`.
    callback_every : int, default=50
    n_neighbors : int or None, default=None
        Neighbours per point of ``affinities="uniform"`` and ``sigma`` (see
        :func:`turbotsne.tsne`).
    sigma : float or None, default=None
        A fixed Gaussian bandwidth instead of the perplexity calibration (see
        :func:`turbotsne.tsne`).
    objective : {"tsne", "sne", "symmetric_sne", "uni_sne"}, default="tsne"
        The cost (see :func:`turbotsne.tsne`): t-SNE, or SNE, symmetric SNE and UNI-SNE
        (exact only). ``optimize`` and ``transform`` are t-SNE's and refuse the others.
    background : float or None, default=None
        UNI-SNE's uniform background (``objective="uni_sne"`` only; 0.1 when None).

    Attributes
    ----------
    embedding_ : ndarray of shape (n_samples, n_components)
    kl_divergence_ : float
        KL(P‖Q) of the final embedding.
    n_iter_ : int
        Iterations run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        The column names of X, when it was a DataFrame with string column names.
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
                 early_exaggeration_iter=200, exaggeration=1.0, dof=1.0, max_step_norm=5.0,
                 n_iter_without_progress=None, min_grad_norm=None, metric_params=None,
                 affinities=None, callback=None, callback_every=50, n_neighbors=None,
                 sigma=None, objective="tsne", background=None):
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
        self.n_iter_without_progress = n_iter_without_progress
        self.min_grad_norm = min_grad_norm
        self.metric_params = metric_params
        self.affinities = affinities
        self.callback = callback
        self.callback_every = callback_every
        self.n_neighbors = n_neighbors
        self.sigma = sigma
        self.objective = objective
        self.background = background

    # ------------------------------------------------------------------------------- fit

    #: _core.TsneParams fields set as they are (for the tests: locality_min_samples).
    _core_params: Optional[dict] = None

    def _n_jobs(self) -> int:
        return check_n_jobs(-1 if self.n_jobs is None else self.n_jobs, owner="TSNE")

    def fit_transform(self, X, y=None):
        """Embed X and return the embedding (``y`` is ignored).

        Parameters
        ----------
        X : array-like, DataFrame or scipy.sparse matrix of shape (n_samples, n_features), or
            (n_samples, n_samples) distances when ``metric="precomputed"``. May be None when
            ``affinities`` are given and ``init`` is not "pca".
        y : ignored

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_components)
        """
        reject_anndata(X, "TSNE.fit_transform")
        fit = check_params(dict(early_exaggeration=self.early_exaggeration,
                                learning_rate=self.learning_rate, max_iter=self.max_iter,
                                verbose=self.verbose, method=self.method),
                           _FIT_CONSTRAINTS, owner="TSNE")
        precomputed = isinstance(self.metric, str) and self.metric == "precomputed"
        names = _feature_names(X)
        if X is None and self.affinities is not None:
            data = None
        elif precomputed and scipy.sparse.issparse(X):
            data = X
        else:
            data = _check_input(X, min_samples=2, sparse=not precomputed)
        if data is not None:
            n, n_features = data.shape
        else:
            n, n_features = scipy.sparse.csr_matrix(self.affinities).shape[0], 0
        early = fit["early_exaggeration"]
        if fit["learning_rate"] is None:
            learning_rate = "auto"  # tsne()'s rule; learning_rate_ reports its early phase
            lr_sklearn = max(n / early, 50.0) / 4.0
        else:
            lr_sklearn = fit["learning_rate"]
            learning_rate = 4.0 * lr_sklearn
        max_iter = 750 if fit["max_iter"] is None else fit["max_iter"]
        verbose = fit["verbose"] > 0
        # P and the optimizer's state, for optimize(); the SNE family's runs are not continued
        state = _core.TsneState() if self.objective == "tsne" else None
        Y, info = _tsne(
            data, self.n_components, perplexity=self.perplexity, method=fit["method"],
            neighbors=self.neighbors, metric=self.metric, metric_params=self.metric_params,
            affinities=self.affinities, init=self.init,
            learning_rate=learning_rate, n_iter=max_iter, early_exaggeration=early,
            early_exaggeration_iter=self.early_exaggeration_iter,
            exaggeration=self.exaggeration, max_step_norm=self.max_step_norm, dof=self.dof,
            theta=self.angle, random_state=self.random_state, n_jobs=self._n_jobs(),
            verbose=verbose, callback=self.callback, callback_every=self.callback_every,
            n_iter_without_progress=self.n_iter_without_progress,
            min_grad_norm=self.min_grad_norm, _grad_scale=4.0,  # scikit-learn's gradient scale
            n_neighbors=self.n_neighbors, sigma=self.sigma,
            objective=self.objective, background=self.background,
            _keep=state, _params=self._core_params,
        )
        self._state, self._method, self._kernel = state, info["method"], info["kernel"]
        self._objective = self.objective
        self.embedding_ = Y
        self.kl_divergence_ = float(info["kl_divergence"])
        self.n_iter_ = int(info["n_iter"])
        self.n_features_in_ = int(n_features)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.learning_rate_ = float(lr_sklearn)
        # What transform needs: the reference data (not for precomputed distances, where
        # new points bring their distances to the reference points themselves).
        self._fit_X = None if precomputed else data
        self._fit_n_samples = n
        self._neighbors = info["neighbors"]
        return self._wrap_output(Y, X)

    def fit(self, X, y=None):
        """Embed X; the embedding is in ``embedding_``. Returns self."""
        reject_anndata(X, "TSNE.fit")
        self.fit_transform(X, y)
        return self

    # ------------------------------------------------------------------------ optimize

    def optimize(self, n_iter: int, *, exaggeration: Optional[float] = None,
                 learning_rate="auto", momentum: float = 0.8, dof: Optional[float] = None,
                 perplexity: Optional[float] = None, affinities=None):
        """Continue the optimisation of the fitted embedding for ``n_iter`` more iterations.

        The gradient descent goes on from where the last ``fit`` or ``optimize`` stopped,
        keeping each point's gains and momentum (not a restart): ``fit`` with ``max_iter=250``
        followed by ``optimize(500)`` gives the embedding of ``fit`` with ``max_iter=750``,
        bit for bit. Each call is a stage with its own exaggeration, learning rate, momentum
        and degrees of freedom, as openTSNE's ``TSNEEmbedding.optimize``; ``perplexity`` or
        ``affinities`` replace P from this stage on (openTSNE's ``affinities.set_perplexity``:
        e.g. perplexity annealing, a large perplexity first and the final one after it).
        ``embedding_``, ``kl_divergence_`` (against the current P, with this stage's dof) and
        ``n_iter_`` (iterations of all stages) are updated. The fitted estimator keeps P for
        this: 8 bytes per stored entry and 8 per point, plus 16 bytes per point and
        component for gains and momentum.

        Parameters
        ----------
        n_iter : int
            Iterations of this stage.
        exaggeration : float, optional
            Factor on the attraction; defaults to the estimator's ``exaggeration`` (1: none).
        learning_rate : float or "auto", default="auto"
            On scikit-learn's scale, as the estimator's; "auto": n_samples / exaggeration / 4
            (the rule of the fit's phase after early exaggeration).
        momentum : float, default=0.8
            The fit's momentum.
        dof : float, optional
            Degrees of freedom of the Student-t kernel from this stage on; defaults to the
            fit's ``dof``.
        perplexity : float, optional
            Recompute P from the fit's data with this perplexity (the fit's metric and
            neighbour search) and use it from this stage on.
        affinities : sparse or dense matrix of shape (n_samples, n_samples), optional
            Use these affinities from this stage on (normalised as the ``affinities``
            parameter is). Not together with ``perplexity``.

        Returns
        -------
        self : TSNE
        """
        self._check_fitted()
        checked = check_params(dict(n_iter=n_iter, exaggeration=exaggeration,
                                    learning_rate=learning_rate, momentum=momentum, dof=dof,
                                    perplexity=perplexity), _OPTIMIZE_CONSTRAINTS,
                               owner="TSNE.optimize")
        self._check_tsne_objective("TSNE.optimize")
        state = getattr(self, "_state", None)
        if state is None or not state.started:
            raise ValueError("TSNE.optimize: this estimator has no optimisation to continue "
                             "(its last optimisation was interrupted); call fit again.")
        n = state.n_samples
        if checked["perplexity"] is not None and affinities is not None:
            raise ValueError("TSNE.optimize takes perplexity or affinities, not both.")
        if checked["perplexity"] is not None:
            if self._fit_X is None:
                raise ValueError("TSNE.optimize: perplexity needs the data of the fit, which "
                                 "was not kept (metric='precomputed' or affinities given with "
                                 "X=None); pass affinities instead.")
            affinities = joint_probabilities(
                self._fit_X, checked["perplexity"], self._n_jobs(), neighbors=self._neighbors,
                random_state=self.random_state, metric=self.metric,
                metric_params=self.metric_params)
        if affinities is not None:
            indptr, indices, data, _ = check_affinities(affinities, n)
            P = scipy.sparse.csr_matrix((data, indices, indptr), shape=(n, n))
            order = state.order
            if order.size:  # the optimizer's point order (see _core.TsneState)
                P = P[order][:, order].tocsr()
                P.sort_indices()
            state.set_affinities(P.indptr.astype(np.int64), P.indices.astype(np.int32),
                                 np.ascontiguousarray(P.data, dtype=np.float64))
        params = _core.TsneParams()  # the fit's, but for the schedule
        params.method = getattr(_core.Method, self._method)
        params.n_components = self.embedding_.shape[1]
        params.repulsion.theta = self.angle
        params.n_threads = self._n_jobs()
        params.dof = self.dof if checked["dof"] is None else checked["dof"]
        opt = params.optimizer
        opt.max_step_norm = self.max_step_norm
        opt.n_iter = checked["n_iter"]
        opt.early_exaggeration_iter = 0
        opt.exaggeration = self.exaggeration if checked["exaggeration"] is None \
            else checked["exaggeration"]
        opt.learning_rate = None
        opt.late_learning_rate = None if checked["learning_rate"] is None \
            else 4.0 * checked["learning_rate"]
        opt.momentum_late = checked["momentum"]
        Y = np.array(self.embedding_, dtype=np.float64, order="C")
        progress = Progress.create(opt.n_iter, self.verbose > 0, exaggeration=opt.exaggeration)
        try:
            info = run_observed(
                lambda report, every, on_stage, _: _core.tsne_continue(
                    state, Y, params, report, every, on_stage),
                progress, self.callback, self.callback_every,
                lambda info: f"KL {info['kl_divergence']:.4f} after {info['n_iter']} iterations")
        except BaseException:
            self._state = None  # advanced by an unfinished stage: no longer Y's state
            raise
        self.embedding_ = Y
        self.kl_divergence_ = float(info["kl_divergence"])
        self.n_iter_ += int(info["n_iter"])
        return self

    # ------------------------------------------------------------------------- transform

    def _check_tsne_objective(self, owner: str) -> None:
        """Refuses what only a t-SNE fit supports (optimize, transform)."""
        objective = getattr(self, "_objective", "tsne")
        if objective != "tsne":
            raise ValueError(f"{owner} works on t-SNE embeddings (its gradient is t-SNE's); "
                             f"this TSNE was fitted with objective={objective!r}. Fit with "
                             f"objective='tsne'.")

    def _check_fitted(self):
        if not hasattr(self, "embedding_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                f"appropriate arguments before using 'transform'."
            )

    def transform(self, X, *, perplexity: Optional[float] = None, n_iter: int = 100,
                  learning_rate: float = 1.0, theta: Optional[float] = None, affinities=None):
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
            Defaults to the fit's affinities (its perplexity, list of perplexities, uniform
            kernel or sigma); less than n_fit_samples. Each new point uses
            ``min(n_fit_samples, floor(3 * perplexity))`` fitted points as neighbours (the
            fit's ``n_neighbors`` for the uniform kernel and sigma).
        n_iter : int, default=100
            Gradient-descent iterations; 0 keeps the weighted-mean positions: openTSNE's
            ``prepare_partial``, the new points' start positions without optimisation.
        learning_rate : float, default=1.0
            Step size of the per-point optimisation.
        theta : float, optional
            Barnes-Hut accuracy over the reference embedding (0: exact sums); defaults to
            ``angle``.
        affinities : sparse or dense matrix of shape (n_new, n_fit_samples), optional
            The new points' affinities to the fitted points, used instead of computing them
            from X (openTSNE's custom affinities for new points): non-negative and finite,
            every row with a positive entry; each row is normalised to sum 1. X is then not
            used (it may be None).

        Returns
        -------
        embedding : ndarray of shape (n_new, n_components)
        """
        reject_anndata(X, "TSNE.transform")
        self._check_fitted()
        self._check_tsne_objective("TSNE.transform")
        checked = check_params(dict(perplexity=perplexity, n_iter=n_iter, learning_rate=learning_rate,
                                    theta=self.angle if theta is None else theta),
                               _TRANSFORM_CONSTRAINTS, owner="TSNE.transform")
        n_ref = self._fit_n_samples
        if affinities is not None:
            if checked.pop("perplexity") is not None:
                raise ValueError("TSNE.transform takes perplexity or affinities, not both.")
            M = _new_point_affinities(affinities, n_ref)
            return self._wrap_output(self._place(M.indptr, M.indices, M.data, checked), X)
        precomputed = isinstance(self.metric, str) and self.metric == "precomputed"
        self._check_feature_names(X)
        if precomputed:
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
                raise ValueError("transform needs the data of the fit, which was not given "
                                 "(fit was called with affinities and X=None).")
            D = _check_input(X, min_samples=1, sparse=True)
            if D.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {D.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
        perplexity = checked.pop("perplexity")
        fitted = getattr(self, "_kernel", None)  # the fit's kernel (None: given affinities)
        if perplexity is not None or fitted is None:
            kernel = _kernels.resolve_kernel(self.perplexity if perplexity is None
                                             else perplexity, None, None, None,
                                             "TSNE.transform")
        else:
            kernel = fitted
        perplexity = kernel.perplexity
        if kernel.n_neighbors is None and not max(kernel.perplexities) < n_ref:
            # a new point has the n_ref fitted points as candidates
            raise ValueError(
                f"perplexity ({perplexity:g}) is too large for transform with {n_ref} fitted "
                f"samples: each new point has at most {n_ref} neighbours, and their weights can "
                f"be calibrated only to a perplexity below that (pass perplexity < {n_ref}).")
        threads = self._n_jobs()
        # Every reference point is a candidate (none is the query itself): n_ref + 1 points.
        k = min(kernel.neighbor_count(n_ref + 1), n_ref)
        spec = None if precomputed else _metrics.resolve_metric(self.metric, self.metric_params,
                                                                "TSNE.transform")
        if precomputed:
            part = np.argpartition(D, k - 1, axis=1)[:, :k] if k < n_ref else \
                np.tile(np.arange(n_ref), (D.shape[0], 1))
            dist = np.take_along_axis(D, part, axis=1)
            order = np.lexsort((part, dist), axis=1)
            indices = np.take_along_axis(part, order, axis=1).astype(np.int32)
            distances = np.take_along_axis(dist, order, axis=1)
        elif spec.native and not scipy.sparse.issparse(self._fit_X) \
                and not scipy.sparse.issparse(D):
            # The fit's data and the new points by one power of two where they need it (as
            # in fit; cosine distances do not need it: they do not depend on the rows' scale).
            reference_X = self._fit_X
            exponent = safe_exponent(reference_X, D) if spec.name != "cosine" else 0
            if exponent:
                reference_X, D = np.ldexp(reference_X, exponent), np.ldexp(D, exponent)
            indices, distances = _core.query_neighbors(
                reference_X, D, k, getattr(_core.Metric, spec.name), threads)
        else:
            # The fit's blocked search, the metric's data-derived parameters (mahalanobis'
            # VI, seuclidean's V) taken from the fit's data.
            reference_X, prepared = _metrics.prepare_data(self._fit_X, spec, "TSNE.transform")
            sparse_ref = scipy.sparse.issparse(reference_X)
            if sparse_ref != scipy.sparse.issparse(D):
                D = scipy.sparse.csr_matrix(D) if sparse_ref else D.toarray()
            queries, _ = _metrics.prepare_data(D, prepared, "TSNE.transform")
            indices, distances = _metrics.blocked_neighbors(
                reference_X, k, prepared, threads, owner="TSNE.transform", queries=queries)
        P_rows = kernel.conditional(distances)
        m = D.shape[0]
        order = np.argsort(indices, axis=1, kind="stable")
        cols = np.take_along_axis(indices, order, axis=1)
        vals = np.take_along_axis(P_rows, order, axis=1)
        indptr = np.arange(0, m * k + 1, k, dtype=np.int64)
        return self._wrap_output(self._place(indptr, cols.ravel(), vals.ravel(), checked), X)

    def _place(self, indptr, indices, data, checked: dict) -> np.ndarray:
        """The new points of the CSR rows (indptr, indices, data) of their affinities to the
        fitted points (each row summing to 1, columns sorted): started at the affinity-weighted
        mean of the fitted positions, then optimised with transform's ``checked`` parameters."""
        indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        indices = np.ascontiguousarray(indices, dtype=np.int32)
        data = np.ascontiguousarray(data, dtype=np.float64)
        m, reference = len(indptr) - 1, self.embedding_
        rows = scipy.sparse.csr_matrix((data, indices, indptr), shape=(m, reference.shape[0]))
        Y = np.ascontiguousarray(rows @ reference)
        params = _core.TransformParams()
        for name, value in checked.items():
            setattr(params, name, value)
        params.dof = check_real(self.dof, "dof", min_value=0.0, min_open=True, owner="TSNE")
        _core.transform(indptr, indices, data, reference, Y, params, self._n_jobs(), None, [])
        return Y

    # ------------------------------------------------------------ scikit-learn conventions

    def _check_feature_names(self, X) -> None:
        """scikit-learn's rule: a DataFrame given to transform must have the fit's columns, in
        the fit's order; a mismatch of having names at all is a warning."""
        fitted = getattr(self, "feature_names_in_", None)
        names = _feature_names(X)
        if fitted is None and names is None:
            return
        if fitted is None:
            warnings.warn(f"X has feature names, but {type(self).__name__} was fitted without "
                          f"feature names", UserWarning, stacklevel=3)
            return
        if names is None:
            warnings.warn(f"X does not have valid feature names, but {type(self).__name__} "
                          f"was fitted with feature names", UserWarning, stacklevel=3)
            return
        if len(names) != len(fitted) or (names != fitted).any():
            unseen = [c for c in names if c not in set(fitted)]
            missing = [c for c in fitted if c not in set(names)]
            detail = "".join([f"\nFeature names unseen at fit time:\n- {', '.join(map(str, unseen))}"
                              if unseen else "",
                              f"\nFeature names seen at fit time, yet now missing:\n- "
                              f"{', '.join(map(str, missing))}" if missing else "",
                              "\nFeature names must be in the same order as they were in fit."
                              if not unseen and not missing else ""])
            raise ValueError("The feature names should match those that were passed during "
                             "fit." + detail)

    def get_feature_names_out(self, input_features=None):
        """Names of the embedding's columns: ``tsne0``, ``tsne1``, ... (scikit-learn's
        class-name prefix). ``input_features`` is checked against the fit's, if given."""
        self._check_fitted()
        if input_features is not None:
            given = np.asarray(input_features, dtype=object)
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is not None and (len(given) != len(fitted) or (given != fitted).any()):
                raise ValueError("input_features is not equal to feature_names_in_")
            if fitted is None and len(given) != self.n_features_in_:
                raise ValueError(f"input_features should have length equal to number of "
                                 f"features ({self.n_features_in_}), got {len(given)}")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.embedding_.shape[1])],
                          dtype=object)

    if not _HAVE_SKLEARN:
        def set_output(self, *, transform=None):
            """``transform="pandas"``: fit_transform and transform return DataFrames with
            the columns of :meth:`get_feature_names_out` (scikit-learn's set_output;
            "default" or None: arrays)."""
            if transform not in (None, "default", "pandas"):
                raise ValueError(f"output config must be 'default' or 'pandas'; got {transform!r}")
            if transform is not None:
                self._output = transform
            return self

    def _wrap_output(self, Y, X):
        """Y as it is: scikit-learn's set_output wraps the returned arrays itself; without
        scikit-learn, the output chosen with :meth:`set_output`."""
        if _HAVE_SKLEARN or getattr(self, "_output", "default") != "pandas":
            return Y
        import pandas as pd

        index = getattr(X, "index", None)
        return pd.DataFrame(Y, columns=self.get_feature_names_out(), index=index)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        precomputed = isinstance(self.metric, str) and self.metric == "precomputed"
        tags.input_tags.pairwise = precomputed
        tags.input_tags.sparse = True  # sparse X, and sparse kNN distance graphs when precomputed
        tags.non_deterministic = False
        return tags
