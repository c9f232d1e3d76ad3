"""t-SNE of an AnnData object, the way ``scanpy.tl.tsne`` stores it.

>>> import turbotsne.anndata
>>> turbotsne.anndata.tsne(adata)            # doctest: +SKIP
>>> adata.obsm["X_tsne"].shape                # doctest: +SKIP
(n_obs, 2)

anndata is an optional dependency (``pip install "turbotsne[anndata]"``). This module never
imports it: it reads and writes the object it is given (``obsm``, ``obsp``, ``uns``, ``X``,
``copy()``), so ``import turbotsne`` stays as light as before.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Optional

import numpy as np
import scipy.sparse

from . import _api, _core
from ._anndata_check import is_anndata
from ._validation import check_bool, check_int

__all__ = ["tsne"]

_OWNER = "turbotsne.anndata.tsne"

#: scanpy's ``settings.N_PCS``: with ``use_rep=None``, X itself is embedded when it has at
#: most this many variables (scanpy's ``_choose_representation``).
N_PCS = 50

#: tsne() parameters that the graph inputs decide themselves, so that passing them is an
#: error (with use_graph="connectivities" the matrix replaces the kernel and the neighbours,
#: with "distances" the graph replaces the metric and the search).
_NOT_WITH_CONNECTIVITIES = ("perplexity", "affinities", "metric", "metric_params", "neighbors",
                            "n_neighbors", "sigma")
_NOT_WITH_DISTANCES = ("metric", "metric_params", "neighbors")

#: The parameters scanpy's sc.tl.tsne records in uns[...]["params"] (from tsne()'s defaults
#: when not given), besides use_rep.
_SCANPY_PARAMS = ("perplexity", "early_exaggeration", "learning_rate", "n_jobs", "metric")


def tsne(adata, *, use_rep: Optional[str] = None, n_pcs: Optional[int] = None,
         key_added: Optional[str] = None, use_graph: Optional[str] = None, copy: bool = False,
         **tsne_kwargs):
    """Embed the cells of ``adata`` with t-SNE; the embedding goes to ``adata.obsm["X_tsne"]``.

    A drop-in for ``scanpy.tl.tsne``: the same representation is read (``use_rep``,
    ``n_pcs``) and the results are stored under the same keys, so
    ``sc.pl.embedding(adata, basis="tsne")`` (or ``sc.pl.tsne``) draws them. The embedding
    is ``turbotsne.tsne(representation, random_state=0, **tsne_kwargs)``, bit for bit.

    Parameters
    ----------
    adata : anndata.AnnData
        The annotated data matrix. It is modified in place unless ``copy=True``.
    use_rep : str, optional
        The representation to embed: a key of ``adata.obsm`` (e.g. "X_pca") or "X" for
        ``adata.X`` (dense or scipy.sparse; sparse X is never densified). None follows
        scanpy's rule: ``adata.X`` when it has at most 50 variables, otherwise
        ``adata.obsm["X_pca"]``. Where scanpy would then compute a PCA itself (more than 50
        variables and no "X_pca"), this is an error: run ``sc.pp.pca(adata)`` first, or pass
        ``use_rep="X"`` to embed all the variables.
    n_pcs : int, optional
        Use only the first ``n_pcs`` columns of the obsm representation (e.g. 30 of 50
        principal components). At most the number of columns. ``n_pcs=0`` with
        ``use_rep=None`` means X (scanpy's convention). An error where X is embedded (its
        variables are not principal components) and with ``use_graph``.
    key_added : str, optional
        Where to store the results: by default the embedding in ``adata.obsm["X_tsne"]`` and
        the parameters in ``adata.uns["tsne"]``; if given, both under ``key_added`` (as
        scanpy does; draw it with ``sc.pl.embedding(adata, basis=key_added)``).
    use_graph : {"connectivities", "distances"} or str, optional
        Embed a neighbour graph of ``adata.obsp`` (from ``sc.pp.neighbors``) instead of a
        representation. "connectivities": the (UMAP) connectivities are the affinities,
        symmetrised and normalised to sum 1 (``turbotsne.tsne(affinities=...)``), so
        perplexity and the neighbour search do not apply. "distances": the kNN distance
        graph with ``metric="precomputed"``; each point keeps its ``floor(3 * perplexity)``
        nearest, so the graph must hold that many per point: scanpy's default of 15
        neighbours (14 besides the cell) is too few for the default perplexity 30 (90
        neighbours), and the error offers the perplexity that fits (about k/3),
        ``affinities="uniform"`` (equal weights over the graph's neighbours; with
        ``affinities="uniform"`` or ``sigma``, ``n_neighbors`` defaults to the graph's
        number of neighbours here) or a graph with more neighbours. Keys of
        ``sc.pp.neighbors(key_added=...)``, "<key>_connectivities" and "<key>_distances",
        are read the same way. With a graph, ``init`` defaults to "spectral" (the leading
        eigenvectors of the graph); "pca" is an error, since no data is read.
    copy : bool, default=False
        Work on a copy of ``adata`` and return it, leaving ``adata`` unchanged.
    **tsne_kwargs
        Passed to :func:`turbotsne.tsne` (perplexity, n_components, method, learning_rate,
        n_iter, n_jobs, verbose, ...), with its defaults, except ``random_state``, which is
        0 here as in scanpy. Note that ``learning_rate`` is on openTSNE's and FIt-SNE's scale,
        4 times scikit-learn's and so scanpy's: scanpy's 1000 is 4000 here (the default
        "auto" is n / 12 on this scale, then n).

    Returns
    -------
    None, or the modified copy of ``adata`` when ``copy=True``. Sets:

    ``adata.obsm["X_tsne" | key_added]`` : ndarray of shape (n_obs, n_components), float64
        The embedding.
    ``adata.uns["tsne" | key_added]`` : dict
        ``{"params": {...}, "kl_divergence": float, "n_iter": int}``. ``params`` holds
        scanpy's entries (perplexity, early_exaggeration, learning_rate, n_jobs, metric,
        use_rep: the representation read, e.g. "X_pca") and, where given, n_pcs, use_graph,
        random_state, the other tsne_kwargs that are numbers, strings or lists of numbers,
        and "method" (what "auto" resolved to).

    Raises
    ------
    TypeError
        ``adata`` is not an AnnData object, or a parameter has the wrong type.
    ValueError
        ``use_rep`` is neither "X" nor a key of ``adata.obsm`` (the message lists them),
        ``n_pcs`` exceeds the representation's columns, ``use_graph`` names no graph in
        ``adata.obsp`` (listed), or a graph holds too few neighbours for the perplexity.

    Examples
    --------
    >>> import scanpy as sc, turbotsne.anndata                     # doctest: +SKIP
    >>> sc.pp.pca(adata)                                          # doctest: +SKIP
    >>> turbotsne.anndata.tsne(adata, n_jobs=8)                   # doctest: +SKIP
    >>> sc.pl.embedding(adata, basis="tsne", color="louvain")     # doctest: +SKIP
    """
    if not is_anndata(adata):
        raise TypeError(
            f"{_OWNER}: adata must be an anndata.AnnData object; got "
            f"{type(adata).__module__}.{type(adata).__name__}. For arrays use turbotsne.tsne(X).")
    if key_added is not None and not isinstance(key_added, str):
        raise TypeError(f"The 'key_added' parameter of {_OWNER} must be a str or None. "
                        f"Got {key_added!r} of type {type(key_added).__name__} instead.")
    copy = check_bool(copy, "copy", owner=_OWNER)
    for name in ("X", "return_info"):
        if name in tsne_kwargs:
            what = ("the representation comes from use_rep/use_graph" if name == "X"
                    else "the run's KL divergence and iterations are written to adata.uns")
            raise TypeError(f"{_OWNER}() got an unexpected keyword argument {name!r} ({what}).")
    kwargs = dict(random_state=0)
    kwargs.update(tsne_kwargs)
    if use_graph is None:
        X, rep = _representation(adata, use_rep, n_pcs)
        source = dict(use_rep=rep)
    else:
        if use_rep is not None or n_pcs is not None:
            which = "use_rep" if use_rep is not None else "n_pcs"
            raise ValueError(
                f"The '{which}' parameter of {_OWNER} has no effect with use_graph={use_graph!r}: "
                f"the graph is embedded, not a representation. Pass one or the other.")
        X, extra = _graph(adata, use_graph, kwargs)
        kwargs.update(extra)
        source = dict(use_graph=use_graph)
    if copy:
        adata = adata.copy()
    Y, info = _api.tsne(X, return_info=True, **kwargs)

    key_uns, key_obsm = ("tsne", "X_tsne") if key_added is None else (key_added, key_added)
    adata.obsm[key_obsm] = Y
    adata.uns[key_uns] = dict(
        params=_params(kwargs, source, n_pcs, info, tsne_kwargs),
        kl_divergence=float(info["kl_divergence"]), n_iter=int(info["n_iter"]))
    return adata if copy else None


def _representation(adata, use_rep, n_pcs):
    """(the matrix to embed, its name: "X" or the obsm key) by scanpy's
    ``_choose_representation``, with errors where scanpy would ignore n_pcs or run a PCA."""
    if n_pcs is not None:
        n_pcs = check_int(n_pcs, "n_pcs", min_value=0, owner=_OWNER)
    if use_rep is not None and not isinstance(use_rep, str):
        raise TypeError(f"The 'use_rep' parameter of {_OWNER} must be a str (a key of "
                        f"adata.obsm, or 'X') or None. Got {type(use_rep).__name__} instead.")
    if use_rep is None and n_pcs == 0:  # scanpy's way of asking for X
        return _matrix(adata.X), "X"
    keys = list(adata.obsm.keys())
    if use_rep is None:
        if adata.n_vars <= N_PCS:
            if n_pcs is not None:
                raise ValueError(
                    f"The 'n_pcs' parameter of {_OWNER} has no effect here: adata has "
                    f"{adata.n_vars} variables (at most {N_PCS}), so X is embedded as it is, "
                    f"as scanpy does. Pass use_rep='X_pca' (or another obsm key) to use its "
                    f"first {n_pcs} columns.")
            return _matrix(adata.X), "X"
        if "X_pca" not in adata.obsm:
            raise ValueError(
                f"adata has {adata.n_vars} variables and no obsm['X_pca'] (obsm keys: {keys}); "
                f"scanpy's tsne would run a PCA first. Compute it (sc.pp.pca(adata)), or pass "
                f"use_rep='X' to embed the {adata.n_vars} variables, or use_rep=<an obsm key>.")
        use_rep = "X_pca"
    if use_rep in adata.obsm:
        x = _matrix(adata.obsm[use_rep])
        if n_pcs is not None:
            if n_pcs == 0 or n_pcs > x.shape[1]:
                raise ValueError(
                    f"The 'n_pcs' parameter of {_OWNER} must be in the range [1, {x.shape[1]}] "
                    f"(the columns of adata.obsm[{use_rep!r}]). Got {n_pcs} instead.")
            x = x[:, :n_pcs]
        return x, use_rep
    if use_rep == "X":
        if n_pcs is not None:
            raise ValueError(
                f"The 'n_pcs' parameter of {_OWNER} has no effect with use_rep='X' (the "
                f"variables of X are not principal components). Leave it None, or pass "
                f"use_rep='X_pca'.")
        return _matrix(adata.X), "X"
    raise ValueError(
        f"The 'use_rep' parameter of {_OWNER} must be 'X' or a key of adata.obsm "
        f"({keys}). Got {use_rep!r} instead.")


def _matrix(x):
    """An obsm entry or X as an array or scipy.sparse matrix (a DataFrame's values)."""
    if x is None:
        raise ValueError(f"{_OWNER}: adata.X is None; pass use_rep=<a key of adata.obsm>.")
    if scipy.sparse.issparse(x) or isinstance(x, np.ndarray):
        return x
    to_numpy = getattr(x, "to_numpy", None)  # a pandas DataFrame in obsm
    return to_numpy() if callable(to_numpy) else x


def _graph(adata, use_graph, kwargs):
    """(the X argument of tsne(), the keyword arguments the graph sets) for
    ``use_graph``, checked against the tsne keyword arguments ``kwargs``."""
    if not isinstance(use_graph, str):
        raise TypeError(f"The 'use_graph' parameter of {_OWNER} must be 'connectivities', "
                        f"'distances' or None. Got {type(use_graph).__name__} instead.")
    kind = next((k for k in ("connectivities", "distances")
                 if use_graph == k or use_graph.endswith("_" + k)), None)
    keys = list(adata.obsp.keys())
    if kind is None:
        raise ValueError(
            f"The 'use_graph' parameter of {_OWNER} must be 'connectivities' or 'distances' "
            f"(or sc.pp.neighbors' '<key>_connectivities' / '<key>_distances'). Got "
            f"{use_graph!r} instead (obsp keys: {keys}).")
    if use_graph not in adata.obsp:
        raise ValueError(
            f"use_graph={use_graph!r}: adata.obsp has no {use_graph!r} (obsp keys: {keys}). "
            f"Compute the neighbour graph first (sc.pp.neighbors(adata)), or leave use_graph "
            f"None to embed a representation.")
    G = adata.obsp[use_graph]
    if not scipy.sparse.issparse(G):
        G = np.asarray(G)
    banned = _NOT_WITH_CONNECTIVITIES if kind == "connectivities" else _NOT_WITH_DISTANCES
    for name in banned:
        if name in kwargs:
            raise ValueError(
                f"The '{name}' parameter has no effect with use_graph={use_graph!r}: "
                + ("the connectivities are the affinities (no perplexity, kernel or "
                   "neighbour search)." if kind == "connectivities" else
                   "the graph's distances replace the metric and the neighbour search."))
    init = kwargs.get("init", "spectral")
    if isinstance(init, str) and init == "pca":
        raise ValueError(
            f"init='pca' needs the data, which use_graph={use_graph!r} does not read; leave init "
            f"at its default with a graph ('spectral', from the graph), or pass 'random' or an "
            f"array.")
    if kind == "connectivities":
        return None, dict(affinities=G, init=init)
    extra = dict(metric="precomputed", init=init)
    if scipy.sparse.issparse(G):
        extra.update(_graph_neighbors(G, use_graph, kwargs))
    return G, extra


def _off_diagonal_counts(G) -> np.ndarray:
    """Per row of a sparse graph, its distinct stored columns other than the row itself."""
    S = scipy.sparse.csr_matrix(G, copy=True)
    S.sum_duplicates()  # sorted, unique columns; explicit zeros (duplicate cells) are kept
    rows = np.repeat(np.arange(S.shape[0]), np.diff(S.indptr))
    return np.diff(S.indptr) - np.bincount(rows[S.indices == rows], minlength=S.shape[0])


def _graph_neighbors(G, use_graph: str, kwargs) -> dict:
    """The kernel arguments for a sparse distance graph: n_neighbors (the graph's count) for
    affinities="uniform" and sigma when not given; an error that says what fits when the
    graph holds fewer neighbours per point than the kernel needs."""
    n = G.shape[0]
    counts = _off_diagonal_counts(G)
    row = int(np.argmin(counts))
    k = int(counts[row])
    where = (f"adata.obsp[{use_graph!r}] holds at least {k} neighbours per point besides "
             f"itself (row {row} has the fewest)")
    if k == 0:
        raise ValueError(f"{where}: t-SNE needs neighbours for every point. Recompute the "
                         f"graph (sc.pp.neighbors).")
    fixed = kwargs.get("affinities") == "uniform" or kwargs.get("sigma") is not None
    if fixed:
        n_neighbors = kwargs.get("n_neighbors")
        if n_neighbors is None:
            return dict(n_neighbors=k)
        if isinstance(n_neighbors, numbers.Integral) and n_neighbors > k:
            raise ValueError(f"n_neighbors={n_neighbors} is more than the graph has: {where}. "
                             f"Pass n_neighbors <= {k}, or leave it None (the graph's {k}).")
        return {}
    perplexity = kwargs.get("perplexity", 30.0)
    if isinstance(perplexity, (list, tuple, np.ndarray)) and len(perplexity):
        largest = max(perplexity)
    else:
        largest = perplexity
    if not isinstance(largest, numbers.Real) or isinstance(largest, bool) or not largest > 0:
        return {}  # tsne() reports the bad perplexity
    need = _core.neighbor_count(n, float(largest))
    if need <= k:
        return {}
    fit = round(k / 3, 2)
    while _core.neighbor_count(n, fit) > k:
        fit = round(fit - 0.01, 2)
    given = "perplexity" in kwargs
    raise ValueError(
        f"{where}, too few for perplexity={perplexity!r}{'' if given else ' (the default)'}, "
        f"which uses floor(3 * perplexity) = {need} neighbours per point. Pass perplexity="
        f"{fit:g} (about k/3), or affinities='uniform' (equal weights over the graph's {k} "
        f"neighbours), or recompute the graph with more neighbours (sc.pp.neighbors(adata, "
        f"n_neighbors={need + 1}), which counts the cell itself), or embed a representation "
        f"(use_graph=None), for which turbotsne finds {need} neighbours itself.")


def _is_simple(value) -> bool:
    """Whether ``value`` can be written to .h5ad as it is: a number, a string, a bool, or a
    list of numbers."""
    if isinstance(value, (str, bool, numbers.Number, np.generic)):
        return True
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value))


def _params(kwargs: dict, source: dict, n_pcs, info: dict, given: dict) -> dict:
    """The uns[...]["params"] entry: scanpy's keys with tsne()'s defaults, the source, and
    the simple values of the other keyword arguments given."""
    defaults = {name: p.default for name, p in inspect.signature(_api.tsne).parameters.items()}
    params = {}
    graph = source.get("use_graph")
    unused = set()
    if graph is not None and graph.endswith("connectivities"):
        unused = {"perplexity", "metric"}  # the connectivities are the affinities
    elif kwargs.get("affinities") == "uniform" or kwargs.get("sigma") is not None:
        unused = {"perplexity"}  # n_neighbors (and sigma) set the kernel
    for name in _SCANPY_PARAMS:
        if name in unused:
            continue
        value = kwargs.get(name, defaults[name])
        if _is_simple(value):
            params[name] = list(value) if isinstance(value, tuple) else value
    params.update(source)
    if n_pcs is not None:
        params["n_pcs"] = int(n_pcs)
    for name, value in kwargs.items():
        if name in params or name == "affinities" and not isinstance(value, str):
            continue
        if name in given or name in ("random_state", "init", "n_neighbors"):
            if _is_simple(value):
                params[name] = list(value) if isinstance(value, tuple) else value
    params["method"] = info["method"]
    return params
