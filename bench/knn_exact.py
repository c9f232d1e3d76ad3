"""Exact kNN: turbotsne's exact search against scikit-learn's brute force.

    python bench/knn_exact.py --threads 1,2 --repeats 3 [--output bench/results/knn_exact.md]

k = 90 (3 x perplexity 30) neighbours of every point among the other points. turbotsne:
_core._testing.nearest_neighbors with the auto rule and with each algorithm forced (VP-tree, blocked
brute force). scikit-learn: NearestNeighbors(algorithm="brute", n_jobs=threads).fit(X)
.kneighbors(n_neighbors=k), which with no query argument also leaves each point out of its own
neighbours. Every run is a fresh process with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS (and
MKL_NUM_THREADS) set to the thread count, so scikit-learn's BLAS uses the same threads; the
time is that of the search alone (data already in memory), medians of --repeats (the forced
VP-tree, tens of seconds here, --vptree-repeats). "same sets"
is the fraction of points whose k neighbour indices (as sets) agree with scikit-learn's; they
may differ where distances tie or nearly tie (scikit-learn ranks by the approximate
||x||^2 + ||y||^2 - 2 x.y, turbotsne by exactly recomputed distances).

Data: 5,000 x 2,000 standard normal (seeded), and the first 20,000 rows of raw MNIST (784-D
pixels 0..255 as float64) from <data-dir>/mnist.npz. Writes nothing unless --output is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = """
import sys, time, numpy as np
data, k, threads, method, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
X = np.ascontiguousarray(np.load(data), dtype=np.float64)
if method == "sklearn":
    from sklearn.neighbors import NearestNeighbors
    start = time.perf_counter()
    indices = NearestNeighbors(n_neighbors=k, algorithm="brute", n_jobs=threads).fit(X).kneighbors(
        n_neighbors=k, return_distance=False)
else:
    from turbotsne import _core
    algorithm = getattr(_core.ExactKnnAlgorithm, method)
    start = time.perf_counter()
    indices, _ = _core._testing.nearest_neighbors(X, k, threads, _core.Metric.euclidean, algorithm)
elapsed = time.perf_counter() - start
np.save(out, np.asarray(indices, dtype=np.int64))
print(elapsed)
"""

METHODS = ("auto", "vptree", "brute_force", "sklearn")


def datasets(data_dir: Path, names: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for name in names:
        if name == "normal":
            out["normal 5000x2000"] = np.random.default_rng(0).normal(size=(5000, 2000))
        elif name == "mnist":
            X = np.load(data_dir / "mnist.npz")["X"][:20000]
            out["MNIST 20000x784"] = np.ascontiguousarray(X, dtype=np.float64)
        else:
            raise SystemExit(f"--datasets: normal or mnist, got {name!r}")
    return out


def same_sets(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.all(np.sort(a, axis=1) == np.sort(b, axis=1), axis=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma list of thread counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vptree-repeats", type=int, default=1,
                        help="runs of the forced VP-tree (tens of seconds each on this data)")
    parser.add_argument("--k", type=int, default=90)
    parser.add_argument("--datasets", default="normal,mnist", help="comma list: normal, mnist")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma list of " + ", ".join(METHODS))
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--output", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args()
    threads_list = [int(t) for t in args.threads.split(",")]
    methods = args.methods.split(",")
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"--methods: unknown {m!r}")

    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for name, X in datasets(args.data_dir, args.datasets.split(",")).items():
            path = Path(tmp) / "X.npy"
            np.save(path, X)
            for threads in threads_list:
                env = dict(os.environ, OMP_NUM_THREADS=str(threads),
                           OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
                times, indices = {}, {}
                for method in methods:
                    runs = []
                    for r in range(args.vptree_repeats if method == "vptree" else args.repeats):
                        out = Path(tmp) / f"{method}.npy"
                        done = subprocess.run(
                            [sys.executable, "-c", CHILD, str(path), str(args.k), str(threads),
                             method, str(out)], env=env, capture_output=True, text=True)
                        if done.returncode != 0:
                            raise SystemExit(f"{method} failed:\n{done.stderr}")
                        runs.append(float(done.stdout.strip().splitlines()[-1]))
                        print(f"{name} threads={threads} {method} run {r + 1}: {runs[-1]:.3f} s "
                              f"(load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
                    times[method] = statistics.median(runs)
                    indices[method] = np.load(out)
                rows.append((name, threads, times, indices))

    head = ["data", "threads"] + [f"{m} s" for m in methods]
    has_ratio = "sklearn" in methods and any(m != "sklearn" for m in methods)
    if has_ratio:
        head += ["best turbotsne / sklearn", "auto / sklearn", "same sets as sklearn"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, threads, times, indices in rows:
        cells = [name, str(threads)] + [f"{times[m]:.3f}" for m in methods]
        if has_ratio:
            ours = [m for m in methods if m != "sklearn"]
            best = min(times[m] for m in ours)
            cells.append(f"{best / times['sklearn']:.2f}")
            cells.append(f"{times['auto'] / times['sklearn']:.2f}" if "auto" in times else "")
            cells.append(f"{same_sets(indices[ours[0]], indices['sklearn']):.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    load_after = os.getloadavg()
    note = (f"k = {args.k}, medians of {args.repeats} fresh processes ({args.vptree_repeats} for "
            f"vptree); load average "
            f"{load_before[0]:.2f} before, {load_after[0]:.2f} after ({os.cpu_count()} CPUs)")
    table = "\n".join(lines)
    print(table)
    print(note)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text("# Exact kNN: turbotsne vs scikit-learn brute force\n\n"
                               f"`python bench/knn_exact.py {' '.join(sys.argv[1:])}`\n\n"
                               f"{table}\n\n{note}\n")


if __name__ == "__main__":
    main()
