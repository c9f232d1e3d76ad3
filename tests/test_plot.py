"""turbotsne.plot, drawn with matplotlib's Agg backend (no display needed)."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

import turbotsne
from turbotsne._plot import _point_size

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


def test_many_categories_use_a_colormap_without_legend(ax, rng):
    labels = np.arange(400) % 40
    turbotsne.plot(rng.normal(size=(400, 2)), labels, ax=ax)
    colors = _points(ax).get_facecolors()
    assert len({tuple(c) for c in colors}) == 40
    assert ax.get_legend() is None


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
