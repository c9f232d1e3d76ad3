"""Peak resident memory of a tsne() call, stage by stage.

    python bench/memory_stages.py [--n 200000] [--d 50] [--n-iter 20] [--method fft]
                                  [--threads 2] [--float32] [--output FILE.json]

Generates ``turbotsne.make_blobs(n, d)`` (or reads ``--input X.npy``), then runs
``turbotsne.tsne`` while a thread samples the process's resident set (VmRSS, every 5 ms).
Each INFO record of the ``turbotsne`` logger (the run's stages end with one) closes an
interval; the script prints, per interval, the peak over it and its excess over the resident
size just before the call, in MB and bytes per point, and the call's VmHWM-based peak. The
README's memory formula is checked against these figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
import time

import numpy as np

import turbotsne


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Sampler:
    def __init__(self, period=0.005):
        self.period = period
        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.period)

    def take(self) -> int:
        """The peak since the last take (or the start), and restart it."""
        peak, self.peak = max(self.peak, _rss_bytes()), _rss_bytes()
        return peak

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class _Intervals(logging.Handler):
    def __init__(self, sampler, t0):
        super().__init__(logging.INFO)
        self.sampler, self.t0, self.rows = sampler, t0, []

    def emit(self, record):
        self.rows.append((time.perf_counter() - self.t0, record.getMessage()[:70],
                          self.sampler.take()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=50)
    ap.add_argument("--input", help="an .npy file instead of blobs")
    ap.add_argument("--n-iter", type=int, default=20)
    ap.add_argument("--method", default="fft")
    ap.add_argument("--neighbors", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--float32", action="store_true", help="pass X as float32")
    ap.add_argument("--output")
    args = ap.parse_args()
    if args.input:
        X = np.load(args.input, mmap_mode=None)
    else:
        X, _ = turbotsne.make_blobs(args.n, args.d, random_state=0)
    X = np.ascontiguousarray(X, dtype=np.float32 if args.float32 else np.float64)
    n = X.shape[0]
    logger = logging.getLogger("turbotsne")
    logger.setLevel(logging.INFO)
    before = _rss_bytes()
    with _Sampler() as sampler:
        handler = _Intervals(sampler, time.perf_counter())
        logger.addHandler(handler)
        start = time.perf_counter()
        turbotsne.tsne(X, method=args.method, neighbors=args.neighbors, n_iter=args.n_iter,
                       n_jobs=args.threads, random_state=0)
        wall = time.perf_counter() - start
        handler.rows.append((wall, "(end of call)", sampler.take()))
        logger.removeHandler(handler)
    mb = 1 << 20
    print(f"n = {n}, d = {X.shape[1]}, dtype {X.dtype}, X {X.nbytes / mb:.0f} MB; resident "
          f"before the call {before / mb:.0f} MB; wall {wall:.1f} s")
    print(f"{'t s':>7}  {'peak MB':>8}  {'+MB':>7}  {'B/point':>8}  interval ending with")
    for t, msg, peak in handler.rows:
        extra = peak - before
        print(f"{t:7.1f}  {peak / mb:8.0f}  {extra / mb:7.0f}  {extra / n:8.0f}  {msg}")
    top = max(p for _, _, p in handler.rows) - before
    print(f"peak over the call: +{top / mb:.0f} MB = {top / n:.0f} bytes per point")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"n": n, "d": X.shape[1], "dtype": str(X.dtype), "before": before,
                       "wall": wall, "rows": handler.rows, "peak_extra": top}, f, indent=1)


if __name__ == "__main__":
    main()
