"""turbotsne.plot, drawn with matplotlib's Agg backend (no display needed)."""

import io
import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.figure import Figure

import turbotsne
from turbotsne._cli import save_plot
from turbotsne._plot import DISTINCT_COLORS, LEGEND_MAX_CATEGORIES, MISSING_COLOR, _point_size

matplotlib.use("Agg")


@pytest.fixture
def ax():
    return Figure().add_subplot()


def _points(ax):
    (collection,) = ax.collections
    return collection


def test_draws_every_point_once_without_clutter(ax, rng):
    Y = rng.normal(size=(500, 2))
    assert turbotsne.plot(Y, ax=ax) is ax
    np.testing.assert_array_equal(_points(ax).get_offsets(), Y)
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert not any(spine.get_visible() for spine in ax.spines.values())
    assert ax.get_aspect() == 1.0
    assert ax.get_legend() is None


def test_point_size_shrinks_with_n(rng):
    sizes = []
    for n in (50, 1000, 20000, 1_000_000):
        ax = Figure().add_subplot()
        turbotsne.plot(rng.normal(size=(n, 2)) if n <= 20000 else np.zeros((n, 2)), ax=ax)
        sizes.append(_points(ax).get_sizes()[0])
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[1] > sizes[2]
    assert sizes[0] == 20.0 and sizes[-1] == 0.5           # the clip range
    assert sizes[1] == pytest.approx(200 / np.sqrt(1000))
    assert _point_size(20000) == sizes[2]
    ax = Figure().add_subplot()
    turbotsne.plot(rng.normal(size=(50, 2)), ax=ax, s=3.5, alpha=0.5)
    assert _points(ax).get_sizes()[0] == 3.5 and _points(ax).get_alpha() == 0.5


def test_categorical_labels_get_one_colour_each_and_a_legend(ax, rng):
    Y = rng.normal(size=(300, 2))
    labels = rng.choice(np.array(["b", "a", "c"]), size=300)
    turbotsne.plot(Y, labels, ax=ax, title="three")
    colors = _points(ax).get_facecolors()
    assert colors.shape == (300, 4)
    by_label = {label: {tuple(c) for c in colors[labels == label]} for label in "abc"}
    assert all(len(v) == 1 for v in by_label.values())                  # one colour per category
    assert len(set.union(*by_label.values())) == 3                      # and all different
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b", "c"]
    for handle, label in zip(legend.legend_handles, "abc"):
        assert to_rgba(handle.get_color())[:3] == next(iter(by_label[label]))[:3]
        assert handle.get_markersize() ** 2 > _points(ax).get_sizes()[0]  # enlarged markers
    assert ax.get_title() == "three"


def test_integral_float_labels_are_categories(ax, rng):
    turbotsne.plot(rng.normal(size=(40, 2)), np.arange(40) % 4 * 1.0, ax=ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2", "3"]


def _lab(rgb):
    """CIELAB coordinates of sRGB colours (rows of values in [0, 1]), D65 white."""
    rgb = np.asarray(rgb, dtype=float)[..., :3]
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124564, 0.3575761, 0.1804375],
                             [0.2126729, 0.7151522, 0.0721750],
                             [0.0193339, 0.1191920, 0.9503041]]).T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _closest_pair(colors):
    """The least CIELAB distance (ΔE*ab) between two of the colours."""
    lab = _lab(colors)
    distance = np.linalg.norm(lab[:, None] - lab[None], axis=-1)
    np.fill_diagonal(distance, np.inf)
    return distance.min()


def test_lab_matches_known_values():
    np.testing.assert_allclose(_lab([[1, 1, 1], [0, 0, 0], [1, 0, 0]]),
                               [[100, 0, 0], [0, 0, 0], [53.24, 80.09, 67.20]], atol=0.02)


def test_up_to_30_categories_get_distinct_colours(rng):
    assert len(DISTINCT_COLORS) == 30 and len(set(DISTINCT_COLORS)) == 30
    assert _closest_pair([to_rgb(c) for c in DISTINCT_COLORS[:20]]) >= 25  # tab20's pairs: 16.6
    assert _closest_pair([to_rgb(c) for c in DISTINCT_COLORS]) >= 25
    for k in (3, 15, 20, 30):
        ax = Figure().add_subplot()
        labels = np.arange(20 * k) % k
        turbotsne.plot(rng.normal(size=(20 * k, 2)), labels, ax=ax)
        colors = _points(ax).get_facecolors()
        by_category = np.array([colors[labels == j][0] for j in range(k)])
        np.testing.assert_array_equal(by_category, [to_rgba(c) for c in DISTINCT_COLORS[:k]])


def test_many_categories_are_named_at_their_centres(rng):
    k = 40
    ax = Figure().add_subplot()
    labels = np.array([f"type {j}" for j in range(k)])[np.arange(800) % k]
    Y = rng.normal(size=(800, 2)) + np.repeat(rng.normal(scale=20, size=(1, k, 2)), 20, 0).reshape(-1, 2)
    turbotsne.plot(Y, labels, ax=ax)
    assert ax.get_legend() is None
    colors = _points(ax).get_facecolors()
    assert len({tuple(c) for c in colors}) == k
    assert _closest_pair(np.unique(colors, axis=0)) > 2  # turbo sampled evenly, not its first 40 colours
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert sorted(texts) == sorted(set(labels))
    for name, position in texts.items():
        np.testing.assert_allclose(position, np.median(Y[labels == name], axis=0))
    ax = Figure().add_subplot()
    turbotsne.plot(Y, labels, ax=ax, legend=False)
    assert len(ax.texts) == 0 and ax.get_legend() is None
    for k, legend in ((LEGEND_MAX_CATEGORIES, True), (LEGEND_MAX_CATEGORIES + 1, False)):
        ax = Figure().add_subplot()
        turbotsne.plot(Y[:20 * k], np.arange(20 * k) % k, ax=ax)
        assert (ax.get_legend() is not None) == legend and len(ax.texts) == (0 if legend else k)
def test_a_colormap_palette_is_sampled_evenly(ax, rng):
    turbotsne.plot(rng.normal(size=(30, 2)), np.arange(30) % 3, ax=ax, palette="viridis")
    colors = np.unique(_points(ax).get_facecolors(), axis=0)
    np.testing.assert_array_equal(np.sort(colors, axis=0),
                                  np.sort(matplotlib.colormaps["viridis"]([0.0, 0.5, 1.0]), axis=0))
    ax = Figure().add_subplot()
    turbotsne.plot(rng.normal(size=(30, 2)), np.arange(30) % 3, ax=ax, palette="tab20")
    np.testing.assert_array_equal(_points(ax).get_facecolors()[:3],  # a qualitative map: its first colours
                                  [to_rgba(c) for c in matplotlib.colormaps["tab20"].colors[:3]])


@pytest.mark.parametrize("kind", ["ordered", "unordered", "series"])
def test_a_categorical_keeps_the_order_of_its_categories(ax, rng, kind):
    order = ["low", "medium", "high", "unused", "very high"]
    values = rng.choice(["very high", "low", "high", "medium"], size=200)
    labels = pd.Categorical(values, categories=order, ordered=kind == "ordered")
    labels[:3] = np.nan
    if kind == "series":
        labels = pd.Series(labels, index=np.arange(200) + 1000)
    turbotsne.plot(rng.normal(size=(200, 2)), labels, ax=ax)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["low", "medium", "high", "very high", "NaN"]
    colors = _points(ax).get_facecolors()
    expected = [to_rgba(c) for c in DISTINCT_COLORS[:4]] + [to_rgba(MISSING_COLOR)]
    for name, color, handle in zip(["low", "medium", "high", "very high"], expected, legend.legend_handles):
        assert {tuple(c) for c in colors[values == name][3:]} == {color}
        assert to_rgba(handle.get_color()) == color
    assert {tuple(c) for c in colors[:3]} == {expected[-1]}
    with pytest.raises(ValueError, match=r"one label per point \(199\)"):
        turbotsne.plot(rng.normal(size=(199, 2)), labels, ax=Figure().add_subplot())


#: Category names of 50 to 70 characters, as cell-type annotations are.
LONG_NAMES = ["CD4+ T cells, naive and central memory (CCR7+, SELL+)",
              "classical monocytes CD14+ and intermediate monocytes CD14+ CD16+",
              "B", "plasmacytoid dendritic cells"]


def _figure(kind):
    import matplotlib.pyplot as plt

    return {"Figure": Figure, "small": lambda: Figure(figsize=(4, 3)), "pyplot": plt.figure}[kind]()


@pytest.mark.parametrize("kind,k", [("Figure", 4), ("small", 4), ("pyplot", 4), ("Figure", 30), ("pyplot", 30)])
def test_the_legend_stays_inside_a_plainly_saved_figure(rng, kind, k):
    import matplotlib.pyplot as plt

    names = np.array([LONG_NAMES[j % 4] + f" {j}" for j in range(k)])
    labels = names[np.arange(10 * k) % k]
    figure = _figure(kind)
    try:
        turbotsne.plot(rng.normal(size=(10 * k, 2)), labels, ax=figure.add_subplot())
        figure.savefig(io.BytesIO(), format="png")  # a plain savefig, no bbox_inches="tight"
        extent = figure.axes[0].get_legend().get_window_extent()
    finally:
        plt.close(figure)
    box = figure.bbox
    assert box.x0 <= extent.x0 and extent.x1 <= box.x1 and box.y0 <= extent.y0 and extent.y1 <= box.y1, (extent, box)
    assert extent.width > 0.2 * box.width  # the legend is drawn, and not shrunk to nothing


def test_the_command_lines_picture_keeps_the_legend_inside(tmp_path, rng):
    labels = np.array(LONG_NAMES)[np.arange(200) % 4]
    save_plot(tmp_path / "y.png", rng.normal(size=(200, 2)), labels, title="long names")
    from matplotlib.image import imread

    image = imread(tmp_path / "y.png")[..., :3]
    ink = np.argwhere(image.min(axis=-1) < 0.5)  # dark pixels: the points and the text
    assert ink[:, 1].max() < image.shape[1] - 2 and ink[:, 0].max() < image.shape[0] - 2
    # the right end of the longest name is drawn: dark pixels in the right tenth of the picture
    assert (ink[:, 1] > 0.85 * image.shape[1]).any()


def test_continuous_labels_get_a_colormap_and_a_colorbar(rng):
    figure = Figure()
    ax = figure.add_subplot()
    values = rng.normal(size=200)
    turbotsne.plot(rng.normal(size=(200, 2)), values, ax=ax, palette="magma")
    points = _points(ax)
    np.testing.assert_array_equal(points.get_array(), values)
    assert points.get_cmap().name == "magma"
    assert len(figure.axes) == 2          # the colorbar
    assert ax.get_legend() is None


def test_without_ax_draws_on_pyplots_current_axes(rng):
    import matplotlib.pyplot as plt

    figure = plt.figure()
    try:
        ax = turbotsne.plot(rng.normal(size=(30, 2)))
        assert ax.figure is figure
    finally:
        plt.close(figure)


@pytest.mark.parametrize("embedding,labels,kwargs,error,match", [
    (np.zeros((10, 3)), None, {}, ValueError, r"2 columns.*\(10, 3\)"),
    (np.zeros((10, 1)), None, {}, ValueError, r"2 columns.*\(10, 1\)"),
    (np.zeros(10), None, {}, ValueError, "embedding must be 2-D"),
    (np.full((10, 2), np.nan), None, {}, ValueError, "embedding must be finite"),
    (np.zeros((10, 2)), np.arange(9), {}, ValueError, r"one label per point \(10\).*\(9,\)"),
    (np.zeros((10, 2)), np.full(10, np.inf), {}, ValueError, "labels must be finite"),
    (np.zeros((10, 2)), np.arange(10) % 3, {"palette": ["red", "blue"]}, ValueError, "2 colours.*3 categories"),
    (np.zeros((10, 2)), None, {"palette": "no-such-map"}, ValueError, "colormap name"),
    (np.zeros((10, 2)), None, {"s": -1}, ValueError, "s must be a positive"),
    (np.zeros((10, 2)), None, {"alpha": 2}, ValueError, r"alpha must be a number in \[0, 1\]"),
])
def test_bad_arguments_are_refused(ax, embedding, labels, kwargs, error, match):
    with pytest.raises(error, match=match):
        turbotsne.plot(embedding, labels, ax=ax, **kwargs)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "turbotsne\[plot\]"'):
        turbotsne.plot(np.zeros((5, 2)))


def test_import_turbotsne_imports_neither_matplotlib_nor_tqdm():
    code = ("import sys, turbotsne; bad = [m for m in ('matplotlib', 'tqdm') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
