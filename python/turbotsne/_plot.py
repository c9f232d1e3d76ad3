"""``turbotsne.plot``: a scatter plot of a 2-D embedding with matplotlib (optional extra)."""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import check_data

__all__ = ["plot"]

#: Float labels with more distinct values than this are drawn as continuous (a colormap and a
#: colorbar); fewer, and integer, string or boolean labels, are categories with a legend.
CONTINUOUS_MIN_VALUES = 20
#: Categorical labels with more categories than this get no legend (it would not fit).
LEGEND_MAX_CATEGORIES = 30


def _import_matplotlib():
    try:
        import matplotlib
        import matplotlib.colors
    except ImportError as exc:
        raise ImportError(
            f"turbotsne.plot needs matplotlib, which is not installed ({exc}). "
            f'Install it with: pip install "turbotsne[plot]"'
        ) from None
    return matplotlib


def _point_size(n: int) -> float:
    """Marker area in points²: 200 / sqrt(n), kept within [0.5, 20]."""
    return float(np.clip(200.0 / np.sqrt(n), 0.5, 20.0))


def _point_alpha(n: int) -> float:
    """Opaque up to 2,000 points, then fading as sqrt(2000 / n) down to 0.25."""
    return float(np.clip(np.sqrt(2000.0 / n), 0.25, 1.0))


def _check_labels(labels, n: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim == 2 and 1 in arr.shape:  # a column or row vector
        arr = arr.reshape(-1)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"labels must be 1-D with one label per point ({n}); got shape {arr.shape}."
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise ValueError(f"labels must be finite; found {arr[bad]} at index {bad}.")
    if arr.dtype.kind not in "biufUSO":
        raise TypeError(f"labels must hold numbers or strings; got dtype {arr.dtype}.")
    return arr.astype(str) if arr.dtype.kind == "O" else arr


def _is_continuous(labels: np.ndarray) -> bool:
    return labels.dtype.kind == "f" and np.unique(labels).size > CONTINUOUS_MIN_VALUES


def _category_colors(matplotlib, k: int, palette):
    """k colours (RGBA rows) for k categories."""
    from matplotlib.colors import to_rgba_array

    if palette is None:
        palette = "tab10" if k <= 10 else "tab20" if k <= 20 else "turbo"
    if isinstance(palette, str):
        try:
            cmap = matplotlib.colormaps[palette]
        except KeyError:
            raise ValueError(
                f"palette must be a matplotlib colormap name or a list of colours; got {palette!r}."
            ) from None
        listed = getattr(cmap, "colors", None)
        if listed is not None and len(listed) >= k:  # a qualitative map: its first k colours
            return to_rgba_array(listed[:k])
        return cmap(np.linspace(0.0, 1.0, k)) if k > 1 else cmap(np.array([0.5]))
    try:
        colors = to_rgba_array(list(palette))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"palette must be a matplotlib colormap name or a list of colours; got {palette!r} ({exc})."
        ) from None
    if colors.shape[0] < k:
        raise ValueError(f"palette has {colors.shape[0]} colours but the labels have {k} categories.")
    return colors[:k]


def _category_name(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def plot(embedding, labels=None, ax=None, *, s=None, alpha=None, palette=None, legend=True,
         title=None, **scatter_kwargs):
    """Scatter plot of a 2-D embedding, coloured by labels.

    Parameters
    ----------
    embedding : array-like of shape (n_samples, 2)
        For example the output of :func:`turbotsne.tsne`. Other shapes are refused: plot two
        columns of a 3-D embedding, or a 1-D embedding against something meaningful, yourself.
    labels : array-like of shape (n_samples,), optional
        Integer, string or boolean labels, and float labels with at most 20 distinct values,
        are categories: one colour each and a legend. Float labels with more distinct values
        are continuous: a colormap and a colorbar.
    ax : matplotlib.axes.Axes, optional
        Where to draw; pyplot's current axes by default.
    s : float, optional
        Marker area in points². By default 200 / sqrt(n_samples) within [0.5, 20], so that
        large embeddings do not turn into solid blobs.
    alpha : float, optional
        Marker opacity: 1 up to 2,000 points, then sqrt(2000 / n_samples), at least 0.25.
    palette : str or sequence of colours, optional
        Categories: a colormap name or a list of colours (at least one per category). By
        default "tab10" up to 10 categories, "tab20" up to 20, evenly spaced colours of
        "turbo" beyond. Continuous labels: a colormap name, "viridis" by default.
    legend : bool, default=True
        Draw a legend (categories; markers enlarged so that they can be told apart, and
        omitted above 30 categories) or a colorbar (continuous labels).
    title : str, optional
        Title of the axes.
    **scatter_kwargs
        Passed on to :meth:`matplotlib.axes.Axes.scatter`.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on: equal aspect, no ticks and no frame.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install "turbotsne[plot]"``).
    """
    matplotlib = _import_matplotlib()
    Y = check_data(embedding, name="embedding", min_samples=1)
    if Y.shape[1] != 2:
        raise ValueError(
            f"embedding must have 2 columns (a 2-D embedding); got shape {Y.shape}. "
            f"Compute one with turbotsne.tsne(X, n_components=2), or pass two of its columns."
        )
    n = Y.shape[0]
    if s is not None and not (isinstance(s, numbers.Real) and s > 0):
        raise ValueError(f"s must be a positive number of points²; got {s!r}.")
    if alpha is not None and not (isinstance(alpha, numbers.Real) and 0 <= alpha <= 1):
        raise ValueError(f"alpha must be a number in [0, 1]; got {alpha!r}.")
    s = _point_size(n) if s is None else float(s)
    alpha = _point_alpha(n) if alpha is None else float(alpha)
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    style = dict(s=s, alpha=alpha, linewidths=0, rasterized=n > 10000)
    style.update(scatter_kwargs)

    if labels is None:
        ax.scatter(Y[:, 0], Y[:, 1], color=_category_colors(matplotlib, 1, palette)[0], **style)
    else:
        labels = _check_labels(labels, n)
        if _is_continuous(labels):
            cmap = "viridis" if palette is None else palette
            if not isinstance(cmap, str) or cmap not in matplotlib.colormaps:
                raise ValueError(f"palette must be a matplotlib colormap name for continuous labels; got {cmap!r}.")
            points = ax.scatter(Y[:, 0], Y[:, 1], c=labels, cmap=cmap, **style)
            if legend:
                ax.figure.colorbar(points, ax=ax, shrink=0.8)
        else:
            categories, codes = np.unique(labels, return_inverse=True)
            colors = _category_colors(matplotlib, categories.size, palette)
            ax.scatter(Y[:, 0], Y[:, 1], color=colors[codes], **style)
            if legend and categories.size <= LEGEND_MAX_CATEGORIES:
                from matplotlib.lines import Line2D

                handles = [Line2D([], [], linestyle="", marker="o", markersize=7, color=color,
                                  label=_category_name(category))
                           for category, color in zip(categories, colors)]
                ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5),
                          frameon=False, handletextpad=0.2)

    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title)
    return ax
