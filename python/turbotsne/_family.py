"""The crowding problem in one figure: the same data embedded by SNE, symmetric SNE, UNI-SNE
and t-SNE (tsne's ``objective``), side by side, each with its 10-NN accuracy.

Every t-SNE tutorial starts here (van der Maaten & Hinton 2008, §3.2): in two dimensions
there is not room enough for the moderately distant neighbours of a high-dimensional point,
and a Gaussian Q pulls them all together into the centre of the map; UNI-SNE's uniform
background and t-SNE's heavy-tailed Student-t Q give them room.
"""

from __future__ import annotations

import time
from typing import Optional, Sequence

import numpy as np

from ._validation import check_int

__all__ = ["crowding", "plot_crowding", "knn_accuracy"]

#: What each objective is called in the figure's titles.
TITLES = {"sne": "SNE", "symmetric_sne": "symmetric SNE", "uni_sne": "UNI-SNE", "tsne": "t-SNE"}


def knn_accuracy(embedding, labels, k: int = 10) -> float:
    """Leave-one-out accuracy of a k-nearest-neighbour majority vote in ``embedding``: the
    share of points whose label is the most common among their ``k`` nearest other points
    (ties to the smallest label code). ``labels`` may be of any type numpy can sort."""
    from scipy.spatial import cKDTree

    Y = np.asarray(embedding, dtype=np.float64)
    codes = np.unique(np.asarray(labels), return_inverse=True)[1].reshape(-1)
    if Y.ndim != 2 or codes.shape[0] != Y.shape[0]:
        raise ValueError(f"labels must hold one label per row of the embedding "
                         f"({Y.shape[0] if Y.ndim == 2 else Y.shape}); got {codes.shape[0]}.")
    k = check_int(k, "k", min_value=1, max_value=Y.shape[0] - 1, owner="knn_accuracy")
    _, idx = cKDTree(Y).query(Y, k + 1)
    votes = codes[idx[:, 1:]]
    n_codes = int(codes.max()) + 1
    counts = np.zeros((Y.shape[0], n_codes), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(Y.shape[0]), k), votes.reshape(-1)), 1)
    return float(np.mean(counts.argmax(axis=1) == codes))


def crowding(X, labels=None, *, objectives: Sequence[str] = ("sne", "symmetric_sne", "tsne"),
             k: int = 10, **tsne_kwargs) -> dict:
    """Embed ``X`` once per objective (the same P's perplexity, initialisation and seed).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data; at most ``EXACT_SAMPLES_LIMIT`` rows (SNE's objectives are exact), and a
        few thousand keep it quick (each SNE-family run is O(n²) per iteration).
    labels : array-like of shape (n_samples,), optional
        Classes of the points, for the k-NN accuracy of each embedding.
    objectives : sequence of {"tsne", "sne", "symmetric_sne", "uni_sne"}
        In the order of the panels.
    k : int, default=10
        Neighbours of the k-NN accuracy.
    **tsne_kwargs
        For every :func:`turbotsne.tsne` run (``random_state``, ``n_jobs``, ``perplexity``...).

    Returns
    -------
    dict with, per objective (keys in the order given): ``"embeddings"`` (ndarray),
    ``"knn_accuracy"`` (float, or None without labels), ``"cost"`` (the objective's cost at
    the end, ``info["kl_divergence"]``) and ``"seconds"``.
    """
    from ._api import tsne

    if isinstance(objectives, str) or not len(objectives):
        raise ValueError(f"objectives must be a non-empty sequence of objective names; got "
                         f"{objectives!r}.")
    if "objective" in tsne_kwargs or "return_info" in tsne_kwargs:
        raise ValueError("crowding sets tsne's objective and return_info itself; pass the "
                         "objectives as objectives=[...].")
    out = {"embeddings": {}, "knn_accuracy": {}, "cost": {}, "seconds": {}}
    for objective in objectives:
        start = time.perf_counter()
        Y, info = tsne(X, objective=objective, return_info=True, **tsne_kwargs)
        out["seconds"][objective] = time.perf_counter() - start
        out["embeddings"][objective] = Y
        out["cost"][objective] = info["kl_divergence"]
        out["knn_accuracy"][objective] = (None if labels is None
                                          else knn_accuracy(Y, labels, k))
    return out


def plot_crowding(result: dict, labels=None, *, axes=None, panel_size: float = 3.5,
                  k: int = 10, **plot_kwargs):
    """Draw :func:`crowding`'s embeddings side by side, each titled by its objective and its
    k-NN accuracy. Returns the matplotlib Figure; ``plot_kwargs`` go to
    :func:`turbotsne.plot`."""
    from ._plot import _import_matplotlib, plot

    _import_matplotlib()
    embeddings = result["embeddings"]
    if axes is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(embeddings), squeeze=False,
                                 figsize=(panel_size * len(embeddings), panel_size + 0.4),
                                 layout="constrained")
        axes = axes[0]
    for (objective, Y), ax in zip(embeddings.items(), axes):
        accuracy: Optional[float] = result["knn_accuracy"].get(objective)
        title = TITLES.get(objective, objective)
        if accuracy is not None:
            title += f"\n{k}-NN accuracy {accuracy:.3f}"
        plot(Y, labels, ax=ax, legend=False, title=title, **plot_kwargs)
    return axes[0].figure
