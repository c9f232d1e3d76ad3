"""Progress of a run: stage timings, the progress of long stages (the neighbour search, the
affinities), the early-exaggeration phase and periodic iterations.

Every message goes to the ``turbotsne`` logger (INFO: the run's settings, stage timings, the
exaggeration marks and the summary; DEBUG: the periodic lines, i.e. iterations and stage
progress) and, with ``verbose=True``, straight to stderr as well: a tqdm bar on a terminal or
in a Jupyter notebook (``tqdm.auto``: a widget there when ipywidgets is installed), plain
lines elsewhere. tqdm is an optional extra (``pip install "turbotsne[progress]"``) and is
imported only when a bar is actually shown, never when turbotsne is imported.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable, Optional, TextIO

__all__ = ["Progress", "logger", "run_observed", "stage_callbacks", "ITERATION_EVERY",
           "PROGRESS_INTERVAL"]

_PREFIX = "[turbotsne]"

#: The library's logger. It has a NullHandler (the convention for libraries), so records
#: reach only the handlers the application configures; without any, nothing is printed.
logger = logging.getLogger("turbotsne")
logger.addHandler(logging.NullHandler())

#: Iterations (epochs) between two iteration lines; the KL divergence (loss) is computed on
#: those iterations only.
ITERATION_EVERY = 50
#: Least seconds between two progress lines of a stage's work (neighbour search, affinities):
#: a stage reports every batch of points, the lines are thinned out by time. Tests set 0.
PROGRESS_INTERVAL = 2.0


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # a closed or detached stream
        return False


def _is_notebook(stream) -> bool:
    """Whether ``stream`` is a Jupyter kernel's output (ipykernel's OutStream, which is no
    terminal but shows a bar: tqdm.auto draws it as a widget)."""
    return type(stream).__module__.split(".")[0] == "ipykernel"


def _format_seconds(seconds: float) -> str:
    if seconds < 60.0:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """Reports the stages and iterations of one run.

    Parameters
    ----------
    n_iter : int
        Total number of iterations of the optimisation (the bar's length).
    stream : text stream, optional
        Where verbose output goes; ``sys.stderr`` (looked up when the object is made) by default.
    bar : bool, optional
        Show tqdm bars (True), plain lines (False), or decide (None): bars when tqdm is
        installed and ``stream`` is a terminal or a Jupyter notebook's output. The bars are
        ``tqdm.auto``'s: widgets in a notebook (with ipywidgets), text elsewhere. When tqdm is
        missing, plain lines are written whatever ``bar`` says.
    verbose : bool, default=True
        Write to ``stream``. Records go to the ``turbotsne`` logger either way (where it is
        enabled for their level).
    early_exaggeration : float, optional
        The factor of the early-exaggeration phase, marked at its start and its end.
    early_exaggeration_iter : int, default=0
        Length of that phase (0: none, no marks).
    exaggeration : float, default=1.0
        The factor after it (named in the start mark).

    Stage timings and messages are lines of their own; iterations advance the bar or, without
    a bar, each call to :meth:`iteration` writes one line with the iteration, KL divergence,
    elapsed time and an estimate of the time left. A stage's progress (:meth:`progress`) is
    written at most every ``PROGRESS_INTERVAL`` seconds, or shown on a bar of its own.
    """

    def __init__(self, n_iter: int, *, stream: Optional[TextIO] = None, bar: Optional[bool] = None,
                 verbose: bool = True, early_exaggeration: Optional[float] = None,
                 early_exaggeration_iter: int = 0, exaggeration: float = 1.0):
        self.n_iter = int(n_iter)
        self.verbose = bool(verbose)
        self.stream = sys.stderr if stream is None else stream
        self._start = time.perf_counter()
        self._optimize_start: Optional[float] = None
        self._tqdm = None
        self._bar = None        # the optimisation's bar
        self._step_bar = None   # the bar of a stage's step (e.g. the neighbour search's points)
        #: Whether the periodic lines (iterations, stage progress) are wanted: shown, or logged.
        self.lines = self.verbose or logger.isEnabledFor(logging.DEBUG)
        self._early = (float(early_exaggeration), int(early_exaggeration_iter), float(exaggeration)) \
            if early_exaggeration is not None and early_exaggeration_iter > 0 else None
        self._early_ended = False
        self._stage_start = self._last_line = self._start
        self._step: Optional[tuple] = None  # (stage, unit) of the step reporting progress
        self._step_start = self._start
        self._step_base = 0
        if bar is None:
            bar = _is_terminal(self.stream) or _is_notebook(self.stream)
        if bar and self.verbose:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            self._tqdm = tqdm

    @classmethod
    def create(cls, n_iter: int, verbose: bool, **kwargs) -> Optional["Progress"]:
        """A Progress when its messages go anywhere (``verbose``, or the ``turbotsne`` logger
        enabled for INFO), else None: then the core is not asked for anything it would compute
        only to report it."""
        if verbose or logger.isEnabledFor(logging.INFO):
            return cls(n_iter, verbose=verbose, **kwargs)
        return None

    @property
    def uses_bar(self) -> bool:
        """Whether iterations are shown on a tqdm bar (rather than as plain lines)."""
        return self._tqdm is not None

    def kl_every(self) -> list:
        """Periods of the iterations whose KL divergence these reports need."""
        every = [ITERATION_EVERY] if self.lines else []
        if self._early is not None and self._early[1] < self.n_iter:
            every.append(self._early[1])  # the end of early exaggeration is marked with its KL
        return every

    def on_progress(self) -> Optional[Callable]:
        """The core's ``on_progress`` callback: :meth:`progress` where its lines are wanted."""
        return self.progress if self.lines else None

    def message(self, text: str) -> None:
        """Write one line (INFO), prefixed with ``[turbotsne]``, above the bar if there is one."""
        self._write(text, logging.INFO)

    def stage(self, name: str, seconds: float) -> None:
        """A stage (neighbors, affinities, init, optimize) finished after ``seconds``."""
        self._close_step_bar()
        if name == "optimize":
            self._close_bar()
        self.message(f"{name}: {seconds:.3f} s")
        self._stage_start = self._last_line = time.perf_counter()
        if name == "init":  # the optimisation starts now
            self._optimize_start = self._stage_start
            self._exaggeration_started()
            self._open_bar()

    def progress(self, stage: str, unit: str, done: int, total: int,
                 changed: Optional[float] = None) -> None:
        """``done`` of ``total`` ``unit`` of a stage's step are done (the core's on_progress).

        ``unit`` "rounds" are NN-descent's, ``total`` the most it may take, ``changed`` the
        fraction of the neighbour entries that the round replaced. Every other unit is shown
        as a count with the time the step still needs, estimated from its rate so far.
        """
        now = time.perf_counter()
        if (stage, unit) != self._step or done == 0:  # a new step starts
            self._close_step_bar()
            self._step, self._step_start, self._step_base = (stage, unit), now, done
        if done <= self._step_base:
            return  # nothing done yet: nothing to tell
        due = now - self._last_line >= PROGRESS_INTERVAL
        on_bar = self._tqdm is not None and unit != "rounds"  # rounds: how many is not known
        if on_bar and (due or self._step_bar is not None):
            self._show_step(stage, unit, done, total)
        if not due:
            return
        self._last_line = now
        spent = _format_seconds(now - self._stage_start)
        if unit == "rounds":
            text = (f"{stage}: NN-descent round {done} (of at most {total}): "
                    f"{100.0 * (changed or 0.0):.2f}% of the entries updated, {spent}")
        else:
            left = (now - self._step_start) / (done - self._step_base) * max(total - done, 0)
            text = f"{stage}: {done:,}/{total:,} {unit}, {spent}, ETA {_format_seconds(left)}"
        if on_bar:
            logger.debug(text)  # the bar shows it
        else:
            self._write(text, logging.DEBUG)

    def report(self, iteration: int, kl: float, grad_norm: Optional[float] = None) -> None:
        """The core evaluated the KL divergence at ``iteration``: an iteration line where one
        is due, the end of early exaggeration where it ends."""
        if self.lines and iteration % ITERATION_EVERY == 0:
            self.iteration(iteration, kl, grad_norm)
        if self._early is not None and iteration == self._early[1] and iteration < self.n_iter:
            self._early_ended = True
            self.message(f"early exaggeration ended after iteration {iteration}: KL {kl:.4f}; "
                         f"exaggeration {self._early[2]:g} from now on")
            if self._bar is not None:
                self._bar.set_description_str(f"{_PREFIX} optimize")

    def iteration(self, iteration: int, kl: float, grad_norm: Optional[float] = None) -> None:
        """The optimisation reached ``iteration`` (1-based count of iterations done)."""
        now = time.perf_counter()
        if self._optimize_start is None:
            self._optimize_start = self._start
        spent = now - self._optimize_start
        eta = (_format_seconds(spent / iteration * max(self.n_iter - iteration, 0))
               if iteration > 0 else "?")
        grad = "" if grad_norm is None else f"  |grad| {grad_norm:.3g}"
        text = (f"iteration {iteration:>5}/{self.n_iter}  KL {kl:.4f}{grad}  "
                f"elapsed {_format_seconds(now - self._start)}  ETA {eta}")
        if self._tqdm is not None:
            self._open_bar()
            self._bar.set_postfix_str(f"KL {kl:.4f}", refresh=False)
            self._bar.update(iteration - self._bar.n)
            logger.debug(text)
            return
        self._write(text, logging.DEBUG)

    def elapsed(self) -> float:
        """Seconds since this object was made."""
        return time.perf_counter() - self._start

    def close(self) -> None:
        """Close the bars (if any); later messages are plain lines. Safe to call twice."""
        self._close_step_bar()
        self._close_bar()

    def _write(self, text: str, level: int) -> None:
        logger.log(level, text)
        if not self.verbose:
            return
        line = f"{_PREFIX} {text}"
        bar = self._step_bar if self._step_bar is not None else self._bar
        if bar is not None:
            bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def _exaggeration_started(self) -> None:
        if self._early is None:
            return
        factor, length, after = self._early
        span = (f"for iterations 1-{length}, then {after:g}" if length < self.n_iter else
                f"for all {self.n_iter} iterations" if self.n_iter > 1 else "for the one iteration")
        self.message(f"early exaggeration {factor:g} {span} (the KL shown is that of the "
                     f"unexaggerated P)")

    def _open_bar(self) -> None:
        if self._tqdm is not None and self._bar is None:
            early = self._early is not None and not self._early_ended
            desc = f"{_PREFIX} optimize" + (" (early exaggeration)" if early else "")
            self._bar = self._tqdm(total=self.n_iter, file=self.stream, unit="it",
                                   desc=desc, dynamic_ncols=True, leave=True)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _show_step(self, stage: str, unit: str, done: int, total: int) -> None:
        if self._step_bar is None:
            self._step_bar = self._tqdm(total=total, initial=self._step_base, file=self.stream,
                                        unit=unit.split()[0], desc=f"{_PREFIX} {stage}",
                                        dynamic_ncols=True, leave=True)
        self._step_bar.update(done - self._step_bar.n)
        if done >= total:
            self._close_step_bar()

    def _close_step_bar(self) -> None:
        if self._step_bar is not None:
            self._step_bar.close()
            self._step_bar = None


def stage_callbacks(progress: Optional[Progress]) -> tuple:
    """The core's ``(on_stage, on_progress)`` callbacks for ``progress`` (None: none)."""
    if progress is None:
        return None, None
    return progress.stage, progress.on_progress()


def run_observed(call: Callable[..., dict], progress: Optional[Progress], callback,
                 callback_every: int, summary: Callable[[dict], str],
                 stop: Optional[Callable[[int, float, float], bool]] = None,
                 stop_every: int = 50) -> dict:
    """``call(report, report_every, on_stage, on_progress)``: a core run with its observer.

    The observer serves ``progress`` (which may be None), ``callback(iteration, value,
    embedding) -> stop?`` every ``callback_every`` iterations (which may be None) and
    ``stop(iteration, value, grad_norm) -> stop?`` every ``stop_every`` iterations (which may
    be None: a stopping rule). The bars are closed however the run ends; after it,
    ``summary(info)`` is written with the time.
    """
    every = sorted(set(progress.kl_every() if progress is not None else []) |
                   ({callback_every} if callback is not None else set()) |
                   ({stop_every} if stop is not None else set()))

    def report(iteration, value, grad_norm, embedding):
        if progress is not None:
            progress.report(iteration, value, grad_norm)
        halt = False
        if stop is not None and iteration % stop_every == 0:
            halt = bool(stop(iteration, value, grad_norm))
        if callback is not None and iteration % callback_every == 0:
            halt = bool(callback(iteration, value, embedding)) or halt
        return halt

    observer = (report if every else None, every, *stage_callbacks(progress))
    try:
        info = call(*observer)
    finally:
        if progress is not None:
            progress.close()
    if progress is not None:
        progress.message(f"done in {progress.elapsed():.2f} s: {summary(info)}")
    return info
