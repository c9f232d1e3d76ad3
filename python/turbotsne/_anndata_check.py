"""Recognising AnnData objects without importing anndata (an optional dependency).

``tsne``, ``TSNE.fit``/``fit_transform``/``transform`` call :func:`reject_anndata` first, so
that an AnnData object passed where an array belongs gives a one-line error pointing at
``turbotsne.anndata.tsne`` instead of numpy's message about converting an object array.
"""

from __future__ import annotations

__all__ = ["is_anndata", "reject_anndata"]


def is_anndata(obj) -> bool:
    """Whether ``obj`` is an ``anndata.AnnData`` (or a subclass of it, or a view of one),
    judged by the names of its classes, so anndata is never imported."""
    return any(cls.__name__ == "AnnData" and cls.__module__.split(".")[0] == "anndata"
               for cls in type(obj).__mro__)


def reject_anndata(obj, owner: str) -> None:
    """Raise a one-line TypeError when ``obj`` is an AnnData object; ``owner`` is the function
    that received it (e.g. "turbotsne.tsne", "TSNE.fit_transform")."""
    if is_anndata(obj):
        raise TypeError(
            f"{owner}() got an AnnData object; use turbotsne.anndata.tsne(adata, use_rep='X_pca'), "
            f"which reads adata.obsm and writes adata.obsm['X_tsne'], or pass an array such as "
            f"adata.obsm['X_pca']."
        )
