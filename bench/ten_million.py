"""Ten million points end to end: generated float32 data, peak memory and time per stage.

    python bench/ten_million.py [--n 10000000] [--d 50] [--clusters 1000] [--threads 2]
                                [--n-iter 750] [--queries 5000] [--output FILE.json]

The data ("an atlas"): ``--clusters`` Gaussian clusters of uneven sizes (log-normal weights,
the largest about 20 times the median), each with its own random orientation and a decaying
spectrum of standard deviations, (1 + j)^-1/2 along its j-th axis, like the leading principal
components of single-cell data; centres drawn from N(0, ``--spread``²) per coordinate. It is
made in chunks of 2^20 rows, each from its own random stream (seed, chunk), straight into one
float32 array: never all at once in float64, and the same bits for any machine or chunk
order.

The run is the default call, ``turbotsne.tsne(X, n_jobs=--threads, random_state=0,
return_info=True)`` (FFT repulsion and the approximate neighbour search, which take float32
rows without a float64 copy). A thread samples the resident size every 20 ms and the
turbotsne logger's stage records close the intervals, as in ``memory_stages.py``. Printed:
the size of X, the resident size before the call, per stage its end time, peak and excess over
that, the call's timings (``info["timings"]``), the process's VmHWM, whether the embedding is
finite, and for ``--queries`` random points the 10-NN accuracy of the generating labels (the
k-NN classifier's, as in ``compare.py``) in the embedding and in the input space (exact
neighbours, a ceiling) and the recall@10 of the input's neighbours in the embedding.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import embedding_quality, knn_vote_accuracy  # noqa: E402  (bench/ is no package)
from memory_stages import _Intervals, _rss_bytes, _Sampler  # noqa: E402

import turbotsne  # noqa: E402

CHUNK = 1 << 20


def _vm_hwm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def make_atlas(n: int, d: int, n_clusters: int, spread: float, seed: int = 0):
    """The float32 data (n, d) and int32 labels described in the module docstring."""
    rng = np.random.default_rng([seed, 0])
    weights = np.exp(rng.normal(size=n_clusters))
    weights /= weights.sum()
    centres = rng.normal(scale=spread, size=(n_clusters, d))
    scales = (1.0 + np.arange(d)) ** -0.5
    # each cluster's axes: an orthogonal matrix (QR of a Gaussian matrix, signs fixed), scaled
    axes = np.empty((n_clusters, d, d))
    for c in range(n_clusters):
        q, r = np.linalg.qr(rng.normal(size=(d, d)))
        axes[c] = (q * np.sign(np.diag(r))).T * scales[:, None]  # row j: axis j times scale j
    X = np.empty((n, d), dtype=np.float32)
    labels = np.empty(n, dtype=np.int32)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        chunk_rng = np.random.default_rng([seed, 1, start // CHUNK])
        lab = chunk_rng.choice(n_clusters, size=stop - start, p=weights).astype(np.int32)
        z = chunk_rng.normal(size=(stop - start, d))
        order = np.argsort(lab, kind="stable")
        bounds = np.searchsorted(lab[order], np.arange(n_clusters + 1))
        block = np.empty((stop - start, d))
        for c in range(n_clusters):
            rows = order[bounds[c]:bounds[c + 1]]
            block[rows] = centres[c] + z[rows] @ axes[c]
        X[start:stop] = block
        labels[start:stop] = lab
    return X, labels


def input_knn(X, queries, k=10, block=1 << 13):
    """The exact k nearest other rows of X[queries] (Euclidean), by a search over blocks of
    rows widened to float64 one block at a time (no float64 copy of X)."""
    Q = X[queries].astype(np.float64)
    qq = np.einsum("ij,ij->i", Q, Q)
    best_d = np.full((len(queries), k), np.inf)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, X.shape[0], block):
        B = X[start:start + block].astype(np.float64)
        D = qq[:, None] - 2.0 * Q @ B.T + np.einsum("ij,ij->i", B, B)[None, :]
        ids = np.arange(start, start + B.shape[0])
        inside = np.nonzero((queries >= start) & (queries < start + B.shape[0]))[0]
        D[inside, queries[inside] - start] = np.inf  # not itself
        cand_d = np.concatenate([best_d, D], axis=1)
        cand_i = np.concatenate([best_i, np.broadcast_to(ids, D.shape)], axis=1)
        keep = np.argpartition(cand_d, k - 1, axis=1)[:, :k]
        best_d = np.take_along_axis(cand_d, keep, 1)
        best_i = np.take_along_axis(cand_i, keep, 1)
    return np.take_along_axis(best_i, np.argsort(best_d, axis=1, kind="stable"), 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--d", type=int, default=50)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--spread", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-iter", type=int, default=750)
    ap.add_argument("--queries", type=int, default=5_000)
    ap.add_argument("--output")
    args = ap.parse_args()

    mb = 1 << 20
    t0 = time.perf_counter()
    X, labels = make_atlas(args.n, args.d, args.clusters, args.spread)
    t_data = time.perf_counter() - t0
    n = X.shape[0]
    print(f"data: {n} x {args.d} float32 ({X.nbytes / mb:.0f} MB), {args.clusters} clusters "
          f"(sizes {np.bincount(labels, minlength=args.clusters).min()}.."
          f"{np.bincount(labels, minlength=args.clusters).max()}), made in {t_data:.1f} s; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)

    logger = logging.getLogger("turbotsne")
    logger.setLevel(logging.INFO)
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(stderr)
    before = _rss_bytes()
    with _Sampler(period=0.02) as sampler:
        handler = _Intervals(sampler, time.perf_counter())
        logger.addHandler(handler)
        start = time.perf_counter()
        Y, info = turbotsne.tsne(X, n_jobs=args.threads, random_state=0, n_iter=args.n_iter,
                                 return_info=True)
        wall = time.perf_counter() - start
        handler.rows.append((wall, "(end of call)", sampler.take()))
        logger.removeHandler(handler)
    logger.removeHandler(stderr)
    hwm = _vm_hwm_bytes()
    print(f"resident before the call {before / mb:.0f} MB; wall of the call {wall:.1f} s "
          f"({wall / 60:.1f} min)")
    print(f"{'t s':>8}  {'peak MB':>8}  {'+MB':>7}  {'B/point':>8}  interval ending with")
    for t, msg, peak in handler.rows:
        print(f"{t:8.1f}  {peak / mb:8.0f}  {(peak - before) / mb:7.0f}  "
              f"{(peak - before) / n:8.0f}  {msg}")
    timings = {k: round(v, 2) for k, v in info["timings"].items()}
    print(f"timings (s): {timings}")
    print(f"method {info['method']}, neighbours {info['neighbors']}, KL (FFT estimate) "
          f"{info['kl_divergence']:.4f}")
    print(f"VmHWM of the process: {hwm / mb:.0f} MB = {hwm / 1e9:.2f} GB (10^9 bytes)")
    finite = bool(np.isfinite(Y).all())
    rng = np.random.default_rng(1)
    queries = np.sort(rng.choice(n, size=min(args.queries, n), replace=False))
    t1 = time.perf_counter()
    knn_input = input_knn(X, queries)
    quality = embedding_quality(Y, labels, queries, knn_input)
    acc_input = knn_vote_accuracy(labels, queries, knn_input)
    print(f"embedding finite: {finite}; over {len(queries)} random points "
          f"({time.perf_counter() - t1:.1f} s): 10-NN accuracy of the labels "
          f"{quality['acc10']:.4f} (input space {acc_input:.4f}), recall@10 "
          f"{quality['recall10']:.4f}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"n": n, "d": args.d, "clusters": args.clusters, "spread": args.spread,
                       "threads": args.threads, "n_iter": args.n_iter,
                       "machine": platform.node(), "cpus": os.cpu_count(),
                       "data_seconds": t_data, "before": before, "wall": wall,
                       "rows": handler.rows, "timings": info["timings"], "vm_hwm": hwm,
                       "kl": info["kl_divergence"], "finite": finite, **quality,
                       "acc10_input": acc_input, "queries": len(queries),
                       "commit": os.popen("git rev-parse --short HEAD").read().strip()},
                      f, indent=1)


if __name__ == "__main__":
    main()
