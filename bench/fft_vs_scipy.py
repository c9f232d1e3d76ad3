"""turbotsne's own FFT against scipy.fft on the grid sizes the FFT method uses.

For each size M (the transform length per dimension of an interpolation grid), times a
real 2-D forward transform of an M x M array and the inverse of its spectrum, with
turbotsne's core (through its test bindings, which add one output allocation) and with
scipy.fft.rfft2/irfft2 (pocketfft) using the same number of workers. Medians of --repeats.

    python bench/fft_vs_scipy.py --threads 2 --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.fft

from turbotsne import _core


def median_time(fn, repeats):
    fn()  # warm-up (plans, caches)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Sizes the FFT method picks: 2 * 3 * boxes for boxes = 50 (the minimum), 64, 75, 100,
    # 125, 160, 200, 250, 320, 400, 500, 625.
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[300, 384, 450, 600, 750, 960, 1200, 1500, 1920, 2400, 3000, 3750])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}, medians of {args.repeats}, milliseconds")
    print("| M | turbotsne fwd | scipy fwd | ratio | turbotsne inv | scipy inv | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for M in args.sizes:
        x = rng.normal(size=(M, M))
        X = np.fft.rfft2(x)
        ours_f = median_time(lambda: _core.rfft2(x, args.threads), args.repeats)
        theirs_f = median_time(lambda: scipy.fft.rfft2(x, workers=args.threads), args.repeats)
        ours_i = median_time(lambda: _core.irfft2(X, M, args.threads), args.repeats)
        theirs_i = median_time(lambda: scipy.fft.irfft2(X, s=(M, M), workers=args.threads), args.repeats)
        print(f"| {M} | {1e3 * ours_f:.2f} | {1e3 * theirs_f:.2f} | {ours_f / theirs_f:.2f} "
              f"| {1e3 * ours_i:.2f} | {1e3 * theirs_i:.2f} | {ours_i / theirs_i:.2f} |", flush=True)


if __name__ == "__main__":
    main()
