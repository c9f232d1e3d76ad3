"""turbotsne: fast, deterministic t-SNE with an OpenMP C++ core.

>>> import numpy as np, turbotsne
>>> X = np.random.default_rng(0).normal(size=(500, 10))
>>> Y = turbotsne.tsne(X, random_state=0)
>>> Y.shape
(500, 2)
"""

from importlib.metadata import PackageNotFoundError, version as _version

from ._api import (APPROX_MIN_SAMPLES, APPROX_MIN_SAMPLES_WIDE, EXACT_MAX_SAMPLES, EXACT_SAMPLES_LIMIT,
                   FFT_MIN_SAMPLES, joint_probabilities, kl_divergence, tsne)
from ._contrastive import contrastive_embedding, plot_spectrum, spectrum, tsne_z_bar, umap_z_bar
from ._datasets import make_blobs
from ._estimator import TSNE, NotFittedError
from ._plot import plot

try:
    __version__ = _version("turbotsne")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    from ._core import __version__

__all__ = [
    "tsne",
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
    "plot",
    "EXACT_MAX_SAMPLES",
    "EXACT_SAMPLES_LIMIT",
    "APPROX_MIN_SAMPLES",
    "APPROX_MIN_SAMPLES_WIDE",
    "FFT_MIN_SAMPLES",
    "__version__",
]
