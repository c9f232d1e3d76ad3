"""turbotsne: fast, deterministic t-SNE with an OpenMP C++ core.

>>> import numpy as np, turbotsne
>>> X = np.random.default_rng(0).normal(size=(500, 10))
>>> Y = turbotsne.tsne(X, random_state=0)
>>> Y.shape
(500, 2)
"""

import warnings as _warnings
from importlib.metadata import PackageNotFoundError, version as _version

from . import _api, anndata  # turbotsne.anndata imports no anndata: it is optional
from ._api import (AUTO_APPROX_MIN_SAMPLES, AUTO_APPROX_MIN_SAMPLES_WIDE, AUTO_EXACT_MAX_SAMPLES,
                   AUTO_FFT_MIN_SAMPLES, EXACT_SAMPLES_LIMIT, joint_probabilities, kl_divergence,
                   tsne)
from ._contrastive import contrastive_embedding, plot_spectrum, spectrum, tsne_z_bar, umap_z_bar
from ._datasets import make_blobs
from ._family import crowding, knn_accuracy, plot_crowding
from ._plot import plot

try:
    __version__ = _version("turbotsne")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    from ._core import __version__

__all__ = [
    "tsne",
    "anndata",
    "TSNE",
    "NotFittedError",
    "joint_probabilities",
    "kl_divergence",
    "contrastive_embedding",
    "spectrum",
    "plot_spectrum",
    "umap_z_bar",
    "tsne_z_bar",
    "make_blobs",
    "crowding",
    "plot_crowding",
    "knn_accuracy",
    "plot",
    "AUTO_EXACT_MAX_SAMPLES",
    "EXACT_SAMPLES_LIMIT",
    "AUTO_APPROX_MIN_SAMPLES",
    "AUTO_APPROX_MIN_SAMPLES_WIDE",
    "AUTO_FFT_MIN_SAMPLES",
    "__version__",
]


# The estimator builds on scikit-learn's BaseEstimator when scikit-learn is installed, and
# importing that costs about 120 MB and a second (scikit-learn, and pandas through it): it is
# imported on first use of TSNE or NotFittedError, not by ``import turbotsne``.
_LAZY = {"TSNE", "NotFittedError"}


def __getattr__(name):
    """TSNE and NotFittedError, imported on first use; the thresholds' former names
    (``EXACT_MAX_SAMPLES`` and the like): their AUTO_ values, with a DeprecationWarning."""
    if name in _LAZY:
        from . import _estimator

        return getattr(_estimator, name)
    new = _api.DEPRECATED_NAMES.get(name)
    if new is None:
        raise AttributeError(f"module 'turbotsne' has no attribute {name!r}")
    _warnings.warn(f"turbotsne.{name} is deprecated; use turbotsne.{new} (the same value).",
                   DeprecationWarning, stacklevel=2)
    return getattr(_api, new)


def __dir__():
    return sorted(set(globals()) | _LAZY)
