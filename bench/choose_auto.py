"""Measurements behind the defaults of ``turbotsne.tsne``: where method="auto" switches from
exact to Barnes-Hut and from Barnes-Hut to FFT, and the learning-rate schedule.

Each t-SNE run is scored as bench/compare.py scores peers: exact KL(P||Q) against one P
(``joint_probabilities``, perplexity 30, exact neighbours; n <= 30,000), recall@10 of the exact
input-space neighbours and leave-one-out 10-NN accuracy of the labels. Inputs are the PCA-50
arrays that compare.py caches in bench/data/compare/; "mnist20k" and "fashion_mnist20k" are
seeded subsets of 20,000 rows (the subset changes with the seed), "mnist:N" any size.

    # exact against Barnes-Hut on subsets of digits: sets AUTO_EXACT_MAX_SAMPLES
    python bench/choose_auto.py exact --threads 2 --repeats 3
    # FFT against Barnes-Hut from the same start, on subsets of several sizes: AUTO_FFT_MIN_SAMPLES
    python bench/choose_auto.py method --datasets mnist,fashion_mnist,cbmc,zeisel \
        --sizes 3000,5000,8000,10000,15000,20000,25000,30000,50000,70000 --seeds 0,1,2
    # learning-rate schedules (lr="auto" of this checkout and explicit ones) against openTSNE
    python bench/choose_auto.py lr --datasets digits,zeisel,cbmc,mnist20k,fashion_mnist20k \
        --seeds 0,1,2 --schedules auto,n/12:n/12@0.5 --peer-python PEERS/bin/python
    # exact against approximate neighbours (sets AUTO_APPROX_MIN_SAMPLES)
    python bench/choose_auto.py neighbors --datasets mnist,fashion_mnist,blobs \
        --sizes 10000,20000,30000,50000,70000 --seeds 0 --repeats 3
    # the tables of everything measured so far
    python bench/choose_auto.py summary

A schedule "E:L[@M]" gives the learning rate during early exaggeration (E) and after it (L)
as a multiple of n ("n/12", "n", "1.5n") or a number, and optionally the momentum of the early
phase (M); "auto" is the checkout's default. A method "fft:p=4;ints=0.7" sets the FFT grid's
n_interpolation_points and ints_in_interval. Results are appended to
bench/results/choose_auto.jsonl, one JSON record per run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from compare import embedding_quality, exact_knn, load_dataset  # noqa: E402

RESULTS = BENCH / "results" / "choose_auto.jsonl"
CACHE = BENCH / "data" / "compare"
KL_MAX_SAMPLES = 30_000  # exact KL up to here (O(n²) pairs; the issue asks for n <= 20,000)
BASE = {"digits": "digits", "zeisel": "zeisel", "cbmc": "cbmc", "mnist": "mnist",
        "fashion_mnist": "fashion_mnist"}


def dataset(spec: str, seed: int, data_dir: Path):
    """(name, X, labels) of "name", "name20k" or "name:N" (a seeded subset of N rows)."""
    base, size = spec, None
    if ":" in spec:
        base, size = spec.split(":")[0], int(spec.split(":")[1])
    elif spec.endswith("20k"):
        base, size = spec[:-3], 20_000
    if base == "mnist_raw":  # the 784 pixels as float64, a seeded subset of N rows
        with np.load(data_dir / "mnist.npz") as archive:
            X, labels = archive["X"], archive["y"]
        rows = np.arange(len(X)) if size is None or size >= len(X) else \
            np.sort(np.random.default_rng(seed).choice(len(X), size, replace=False))
        return f"mnist_raw:{len(rows)}", np.ascontiguousarray(X[rows], dtype=np.float64), labels[rows]
    if base == "blobs":  # turbotsne.make_blobs(N, 50): 10 Gaussian clusters, seeded
        import turbotsne

        X, labels = turbotsne.make_blobs(size or 20_000, 50, random_state=seed)
        return f"blobs:{len(X)}", np.ascontiguousarray(X), labels
    x_path, labels = load_dataset(BASE[base], CACHE, data_dir)
    X = np.load(x_path)
    if size is not None and size < len(X):
        rows = np.sort(np.random.default_rng(seed).choice(len(X), size, replace=False))
        X, labels = X[rows], labels[rows]
    return f"{base}:{len(X)}", np.ascontiguousarray(X), labels


class Scorer:
    """Quality of embeddings of one X: exact KL against one P, recall@10, 10-NN accuracy."""

    def __init__(self, X, labels):
        import turbotsne

        self.labels = labels
        self.rows = np.arange(len(X))
        self.knn = exact_knn(X, self.rows)
        self.P = (turbotsne.joint_probabilities(X, perplexity=30, neighbors="exact")
                  if len(X) <= KL_MAX_SAMPLES else None)

    def __call__(self, Y) -> dict:
        import turbotsne

        scores = embedding_quality(Y, self.labels, self.rows, self.knn)
        scores["kl"] = None if self.P is None else float(turbotsne.kl_divergence(self.P, Y))
        return scores


def rate(expr: str, n: int) -> float:
    """"n", "n/12", "1.5n" or a number."""
    expr = expr.strip()
    if expr.startswith("n/"):
        return n / float(expr[2:])
    if expr.endswith("n"):
        return n * (float(expr[:-1]) if expr[:-1] else 1.0)
    return float(expr)


def run_turbotsne(X, seed, threads, method="auto", schedule="auto", **extra):
    """One tsne() call; schedule "auto" or "E:L[@M]": learning rates of the two phases and
    optionally the momentum of the early phase."""
    from turbotsne import _api

    lr, optimizer = "auto", {}
    if "@" in schedule:
        schedule, momentum = schedule.split("@")
        optimizer["momentum_early"] = float(momentum)
    if schedule != "auto":
        early, late = schedule.split(":")
        lr, optimizer["late_learning_rate"] = rate(early, len(X)), rate(late, len(X))
    t0 = time.perf_counter()
    Y, info = _api._tsne(X, method=method, learning_rate=lr, random_state=seed, n_jobs=threads,
                         _optimizer=optimizer, **extra)
    return Y, time.perf_counter() - t0, info["method"]


OPENTSNE_DEFAULT = """
import json, sys, time, numpy as np, openTSNE
X = np.load(sys.argv[1])
t0 = time.perf_counter()
Y = openTSNE.TSNE(n_jobs=int(sys.argv[3]), random_state=int(sys.argv[4])).fit(X)
seconds = time.perf_counter() - t0
np.save(sys.argv[2], np.asarray(Y, dtype=np.float64))
print("RESULT", json.dumps(dict(seconds=seconds)))
"""


def run_opentsne_default(X, seed, threads, python):
    with tempfile.TemporaryDirectory() as tmp:
        x_path, y_path = os.path.join(tmp, "X.npy"), os.path.join(tmp, "Y.npy")
        np.save(x_path, X)
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                   NUMBA_NUM_THREADS=str(threads))
        proc = subprocess.run([python, "-c", OPENTSNE_DEFAULT, x_path, y_path, str(threads), str(seed)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
        return np.load(y_path), json.loads(line[7:])["seconds"]


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=BENCH).stdout.strip()
    except OSError:
        return "?"


def record(**fields):
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    fields["load"] = os.getloadavg()[0]
    fields["commit"] = commit()
    with open(RESULTS, "a") as f:
        f.write(json.dumps(fields) + "\n")
    kl = fields.get("kl")
    print(f"{fields['experiment']:6} {fields['data']:>18} seed {fields['seed']} {fields['impl']:>22} "
          f"{fields['seconds']:7.2f} s  KL {'-' if kl is None else f'{kl:.4f}'}  "
          f"acc {fields['acc10']:.4f}  recall {fields['recall10']:.4f}  (load {fields['load']:.1f})",
          flush=True)


def exact_vs_barnes_hut(args) -> None:
    """Whole 750-iteration runs of both methods on random subsets of digits (blobs without
    scikit-learn): the largest n at which exact is not slower sets AUTO_EXACT_MAX_SAMPLES."""
    import turbotsne

    try:
        from sklearn.datasets import load_digits

        X_all = load_digits().data
    except ImportError:
        X_all, _ = turbotsne.make_blobs(1797, 64, random_state=0)
    rng = np.random.default_rng(0)
    print(f"{'n':>6} {'exact s':>9} {'bh s':>9} {'exact/bh':>9}")
    crossover = None
    for n in [int(s) for s in args.exact_sizes.split(",")]:
        X = X_all[rng.choice(len(X_all), size=min(n, len(X_all)), replace=False)]
        perplexity = min(30.0, (len(X) - 1) / 3.0 - 1e-9)
        times = {}
        for method in ("exact", "barnes_hut"):
            runs = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                turbotsne.tsne(X, method=method, perplexity=perplexity, random_state=0, n_jobs=args.threads)
                runs.append(time.perf_counter() - t)
            times[method] = statistics.median(runs)
        ratio = times["exact"] / times["barnes_hut"]
        if ratio <= 1.0:
            crossover = len(X)
        print(f"{len(X):>6} {times['exact']:>9.3f} {times['barnes_hut']:>9.3f} {ratio:>9.2f}", flush=True)
    print(f"largest n where exact was not slower: {crossover}")


def exact_vs_approximate(args, seeds) -> None:
    """The neighbour search alone, k = 90 (perplexity 30): the exact search (its own rule for
    VP-tree or brute force) against the RP forest + NN-descent, medians of --repeats, and the
    fraction of the exact neighbours the approximate search finds."""
    from turbotsne import _core

    for spec in args.datasets.split(","):
        for size in [int(s) for s in args.sizes.split(",")]:
            for seed in seeds:
                name, X, _ = dataset(f"{spec}:{size}", seed, args.data_dir)
                if len(X) < size:
                    continue
                k = 90
                times = {"exact": [], "approx": []}
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    exact, _ = _core._testing.nearest_neighbors(X, k, args.threads)
                    times["exact"].append(time.perf_counter() - t)
                    params = _core.ApproximateKnnParams()
                    params.seed = seed
                    t = time.perf_counter()
                    approx, _ = _core._testing.approximate_neighbors(X, k, params, args.threads)
                    times["approx"].append(time.perf_counter() - t)
                found = np.mean([len(np.intersect1d(a, b)) for a, b in zip(approx, exact)]) / k
                algorithm = str(_core._testing.choose_exact_algorithm(len(X), len(X), X.shape[1], k, _core.Metric.euclidean))
                for impl in ("exact", "approx"):
                    fields = dict(experiment="neighbors", data=name, seed=seed, impl=impl,
                                  algorithm=algorithm if impl == "exact" else "nndescent",
                                  seconds=statistics.median(times[impl]), runs=times[impl],
                                  recall=1.0 if impl == "exact" else float(found),
                                  load=os.getloadavg()[0])
                    RESULTS.parent.mkdir(parents=True, exist_ok=True)
                    with open(RESULTS, "a") as f:
                        f.write(json.dumps(fields) + "\n")
                print(f"neighbors {name:>20} seed {seed} exact ({algorithm.split('.')[-1]}) "
                      f"{statistics.median(times['exact']):7.2f} s  approx {statistics.median(times['approx']):7.2f} s"
                      f"  (finds {found:.4f})  load {os.getloadavg()[0]:.1f}", flush=True)


def summary() -> None:
    """Medians over seeds of everything in the results file, per experiment."""
    records = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    groups: dict = {}
    for r in records:
        groups.setdefault((r["experiment"], r["data"], r.get("dims", 2)), {}).setdefault(r["impl"], []).append(r)

    def med(rs, key):
        values = [r[key] for r in rs if r.get(key) is not None]
        return statistics.median(values) if values else None

    def size(key):
        return key[1].split(":")[0], int(key[1].split(":")[1]), key[2]

    for experiment, base in (("method", "barnes_hut"), ("lr", "openTSNE default")):
        keys = sorted((k for k in groups if k[0] == experiment), key=size)
        if not keys:
            continue
        print(f"\n{experiment}: medians over seeds; differences to {base} of the same seed")
        print(f"{'data':>20} {'dims':>4} {'impl':>24} {'runs':>4} {'s':>7} {'KL':>7} {'dKL %':>7} "
              f"{'d acc':>7} {'d recall':>8}")
        for key in keys:
            impls = groups[key]
            ref = {r["seed"]: r for r in impls.get(base, [])}
            for impl, rs in impls.items():
                diffs = {"kl": [], "acc10": [], "recall10": []}
                for r in rs:
                    b = ref.get(r["seed"])
                    if b is None or impl == base:
                        continue
                    if r.get("kl") is not None and b.get("kl") is not None:
                        diffs["kl"].append(100 * (r["kl"] / b["kl"] - 1))
                    diffs["acc10"].append(r["acc10"] - b["acc10"])
                    diffs["recall10"].append(r["recall10"] - b["recall10"])
                cell = lambda v, f: format(statistics.median(v), f) if v else "-"
                kl = med(rs, "kl")
                print(f"{key[1]:>20} {key[2]:>4} {impl:>24} {len(rs):>4} {med(rs, 'seconds'):7.2f} "
                      f"{'-' if kl is None else format(kl, '7.4f'):>7} {cell(diffs['kl'], '+7.2f'):>7} "
                      f"{cell(diffs['acc10'], '+7.4f'):>7} {cell(diffs['recall10'], '+8.4f'):>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=["exact", "method", "lr", "neighbors", "summary"])
    parser.add_argument("--datasets", default="digits,zeisel,cbmc,mnist20k,fashion_mnist20k")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--schedules", default="auto,n/12:n/12,n/12:n")
    parser.add_argument("--sizes", default="3000,5000,8000,10000,15000,20000")
    parser.add_argument("--methods", default="barnes_hut,fft")
    parser.add_argument("--dims", type=int, default=2, help="method: embedding dimension")
    parser.add_argument("--repeats", type=int, default=3, help="exact: runs per size (median)")
    parser.add_argument("--exact-sizes", default="100,200,300,400,600,800,1000,1400,1797")
    parser.add_argument("--lr-method", default=None,
                        help="lr: the method of turbotsne's runs (default: auto; 'openTSNE': "
                             "FFT from 10,000 points, Barnes-Hut below)")
    parser.add_argument("--peer-python", default=None, help="a Python with openTSNE (lr: its default call)")
    parser.add_argument("--data-dir", type=Path, default=BENCH.parent.parent / "shared" / "data")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    if args.experiment == "exact":
        exact_vs_barnes_hut(args)
    elif args.experiment == "summary":
        summary()
    elif args.experiment == "neighbors":
        exact_vs_approximate(args, seeds)
    elif args.experiment == "lr":
        for spec in args.datasets.split(","):
            for seed in seeds:
                name, X, labels = dataset(spec, seed, args.data_dir)
                score = Scorer(X, labels)
                for schedule in args.schedules.split(","):
                    method = args.lr_method or "auto"
                    if method == "openTSNE":  # openTSNE's rule: FFT from 10,000 points
                        method = "fft" if len(X) >= 10_000 else "barnes_hut"
                    Y, seconds, method = run_turbotsne(X, seed, args.threads, method=method,
                                                       schedule=schedule)
                    record(experiment="lr", data=name, seed=seed, impl=f"turbotsne {schedule}",
                           method=method, seconds=seconds, **score(Y))
                if args.peer_python:
                    Y, seconds = run_opentsne_default(X, seed, args.threads, args.peer_python)
                    record(experiment="lr", data=name, seed=seed, impl="openTSNE default",
                           method="auto", seconds=seconds, **score(Y))
    else:
        sizes = [int(s) for s in args.sizes.split(",")]
        for spec in args.datasets.split(","):
            full = len(dataset(spec, 0, args.data_dir)[1])
            # sizes up to the whole set; the whole set once when a size reaches it
            todo = sorted({min(size, full) for size in sizes})
            for size in todo:
                for seed in seeds:
                    name, X, labels = dataset(f"{spec}:{size}", seed, args.data_dir)
                    score = Scorer(X, labels)
                    for method in args.methods.split(","):
                        # "fft:p=4,ints=0.7": the FFT grid's n_interpolation_points and
                        # ints_in_interval
                        name_, *grid = method.split(":")
                        extra = {}
                        for item in (grid[0].split(";") if grid else []):
                            key, value = item.split("=")
                            if key == "p":
                                extra["n_interpolation_points"] = int(value)
                            elif key == "ints":
                                extra["ints_in_interval"] = float(value)
                            elif key == "boxes":
                                extra["min_num_intervals"] = int(value)
                        Y, seconds, _ = run_turbotsne(X, seed, args.threads, method=name_,
                                                      n_components=args.dims, **extra)
                        record(experiment="method", data=name, seed=seed, impl=method,
                               method=method, dims=args.dims, seconds=seconds, **score(Y))


if __name__ == "__main__":
    main()
