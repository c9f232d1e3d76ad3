"""The command line's table reader on a pandas-written CSV, against pandas' read_csv.

    python bench/csv_reader.py [--rows 18000] [--cols 48] [--repeats 3] [--old-cli FILE.py]

Writes a table with ``DataFrame.to_csv()`` (its unnamed index column first, ``--cols``
normal columns, a text label column "kind"), then times, median of ``--repeats``: the CLI's
whole ``load_input(path, labels="kind")``, its numpy.loadtxt reader and its csv-module
reader alone, and ``pandas.read_csv`` with its default and its exact ("round_trip") float
parser (the import of pandas not counted). ``--old-cli`` (a copy of an earlier
``turbotsne/_cli.py`` placed inside the installed package, e.g. ``git show
865bf69:python/turbotsne/_cli.py > .../turbotsne/_cli_old.py`` and ``--old-cli _cli_old``)
adds that version's ``load_input``. Also reports whether pandas' default parser reads every
value exactly as Python's ``float`` does.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def median_seconds(f, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=18000)
    parser.add_argument("--cols", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--old-cli", help="module name of an earlier _cli.py inside turbotsne")
    args = parser.parse_args()

    import pandas as pd

    from turbotsne import _cli

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(args.rows, args.cols)),
                      columns=[f"g{i}" for i in range(args.cols)])
    df["kind"] = rng.choice(["a", "b", "c"], args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        df.to_csv(path)
        print(f"{path.stat().st_size / 2**20:.1f} MB, {args.rows} x {args.cols} + index + labels; "
              f"load average {os.getloadavg()[0]:.2f}")
        timings = {
            "CLI load_input": lambda: _cli.load_input(path, labels="kind"),
            "CLI loadtxt reader": lambda: _cli._NumpyTable(path, ",", "kind", None),
            "CLI csv-module reader (strings only)": lambda: _cli._CsvTable(path, ","),
            "pandas read_csv, default parser": lambda: pd.read_csv(path, index_col=0),
            "pandas read_csv, round_trip parser": lambda: pd.read_csv(
                path, index_col=0, float_precision="round_trip"),
        }
        if args.old_cli:
            old = importlib.import_module(f"turbotsne.{args.old_cli}")
            timings[f"{args.old_cli} load_input"] = lambda: old.load_input(path, labels="kind")
        for name, f in timings.items():
            print(f"{name:40s} {median_seconds(f, args.repeats):.3f} s")
        X = _cli.load_input(path, labels="kind")[0]
        fast = pd.read_csv(path, index_col=0).drop(columns="kind").to_numpy()
        print(f"CLI values equal the written ones: {np.array_equal(X, df.drop(columns='kind').to_numpy())}; "
              f"pandas' default parser off in {np.mean(fast != X):.1%} of the values")


if __name__ == "__main__":
    main()
