"""The optimiser's parameters: each one reaches the core, and exaggeration does what it says."""

import numpy as np
import pytest

import turbotsne


@pytest.fixture(scope="module")
def blobs():
    return turbotsne.make_blobs(400, 10, n_centers=4, random_state=2)


# Each parameter of tsne with a value other than its default, and the method that uses it.
CHANGED = [
    ("learning_rate", 120.0, "barnes_hut"),
    ("n_iter", 120, "barnes_hut"),
    ("early_exaggeration", 4.0, "barnes_hut"),
    ("early_exaggeration_iter", 50, "barnes_hut"),  # 100 in the base run
    ("exaggeration", 2.0, "barnes_hut"),
    ("max_step_norm", 0.5, "barnes_hut"),
    ("dof", 0.6, "barnes_hut"),
    ("theta", 0.9, "barnes_hut"),
    ("perplexity", 12.0, "barnes_hut"),
    ("init", "random", "barnes_hut"),
    ("n_interpolation_points", 5, "fft"),
    ("min_num_intervals", 80, "fft"),
    ("ints_in_interval", 0.2, "fft"),  # boxes narrower than the 50-box minimum gives
]


@pytest.mark.parametrize("name,value,method", CHANGED, ids=[c[0] for c in CHANGED])
def test_each_parameter_reaches_the_core(blobs, name, value, method):
    X, _ = blobs
    base = dict(method=method, n_iter=150, early_exaggeration_iter=100, random_state=0, n_jobs=1)
    default = turbotsne.tsne(X, **base)
    changed = turbotsne.tsne(X, **{**base, name: value})
    assert np.all(np.isfinite(changed))
    assert not np.array_equal(changed, default), f"{name}={value!r} did not change the embedding"


def _spread_ratio(Y, labels):
    """Mean distance of points to their cluster's centre over the mean distance between centres."""
    centres = np.array([Y[labels == c].mean(axis=0) for c in np.unique(labels)])
    within = np.mean([np.linalg.norm(Y[labels == c] - centres[i], axis=1).mean()
                      for i, c in enumerate(np.unique(labels))])
    between = np.mean([np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1:]])
    return within / between


@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
def test_exaggeration_makes_clusters_more_compact(blobs, method):
    # exaggeration > 1 after the early phase weighs attraction up: clusters shrink relative to
    # the gaps between them (Böhm, Berens & Kobak 2022). Same start, same seed, same schedule.
    X, labels = blobs
    ratios = {e: _spread_ratio(turbotsne.tsne(X, method=method, n_iter=400, exaggeration=e,
                                              random_state=0, n_jobs=2), labels)
              for e in (1.0, 4.0)}
    assert ratios[4.0] < 0.8 * ratios[1.0], ratios
