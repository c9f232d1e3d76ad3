"""Measure where exact and Barnes-Hut gradients cross, to set turbotsne.EXACT_MAX_SAMPLES.

Times a whole ``tsne`` run (750 iterations) with each method on random subsets of
scikit-learn's digits (or Gaussian blobs when scikit-learn is missing), medians of --repeats
runs, and prints a table plus the largest n at which exact is still the faster.

    python bench/choose_auto.py --threads 2 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import turbotsne


def load(n_max: int, seed: int):
    try:
        from sklearn.datasets import load_digits

        X = load_digits().data
    except ImportError:
        X, _ = turbotsne.make_blobs(n_max, 64, random_state=seed)
    return X


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 300, 400, 600, 800, 1000, 1400, 1797])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X_all = load(max(args.sizes), 0)
    rng = np.random.default_rng(0)
    print(f"{'n':>6} {'exact s':>9} {'bh s':>9} {'exact/bh':>9}")
    crossover = None
    for n in args.sizes:
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


if __name__ == "__main__":
    main()
