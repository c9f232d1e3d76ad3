"""Approximate neighbours: turbotsne's RP forest + NN-descent against Annoy as openTSNE uses it.

    python bench/knn_vs_annoy.py --data bench/data/compare/mnist.npy --threads 2 \
        --peer-python PEERS/bin/python --repeats 3

k = 90 (3 x perplexity 30) neighbours of every point of the PCA-50 input. Recall: the fraction
of the exact 90 neighbours (turbotsne's VP tree) that each search returns, over all points.
Annoy runs in the peers' interpreter through openTSNE.nearest_neighbors.Annoy, the index
openTSNE builds for t-SNE's affinities (its number of trees grows with sqrt(n); FIt-SNE uses
Annoy the same way). Wall time of the search only (index build and queries), each run in a
fresh process, medians of --repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ANNOY_CHILD = """
import sys, time, numpy as np
from openTSNE.nearest_neighbors import Annoy
X = np.load(sys.argv[1]).astype(np.float64)
start = time.perf_counter()
indices, _ = Annoy(X, int(sys.argv[2]), n_jobs=int(sys.argv[3]), random_state=0).build()
elapsed = time.perf_counter() - start
np.save(sys.argv[4], indices.astype(np.int64))
print(elapsed)
"""

TURBO_CHILD = """
import sys, time, numpy as np
from turbotsne import _core
X = np.ascontiguousarray(np.load(sys.argv[1]), dtype=np.float64)
params = _core.ApproximateKnnParams()
start = time.perf_counter()
indices, _ = _core._testing.approximate_neighbors(X, int(sys.argv[2]), params, int(sys.argv[3]), _core.Metric.euclidean)
elapsed = time.perf_counter() - start
np.save(sys.argv[4], indices.astype(np.int64))
print(elapsed)
"""


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    hits = sum(len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(found, exact))
    return hits / exact.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--k", type=int, default=90)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-python", default=sys.executable)
    args = parser.parse_args()

    from turbotsne import _core

    X = np.ascontiguousarray(np.load(args.data), dtype=np.float64)
    start = time.perf_counter()
    exact, _ = _core._testing.nearest_neighbors(X, args.k, args.threads, _core.Metric.euclidean)
    print(f"exact VP tree: {time.perf_counter() - start:.2f} s", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "indices.npy"
        for name, python, child in [("turbotsne NN-descent", sys.executable, TURBO_CHILD),
                                    ("Annoy (openTSNE)", args.peer_python, ANNOY_CHILD)]:
            times = []
            for r in range(args.repeats):
                done = subprocess.run([python, "-c", child, str(args.data), str(args.k),
                                       str(args.threads), str(out)],
                                      capture_output=True, text=True, check=True)
                times.append(float(done.stdout.strip().splitlines()[-1]))
                print(f"{name} run {r + 1}: {times[-1]:.2f} s", flush=True)
            results[name] = {"seconds": statistics.median(times), "runs": times,
                             "recall": recall(np.load(out), exact)}
    print(json.dumps(results, indent=1))
    a, b = results["turbotsne NN-descent"], results["Annoy (openTSNE)"]
    print(f"| search | seconds (median of {args.repeats}) | recall of the exact {args.k}-NN |")
    print("|---|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds']:.2f} | {r['recall']:.4f} |")
    print(f"ratio turbotsne / Annoy: {a['seconds'] / b['seconds']:.3f}")


if __name__ == "__main__":
    main()
