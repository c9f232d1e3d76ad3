"""The ``turbotsne`` command line: ``turbotsne embed`` and ``turbotsne demo``.

Every failure the user can cause (a missing or malformed file, a bad option value, a missing
optional dependency) ends with one line ``turbotsne: error: ...`` on stderr and exit status 2;
usage errors are argparse's (usage and one error line, status 2); Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import re
import sys
import time
import warnings
import zipfile
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import numpy as np

__all__ = ["main"]

_INPUTS = (".npy", ".npz", ".csv", ".tsv")
_TABLES = {".csv": ",", ".tsv": "\t"}
_EMBEDDINGS = (".npy", ".csv", ".tsv")
_DEMO_PNG = "turbotsne_demo.png"
#: Clusters of the demo's dataset (turbotsne.make_blobs).
DEMO_CLUSTERS = 10
DEMO_SAMPLES = 5000
#: demo --crowding: fewer points (each SNE-family run is exact, O(n²) per iteration) and its
#: panels, in order.
CROWDING_SAMPLES = 1000
#: ... and closer clusters (turbotsne.make_blobs' center_spread; 4 by default), which overlap in
#: the Gaussian maps: 10-NN accuracy 0.921 for symmetric SNE, 0.954 UNI-SNE, 0.959 t-SNE at
#: 1,000 points and 500 iterations (1.0 for all at the default spread).
CROWDING_SPREAD = 0.6
CROWDING_OBJECTIVES = ("sne", "symmetric_sne", "uni_sne", "tsne")


class CliError(Exception):
    """A user error with a message of one line, printed as ``turbotsne: error: <message>``."""


# --------------------------------------------------------------------------------- reading


def _numbers_or_strings(values: List[str]) -> np.ndarray:
    """Labels read as text: integers or floats when every one parses, else strings."""
    for dtype in (np.int64, np.float64):
        try:
            return np.array(values, dtype=dtype)
        except (ValueError, OverflowError):
            continue
    return np.array(values, dtype=str)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _has_header(first: List[str], second: Optional[List[str]]) -> bool:
    """Whether ``first`` (the first row) is a header: it has a cell that is not a number in a
    column where ``second`` (the second row, None for a one-row file) has a number; or, for a
    one-row file, any cell that is not a number."""
    numbers = [_is_number(cell) for cell in first]
    if second is None:
        return not all(numbers)
    return any(not a and _is_number(b) for a, b in zip(numbers, second))


def _read_table(path: Path, delimiter: str) -> Tuple[Optional[List[str]], List[int], List[List[str]]]:
    """Rows of a delimited text file: (header or None, line numbers, data rows as strings).

    Cells are stripped of white space and rows without a non-empty cell are skipped. The first
    row is a header as :func:`_has_header` decides.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        lines, rows = [], []
        for row in reader:
            cells = [cell.strip() for cell in row]
            if any(cells):
                lines.append(reader.line_num)
                rows.append(cells)
    if not rows:
        raise CliError(f"{path}: the file has no rows")
    width = len(rows[0])
    for line, row in zip(lines, rows):
        if len(row) != width:
            raise CliError(f"{path}, line {line}: {len(row)} columns where the first row has {width}")
    if _has_header(rows[0], rows[1] if len(rows) > 1 else None):
        if len(rows) == 1:
            raise CliError(f"{path}: a header row and no data rows")
        return rows[0], lines[1:], rows[1:]
    return None, lines, rows


class _Fallback(Exception):
    """numpy's loadtxt would read a table otherwise than the csv module (a ragged row, a cell
    that is not a number, ...): the csv module reads it, and words the error if there is one."""


class _CsvTable:
    """A table read with the csv module: every cell a string, with its line number."""

    def __init__(self, path: Path, delimiter: str):
        self.path = path
        self.header, self._lines, rows = _read_table(path, delimiter)
        self.width = len(rows[0])
        self._cells = np.array(rows, dtype=str)

    def column_numbers(self, j: int) -> Optional[np.ndarray]:
        """Column ``j`` as float64, or None when a cell is not a number."""
        try:
            return self._cells[:, j].astype(np.float64)
        except ValueError:
            return None

    def matrix(self, columns: List[int]) -> np.ndarray:
        """The columns as a float64 matrix; a cell that is not a number is an error naming it."""
        try:
            return self._cells[:, columns].astype(np.float64)
        except ValueError as exc:
            error = exc
        names = self.header if self.header is not None else [str(j) for j in range(self.width)]
        for j in columns:
            for line, cell in zip(self._lines, self._cells[:, j].tolist()):
                if _is_number(cell):
                    continue
                if cell == "":
                    raise CliError(f"{self.path}, line {line}, column {names[j]!r}: an empty cell")
                hint = f"; to use this column as labels, pass --labels {names[j]}"
                if j == 0:
                    hint += ", or to drop it as a row index, --index-col"
                raise CliError(f"{self.path}, line {line}, column {names[j]!r}: {cell!r} is not a number{hint}")
        raise CliError(f"{self.path}: {error}")  # numpy refused what float() reads: not seen

    def texts(self, j: int) -> List[str]:
        return self._cells[:, j].tolist()


def _peek_rows(f, delimiter: str, count: int):
    """The first ``count`` rows of ``f`` that have a non-empty cell, as the csv module reads
    them: a list of (stripped cells, the position in ``f`` after the row). None when a line
    holds an odd number of quotes (a quoted cell may go on over the next line)."""
    rows = []
    while len(rows) < count:
        line = f.readline()
        if not line:
            break
        if line.count('"') % 2:
            return None
        cells = [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter), [])]
        if any(cells):
            rows.append((cells, f.tell()))
    return rows


class _NumpyTable:
    """A table read with numpy's loadtxt, in C, about three times as fast as the csv module:
    the same numbers (both parse them as Python's ``float`` does) and labels (stripped text),
    or, for anything loadtxt reads otherwise or refuses (a ragged row, a blank-looking line, a
    cell that is not a number, numpy < 1.23), :class:`_Fallback`."""

    def __init__(self, path: Path, delimiter: str, labels: Optional[str], index_col: Optional[bool]):
        self.path = path
        with open(path, newline="", encoding="utf-8-sig") as f:
            peeked = _peek_rows(f, delimiter, 2)
            if not peeked:  # an odd quote, or no rows: the csv module reads (and words the error)
                raise _Fallback()
            has_header = _has_header(peeked[0][0], peeked[1][0] if len(peeked) > 1 else None)
            self.header = peeked[0][0] if has_header else None
            self.width = len(peeked[0][0])
            label_column = _label_column(labels, self.header, self.width, path)
            self._labels: List[str] = []
            converters = {}
            if _row_index(self, index_col, label_column, decided_only=True) is not None:
                converters[0] = lambda cell: 0.0  # dropped: text or numbers, as the csv module reads it
            if label_column is not None:
                converters[label_column] = self._label
            f.seek(peeked[0][1] if has_header else 0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data"
                try:
                    self._values = np.loadtxt(f, dtype=np.float64, delimiter=delimiter, quotechar='"',
                                              comments=None, ndmin=2, converters=converters, encoding="utf-8")
                except (ValueError, TypeError):  # TypeError: numpy < 1.23 has no quotechar
                    raise _Fallback() from None
        n = self._values.shape[0]
        if n == 0 or self._values.shape[1] != self.width or (label_column is not None and len(self._labels) != n):
            raise _Fallback()

    def _label(self, cell: str) -> float:
        self._labels.append(cell.strip())
        return 0.0

    def column_numbers(self, j: int) -> Optional[np.ndarray]:
        return self._values[:, j]

    def matrix(self, columns: List[int]) -> np.ndarray:
        return np.ascontiguousarray(self._values[:, columns])

    def texts(self, j: int) -> List[str]:
        return self._labels


def _label_column(spec: Optional[str], header: Optional[List[str]], width: int, path: Path) -> Optional[int]:
    """The column that ``--labels spec`` names (a header name, or a 0-based or negative number
    counting the file's columns as written), None when it names none (it may name a file)."""
    if spec is None:
        return None
    if header is not None and spec in header:
        return header.index(spec)
    try:
        index = int(spec)
    except ValueError:
        index = None
    if index is None:
        if not Path(spec).is_file():
            known = ", ".join(repr(name) for name in header) if header is not None else "none"
            raise CliError(f"--labels {spec}: no column of that name in {path} (column names: "
                           f"{known}) and no file of that name")
        return None
    if not -width <= index < width:
        raise CliError(f"--labels {spec}: the input has {width} columns (indices 0 to {width - 1})")
    return index % width


def _row_index(table, index_col: Optional[bool], label_column: Optional[int],
               decided_only: bool = False) -> Optional[str]:
    """Why the first column is a row index to drop (None: it is not; "" when --index-col says
    so). Automatically, it is one when its header cell is empty (``DataFrame.to_csv`` writes its
    index so) or, unless ``decided_only`` (the header and the options alone decide), when it
    counts the rows 0, 1, 2, ... or 1, 2, 3, ..."""
    if index_col is False:
        return None
    if index_col:
        if label_column == 0:
            raise CliError(f"--labels: the first column is the labels and --index-col drops it as a "
                           f"row index; column numbers count {table.path}'s columns as written, so "
                           f"its second column is 1")
        return ""
    if label_column == 0 or table.width - (label_column is not None) < 2:
        return None  # the labels, or the only column of data
    if table.header is not None and table.header[0] == "":
        return "it has no name in the header"
    values = None if decided_only else table.column_numbers(0)
    if values is None or values.size < 2 or values[0] not in (0.0, 1.0):
        return None
    if not np.array_equal(values, values[0] + np.arange(values.size)):
        return None
    return f"it counts the rows {values[0]:.0f}, {values[0] + 1:.0f}, ..., {values[-1]:.0f}"


def _table_data(table, labels: Optional[str], index_col: Optional[bool]):
    """(X, labels, label name, a notice or None) of a read table; the notice says that the
    first column was dropped as a row index, when that was decided here rather than asked."""
    label_column = _label_column(labels, table.header, table.width, table.path)
    why = _row_index(table, index_col, label_column)
    columns = [j for j in range(table.width) if j != label_column and not (j == 0 and why is not None)]
    if not columns:
        raise CliError(f"{table.path}: no data columns left once the labels and the row index are taken out")
    X = table.matrix(columns)
    notice = None
    if why:
        name = f" {table.header[0]!r}" if table.header is not None and table.header[0] else ""
        notice = (f"dropped the first column{name} of {table.path} as a row index ({why}); "
                  f"--no-index-col keeps it")
    if label_column is None:
        return X, None, None, notice
    name = table.header[label_column] if table.header is not None else "label"
    return X, _numbers_or_strings(table.texts(label_column)), name, notice


def _load_table(path: Path, delimiter: str, labels: Optional[str], index_col: Optional[bool] = None,
                notice: Optional[Callable[[str], None]] = None):
    """(X, labels, label name) of a .csv/.tsv file, read with numpy's loadtxt where it reads the
    file as the csv module does, else with the csv module: the same result (and the same
    errors) either way. ``index_col``: drop the first column as a row index (True), never
    (False), or when it looks like one (None; ``notice`` is then told so, in a line)."""
    try:
        table = _NumpyTable(path, delimiter, labels, index_col)
    except _Fallback:
        table = _CsvTable(path, delimiter)
    X, y, name, text = _table_data(table, labels, index_col)
    if text is not None and notice is not None:
        notice(text)
    return X, y, name


def _np_load(f, path: Path, kind: str):
    """np.load of an open file (numpy leaks the file it opens itself when a .npz is corrupt)."""
    try:
        return np.load(f, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise CliError(f"{path}: not a readable {kind} file ({exc})") from None


def _check_numeric(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise CliError(f"{where}: the array holds {arr.dtype}, not real numbers")
    if arr.ndim != 2:
        raise CliError(f"{where}: expected a 2-D array (n_samples, n_features); got shape {arr.shape}")
    return arr


def _load_npz(path: Path, array: Optional[str], labels: Optional[str]):
    with open(path, "rb") as f:
        archive = _np_load(f, path, ".npz")
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CliError(f"{path}: a single array, not a .npz archive; rename it to .npy")
        names = list(archive.files)
        if array is not None:
            if array not in names:
                raise CliError(f"--array {array}: {path} holds no such array (it holds {', '.join(names)})")
            X = archive[array]
            where = f"{path}[{array}]"
        else:
            two_d = [name for name in names if archive[name].ndim == 2 and name != labels]
            if not two_d:
                raise CliError(f"{path}: no 2-D array in the archive (it holds "
                               f"{', '.join(f'{n} {archive[n].shape}' for n in names) or 'nothing'})")
            X = archive[two_d[0]]
            where = f"{path}[{two_d[0]}]"
        X = _check_numeric(X, where)
        y = archive[labels] if labels is not None and labels in names else None
    return X, y, (labels if y is not None else None)


def _load_label_file(path: Path, n: int) -> np.ndarray:
    """Labels from a file: a .npy array, or text with one label per line (and maybe a header)."""
    if path.suffix.lower() == ".npy":
        with open(path, "rb") as f:
            y = _np_load(f, path, ".npy")
        if not isinstance(y, np.ndarray):
            raise CliError(f"{path}: labels must be a .npy array")
        if y.ndim == 2 and 1 in y.shape:
            y = y.reshape(-1)
        if y.ndim != 1:
            raise CliError(f"{path}: labels must be a 1-D array; got shape {y.shape}")
    else:
        with open(path, encoding="utf-8-sig") as f:
            values = [line.strip() for line in f]
        while values and values[-1] == "":
            values.pop()
        if len(values) == n + 1:  # a header line
            values = values[1:]
        y = _numbers_or_strings(values)
    if y.shape[0] != n:
        raise CliError(f"{path}: {y.shape[0]} labels for {n} rows of data (one label per row is expected)")
    return y


def load_input(path, *, labels: Optional[str] = None, array: Optional[str] = None,
               index_col: Optional[bool] = None, notice: Optional[Callable[[str], None]] = None):
    """Read the data (and labels) for ``turbotsne embed``.

    Returns ``(X, labels, label_name)``; labels and label_name are None when no labels were
    asked for. ``labels`` names a column of a .csv/.tsv file (header name, or 0-based index
    counting the file's columns as written, a row index column included), an array of a .npz
    archive, or else a file with one label per row. ``index_col`` (.csv/.tsv only): drop the
    first column as a row index (True), never (False), or when its header cell is empty or it
    counts the rows 0, 1, 2, ... or 1, 2, 3, ... (None; then ``notice`` gets a line saying so).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _INPUTS:
        raise CliError(f"{path}: unsupported input type {suffix or '(no extension)'!r}; "
                       f"expected one of {', '.join(_INPUTS)}")
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    if array is not None and suffix != ".npz":
        raise CliError(f"--array {array}: only a .npz input holds named arrays")
    if index_col is not None and suffix not in _TABLES:
        raise CliError(f"--{'' if index_col else 'no-'}index-col: only a .csv/.tsv input has an index column")
    if suffix in _TABLES:
        X, y, name = _load_table(path, _TABLES[suffix], labels, index_col, notice)
    elif suffix == ".npz":
        X, y, name = _load_npz(path, array, labels)
    else:
        with open(path, "rb") as f:
            data = _np_load(f, path, ".npy")
        if not isinstance(data, np.ndarray):
            raise CliError(f"{path}: a .npz archive saved under a .npy name; rename it to .npz")
        X, y, name = _check_numeric(data, str(path)), None, None
    if labels is not None and y is None:
        if not Path(labels).is_file():
            raise CliError(f"--labels {labels}: no such file" + (
                f" and no array of that name in {path}" if suffix == ".npz" else ""))
        y, name = _load_label_file(Path(labels), X.shape[0]), "label"
    if y is not None and y.ndim != 1:
        raise CliError(f"--labels {labels}: labels must be 1-D; got shape {y.shape}")
    if y is not None and y.shape[0] != X.shape[0]:
        raise CliError(f"--labels {labels}: {y.shape[0]} labels for {X.shape[0]} rows of data")
    return X, y, name


# --------------------------------------------------------------------------------- writing


def _check_output(path: Path, allowed, option: str) -> None:
    if allowed is not None and path.suffix.lower() not in allowed:
        raise CliError(f"{option} {path}: unsupported output type; expected one of {', '.join(allowed)}")
    if not path.parent.is_dir():
        raise CliError(f"{option} {path}: the folder {path.parent} does not exist")


def save_embedding(path, Y: np.ndarray, labels=None, label_name: str = "label") -> None:
    """Write ``Y`` as .npy (the array alone) or .csv/.tsv (columns tsne_1, tsne_2, ... and,
    with labels, a last column named ``label_name``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, Y)
        return
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=_TABLES[suffix], lineterminator="\n")
        header = [f"tsne_{j + 1}" for j in range(Y.shape[1])]
        writer.writerow(header + ([label_name] if labels is not None else []))
        for i, row in enumerate(Y.tolist()):
            writer.writerow([repr(v) for v in row] + ([labels[i]] if labels is not None else []))


def _check_picture(path: Path, option: str) -> None:
    """Before a run: matplotlib is installed and can write ``path``'s format."""
    _check_output(path, None, option)
    from ._plot import _import_matplotlib

    _import_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        raise CliError(f"{option} {path}: unsupported picture type; expected one of "
                       f"{', '.join('.' + f for f in sorted(formats))}")


def save_plot(path, Y: np.ndarray, labels=None, title: Optional[str] = None) -> None:
    """Draw ``Y`` with :func:`turbotsne.plot` on a new figure and save it (format from suffix)."""
    from matplotlib.figure import Figure

    from ._plot import plot

    figure = Figure(figsize=(8, 7), layout="constrained")
    plot(Y, labels, ax=figure.add_subplot(), title=title)
    figure.savefig(path, dpi=150)


# --------------------------------------------------------------------------------- commands


#: turbotsne.tsne's parameter for each t-SNE option of the command line (argparse's dest): what
#: _run_tsne passes on, and what the library's error messages are translated from.
_TSNE_OPTIONS = {"n_components": "n_components", "perplexity": "perplexity", "method": "method",
                 "neighbors": "neighbors", "metric": "metric", "init": "init", "n_iter": "n_iter",
                 "random_state": "seed", "n_jobs": "threads", "objective": "objective",
                 "background": "background"}


def _option(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _in_cli_terms(message: str, data: str) -> str:
    """A message of the library with its parameters named as the command line's options:
    "The 'n_jobs' parameter of tsne must be ..." becomes "--threads must be ...", "metric='cosine'"
    "--metric cosine", a leading "perplexity (60)" "--perplexity 60", "n_components" (a name
    that is no English word) "--n-components", and X ``data``."""
    options = {name: _option(dest) for name, dest in _TSNE_OPTIONS.items()}
    names = "|".join(sorted(options, key=len, reverse=True))
    message = re.sub(rf"The '({names})' parameter of \w+", lambda m: options[m[1]], message)
    message = re.sub(rf"\b({names})=('[^']*'|[^\s,;:)]+)",
                     lambda m: options[m[1]] + " " + m[2].strip("'"), message)
    message = re.sub(rf"^({names}) \(([^)]*)\)", lambda m: f"{options[m[1]]} {m[2]}", message)
    identifiers = "|".join(name for name in options if "_" in name)  # never an English word
    message = re.sub(rf"\b({identifiers})\b", lambda m: options[m[1]], message)
    message = re.sub(r" of (tsne|make_blobs)\b", "", message)
    return re.sub(r"\bX\b(?![.(])", data, message)


@contextlib.contextmanager
def _cli_terms(data: str, quiet: bool):
    """The library's errors inside as CliError and its warnings as lines ``turbotsne: warning:
    ...`` (none when ``quiet``), both in the command line's terms (``data`` stands for X)."""

    def show(message, *_):
        if not quiet:
            print(f"turbotsne: warning: {_in_cli_terms(_one_line(message), data)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        try:
            yield
        except (ValueError, TypeError) as exc:
            raise CliError(_in_cli_terms(_one_line(exc), data)) from None


def _run_tsne(X: np.ndarray, args, data: str) -> np.ndarray:
    """turbotsne.tsne with the options of ``args``, in the command line's terms."""
    from ._api import tsne

    with _cli_terms(data, args.quiet):
        return tsne(X, **_tsne_values(args), verbose=not args.quiet)


def _tsne_values(args) -> dict:
    """tsne's keyword arguments from the options of ``args`` (init: pca, or random for
    precomputed distances, unless given)."""
    values = {name: getattr(args, dest) for name, dest in _TSNE_OPTIONS.items()}
    values["init"] = values["init"] or ("random" if values["metric"] == "precomputed" else "pca")
    return values


def _embed(args) -> int:
    output = Path(args.output)
    _check_output(output, _EMBEDDINGS, "-o")
    if args.plot is not None:
        if args.n_components != 2:
            raise CliError(f"--plot draws 2-D embeddings; got --n-components {args.n_components}")
        _check_picture(Path(args.plot), "--plot")
    notice = None if args.quiet else (lambda text: print(f"turbotsne: {text}", file=sys.stderr))
    X, labels, label_name = load_input(args.input, labels=args.labels, array=args.array,
                                       index_col=args.index_col, notice=notice)
    if args.plot is not None and labels is not None:
        from ._plot import _check_labels

        _check_labels(labels, X.shape[0])  # before the run, not after it
    start = time.perf_counter()
    Y = _run_tsne(X, args, str(args.input))
    elapsed = time.perf_counter() - start
    save_embedding(output, Y, labels, label_name or "label")
    written = [str(output)]
    if args.plot is not None:
        save_plot(args.plot, Y, labels, title=Path(args.input).name)
        written.append(str(args.plot))
    if not args.quiet:
        print(f"embedded {X.shape[0]} x {X.shape[1]} in {elapsed:.2f} s -> {', '.join(written)}")
    return 0


def _demo(args) -> int:
    from ._datasets import make_blobs

    output = Path(args.output)
    picture = output.suffix.lower() not in _EMBEDDINGS
    if picture:
        if args.n_components != 2:
            raise CliError(f"a picture needs a 2-D embedding; got --n-components {args.n_components}")
        _check_picture(output, "-o")
    else:
        _check_output(output, _EMBEDDINGS, "-o")
    if args.save_embedding is not None:
        _check_output(Path(args.save_embedding), _EMBEDDINGS, "--save-embedding")
    if args.n_samples is None:
        exact_only = args.crowding or args.objective != "tsne"  # the SNE family: O(n²)
        args.n_samples = CROWDING_SAMPLES if exact_only else DEMO_SAMPLES
    if args.crowding:
        if not picture:
            raise CliError(f"--crowding draws a picture; got -o {output}")
        if args.save_embedding is not None:
            raise CliError("--crowding draws four embeddings; --save-embedding saves one")
        if args.objective != "tsne" or args.background is not None:
            raise CliError("--crowding runs every objective itself; leave out --objective and "
                           "--background")
    if args.n_samples < DEMO_CLUSTERS:
        raise CliError(f"--n-samples {args.n_samples}: the demo has {DEMO_CLUSTERS} clusters; "
                       f"give at least {DEMO_CLUSTERS} points")
    spread = {"center_spread": CROWDING_SPREAD} if args.crowding else {}
    with _cli_terms("the demo's data", args.quiet):
        X, labels = make_blobs(n_samples=args.n_samples, n_centers=DEMO_CLUSTERS,
                               random_state=args.seed, **spread)
    if args.crowding:
        return _demo_crowding(X, labels, args, output)
    start = time.perf_counter()
    Y = _run_tsne(X, args, "the demo's data")
    elapsed = time.perf_counter() - start
    if picture:
        save_plot(output, Y, labels,
                  title=f"turbotsne demo: {X.shape[0]:,} points, {DEMO_CLUSTERS} Gaussian clusters "
                        f"in {X.shape[1]}-D")
    else:
        save_embedding(output, Y, labels, "cluster")
    written = [str(output)]
    if args.save_embedding is not None:
        save_embedding(args.save_embedding, Y, labels, "cluster")
        written.append(str(args.save_embedding))
    if not args.quiet:
        print(f"embedded {X.shape[0]} x {X.shape[1]} in {elapsed:.2f} s -> {', '.join(written)}")
    return 0


def _demo_crowding(X: np.ndarray, labels: np.ndarray, args, output: Path) -> int:
    """demo --crowding: the four objectives side by side (turbotsne.crowding)."""
    from ._family import TITLES, crowding, plot_crowding
    from ._plot import _import_matplotlib

    _import_matplotlib()  # before any computation: a missing matplotlib fails at once
    values = _tsne_values(args)
    del values["objective"], values["background"]  # crowding runs each objective
    start = time.perf_counter()
    with _cli_terms("the demo's data", args.quiet):
        result = crowding(X, labels, objectives=CROWDING_OBJECTIVES, verbose=not args.quiet,
                          **values)
    elapsed = time.perf_counter() - start
    fig = plot_crowding(result, labels)
    fig.suptitle(f"The crowding problem: {X.shape[0]:,} points, {DEMO_CLUSTERS} close Gaussian "
                 f"clusters in {X.shape[1]}-D")
    fig.savefig(output, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    if not args.quiet:
        for objective in CROWDING_OBJECTIVES:
            print(f"{TITLES[objective]}: 10-NN accuracy "
                  f"{result['knn_accuracy'][objective]:.3f}, {result['seconds'][objective]:.2f} s")
        print(f"embedded {X.shape[0]} x {X.shape[1]} four times in {elapsed:.2f} s -> {output}")
    return 0


def _add_tsne_options(parser: argparse.ArgumentParser, precomputed: bool) -> None:
    """The t-SNE options; ``--metric precomputed`` (INPUT is a distance matrix) where
    ``precomputed`` (not for the demo, whose data are points)."""
    from ._api import _METHODS, _NEIGHBORS, _OBJECTIVES
    from ._metrics import METRIC_NAMES

    group = parser.add_argument_group("t-SNE options (see turbotsne.tsne)")
    group.add_argument("--perplexity", type=float, default=30.0, help="effective number of neighbours (default 30)")
    group.add_argument("--method", default="auto", choices=_METHODS, help="how repulsion is computed (default auto)")
    group.add_argument("--neighbors", default="auto", choices=_NEIGHBORS, help="nearest-neighbour search (default auto)")
    group.add_argument("--metric", default="euclidean", metavar="METRIC",
                       choices=METRIC_NAMES + (("precomputed",) if precomputed else ()),
                       help="distance between rows (default euclidean; also cosine, manhattan and "
                            "scipy's names such as chebyshev, correlation, jaccard, by an exact "
                            "search)" + ("; precomputed: INPUT is a square distance matrix"
                                         if precomputed else ""))
    group.add_argument("--init", choices=("pca", "random"),
                       help="initial embedding (default pca" +
                            (", random with --metric precomputed)" if precomputed else ")"))
    group.add_argument("--objective", default="tsne", choices=_OBJECTIVES,
                       help="the cost: tsne (default), or sne, symmetric_sne, uni_sne (Gaussian "
                            "kernels, exact method only: at most a few thousand points in good "
                            "time)")
    group.add_argument("--background", type=float, metavar="RHO",
                       help="UNI-SNE's uniform background in [0, 1) (default 0.1; with "
                            "--objective uni_sne only)")
    group.add_argument("--n-components", type=int, default=2, help="embedding dimension (default 2)")
    group.add_argument("--n-iter", type=int, default=750, help="total iterations (default 750)")
    group.add_argument("--threads", type=int, default=-1, help="threads; -1 all CPUs (default), -2 all but one")
    group.add_argument("--seed", type=int, default=0,
                       help="random seed (default 0): the same seed gives the same output for any --threads")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no progress on stderr and no summary on stdout; errors only")


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="turbotsne", description="Fast, deterministic t-SNE.",
        epilog="Errors print one line 'turbotsne: error: ...' and exit with status 2.")
    parser.add_argument("--version", action="version", version=f"turbotsne {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{embed,demo}")

    embed = sub.add_parser(
        "embed", help="embed the rows of a .npy, .npz, .csv or .tsv file",
        description="Embed the rows of INPUT and write the embedding to OUTPUT. "
                    "A .csv/.tsv file's first row is a header when one of its cells is not a number "
                    "where the row below has one. Its first column is dropped as a row index (and "
                    "a line on stderr says so) when its header cell is empty, as pandas' to_csv "
                    "writes it, or when it counts the rows 0, 1, 2, ... or 1, 2, 3, ...; "
                    "--index-col and --no-index-col decide instead.")
    embed.add_argument("input", metavar="INPUT", help="data: .npy (2-D array), .npz, .csv or .tsv")
    embed.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                       help="embedding: .npy (the array) or .csv/.tsv (columns tsne_1, tsne_2, ... "
                            "and the labels last, if given)")
    embed.add_argument("--plot", metavar="PNG", help="also draw the embedding to this picture (needs matplotlib)")
    embed.add_argument("--labels", metavar="COLUMN|FILE",
                       help="labels: a column of a .csv/.tsv input (header name or 0-based index "
                            "counting the file's columns as written, a row index column included; "
                            "taken out of the data), an array of a .npz input, or a file with one "
                            "label per row")
    embed.add_argument("--array", metavar="NAME", help="the array of a .npz input to embed (default: its first 2-D array)")
    index = embed.add_mutually_exclusive_group()
    index.add_argument("--index-col", dest="index_col", action="store_const", const=True,
                       help="a .csv/.tsv input's first column is a row index: drop it")
    index.add_argument("--no-index-col", dest="index_col", action="store_const", const=False,
                       help="keep a .csv/.tsv input's first column as data, even when it looks like "
                            "a row index")
    _add_tsne_options(embed, precomputed=True)
    embed.set_defaults(run=_embed)

    demo = sub.add_parser(
        "demo", help="embed a built-in dataset (Gaussian clusters in 50-D) and draw it",
        description="Embed the built-in dataset (turbotsne.make_blobs: 10 Gaussian clusters in 50-D) "
                    "and draw it to a picture, or, when OUTPUT ends in .npy/.csv/.tsv, save the "
                    "embedding there instead (no matplotlib needed).")
    demo.add_argument("-o", "--output", default=_DEMO_PNG, metavar="OUTPUT",
                      help=f"picture (default {_DEMO_PNG}) or embedding (.npy/.csv/.tsv)")
    demo.add_argument("--save-embedding", metavar="FILE", help="also save the embedding (.npy/.csv/.tsv)")
    demo.add_argument("-n", "--n-samples", type=int,
                      help=f"number of points (default {DEMO_SAMPLES}; {CROWDING_SAMPLES} with "
                           f"--crowding or an SNE --objective)")
    demo.add_argument("--crowding", action="store_true",
                      help="the crowding problem: draw the data embedded by SNE, symmetric SNE, "
                           "UNI-SNE and t-SNE side by side, each with its 10-NN accuracy "
                           "(turbotsne.crowding; the SNE objectives are exact, O(n²) per "
                           "iteration)")
    _add_tsne_options(demo, precomputed=False)
    demo.set_defaults(run=_demo)
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line with ``argv`` (``sys.argv[1:]`` by default); return the exit status."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("turbotsne: interrupted", file=sys.stderr)
        return 130
    except (CliError, ValueError, TypeError, OSError, ImportError, MemoryError, RuntimeError) as exc:
        print(f"turbotsne: error: {_one_line(exc)}", file=sys.stderr)
        return 2
