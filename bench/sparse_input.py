"""Sparse input end to end: a generated count matrix, never densified; peak memory and time.

    python bench/sparse_input.py [--n 20000] [--d 5000] [--density 0.05] [--metric cosine]
                                 [--threads 2] [--n-iter 750] [--output FILE.json]

The data: a CSR matrix of ``--n`` cells x ``--d`` genes with ``--density`` stored entries,
counts 1 + Poisson(2) at uniformly random positions (scipy.sparse.random with a fixed seed),
and 10 groups of cells whose counts are raised on their own 100 genes (so that the embedding
has clusters to recover). The resident size's high-water mark (VmHWM) is reset after the data
are made (``/proc/self/clear_refs``), then ``turbotsne.tsne(X, metric=..., n_jobs=...,
random_state=0, return_info=True)`` runs and the peak is read again. Printed: the CSR bytes,
what a dense float64 copy would take, the resident size before the call, the call's peak and
its excess over that, the stage timings, and the 10-NN accuracy of the groups in the
embedding (leave-one-out).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import scipy.sparse
from scipy.spatial import cKDTree

import turbotsne


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def make_counts(n: int, d: int, density: float, groups: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = scipy.sparse.random(n, d, density=density, format="csr", random_state=rng,
                            data_rvs=lambda size: 1.0 + rng.poisson(2.0, size))
    labels = rng.integers(0, groups, size=n)
    marker = scipy.sparse.random(n, d, density=density, format="csr", random_state=rng,
                                 data_rvs=lambda size: rng.poisson(4.0, size).astype(float))
    genes = (labels[:, None] * 100 + np.arange(100)[None, :]) % d  # each group's 100 genes
    rows = np.repeat(np.arange(n), 100)
    boost = scipy.sparse.csr_matrix((np.full(n * 100, 2.0), (rows, genes.ravel())), shape=(n, d))
    X = (X + boost.multiply(marker != 0) + boost * 0.5).tocsr()
    X.eliminate_zeros()
    return X, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--d", type=int, default=5000)
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--metric", default="cosine")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-iter", type=int, default=750)
    parser.add_argument("--output")
    args = parser.parse_args()

    X, labels = make_counts(args.n, args.d, args.density)
    csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident size
    before = _status_kb("VmRSS") / 1024
    start = time.perf_counter()
    Y, info = turbotsne.tsne(X, metric=args.metric, n_jobs=args.threads, random_state=0,
                             n_iter=args.n_iter, return_info=True)
    seconds = time.perf_counter() - start
    peak = _status_kb("VmHWM") / 1024
    _, idx = cKDTree(Y).query(Y, 11)
    votes = labels[idx[:, 1:]]
    pred = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in votes])
    result = {
        "n": args.n, "d": args.d, "density": args.density, "nnz": int(X.nnz),
        "metric": args.metric, "threads": args.threads, "n_iter": info["n_iter"],
        "csr_mb": csr_bytes / 2**20, "dense_copy_mb": args.n * args.d * 8 / 2**20,
        "rss_before_mb": before, "peak_mb": peak, "excess_mb": peak - before,
        "seconds": seconds, "timings": info["timings"], "method": info["method"],
        "finite": bool(np.isfinite(Y).all()), "knn10_accuracy": float(np.mean(pred == labels)),
    }
    print(json.dumps(result, indent=2))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
