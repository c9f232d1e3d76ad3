"""turbotsne._progress: plain lines off a terminal, a tqdm bar on one."""

import io
import sys
import types

import pytest

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
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # were it imported already
    stream = _Terminal()
    progress = Progress(100, stream=stream, bar=True)
    assert not progress.uses_bar
    progress.iteration(50, 1.5)
    assert "iteration    50/100  KL 1.5000" in stream.getvalue()


class _FakeBar:
    """Stands for tqdm.auto.tqdm: records the bars made and what they were told."""

    made = []

    def __init__(self, total, file, desc, **kwargs):
        self.total, self.file, self.desc, self.n, self.closed = total, file, desc, 0, False
        self.made.append(self)

    def update(self, n):
        self.n += n

    def set_postfix_str(self, text, refresh=True):
        self.postfix = text

    def set_description_str(self, text):
        self.desc = text

    def close(self):
        self.closed = True

    @staticmethod
    def write(line, file):
        file.write(line + "\n")


@pytest.fixture
def fake_tqdm_auto(monkeypatch):
    module = types.ModuleType("tqdm.auto")
    module.tqdm = _FakeBar
    monkeypatch.setitem(sys.modules, "tqdm.auto", module)
    _FakeBar.made = []
    return _FakeBar


def test_bars_are_tqdm_auto_s(fake_tqdm_auto):
    stream = _Terminal()
    progress = Progress(100, stream=stream)
    assert progress.uses_bar
    progress.stage("init", 0.1)
    progress.iteration(50, 1.5)
    progress.message("halfway")
    progress.iteration(100, 1.25)
    progress.close()
    (bar,) = fake_tqdm_auto.made
    assert (bar.total, bar.file, bar.n, bar.postfix, bar.closed) == (100, stream, 100, "KL 1.2500", True)
    assert "[turbotsne] halfway\n" in stream.getvalue()


class _NotebookStream(io.StringIO):
    """Stands for a Jupyter kernel's sys.stderr (ipykernel.iostream.OutStream): no terminal."""

    __module__ = "ipykernel.iostream"

    def isatty(self):
        return False


def test_a_notebook_gets_a_bar(fake_tqdm_auto):
    progress = Progress(100, stream=_NotebookStream())
    assert progress.uses_bar
    progress.stage("init", 0.1)
    assert len(fake_tqdm_auto.made) == 1
    assert not Progress(100, stream=io.StringIO()).uses_bar  # a file or a pipe: lines


# ------------------------------------------------------------------ progress of whole runs

import logging
import re
import subprocess
import textwrap

import numpy as np
import pytest
import scipy.sparse
import scipy.spatial.distance

import turbotsne
from turbotsne import _progress

#: Few iterations, a small perplexity: runs of a few hundred milliseconds.
QUICK = dict(perplexity=10, n_iter=60, random_state=0, n_jobs=2)
BRUTE_FORCE_BLOCK = 192  # rows per block of the brute-force kNN (kBlock in brute_knn.cpp)
_LINE = re.compile(r"\[turbotsne\] (\w+): ([\d,]+)/([\d,]+) (\w+)")


@pytest.fixture
def blobs():
    return turbotsne.make_blobs(3000, 10, random_state=1)[0]


@pytest.fixture
def every_report(monkeypatch):
    """No time throttling: every progress report of the core becomes a line."""
    monkeypatch.setattr(_progress, "PROGRESS_INTERVAL", 0.0)


def _counts(text, stage, unit):
    """(done, total) of the progress lines of ``stage`` counting ``unit``, in order."""
    return [(int(m[2].replace(",", "")), int(m[3].replace(",", "")))
            for m in _LINE.finditer(text) if m[1] == stage and m[4] == unit]


def _before_stage_end(text, stage, needle):
    """Whether every line of ``stage`` holding ``needle`` comes before the stage's timing."""
    lines = text.splitlines()
    end = next(i for i, line in enumerate(lines) if re.fullmatch(rf"\[turbotsne\] {stage}: [\d.]+ s", line))
    return all(i < end for i, line in enumerate(lines) if f"{stage}: " in line and needle in line)


def _check_counts(counts, total, partial=True):
    """Counts up to total, in order; partial: and some before the end (a loop of batches)."""
    assert counts, "no progress lines"
    assert counts[-1] == (total, total)
    assert all(t == total for _, t in counts)
    assert [d for d, _ in counts] == sorted({d for d, _ in counts})
    assert counts[0][0] < total or not partial


def test_exact_neighbour_search_and_affinities_report_points_done(blobs, every_report, capsys):
    turbotsne.tsne(blobs, neighbors="exact", verbose=True, **QUICK)
    err = capsys.readouterr().err
    _check_counts(_counts(err, "neighbors", "points"), len(blobs))
    assert _counts(err, "affinities", "points")[-1] == (len(blobs), len(blobs))
    assert _before_stage_end(err, "neighbors", "points") and _before_stage_end(err, "affinities", "points")
    last = next(line for line in err.splitlines() if "neighbors: 3,000/3,000 points" in line)
    assert re.search(r", [\d.]+ s, ETA 0\.0 s$", last), last


def test_brute_force_search_reports_tiles_then_points(every_report, capsys):
    # 30 features: the exact search is the blocked brute force, which first computes the
    # tiles of distances (block pairs) and then ranks every point's candidates.
    X = turbotsne.make_blobs(3000, 30, random_state=1)[0]
    turbotsne.tsne(X, neighbors="exact", verbose=True, **QUICK)
    err = capsys.readouterr().err
    blocks = -(-len(X) // BRUTE_FORCE_BLOCK)
    tiles = _counts(err, "neighbors", "tiles")
    assert tiles[-1] == (blocks * (blocks + 1) // 2,) * 2 and all(t == tiles[-1][1] for _, t in tiles)
    _check_counts(_counts(err, "neighbors", "points"), len(X), partial=False)
    lines = [line for line in err.splitlines() if _LINE.search(line) and "neighbors:" in line]
    units = [_LINE.search(line)[4] for line in lines]
    assert units == sorted(units, key=["tiles", "points"].index), units
    assert _before_stage_end(err, "neighbors", "tiles") and _before_stage_end(err, "neighbors", "points")


def test_approximate_search_reports_trees_candidates_and_rounds(blobs, every_report, capsys):
    turbotsne.tsne(blobs, neighbors="approx", verbose=True, **QUICK)
    err = capsys.readouterr().err
    assert _counts(err, "neighbors", "trees")[-1] == (8, 8)
    # the initial candidates: one batch of 8192 points
    _check_counts(_counts(err, "neighbors", "points"), len(blobs), partial=False)
    rounds = re.findall(r"neighbors: NN-descent round (\d+) \(of at most 16\): ([\d.]+)% of the "
                        r"entries updated", err)
    assert [int(r) for r, _ in rounds] == list(range(1, len(rounds) + 1)) and rounds
    assert 0.0 < float(rounds[0][1]) <= 100.0
    # NN-descent stops after the first round that updates fewer than delta = 0.3% of entries
    assert float(rounds[-1][1]) < 0.3 or len(rounds) == 16
    assert all(float(p) >= 0.3 for _, p in rounds[:-1])
    assert _before_stage_end(err, "neighbors", "NN-descent")


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_precomputed_distances_report_stages_and_progress(blobs, every_report, capsys, kind):
    X = blobs[:1500]
    D = scipy.spatial.distance.cdist(X, X)
    if kind == "sparse":
        keep = np.argsort(D, axis=1)[:, :40]
        D = scipy.sparse.csr_matrix((np.take_along_axis(D, keep, 1).ravel(), keep.ravel(),
                                     np.arange(0, 40 * len(X) + 1, 40)), shape=D.shape)
    turbotsne.tsne(D, metric="precomputed", init="random", verbose=True, **QUICK)
    err = capsys.readouterr().err
    # dense: batches of 1024 rows; sparse: one batch of 16384
    _check_counts(_counts(err, "neighbors", "points"), len(X), partial=kind == "dense")
    assert _counts(err, "affinities", "points")[-1] == (len(X), len(X))
    assert _before_stage_end(err, "neighbors", "points") and _before_stage_end(err, "affinities", "points")


def test_progress_lines_are_throttled_by_time(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("turbotsne._progress.time.perf_counter", lambda: clock[0])
    monkeypatch.setattr(_progress, "PROGRESS_INTERVAL", 2.0)
    stream = io.StringIO()
    progress = Progress(10, stream=stream)
    for step in range(11):  # one batch of 100 points every 0.5 s
        clock[0] = 0.5 * step
        progress.progress("neighbors", "points", 100 * step, 1000)
    assert stream.getvalue().splitlines() == [
        "[turbotsne] neighbors: 400/1,000 points, 2.0 s, ETA 3.0 s",
        "[turbotsne] neighbors: 800/1,000 points, 4.0 s, ETA 1.0 s",
    ]


def test_exaggeration_start_and_end_are_marked_once_with_the_kl(blobs, capsys):
    seen = {}
    turbotsne.tsne(blobs[:500], verbose=True, early_exaggeration_iter=37, perplexity=10,
                   n_iter=120, random_state=0, callback_every=37,
                   callback=lambda it, kl, Y: seen.setdefault(it, kl) and False)
    lines = capsys.readouterr().err.splitlines()
    start = [i for i, line in enumerate(lines) if "early exaggeration 12 for iterations 1-37, then 1" in line]
    end = [i for i, line in enumerate(lines) if "early exaggeration ended" in line]
    assert len(start) == 1 and len(end) == 1
    assert "unexaggerated P" in lines[start[0]]
    assert lines[end[0]] == (f"[turbotsne] early exaggeration ended after iteration 37: "
                             f"KL {seen[37]:.4f}; exaggeration 1 from now on")
    init = lines.index(next(line for line in lines if line.startswith("[turbotsne] init: ")))
    first_iteration = next(i for i, line in enumerate(lines) if "iteration    50/120" in line)
    assert init < start[0] < end[0] < first_iteration


@pytest.mark.parametrize("length, marks", [(0, []), (60, ["early exaggeration 12 for all 60 iterations"])])
def test_no_end_mark_when_the_phase_does_not_end(blobs, capsys, length, marks):
    turbotsne.tsne(blobs[:300], verbose=True, early_exaggeration_iter=length, **QUICK)
    err = capsys.readouterr().err
    assert [line.split(" (")[0][len("[turbotsne] "):] for line in err.splitlines()
            if "exaggeration" in line] == marks


def test_progress_does_not_change_the_embedding(blobs, capsys, caplog, every_report):
    kw = dict(early_exaggeration_iter=37, **QUICK)
    quiet = turbotsne.tsne(blobs, **kw)
    caplog.set_level(logging.DEBUG, logger="turbotsne")
    for neighbors in ("exact", "approx"):
        assert np.array_equal(turbotsne.tsne(blobs, neighbors=neighbors, verbose=True, **kw),
                              turbotsne.tsne(blobs, neighbors=neighbors, **kw))
    assert np.array_equal(turbotsne.tsne(blobs, verbose=True, **kw), quiet)


def test_the_logger_gets_every_message_without_verbose(blobs, every_report, caplog, capsys):
    caplog.set_level(logging.DEBUG, logger="turbotsne")
    turbotsne.tsne(blobs, neighbors="exact", early_exaggeration_iter=37, **QUICK)
    assert capsys.readouterr() == ("", "")  # verbose=False: nothing written
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "turbotsne"]
    info = [m for level, m in records if level == logging.INFO]
    debug = [m for level, m in records if level == logging.DEBUG]
    assert info[0].startswith("3000 samples x 10 features -> 2-D")
    for stage in ("neighbors", "affinities", "init", "optimize"):
        assert sum(re.fullmatch(rf"{stage}: [\d.]+ s", m) is not None for m in info) == 1
    assert sum(m.startswith("early exaggeration 12 for iterations 1-37") for m in info) == 1
    assert sum(m.startswith("early exaggeration ended after iteration 37") for m in info) == 1
    assert info[-1].startswith("done in ") and "after 60 iterations" in info[-1]
    assert "neighbors: 3,000/3,000 points" in " ".join(debug)
    assert any(m.startswith("iteration    50/60  KL ") for m in debug)


def test_info_logging_gets_stages_and_marks_only(blobs, every_report, caplog, capsys):
    caplog.set_level(logging.INFO, logger="turbotsne")
    assert Progress.create(60, False, early_exaggeration=12.0, early_exaggeration_iter=37).kl_every() == [37]
    turbotsne.tsne(blobs, neighbors="exact", early_exaggeration_iter=37, **QUICK)
    assert capsys.readouterr() == ("", "")
    messages = [r.getMessage() for r in caplog.records if r.name == "turbotsne"]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "turbotsne")
    assert any(m.startswith("early exaggeration ended") for m in messages)
    assert not any("points" in m or m.startswith("iteration") for m in messages)


def test_without_verbose_or_logging_nothing_is_built_or_written(blobs, capsys):
    assert any(isinstance(h, logging.NullHandler) for h in _progress.logger.handlers)
    assert Progress.create(60, False) is None
    turbotsne.tsne(blobs, **QUICK)
    turbotsne.contrastive_embedding(blobs[:500], n_epochs=20, random_state=0, perplexity=10)
    assert capsys.readouterr() == ("", "")


def test_a_fresh_interpreter_prints_only_what_logging_is_configured_for():
    script = textwrap.dedent("""
        import logging, sys
        import turbotsne
        X, _ = turbotsne.make_blobs(300, 5, random_state=0)
        turbotsne.tsne(X, perplexity=10, n_iter=60, random_state=0)   # nothing configured
        print("---", file=sys.stderr, flush=True)
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
        turbotsne.tsne(X, perplexity=10, n_iter=60, random_state=0)
        """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    before, after = run.stderr.split("---\n")
    assert before == "" and run.stdout == ""
    assert "INFO turbotsne neighbors: " in after and "INFO turbotsne done in " in after
    assert "iteration    50/60" not in after  # DEBUG


def test_a_terminal_gets_bars_for_the_neighbour_search_and_the_optimisation(blobs, every_report,
                                                                            monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    turbotsne.tsne(blobs, neighbors="exact", verbose=True, early_exaggeration_iter=37,
                   **{**QUICK, "n_iter": 100})
    text = terminal.getvalue()
    assert re.search(r"\[turbotsne\] neighbors: 100%\S* *\| *3000/3000 \[.*points/s\]", text), text
    assert "[turbotsne] optimize (early exaggeration):" in text
    assert re.search(r"\r\[turbotsne\] optimize: 100%.*100/100", text)
    # messages go above the bars, as lines of their own
    assert "\n[turbotsne] neighbors: " in text and "[turbotsne] early exaggeration ended after iteration 37" in text
    assert text.rstrip().splitlines()[-1].startswith("[turbotsne] done in ")


def test_every_entry_point_shares_the_progress(blobs, every_report, capsys):
    turbotsne.contrastive_embedding(blobs, neighbors="exact", n_epochs=50, verbose=True,
                                    random_state=0, perplexity=10)
    err = capsys.readouterr().err
    _check_counts(_counts(err, "neighbors", "points"), len(blobs))
    assert "50/50" in err and "done in" in err and "exaggeration" not in err
    turbotsne.TSNE(perplexity=10, max_iter=60, neighbors="exact", verbose=1, random_state=0).fit(blobs)
    assert _counts(capsys.readouterr().err, "neighbors", "points")[-1] == (3000, 3000)
    turbotsne.spectrum(blobs[:600], z_bars=[1e5], n_epochs=10, neighbors="exact", perplexity=10,
                       verbose=True, random_state=0)
    err = capsys.readouterr().err
    assert _counts(err, "neighbors", "points")[-1] == (600, 600) and "neighbors: " in err
