"""turbotsne._progress: plain lines off a terminal, a tqdm bar on one."""

import io
import sys

from turbotsne._progress import Progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_report_iteration_kl_elapsed_and_eta():
    stream = io.StringIO()
    progress = Progress(200, stream=stream)
    assert not progress.uses_bar                 # not a terminal
    progress.stage("init", 0.25)
    progress.iteration(50, 1.23456, 0.01)
    progress.iteration(200, 1.0, None)
    progress.stage("optimize", 3.0)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[turbotsne] init: 0.250 s"
    assert lines[1].startswith("[turbotsne] iteration    50/200  KL 1.2346  |grad| 0.01  elapsed ")
    assert "ETA " in lines[1] and "ETA 0.0 s" in lines[2]
    assert "|grad|" not in lines[2]
    assert lines[3] == "[turbotsne] optimize: 3.000 s"


def test_eta_is_the_time_per_iteration_times_the_iterations_left(monkeypatch):
    clock = iter([100.0, 100.0, 110.0])  # made, init finished, iteration 50 after 10 s
    monkeypatch.setattr("turbotsne._progress.time.perf_counter", lambda: next(clock))
    stream = io.StringIO()
    progress = Progress(250, stream=stream)
    progress.stage("init", 0.0)
    progress.iteration(50, 2.0)
    assert stream.getvalue().splitlines()[-1].endswith("elapsed 10.0 s  ETA 40.0 s")


def test_a_terminal_gets_a_tqdm_bar():
    stream = _Terminal()
    progress = Progress(100, stream=stream)
    assert progress.uses_bar
    progress.message("start")
    progress.iteration(50, 1.5)
    progress.iteration(100, 1.25)
    progress.stage("optimize", 1.0)
    text = stream.getvalue()
    assert "[turbotsne] start" in text
    assert "100/100" in text and "KL 1.2500" in text
    assert text.rstrip().endswith("[turbotsne] optimize: 1.000 s")


def test_without_tqdm_a_terminal_gets_plain_lines(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    stream = _Terminal()
    progress = Progress(100, stream=stream, bar=True)
    assert not progress.uses_bar
    progress.iteration(50, 1.5)
    assert "iteration    50/100  KL 1.5000" in stream.getvalue()
