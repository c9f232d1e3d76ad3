"""Recall of the approximate search (RP forest + NN-descent) against its rounds and candidates.

    python bench/nndescent_recall.py --n 300000 --configs 16,0 4,0 8,0 16,16

The data: bench/ten_million.py's atlas (1,000 anisotropic Gaussian clusters of uneven sizes,
float32, 50 features) at --n points. Each config is ROUNDS,MAX_CANDIDATES (0: the default,
min(k, 8)) for turbotsne's core search of k = 90 neighbours (perplexity 30) on --threads threads;
the recall is the share of the exact 90 neighbours (numpy brute force in float64) found for
--queries points drawn with a fixed seed. Wall time of the search only, one run each.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def exact_rows(X: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The k nearest rows of X (each query itself excluded) by brute force in float64."""
    Xd = X.astype(np.float64)
    sq = np.einsum("ij,ij->i", Xd, Xd)
    out = np.empty((len(queries), k), dtype=np.int64)
    for b in range(0, len(queries), 256):
        q = queries[b:b + 256]
        d2 = sq[q, None] - 2.0 * (Xd[q] @ Xd.T) + sq[None, :]
        d2[np.arange(len(q)), q] = np.inf
        out[b:b + len(q)] = np.argpartition(d2, k, axis=1)[:, :k]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--queries", type=int, default=2_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--configs", nargs="+", default=["16,0"],
                    help="ROUNDS,MAX_CANDIDATES pairs (default: the search's defaults, 16,0)")
    args = ap.parse_args(argv)

    from turbotsne import _core
    from ten_million import make_atlas

    X, _ = make_atlas(args.n, 50, 1000, 0.3)
    X = np.ascontiguousarray(X, dtype=np.float32)
    k = 90
    queries = np.sort(np.random.default_rng(0).choice(len(X), min(args.queries, len(X)), replace=False))
    exact = exact_rows(X, queries, k)
    print("| max_rounds | max_candidates | seconds | recall of the exact 90-NN |")
    print("|---:|---:|---:|---:|")
    for spec in args.configs:
        rounds, candidates = (int(v) for v in spec.split(","))
        params = _core.NeighborParams()
        params.method = _core.NeighborMethod.approximate
        params.approximate.max_rounds = rounds
        params.approximate.max_candidates = candidates
        t0 = time.perf_counter()
        idx, _ = _core.neighbors(X, k, params, args.threads)
        seconds = time.perf_counter() - t0
        recall = np.mean([len(np.intersect1d(a, b)) for a, b in zip(idx[queries], exact)]) / k
        print(f"| {rounds} | {candidates or 'default'} | {seconds:.1f} | {recall:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
