"""Regression tests for inputs found by property-based testing to break runs (issue 6)."""

import time

import numpy as np
import pytest

import turbotsne
from turbotsne import _core


@pytest.mark.parametrize("scale", [1e155, 1e300, 1e-200, 1e-300])
def test_extreme_magnitudes_give_the_embedding_of_the_rescaled_data(scale):
    # Squared distances of such data overflow to inf (or underflow to 0) in float64: the data
    # is scaled by a power of two first, so the result equals that of the unit-scale data.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    X /= np.abs(X).max()
    big = X * scale
    exponent = np.frexp(np.abs(big).max())[1]
    same = np.ldexp(big, -exponent)  # what the library embeds
    kw = dict(perplexity=5, n_iter=100, random_state=0, method="barnes_hut")
    Y = turbotsne.tsne(big, **kw)
    assert np.isfinite(Y).all()
    assert np.array_equal(Y, turbotsne.tsne(same, **kw))
    P = turbotsne.joint_probabilities(big, perplexity=5)
    assert np.isfinite(P.data).all() and np.isclose(P.sum(), 1.0)


def test_one_huge_coordinate_among_zeros():
    X = np.zeros((20, 5))
    X[-1, -1] = -1e155  # its squared distance to every other point was inf
    Y = turbotsne.tsne(X, 1, perplexity=1.0, n_iter=30, random_state=0)
    assert np.isfinite(Y).all()


def test_ordinary_data_is_not_rescaled():
    X = np.random.default_rng(1).normal(size=(50, 3)) * 1e100
    from turbotsne._validation import in_safe_range
    assert in_safe_range(X) is X


def test_fft_z_below_rounding_does_not_stop_the_run():
    # Five identical points, a huge step and a steep kernel spread the points so far apart
    # that the true Z drops below the rounding of the grid's Z + n: the estimate was 0 and the
    # run stopped with "Z is zero". It is floored now and the run ends finite.
    X = np.zeros((5, 1))
    Y = turbotsne.tsne(X, method="fft", perplexity=1.0, n_iter=14, early_exaggeration_iter=0,
                       max_step_norm=None, dof=6.0, n_interpolation_points=1,
                       min_num_intervals=1, random_state=0, n_jobs=1)
    assert np.isfinite(Y).all()


def test_fft_grid_of_a_small_spread_out_embedding_is_bounded():
    # 40 points spread over 10^4 units used to get the capped 1000 boxes per dimension, with
    # 10 nodes per box a 20,000² transform (GBs). Now the 2-D nodes per dimension are at most
    # 3000 and, for few points, 12 sqrt(n) beyond what min_num_intervals asks: the call takes
    # milliseconds. (The grid is far too coarse for such a spread, so Z is off; the forces
    # stay finite.)
    rng = np.random.default_rng(0)
    Y = rng.uniform(-5e3, 5e3, size=(40, 2))
    params = _core.RepulsionParams()
    params.interpolation.n_interpolation_points = 10
    start = time.perf_counter()
    forces, z = _core._testing.repulsion(Y, _core.Method.fft, params, 1.0, 1)
    assert time.perf_counter() - start < 10.0
    assert np.isfinite(forces).all() and z > 0
