"""Ctrl-C during a run raises KeyboardInterrupt promptly and leaves Python usable."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import turbotsne

    X, _ = turbotsne.make_blobs(3000, 20, random_state=0)
    started = []

    def callback(iteration, kl, embedding):
        if not started:
            print("RUNNING", flush=True)
            started.append(time.perf_counter())

    try:
        turbotsne.tsne(X, method="{method}", objective="{objective}", n_iter=100000,
                       callback=callback, callback_every=1)
    except KeyboardInterrupt:
        print("INTERRUPTED %.3f" % (time.perf_counter() - started[0]), flush=True)
        # the interpreter is still usable, and so is the library
        Y = turbotsne.tsne(X[:200], n_iter=50, random_state=0)
        print("STILL OK", Y.shape, flush=True)
        sys.exit(0)
    print("NOT INTERRUPTED", flush=True)
    sys.exit(1)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics differ on Windows")
@pytest.mark.parametrize("method,objective", [("exact", "tsne"), ("barnes_hut", "tsne"),
                                              ("fft", "tsne"), ("exact", "sne"),
                                              ("exact", "uni_sne")])
def test_sigint_raises_keyboard_interrupt(method, objective):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(method=method, objective=objective)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "RUNNING", line + proc.stderr.read()
        time.sleep(0.5)
        sent = time.perf_counter()
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        reaction = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert "INTERRUPTED" in out and "STILL OK" in out
    assert reaction < 10.0  # includes the follow-up run; one iteration is milliseconds


# Ctrl-C in the stages before the optimisation (the optimisation: the test above). The script learns the stages' durations from one uninterrupted run
# (n_iter=1), then for each stage sends SIGINT 0.2 s after the stage began (the previous
# stage's end, as reported to verbose=True's Progress.stage) and measures how long the
# KeyboardInterrupt takes to come. A stage that is only checked at its end would take the rest
# of the stage; the core polls between batches of rows (neighbours, affinities) and between
# iterations, so the exception comes within a fraction of it.
STAGE_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    import numpy as np
    import turbotsne
    from turbotsne import _progress

    neighbors = sys.argv[1]
    n, d = map(int, sys.argv[3].split("x"))
    X, _ = turbotsne.make_blobs(n, d, random_state=0)
    kw = dict(perplexity=100, neighbors=neighbors, method="fft", random_state=0, n_jobs=2,
              verbose=True)
    durations, pending, sent = {}, {}, []

    def kill_later():
        time.sleep(0.2)
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    def arm():
        threading.Thread(target=kill_later, daemon=True).start()

    def stage(self, name, seconds):
        durations[name] = seconds
        if pending.get("after") == name:
            arm()

    _progress.Progress.stage = stage
    _progress.Progress.message = lambda self, text: None
    _progress.Progress.iteration = lambda self, *args, **kwargs: None

    turbotsne.tsne(X, n_iter=1, **kw)
    result = {"durations": dict(durations), "reaction": {}}
    for target, after in [("neighbors", None), ("affinities", "neighbors")][:int(sys.argv[2])]:
        durations.clear()
        sent.clear()
        pending["after"] = after
        if after is None:
            arm()
        try:
            turbotsne.tsne(X, n_iter=1_000_000, **kw)
            result["reaction"][target] = None
        except KeyboardInterrupt:
            result["reaction"][target] = time.perf_counter() - sent[0]
            result.setdefault("finished_before", {})[target] = sorted(durations)
    # the interpreter and the library are still usable
    pending.clear()
    Y = turbotsne.tsne(X[:300], n_iter=20, random_state=0)
    result["still_ok"] = bool(np.isfinite(Y).all())
    print(json.dumps(result), flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics differ on Windows")
# exact in 3-D: the VP-tree; exact in 64-D: the blocked brute force (its tiles poll too).
@pytest.mark.parametrize("neighbors, stages, shape", [("exact", 2, "100000x3"), ("approx", 1, "100000x3"),
                                                      ("exact", 1, "12000x48")])
def test_sigint_interrupts_neighbors_and_affinities(neighbors, stages, shape):
    # (the affinities do not depend on how the neighbours were found: tested once)
    import json

    proc = subprocess.run([sys.executable, "-c", STAGE_SCRIPT, neighbors, str(stages), shape],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    durations = result["durations"]
    previous = {"neighbors": [], "affinities": ["neighbors"]}
    assert len(result["reaction"]) == stages
    for stage, reaction in result["reaction"].items():
        assert reaction is not None, f"{stage}: the run was not interrupted"
        # interrupted in that stage: the stages before it finished, it did not
        assert result["finished_before"][stage] == previous[stage], (stage, result)
        # well before the stage's end (signal 0.2 s into a stage of durations[stage] s)
        assert 0.2 + reaction < 0.6 * durations[stage], (stage, result)
    assert result["still_ok"]
