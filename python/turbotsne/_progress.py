"""Progress of a run on stderr: a tqdm bar on a terminal, plain periodic lines elsewhere.

tqdm is an optional extra (``pip install "turbotsne[progress]"``) and is imported only when a
bar is actually shown, never when turbotsne is imported.
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

__all__ = ["Progress"]

_PREFIX = "[turbotsne]"


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # a closed or detached stream
        return False


def _format_seconds(seconds: float) -> str:
    if seconds < 60.0:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """Reports the stages and iterations of one t-SNE run.

    Parameters
    ----------
    n_iter : int
        Total number of iterations of the optimisation (the bar's length).
    stream : text stream, optional
        Where to write; ``sys.stderr`` (looked up when the object is made) by default.
    bar : bool, optional
        Show a tqdm bar (True), plain lines (False), or decide (None): a bar when tqdm is
        installed and ``stream`` is a terminal. When tqdm is missing, plain lines are written
        whatever ``bar`` says.

    Stage timings and messages are always written as lines of their own; iterations advance
    the bar, or, without a bar, each call to :meth:`iteration` writes one line with the
    iteration, KL divergence, elapsed time and an estimate of the time left.
    """

    def __init__(self, n_iter: int, *, stream: Optional[TextIO] = None, bar: Optional[bool] = None):
        self.n_iter = int(n_iter)
        self.stream = sys.stderr if stream is None else stream
        self._start = time.perf_counter()
        self._optimize_start: Optional[float] = None
        self._tqdm = None
        self._bar = None
        if bar is None:
            bar = _is_terminal(self.stream)
        if bar:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            self._tqdm = tqdm

    @property
    def uses_bar(self) -> bool:
        """Whether iterations are shown on a tqdm bar (rather than as plain lines)."""
        return self._tqdm is not None

    def message(self, text: str) -> None:
        """Write one line, prefixed with ``[turbotsne]``, above the bar if there is one."""
        line = f"{_PREFIX} {text}"
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def stage(self, name: str, seconds: float) -> None:
        """A stage (neighbors, affinities, init, optimize) finished after ``seconds``."""
        if name == "optimize":
            self._close_bar()
        self.message(f"{name}: {seconds:.3f} s")
        if name == "init":  # the optimisation starts now
            self._optimize_start = time.perf_counter()
            self._open_bar()

    def iteration(self, iteration: int, kl: float, grad_norm: Optional[float] = None) -> None:
        """The optimisation reached ``iteration`` (1-based count of iterations done)."""
        now = time.perf_counter()
        if self._optimize_start is None:
            self._optimize_start = self._start
        if self._tqdm is not None:
            self._open_bar()
            self._bar.set_postfix_str(f"KL {kl:.4f}", refresh=False)
            self._bar.update(iteration - self._bar.n)
            return
        spent = now - self._optimize_start
        eta = (_format_seconds(spent / iteration * max(self.n_iter - iteration, 0))
               if iteration > 0 else "?")
        grad = "" if grad_norm is None else f"  |grad| {grad_norm:.3g}"
        self.message(f"iteration {iteration:>5}/{self.n_iter}  KL {kl:.4f}{grad}  "
                     f"elapsed {_format_seconds(now - self._start)}  ETA {eta}")

    def elapsed(self) -> float:
        """Seconds since this object was made."""
        return time.perf_counter() - self._start

    def close(self) -> None:
        """Close the bar (if any); later messages are plain lines. Safe to call twice."""
        self._close_bar()

    def _open_bar(self) -> None:
        if self._tqdm is not None and self._bar is None:
            self._bar = self._tqdm(total=self.n_iter, file=self.stream, unit="it",
                                   desc=f"{_PREFIX} optimize", dynamic_ncols=True, leave=True)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
