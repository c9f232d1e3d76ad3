"""Contrastive neighbour embeddings: ``contrastive_embedding`` and ``spectrum``.

NCE, negative sampling (NEG) and InfoNCE on t-SNE's kNN graph and affinities P (Damrich,
Böhm, Hamprecht & Kobak, "From t-SNE to UMAP with contrastive learning", ICLR 2023). The
optimiser is in the C++ core (cpp/src/contrastive.cpp); this module validates, resolves the
input (data, precomputed distances or affinities) with the helpers of :func:`turbotsne.tsne`,
and plots the spectrum.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import numpy as np

from . import _core
from ._anndata_check import reject_anndata
from ._api import _check_run, _initial_embedding, _neighbor_params
from . import _kernels
from ._api import _resolve_input as _api_resolve_input
from ._progress import Progress, run_observed, stage_callbacks
from ._validation import (
    Choice,
    Int,
    NoneOr,
    Real,
    check_embedding,
    check_int,
    check_params,
    check_real,
)

__all__ = ["contrastive_embedding", "spectrum", "plot_spectrum", "umap_z_bar", "tsne_z_bar"]

_LOSSES = ("neg", "nce", "infonce")
_OWNER = "contrastive_embedding"

#: What the optimiser's parameters must be, checked in this order (the signature's); z_bar,
#: whose meaning depends on the loss, by _check_z_bar.
_OPTIMIZER_CONSTRAINTS = {
    "loss": Choice(_LOSSES),
    "n_negatives": Int(1, 10000),
    "n_epochs": Int(1),
    "positives_per_epoch": Int(1, 10000),
    "learning_rate": Real(0.0, lo_open=True),
    "dof": Real(0.0, lo_open=True),
    "max_step_norm": NoneOr(Real(0.0, lo_open=True)),
}


def umap_z_bar(n_samples: int, n_negatives: int = 5) -> float:
    """The fixed normalisation Z̄ with which NEG is UMAP's loss: ``|X| / m``.

    ``|X| = n_samples * (n_samples - 1)`` is the number of ordered pairs of distinct points
    and ``m = n_negatives``; then the NEG classifier ``q / (q + Z̄ m / |X|)`` is ``q / (q + 1)``,
    UMAP's (with the Cauchy kernel).
    """
    n = check_int(n_samples, "n_samples", min_value=2, owner="umap_z_bar")
    m = check_int(n_negatives, "n_negatives", min_value=1, owner="umap_z_bar")
    return float(_core.umap_z_bar(n, m))


def tsne_z_bar(n_samples: int) -> float:
    """A Z̄ at which NEG gives t-SNE-like embeddings: ``100 * n_samples``.

    t-SNE's partition function ``Σ_{i≠j} (1 + d_ij²)^-1`` on a finished embedding is of this
    order (the rule of Damrich et al.'s code): measured on ``tsne``'s embeddings, 98 n on
    MNIST (70,000 points) and 10 n on digits (1,797 points).
    """
    return 100.0 * check_int(n_samples, "n_samples", min_value=2, owner="tsne_z_bar")


def _check_z_bar(z_bar, loss: str, owner: str):
    if z_bar is None:
        return None
    if loss == "infonce":
        raise ValueError(
            f"The 'z_bar' parameter of {owner} is not used with loss='infonce' (InfoNCE "
            f"normalises within each positive pair's noise sample); leave it at None."
        )
    return check_real(z_bar, "z_bar", min_value=0.0, min_open=True, owner=owner)


def _resolve_input(X, *, perplexity, neighbors, metric, affinities, init, seed, owner):
    """(X or None, P, n, neighbour parameters, source in words): what the core needs.

    The same sources as :func:`turbotsne.tsne` (see ``_api._resolve_input``): data (P None:
    computed in the core), given affinities (P their checked CSR arrays) or precomputed
    distances (P a function ``(threads, progress) -> CSR arrays``, called when the run starts).
    """
    inp = _api_resolve_input(X, kernel=_kernels.Kernel("perplexity", (perplexity,)),
                             metric=metric, affinities=affinities, init=init, owner=owner,
                             neighbors=neighbors, seed=seed)
    X, P, n = inp.X, inp.P, inp.n
    params, used = _neighbor_params(neighbors, n, seed, 0 if X is None or P is not None else X.shape[1])
    params.metric = getattr(_core.Metric, "euclidean" if P is not None else inp.metric)
    return X, P, n, params, (inp.source if P is not None else f"{inp.source}, neighbors={used}, "
                             f"metric={inp.metric}")


def contrastive_embedding(
    X,
    n_components: int = 2,
    *,
    loss: str = "neg",
    z_bar: Optional[float] = None,
    n_negatives: int = 5,
    n_epochs: int = 500,
    learning_rate: float = 2.0,
    positives_per_epoch: int = 10,
    init: Union[str, np.ndarray] = "pca",
    perplexity: float = 30.0,
    neighbors: str = "auto",
    metric: str = "euclidean",
    affinities=None,
    dof: float = 1.0,
    max_step_norm: Optional[float] = 5.0,
    random_state=None,
    n_jobs: int = -1,
    verbose: bool = False,
    callback: Optional[Callable[[int, float, np.ndarray], bool]] = None,
    callback_every: int = 50,
) -> np.ndarray:
    """Embed the rows of ``X`` with a contrastive loss: NCE (≈ t-SNE), NEG (UMAP's family) or
    InfoNCE, on the same kNN graph and affinities P as :func:`turbotsne.tsne`.

    Positive pairs ij are drawn with probability p_ij, noise pairs uniformly among all ordered
    pairs of distinct points (``n_negatives`` = m per positive pair); similarities are the
    Cauchy kernel q_ij = 1 / (1 + d_ij²) (Student-t with ``dof``). With ``|X| = n (n - 1)``
    and the classifier ``ρ = q / (q + Z m / |X|)``, the losses are (Damrich et al., ICLR 2023):

    - "nce": -log ρ for positives, -log(1 - ρ) for noise pairs, with Z learned along with the
      embedding. It approximates t-SNE, the more closely the more noise pairs (see
      ``n_negatives``).
    - "neg": the same with Z = ``z_bar`` fixed. ``z_bar = |X| / m`` (the default,
      :func:`umap_z_bar`) is exactly UMAP's loss (ρ = q / (q + 1)); ``z_bar`` near t-SNE's
      partition function (about ``100 n``, :func:`tsne_z_bar`) gives t-SNE-like embeddings.
    - "infonce": -log(q_ij / (q_ij + Σ_k q_ik)) over each positive pair's m noise partners k.

    **Direction of z_bar.** In the paper's parametrisation (model q_ij / Z̄), a *larger* Z̄
    means more attraction: t-SNE sits at Z̄ ≈ 100 n and UMAP at the much larger |X| / m ≈ n² / 5
    (for n above ~500); beyond UMAP the clusters contract further (towards Laplacian
    eigenmaps), below t-SNE they split more finely. (Said in terms of the classifier's noise
    constant c = Z̄ m / |X|, UMAP is c = 1 and t-SNE a *small* c.)

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), a distance matrix, or None
        As in :func:`turbotsne.tsne`.
    n_components : int, default=2
    loss : {"neg", "nce", "infonce"}, default="neg"
    z_bar : float, optional
        "neg": the fixed normalisation Z̄ (default: UMAP's, ``umap_z_bar(n, n_negatives)``).
        "nce": the starting value of the learned Z (default the same; it is re-estimated by a
        Newton step on log Z every epoch, so the start hardly matters). Not used by "infonce".
    n_negatives : int, default=5
        Noise pairs m per positive pair (UMAP's default). For "neg" it also moves UMAP's Z̄.
        Towards t-SNE, more noise matters beyond variance: the positive term log(1 + c(1 +
        d²)), c = Z m/|X|, is t-SNE's attraction only where c(1 + d²) ≫ 1 and a linear spring
        closer in, so with m = 5 the clusters are t-SNE-like but their insides are not. For
        NCE as an approximation of t-SNE use m ≈ 50 with ``positives_per_epoch=3`` and
        ``learning_rate=3`` (about the same cost as the defaults): neighbour recall@10 on
        digits 0.55 instead of 0.49 (t-SNE: 0.58), on MNIST 0.145 instead of 0.095 (t-SNE:
        0.37).
    n_epochs : int, default=500
        Epochs of SGD. In each epoch every point draws ``positives_per_epoch`` partners.
    learning_rate : float, default=2.0
        Step size, decaying linearly to 0 over the epochs. It is scaled (by (1 + c)/(2c) for
        "neg" and "nce") so that 1 moves a point onto its sampled neighbours' mean under the
        stiffest attraction, whatever Z̄. 2 was measured on MNIST (70,000 points): at UMAP's
        Z̄ its 10-NN accuracy is 0.972 against 0.962 at 1 (and 0.972 at 1 only with twice
        the epochs); on digits 1, 2 and 4 give the same quality.
    positives_per_epoch : int, default=10
        Positive partners drawn per point and epoch (with their noise pairs).
    init : {"pca", "random"} or ndarray of shape (n_samples, n_components), default="pca"
        "pca": the principal components of X scaled to standard deviation 1 in the first
        (``tsne``'s start times 10⁴, the natural scale of SGD here). "random": Gaussian with
        standard deviation 1. An array is used as it is.
    perplexity, neighbors, metric, affinities :
        The kNN graph and P, exactly as in :func:`turbotsne.tsne`.
    dof : float, default=1.0
        Degrees of freedom α of the kernel (1 + d²/α)^-α; 1 is the Cauchy kernel.
    max_step_norm : float or None, default=5.0
        Longest step a point may take in one epoch. None: no limit.
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Seed of every sample drawn (and of random init, approximate neighbours). The output
        is bit-identical for a given seed whatever ``n_jobs``.
    n_jobs : int, default=-1
    verbose : bool, default=False
        Progress on stderr as in :func:`turbotsne.tsne` (neighbour search, stage timings) and,
        every 50 epochs, the mean sampled loss per positive pair; the messages are records of
        the ``turbotsne`` logger either way.
    callback : callable, optional
        ``callback(epoch, loss, embedding)`` every ``callback_every`` epochs; returning True
        stops the run.
    callback_every : int, default=50

    Returns
    -------
    embedding : ndarray of shape (n_samples, n_components), float64

    Notes
    -----
    Every epoch computes each point's sampled gradient from the positions at the start of the
    epoch (a synchronous step), with random draws hashed from (seed, epoch, point, slot): the
    result depends neither on the thread count nor on scheduling. Press Ctrl-C to interrupt.
    """
    Y, _ = _contrastive(
        X, n_components, loss=loss, z_bar=z_bar, n_negatives=n_negatives, n_epochs=n_epochs,
        learning_rate=learning_rate, positives_per_epoch=positives_per_epoch, init=init,
        perplexity=perplexity, neighbors=neighbors, metric=metric, affinities=affinities,
        dof=dof, max_step_norm=max_step_norm, random_state=random_state, n_jobs=n_jobs,
        verbose=verbose, callback=callback, callback_every=callback_every)
    return Y


def _optimizer_params(*, z_bar, owner, **values):
    """A ``_core.ContrastiveOptimizerParams`` from z_bar and the values of
    _OPTIMIZER_CONSTRAINTS, checked."""
    checked = check_params(values, _OPTIMIZER_CONSTRAINTS, owner=owner)
    opt = _core.ContrastiveOptimizerParams()
    opt.z_bar = _check_z_bar(z_bar, checked["loss"], owner)
    checked["loss"] = getattr(_core.ContrastiveLoss, checked["loss"])
    for name, value in checked.items():
        setattr(opt, name, value)
    return opt


def _contrastive(X, n_components=2, *, loss="neg", z_bar=None, n_negatives=5, n_epochs=500,
                 learning_rate=2.0, positives_per_epoch=10, init="pca", perplexity=30.0,
                 neighbors="auto", metric="euclidean", affinities=None, dof=1.0,
                 max_step_norm=5.0, random_state=None, n_jobs=-1, verbose=False, callback=None,
                 callback_every=50, owner=_OWNER):
    """``contrastive_embedding`` returning ``(embedding, info)``; info: z, loss, n_epochs,
    stopped, timings."""
    reject_anndata(X, f"turbotsne.{owner}")
    checked = _check_run(owner, metric=metric, neighbors=neighbors, n_jobs=n_jobs,
                         random_state=random_state, perplexity=perplexity,
                         n_components=n_components, init=init, callback_every=callback_every,
                         callback=callback)
    metric, n_jobs, seed, perplexity, n_components = (
        checked[name] for name in ("metric", "n_jobs", "random_state", "perplexity", "n_components"))
    opt = _optimizer_params(loss=loss, z_bar=z_bar, n_negatives=n_negatives, n_epochs=n_epochs,
                            learning_rate=learning_rate, positives_per_epoch=positives_per_epoch,
                            dof=dof, max_step_norm=max_step_norm, owner=owner)
    X, P, n, neighbor_params, source = _resolve_input(
        X, perplexity=perplexity, neighbors=neighbors, metric=metric, affinities=affinities,
        init=init, seed=seed, owner=owner)

    params = _core.ContrastiveParams()
    params.n_components = n_components
    params.perplexity = perplexity
    params.neighbors = neighbor_params
    params.seed = seed
    params.n_threads = n_jobs
    params.optimizer = opt
    Y, params.init = _initial_embedding(init, n, n_components)

    progress = Progress.create(opt.n_epochs, verbose)
    if progress is not None:
        z_text = "learned" if opt.loss == _core.ContrastiveLoss.nce else "-"
        if opt.loss == _core.ContrastiveLoss.neg:
            z_text = f"{opt.z_bar if opt.z_bar is not None else _core.umap_z_bar(n, opt.n_negatives):.4g}"
        progress.message(f"{n} samples x {source} -> {n_components}-D, loss={loss}, "
                         f"z_bar={z_text}, n_negatives={opt.n_negatives}, "
                         f"n_epochs={opt.n_epochs}, threads={n_jobs}")
    def run(*observer):
        empty = (np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.float64))
        joint = P(n_jobs, progress) if callable(P) else empty if P is None else P
        return _core.contrastive(*joint, X if X is not None else np.empty((0, 1)), Y, params,
                                 *observer)

    info = run_observed(run, progress, callback, checked["callback_every"],
                        lambda info: f"loss {info['loss']:.4f} after {info['n_epochs']} epochs")
    return Y, info


def spectrum(
    X,
    z_bars: Optional[Sequence[float]] = None,
    n_components: int = 2,
    *,
    n_negatives: int = 5,
    n_epochs: int = 500,
    learning_rate: float = 2.0,
    init: Union[str, np.ndarray] = "pca",
    perplexity: float = 30.0,
    neighbors: str = "auto",
    metric: str = "euclidean",
    affinities=None,
    dof: float = 1.0,
    random_state=None,
    n_jobs: int = -1,
    verbose: bool = False,
):
    """NEG embeddings along the t-SNE ↔ UMAP spectrum, from one P and one initialisation.

    Parameters
    ----------
    X, n_components, perplexity, neighbors, metric, affinities, dof, random_state, n_jobs :
        As in :func:`contrastive_embedding`. P is computed once and shared by every panel.
    z_bars : sequence of float, optional
        The fixed normalisations Z̄, in the order given. Default: 5 values evenly spaced in
        log between t-SNE's (``tsne_z_bar(n)``) and UMAP's (``umap_z_bar(n, n_negatives)``).
        Larger Z̄ = more attraction (see :func:`contrastive_embedding`).
    n_negatives, n_epochs, learning_rate : as in :func:`contrastive_embedding`.
    init : {"pca", "random"} or ndarray, default="pca"
        Computed once (for "random", from ``random_state``) and used by every panel.
    verbose : bool, default=False
        Progress of the affinities (computed once) and of every panel, as in
        :func:`contrastive_embedding`.

    Returns
    -------
    z_bars : ndarray of shape (k,)
    embeddings : ndarray of shape (k, n_samples, n_components)
        ``embeddings[i]`` is ``contrastive_embedding(..., loss="neg", z_bar=z_bars[i])`` from
        the shared start. Draw them with :func:`plot_spectrum`.
    """
    owner = "spectrum"
    reject_anndata(X, "turbotsne.spectrum")
    checked = _check_run(owner, metric=metric, neighbors=neighbors, n_jobs=n_jobs,
                         random_state=random_state, perplexity=perplexity,
                         n_components=n_components, init=init)
    metric, threads, seed, perplexity, n_components = (
        checked[name] for name in ("metric", "n_jobs", "random_state", "perplexity", "n_components"))
    # Every parameter is checked before the affinities are computed.
    m = _optimizer_params(loss="neg", z_bar=None, n_negatives=n_negatives, n_epochs=n_epochs,
                          learning_rate=learning_rate, positives_per_epoch=10, dof=dof,
                          max_step_norm=None, owner=owner).n_negatives
    X, P, n, neighbor_params, _ = _resolve_input(
        X, perplexity=perplexity, neighbors=neighbors, metric=metric, affinities=affinities,
        init=init, seed=seed, owner=owner)
    if z_bars is None:
        z_bars = np.geomspace(tsne_z_bar(n), umap_z_bar(n, m), 5)
    else:
        z_bars = np.atleast_1d(np.asarray(z_bars, dtype=object))
        if z_bars.ndim != 1 or z_bars.size == 0:
            raise ValueError(f"The 'z_bars' parameter of spectrum must be a non-empty 1-D "
                             f"sequence of positive floats; got shape {z_bars.shape}.")
        z_bars = np.array([check_real(z, "z_bars", min_value=0.0, min_open=True, owner=owner)
                           for z in z_bars])
    if not isinstance(init, str):
        start = check_embedding(init, n, n_components, name="init")
    if P is None or callable(P):  # computed once, for every panel
        progress = Progress.create(0, verbose)
        try:
            P = (P(threads, progress) if callable(P) else
                 _core.affinities(X, perplexity, neighbor_params, threads, True,
                                  *stage_callbacks(progress)))
        finally:
            if progress is not None:
                progress.close()
    if isinstance(init, str):
        # "random" reads only the number of rows of X (which may be None with affinities).
        start = _core.initial_embedding(X if X is not None else np.zeros((n, 1)), n_components,
                                        getattr(_core.Init, init), seed, threads)
        start *= 1.0 / 1e-4  # tsne's start at standard deviation 1, as contrastive_embedding
    from scipy.sparse import csr_matrix

    P = csr_matrix((P[2], P[1], P[0]), shape=(n, n))
    out = np.empty((len(z_bars), n, n_components))
    for k, z in enumerate(z_bars):
        out[k], _ = _contrastive(
            X, n_components, loss="neg", z_bar=float(z), n_negatives=m, n_epochs=n_epochs,
            learning_rate=learning_rate, init=start.copy(), affinities=P, dof=dof,
            random_state=seed, n_jobs=threads, verbose=verbose, owner=owner)
    return z_bars, out


def plot_spectrum(z_bars, embeddings, labels=None, *, n_negatives: int = 5, axes=None,
                  panel_size: float = 3.0, **plot_kwargs):
    """Draw the panels of :func:`spectrum` side by side, each titled by its Z̄ and by Z̄ over
    UMAP's (``umap_z_bar(n_samples, n_negatives)``).

    Returns the matplotlib Figure. ``plot_kwargs`` go to :func:`turbotsne.plot`.
    """
    from ._plot import _import_matplotlib, plot

    _import_matplotlib()
    embeddings = np.asarray(embeddings)
    z_bars = np.asarray(z_bars, dtype=np.float64).reshape(-1)
    if embeddings.ndim != 3 or embeddings.shape[0] != z_bars.size:
        raise ValueError(f"embeddings must have shape (len(z_bars), n_samples, 2); got "
                         f"{embeddings.shape} for {z_bars.size} z_bars.")
    k = z_bars.size
    if axes is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, k, figsize=(panel_size * k, panel_size), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    z_umap = umap_z_bar(embeddings.shape[1], n_negatives)
    for z, Y, ax in zip(z_bars, embeddings, axes):
        plot(Y, labels, ax=ax, legend=False, title=f"Z̄ = {z:.3g}\n({z / z_umap:.3g} × UMAP's)",
             **plot_kwargs)
    return fig
