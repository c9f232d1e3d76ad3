"""``turbotsne.plot``: a scatter plot of a 2-D embedding with matplotlib (optional extra)."""

from __future__ import annotations

import numbers
import textwrap

import numpy as np

from ._validation import check_data

__all__ = ["plot"]

#: Float labels with more distinct values than this are drawn as continuous (a colormap and a
#: colorbar); fewer, and integer, string or boolean labels, are categories with a legend.
CONTINUOUS_MIN_VALUES = 20
#: Categorical labels with more categories than this get no legend (it would not fit): each
#: category's name is written at its centre instead (the median of its points).
LEGEND_MAX_CATEGORIES = 30
#: Legends with more entries than this take two columns.
LEGEND_ROWS = 16
#: Category names longer than this are wrapped onto several lines (legend and centre labels).
LABEL_WIDTH = 30
#: The colours of up to 30 categories (the first k for k categories): matplotlib's tab10, then
#: twenty more, each as far as could be found from those before it, so that any two differ as
#: much as tab10's colours differ among themselves (CIELAB distance at least 27; tab20's pale
#: pairs are 17 apart). More categories get evenly spaced colours of "turbo".
DISTINCT_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",  # tab10
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#000080", "#ffcc00", "#ff00ff", "#5fd400", "#00786e",  # navy, gold, magenta, lime, teal
    "#800020", "#ffa07a", "#000000", "#a040ff", "#00c896",  # burgundy, salmon, black, violet, jade
    "#3c4d03", "#ff0789", "#9a6200", "#c1c6fc", "#0165fc",  # olive, pink, sienna, periwinkle, blue
    "#720058", "#aaa662", "#0804f9", "#ffb7ce", "#d648d7",  # plum, khaki, ultramarine, rose, orchid
)
#: A listed colormap with at most this many colours is qualitative (tab10, Set3, ...): k
#: categories get its first k colours; other colormaps (viridis, turbo, ...) are sampled evenly.
QUALITATIVE_MAX_COLORS = 64
#: The colour of missing values (NaN) of a pandas Categorical.
MISSING_COLOR = "#d3d3d3"


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
        if k <= len(DISTINCT_COLORS):
            return to_rgba_array(DISTINCT_COLORS[:k])
        palette = "turbo"
    if isinstance(palette, str):
        try:
            cmap = matplotlib.colormaps[palette]
        except KeyError:
            raise ValueError(
                f"palette must be a matplotlib colormap name or a list of colours; got {palette!r}."
            ) from None
        listed = getattr(cmap, "colors", None)
        if listed is not None and k <= len(listed) <= QUALITATIVE_MAX_COLORS:  # its first k colours
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


def _categorical(labels, n: int):
    """(categories in their order, codes) of a pandas Categorical or a Series of dtype
    "category" (codes -1: missing), None for other labels. pandas is not imported."""
    cat = getattr(labels, "cat", None)  # the accessor of a Series of dtype "category"
    source = cat if cat is not None and hasattr(cat, "codes") else labels
    categories, codes = getattr(source, "categories", None), getattr(source, "codes", None)
    if categories is None or codes is None:
        return None
    codes = np.asarray(codes, dtype=np.int64)
    if codes.shape != (n,):
        raise ValueError(f"labels must be 1-D with one label per point ({n}); got shape {codes.shape}.")
    return np.asarray(categories), codes


def _categories(labels, coded):
    """(category names, codes (n,), whether the last category is the missing values) of
    categorical labels: a Categorical's categories in their order (``coded``, from
    :func:`_categorical`; those no point has are left out, missing values come last), or the
    sorted distinct values of other labels (``coded`` None)."""
    if coded is None:
        values, codes = np.unique(labels, return_inverse=True)
        return [_category_name(v) for v in values], codes.reshape(-1), False
    categories, codes = coded
    used = np.unique(codes[codes >= 0])
    remap = np.full(categories.size + 1, used.size, dtype=np.int64)  # the last: missing (-1)
    remap[used] = np.arange(used.size)
    names = [_category_name(v) for v in categories[used]]
    missing = bool((codes < 0).any())
    return names + ["NaN"] * missing, remap[codes], missing


def _category_name(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def _root_figure(ax):
    figure = ax.figure
    root = getattr(figure, "figure", None)  # a SubFigure's figure is the one saved
    return root if root is not None else figure


def _keep_legend_inside(figure) -> None:
    """Give ``figure`` matplotlib's constrained layout when it has no layout of its own, so that
    a legend outside the axes stays inside the figure when it is saved or shown."""
    get_engine = getattr(figure, "get_layout_engine", None)
    if get_engine is None:  # matplotlib < 3.6
        if not (figure.get_constrained_layout() or figure.get_tight_layout()):
            figure.set_constrained_layout(True)
    elif get_engine() is None:
        try:
            figure.set_layout_engine("constrained")
        except RuntimeError:  # a colorbar drawn without a layout engine forbids a change
            pass


def _wrap(name: str) -> str:
    return textwrap.fill(name, LABEL_WIDTH, break_long_words=False) if len(name) > LABEL_WIDTH else name


def _legend_size(ax, names, ncol: int) -> float:
    """The legend's font size in points: matplotlib's legend.fontsize, made smaller (down to 5)
    where a legend of ``names`` in ``ncol`` columns would be wider than 60% of the axes (or
    taller than 120%) as they are before the layout makes room for it."""
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(size=matplotlib.rcParams["legend.fontsize"])
    size = prop.get_size_in_points()
    measure = TextToPath()
    widths = [max(measure.get_text_width_height_descent(line, prop, ismath=False)[0]
                  for line in name.split("\n")) for name in names]
    lines = [name.count("\n") + 1 for name in names]
    rows = -(-len(names) // ncol)  # matplotlib fills the columns one after the other
    columns = [slice(c * rows, (c + 1) * rows) for c in range(ncol)]
    width = sum(max(widths[c], default=0.0) + 2.6 * size for c in columns) + 2.0 * size * (ncol - 1)
    height = max(sum(lines[c]) * 1.2 * size + 0.5 * size * len(lines[c]) for c in columns) + size
    box = ax.get_position()
    figure_width, figure_height = _root_figure(ax).get_size_inches() * 72.0
    scale = min(1.0, 0.6 * box.width * figure_width / width, 1.2 * box.height * figure_height / height)
    return max(size * scale, 5.0)


def _draw_categories(ax, Y: np.ndarray, names, codes: np.ndarray, colors: np.ndarray) -> None:
    """A legend of the categories or, above LEGEND_MAX_CATEGORIES, their names at their centres."""
    if len(names) > LEGEND_MAX_CATEGORIES:
        from matplotlib.patheffects import withStroke

        outline = [withStroke(linewidth=2.5, foreground="white")]
        for code, name in enumerate(names):
            x, y = np.median(Y[codes == code], axis=0)
            ax.text(x, y, _wrap(name), ha="center", va="center", fontsize="small", path_effects=outline)
        return
    from matplotlib.lines import Line2D

    names = [_wrap(name) for name in names]
    ncol = 1 if len(names) <= LEGEND_ROWS else 2
    fontsize = _legend_size(ax, names, ncol)
    handles = [Line2D([], [], linestyle="", marker="o", markersize=0.7 * fontsize, color=color, label=name)
               for name, color in zip(names, colors)]
    _keep_legend_inside(_root_figure(ax))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
              handletextpad=0.2, ncol=ncol, fontsize=fontsize)


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
        are categories: one colour each and a legend, in sorted order. A pandas
        ``Categorical`` (or a Series of dtype "category"), ordered or not, keeps the order of
        its categories (those no point has are left out; missing values come last, as "NaN"
        in light grey). Float labels with more distinct values are continuous: a colormap and
        a colorbar.
    ax : matplotlib.axes.Axes, optional
        Where to draw; pyplot's current axes by default.
    s : float, optional
        Marker area in points². By default 200 / sqrt(n_samples) within [0.5, 20], so that
        large embeddings do not turn into solid blobs.
    alpha : float, optional
        Marker opacity: 1 up to 2,000 points, then sqrt(2000 / n_samples), at least 0.25.
    palette : str or sequence of colours, optional
        Categories: a colormap name or a list of colours (at least one per category). By
        default up to 30 categories get distinct colours (``DISTINCT_COLORS``: tab10's and
        twenty more, no two alike), more get evenly spaced colours of "turbo". A qualitative
        colormap (such as "tab20") gives its first colours, another one (such as "viridis")
        evenly spaced ones. Continuous labels: a colormap name, "viridis" by default.
    legend : bool, default=True
        Categories: draw a legend to the right of the axes (markers enlarged so that they can
        be told apart; names longer than 30 characters wrapped, two columns above 16
        entries, a smaller font where it would not fit), or, above 30 categories, write each
        category's name at the median of its points. When the figure has no layout engine,
        it gets matplotlib's constrained layout, so that the legend stays inside the figure
        when it is saved. Continuous labels: a colorbar.
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
        coded = _categorical(labels, n)
        if coded is None:
            labels = _check_labels(labels, n)
        if coded is None and _is_continuous(labels):
            cmap = "viridis" if palette is None else palette
            if not isinstance(cmap, str) or cmap not in matplotlib.colormaps:
                raise ValueError(f"palette must be a matplotlib colormap name for continuous labels; got {cmap!r}.")
            points = ax.scatter(Y[:, 0], Y[:, 1], c=labels, cmap=cmap, **style)
            if legend:
                ax.figure.colorbar(points, ax=ax, shrink=0.8)
        else:
            names, codes, missing = _categories(labels, coded)
            colors = _category_colors(matplotlib, len(names) - missing, palette)
            if missing:
                from matplotlib.colors import to_rgba

                colors = np.vstack([colors, to_rgba(MISSING_COLOR)])
            ax.scatter(Y[:, 0], Y[:, 1], color=colors[codes], **style)
            if legend:
                _draw_categories(ax, Y, names, codes, colors)

    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title)
    return ax
