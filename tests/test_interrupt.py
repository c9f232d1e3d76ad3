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
        turbotsne.tsne(X, method="{method}", n_iter=100000, callback=callback, callback_every=1)
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
@pytest.mark.parametrize("method", ["exact", "barnes_hut"])
def test_sigint_raises_keyboard_interrupt(method):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(method=method)],
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
