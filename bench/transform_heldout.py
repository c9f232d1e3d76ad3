"""Held-out transform quality: embed 90% of a dataset with turbotsne.TSNE, place the other 10%
with TSNE.transform, and compare a 10-NN classifier trained on the map with the same classifier
in the input space (issue 5's bar: within 3 points).

    python bench/transform_heldout.py [--data bench/data/compare/mnist.npy] [--threads 2]

The default input is MNIST's PCA-50 cache written by bench/compare.py (labels next to it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from turbotsne import TSNE


def knn_accuracy(train, train_labels, test, test_labels, k=10):
    _, idx = cKDTree(train).query(test, k)
    votes = np.zeros((len(test), int(train_labels.max()) + 1), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(len(test)), k), train_labels[idx].ravel()), 1)
    return float(np.mean(votes.argmax(1) == test_labels))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data/compare/mnist.npy")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    X = np.load(args.data)
    y = np.load(args.data.with_name(args.data.stem + "_labels.npy"))
    order = np.random.default_rng(0).permutation(len(X))
    test, train = order[: len(X) // 10], order[len(X) // 10:]
    start = time.perf_counter()
    est = TSNE(random_state=0, method="fft" if len(X) >= 10000 else "auto",
               n_jobs=args.threads).fit(X[train])
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    Y_test = est.transform(X[test])
    transform_s = time.perf_counter() - start
    in_map = knn_accuracy(est.embedding_, y[train], Y_test, y[test])
    in_input = knn_accuracy(X[train], y[train], X[test], y[test])
    print(f"{args.data.name}: fit {len(train)} points {fit_s:.1f} s; transform {len(test)} points "
          f"{transform_s:.2f} s; 10-NN accuracy in the map {in_map:.4f}, in the input space "
          f"{in_input:.4f} (difference {in_input - in_map:+.4f})")


if __name__ == "__main__":
    main()
