"""Degenerate data, concurrent calls and failing callbacks: each gives a finite embedding, the
documented error, or the callback's own exception, in bounded time. (Degenerate inputs of one
part of the core are tested with that part: test_affinities.py, test_nndescent.py,
test_exact_knn.py, test_repulsion_fft.py, test_gradient.py.)"""

import concurrent.futures
import time

import numpy as np
import pytest

import turbotsne

METHODS = ["exact", "barnes_hut", "fft"]


@pytest.mark.parametrize("method", METHODS)
def test_two_distinct_points_repeated_give_two_separate_groups(method):
    X = np.repeat([[0.0, 1.0, 2.0], [5.0, -1.0, 0.5]], 100, axis=0)
    Y = turbotsne.tsne(X, method=method, perplexity=10, n_iter=300, random_state=0)
    assert np.isfinite(Y).all()
    a, b = Y[:100], Y[100:]
    # every point's neighbours are copies of itself: no affinity crosses the groups, so they
    # end apart, each far tighter than the gap between them
    gap = np.linalg.norm(a.mean(axis=0) - b.mean(axis=0))
    radius = max(np.linalg.norm(a - a.mean(axis=0), axis=1).max(),
                 np.linalg.norm(b - b.mean(axis=0), axis=1).max())
    assert gap > 2 * radius, (gap, radius)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("perplexity", [30.0, 2.5])
def test_n_just_above_the_perplexity_limit(rng, method, perplexity):
    # perplexity < n is the documented limit (scikit-learn's): every other point is a
    # neighbour; up to n - 1 they are calibrated, between n - 1 and n they get equal weights
    # with a warning, and from n on the perplexity is refused
    n = int(np.ceil(perplexity)) + 1
    X = rng.normal(size=(n, 4))
    Y = turbotsne.tsne(X, method=method, perplexity=perplexity, n_iter=200, random_state=0)
    assert Y.shape == (n, 2) and np.isfinite(Y).all()
    fewer = X[:int(np.floor(perplexity)) + 1]  # perplexity in (n - 1, n) or n - 1 itself
    if perplexity > len(fewer) - 1:
        with pytest.warns(UserWarning, match="equal weights"):
            assert np.isfinite(turbotsne.tsne(fewer, method=method, perplexity=perplexity,
                                              n_iter=10)).all()
    with pytest.raises(ValueError, match="perplexity"):
        turbotsne.tsne(fewer[:-1], method=method, perplexity=perplexity, n_iter=10)


@pytest.mark.parametrize("method", METHODS)
def test_one_outlier_1e12_away(rng, method):
    X = rng.normal(size=(300, 5))
    X[0] += 1e12
    start = time.perf_counter()
    Y = turbotsne.tsne(X, method=method, perplexity=10, n_iter=300, random_state=0)
    assert time.perf_counter() - start < 60.0
    assert np.isfinite(Y).all()
    # the other points were not collapsed by the outlier (distances among them ~1, not 1e-12)
    assert Y[1:].std() > 1e-2


def test_a_million_rows_of_one_feature_in_bounded_time():
    X = np.random.default_rng(0).normal(size=(1_000_000, 1))
    start = time.perf_counter()
    Y = turbotsne.tsne(X, perplexity=5, n_iter=10, random_state=0, method="fft")
    elapsed = time.perf_counter() - start
    assert Y.shape == (1_000_000, 2) and np.isfinite(Y).all()
    assert elapsed < 120.0  # ~7 s on 2 cores (neighbours 4.3 s, 947 MB peak)


def _run(args):
    X, method, seed = args
    return turbotsne.tsne(X, method=method, perplexity=10, n_iter=150, random_state=seed,
                          n_jobs=1)


def test_concurrent_calls_give_the_sequential_results(rng):
    jobs = [(rng.normal(size=(400, 8)), method, seed)
            for seed, method in enumerate(METHODS * 2)]
    sequential = [_run(job) for job in jobs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        concurrent_results = list(pool.map(_run, jobs))
    for expected, got in zip(sequential, concurrent_results):
        assert np.array_equal(expected, got)


class Boom(Exception):
    pass


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("verbose", [False, True])
def test_a_raising_callback_stops_the_run_and_propagates(rng, method, verbose, capsys):
    X = rng.normal(size=(300, 5))
    calls = []

    def callback(iteration, kl, embedding):
        calls.append(iteration)
        if iteration == 30:
            raise Boom(f"stop at {iteration}")

    with pytest.raises(Boom, match="stop at 30"):
        turbotsne.tsne(X, method=method, perplexity=10, n_iter=1000, callback=callback,
                       callback_every=10, verbose=verbose, random_state=0)
    assert calls == [10, 20, 30]  # nothing ran after the exception
    # the library is usable afterwards and gives what it gives without the failed run
    Y1 = turbotsne.tsne(X, method=method, perplexity=10, n_iter=50, random_state=0)
    Y2 = turbotsne.tsne(X, method=method, perplexity=10, n_iter=50, random_state=0)
    assert np.array_equal(Y1, Y2) and np.isfinite(Y1).all()
    if verbose:
        assert "done in" not in capsys.readouterr().err


@pytest.mark.parametrize("case", ["duplicates", "constant_column", "huge", "tiny", "all_identical", "rank_one"])
@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
def test_degenerate_data_gives_a_finite_embedding(rng, case, method):
    X = rng.normal(size=(200, 6))
    if case == "duplicates":
        X[50:150] = X[0]
    elif case == "constant_column":
        X[:, 2] = 7.0
    elif case == "huge":
        X *= 1e100
    elif case == "tiny":
        X *= 1e-100
    elif case == "all_identical":
        X[:] = 3.0
    elif case == "rank_one":
        X = np.outer(rng.normal(size=200), rng.normal(size=6))
    Y = turbotsne.tsne(X, method=method, perplexity=10, n_iter=300, random_state=0)
    assert np.isfinite(Y).all()
    if case != "all_identical":
        assert Y.std() > 1e-3  # it actually moved away from the 1e-4 start


def test_contrastive_with_duplicates_and_a_far_point_stays_finite(rng):
    # Identical points (distance 0) and one point far away: no NaN, no inf.
    X = np.vstack([np.zeros((40, 3)), rng.normal(size=(40, 3)), [[1e6, 0, 0]]])
    for loss in ("neg", "nce", "infonce"):
        Y = turbotsne.contrastive_embedding(X, loss=loss, n_epochs=30, perplexity=5,
                                            random_state=0)
        assert np.isfinite(Y).all()
