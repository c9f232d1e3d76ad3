"""The extension really runs in parallel: built with OpenMP, and its teams get their threads.

A wheel built without OpenMP (or against a stub runtime) would still pass every other test,
only slower; these are the tests that make cibuildwheel's test step fail for it.
"""

import pytest

from turbotsne import _core

# vptree.cpp builds the tree with OpenMP tasks, which came with OpenMP 3.0 (May 2008).
OPENMP_3_0 = 200805


def test_built_with_openmp_3_or_later():
    assert isinstance(_core._testing.openmp_version, int)
    assert _core._testing.openmp_version >= OPENMP_3_0, _core._testing.openmp_version


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_a_parallel_region_gets_the_threads_it_asks_for(n_threads):
    # More threads than cores is allowed (they time-share), so this holds on any machine
    # unless OMP_THREAD_LIMIT caps it, which the test environment does not set.
    assert _core._testing.parallel_team_size(n_threads) == n_threads


def test_zero_or_negative_thread_counts_run_one_thread():
    assert _core._testing.parallel_team_size(0) == 1
    assert _core._testing.parallel_team_size(-4) == 1


@pytest.fixture
def busy_core():
    """Another process spinning on one core while the test runs (a loaded machine)."""
    import subprocess
    import sys

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def _check_team(n_threads, n_loops, seed):
    failures, by_workers = _core._testing.thread_team_check(n_threads, n_loops, seed)
    assert failures == 0
    assert by_workers > 0  # the workers took part: the check was not run by the caller alone


@pytest.mark.parametrize("n_threads", [2, 3, 5])
def test_thread_team_runs_every_chunk_once(n_threads):
    # The optimisers' loops run on a ThreadTeam (parallel.hpp): thousands of loops of random
    # sizes and chunkings, each item written exactly once, block sums exact, exceptions
    # thrown in chunks propagated. 5 threads on fewer cores: workers get descheduled mid-loop.
    _check_team(n_threads, 10000, n_threads)


def test_thread_team_runs_every_chunk_once_on_a_busy_machine(busy_core):
    _check_team(2, 10000, 7)
    _check_team(3, 3000, 8)
