"""A built-in synthetic dataset, so that the package can be tried without downloads."""

from __future__ import annotations

import numpy as np

from ._validation import check_int, check_real

__all__ = ["make_blobs"]


def make_blobs(n_samples: int = 5000, n_features: int = 50, n_centers: int = 10, *,
               cluster_std: float = 1.0, center_spread: float = 4.0, random_state: int = 0):
    """Gaussian clusters in ``n_features`` dimensions, with labels.

    Cluster centres are drawn from N(0, center_spread²) per coordinate; points from
    N(centre, cluster_std²). Sizes differ by at most one.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    labels : ndarray of shape (n_samples,), int64
    """
    owner = "make_blobs"
    n_samples = check_int(n_samples, "n_samples", min_value=2, owner=owner)
    n_features = check_int(n_features, "n_features", min_value=1, owner=owner)
    n_centers = check_int(n_centers, "n_centers", min_value=1, max_value=n_samples, owner=owner)
    cluster_std = check_real(cluster_std, "cluster_std", min_value=0.0, min_open=True, owner=owner)
    center_spread = check_real(center_spread, "center_spread", min_value=0.0, owner=owner)
    rng = np.random.default_rng(check_int(random_state, "random_state", min_value=0, owner=owner))
    centers = rng.normal(scale=center_spread, size=(n_centers, n_features))
    labels = np.arange(n_samples, dtype=np.int64) % n_centers
    rng.shuffle(labels)
    X = centers[labels] + rng.normal(scale=cluster_std, size=(n_samples, n_features))
    return X, labels
