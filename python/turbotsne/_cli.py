"""The ``turbotsne`` command line: ``turbotsne embed`` and ``turbotsne demo``.

Every failure the user can cause (a missing or malformed file, a bad option value, a missing
optional dependency) ends with one line ``turbotsne: error: ...`` on stderr and exit status 2;
usage errors are argparse's (usage and one error line, status 2); Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import zipfile
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

__all__ = ["main"]

_INPUTS = (".npy", ".npz", ".csv", ".tsv")
_TABLES = {".csv": ",", ".tsv": "\t"}
_EMBEDDINGS = (".npy", ".csv", ".tsv")
_DEMO_PNG = "turbotsne_demo.png"


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


def _read_table(path: Path, delimiter: str) -> Tuple[Optional[List[str]], List[int], List[List[str]]]:
    """Rows of a delimited text file: (header or None, line numbers, data rows as strings).

    The first row is a header when it has a cell that is not a number in a column where the
    second row has a number (or, for a one-row file, when any cell is not a number).
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

    def is_number(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    first = [is_number(cell) for cell in rows[0]]
    if len(rows) == 1:
        has_header = not all(first)
    else:
        has_header = any(not a and is_number(b) for a, b in zip(first, rows[1]))
    if has_header:
        return rows[0], lines[1:], rows[1:]
    return None, lines, rows


def _column_index(spec: str, header: Optional[List[str]], width: int) -> Optional[int]:
    """The column that ``--labels spec`` names: a header name or a 0-based (or negative) index."""
    if header is not None and spec in header:
        return header.index(spec)
    try:
        index = int(spec)
    except ValueError:
        return None
    if not -width <= index < width:
        raise CliError(f"--labels {spec}: the input has {width} columns (indices 0 to {width - 1})")
    return index % width


def _load_table(path: Path, delimiter: str, labels: Optional[str]):
    header, lines, rows = _read_table(path, delimiter)
    width = len(rows[0])
    names = header if header is not None else [str(j) for j in range(width)]
    label_column = None
    if labels is not None:
        label_column = _column_index(labels, header, width)
        if label_column is None and not Path(labels).is_file():
            known = ", ".join(repr(name) for name in header) if header is not None else "none"
            raise CliError(f"--labels {labels}: no column of that name in {path} (column names: "
                           f"{known}) and no file of that name")
    cells = np.array(rows, dtype=str)
    columns = [j for j in range(width) if j != label_column]
    if not columns:
        raise CliError(f"{path}: no data columns left once the labels are taken out")
    try:
        X = cells[:, columns].astype(np.float64)
    except ValueError:
        for j in columns:
            for line, cell in zip(lines, cells[:, j].tolist()):
                try:
                    float(cell)
                except ValueError:
                    what = "an empty cell" if cell == "" else f"{cell!r} is not a number"
                    hint = (f"; to use this column as labels, pass --labels {names[j]}"
                            if cell != "" else "")
                    raise CliError(f"{path}, line {line}, column {names[j]!r}: {what}{hint}") from None
        raise
    if label_column is None:
        return X, None, None
    name = header[label_column] if header is not None else "label"
    return X, _numbers_or_strings(list(cells[:, label_column])), name


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


def load_input(path, *, labels: Optional[str] = None, array: Optional[str] = None):
    """Read the data (and labels) for ``turbotsne embed``.

    Returns ``(X, labels, label_name)``; labels and label_name are None when no labels were
    asked for. ``labels`` names a column of a .csv/.tsv file (header name or 0-based index),
    an array of a .npz archive, or else a file with one label per row.
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
    if suffix in _TABLES:
        X, y, name = _load_table(path, _TABLES[suffix], labels)
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


def _run_tsne(X: np.ndarray, args) -> np.ndarray:
    from ._api import tsne

    init = args.init or ("random" if args.metric == "precomputed" else "pca")
    return tsne(X, args.n_components, perplexity=args.perplexity, method=args.method,
                neighbors=args.neighbors, metric=args.metric, init=init, n_iter=args.n_iter,
                random_state=args.seed, n_jobs=args.threads, verbose=not args.quiet)


def _embed(args) -> int:
    output = Path(args.output)
    _check_output(output, _EMBEDDINGS, "-o")
    if args.plot is not None:
        if args.n_components != 2:
            raise CliError(f"--plot draws 2-D embeddings; got --n-components {args.n_components}")
        _check_picture(Path(args.plot), "--plot")
    X, labels, label_name = load_input(args.input, labels=args.labels, array=args.array)
    if args.plot is not None and labels is not None:
        from ._plot import _check_labels

        _check_labels(labels, X.shape[0])  # before the run, not after it
    start = time.perf_counter()
    Y = _run_tsne(X, args)
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
    X, labels = make_blobs(n_samples=args.n_samples, random_state=args.seed)
    start = time.perf_counter()
    Y = _run_tsne(X, args)
    elapsed = time.perf_counter() - start
    if picture:
        save_plot(output, Y, labels,
                  title=f"turbotsne demo: {X.shape[0]:,} points, 10 Gaussian clusters in {X.shape[1]}-D")
    else:
        save_embedding(output, Y, labels, "cluster")
    written = [str(output)]
    if args.save_embedding is not None:
        save_embedding(args.save_embedding, Y, labels, "cluster")
        written.append(str(args.save_embedding))
    if not args.quiet:
        print(f"embedded {X.shape[0]} x {X.shape[1]} in {elapsed:.2f} s -> {', '.join(written)}")
    return 0


def _add_tsne_options(parser: argparse.ArgumentParser, n_iter_default: int = 750) -> None:
    from ._api import _METHODS, _NEIGHBORS
    from ._metrics import METRIC_NAMES

    group = parser.add_argument_group("t-SNE options (see turbotsne.tsne)")
    group.add_argument("--perplexity", type=float, default=30.0, help="effective number of neighbours (default 30)")
    group.add_argument("--method", default="auto", choices=_METHODS, help="how repulsion is computed (default auto)")
    group.add_argument("--neighbors", default="auto", choices=_NEIGHBORS, help="nearest-neighbour search (default auto)")
    group.add_argument("--metric", default="euclidean", choices=METRIC_NAMES + ("precomputed",),
                       metavar="METRIC",
                       help="distance between rows (default euclidean; also cosine, manhattan and "
                            "scipy's names such as chebyshev, correlation, jaccard, by an exact "
                            "search); precomputed: INPUT is a square distance matrix")
    group.add_argument("--init", choices=("pca", "random"),
                       help="initial embedding (default pca, random with --metric precomputed)")
    group.add_argument("--n-components", type=int, default=2, help="embedding dimension (default 2)")
    group.add_argument("--n-iter", type=int, default=n_iter_default,
                       help=f"total iterations (default {n_iter_default})")
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
                    "where the row below has one.")
    embed.add_argument("input", metavar="INPUT", help="data: .npy (2-D array), .npz, .csv or .tsv")
    embed.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                       help="embedding: .npy (the array) or .csv/.tsv (columns tsne_1, tsne_2, ... "
                            "and the labels last, if given)")
    embed.add_argument("--plot", metavar="PNG", help="also draw the embedding to this picture (needs matplotlib)")
    embed.add_argument("--labels", metavar="COLUMN|FILE",
                       help="labels: a column of a .csv/.tsv input (header name or 0-based index; taken "
                            "out of the data), an array of a .npz input, or a file with one label per row")
    embed.add_argument("--array", metavar="NAME", help="the array of a .npz input to embed (default: its first 2-D array)")
    _add_tsne_options(embed)
    embed.set_defaults(run=_embed)

    demo = sub.add_parser(
        "demo", help="embed a built-in dataset (Gaussian clusters in 50-D) and draw it",
        description="Embed the built-in dataset (turbotsne.make_blobs: 10 Gaussian clusters in 50-D) "
                    "and draw it to a picture, or, when OUTPUT ends in .npy/.csv/.tsv, save the "
                    "embedding there instead (no matplotlib needed).")
    demo.add_argument("-o", "--output", default=_DEMO_PNG, metavar="OUTPUT",
                      help=f"picture (default {_DEMO_PNG}) or embedding (.npy/.csv/.tsv)")
    demo.add_argument("--save-embedding", metavar="FILE", help="also save the embedding (.npy/.csv/.tsv)")
    demo.add_argument("-n", "--n-samples", type=int, default=5000, help="number of points (default 5000)")
    _add_tsne_options(demo)
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
