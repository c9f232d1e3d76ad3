"""turbotsne's own FFT against scipy.fft on the grid sizes the FFT method uses.

For each size M (the transform length per dimension of an interpolation grid), times the
building blocks the FFT repulsion's 2-D convolutions are made of, on one thread: four real
rows of length M at once, forward (rfft4) and back (irfft4), and four interleaved complex
columns of length M (fft4), with turbotsne's core (through its test bindings, which add one
output allocation) and with scipy.fft (pocketfft) on the same four rows/columns. Medians of
--repeats. The whole repulsion is timed by the C++ harness (bench/README.md).

    python bench/fft_vs_scipy.py --repeats 7
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
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"one thread, medians of {args.repeats}, microseconds per four transforms")
    print("| M | rfft4 | scipy rfft | ratio | irfft4 | scipy irfft | ratio | fft4 | scipy fft | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for M in args.sizes:
        rows = rng.normal(size=(4, M))
        spectra = np.ascontiguousarray(np.fft.rfft(rows, axis=1))
        cols = np.ascontiguousarray(rng.normal(size=(M, 4)) + 1j * rng.normal(size=(M, 4)))
        pairs = [
            (lambda: _core._testing.rfft4(rows), lambda: scipy.fft.rfft(rows, axis=1, workers=1)),
            (lambda: _core._testing.irfft4(spectra, M, M), lambda: scipy.fft.irfft(spectra, M, axis=1, workers=1)),
            (lambda: _core._testing.fft4(cols, False), lambda: scipy.fft.fft(cols, axis=0, workers=1)),
        ]
        cells = []
        for ours, theirs in pairs:
            a, b = median_time(ours, args.repeats), median_time(theirs, args.repeats)
            cells.append(f"{1e6 * a:.1f} | {1e6 * b:.1f} | {a / b:.2f}")
        print(f"| {M} | " + " | ".join(cells) + " |", flush=True)

if __name__ == "__main__":
    main()
