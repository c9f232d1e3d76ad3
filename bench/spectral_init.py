"""init="spectral" against the default init="pca" on MNIST: exact KL, 10-NN accuracy, time.

    python bench/spectral_init.py [--data bench/data/compare/mnist.npy] [--seeds 0 1 2]
                                  [--threads 2] [--output FILE.json]

The data: the PCA-50 MNIST (70,000 points) that bench/compare.py caches, with its labels
beside it. For each seed and each init, the default call ``turbotsne.tsne(X, init=...,
random_state=seed, n_jobs=threads, return_info=True)`` is timed (wall, and the init stage),
then the exact KL(P‖Q) of the embedding against the default P (turbotsne.kl_divergence, all
pairs) and the 10-NN accuracy of the labels in the embedding (leave-one-out) are computed.
Printed per run and as medians over the seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from scipy.spatial import cKDTree

import turbotsne


def knn_accuracy(Y, labels, k=10):
    _, idx = cKDTree(Y).query(Y, k + 1)
    votes = labels[idx[:, 1:]]
    predicted = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    return float(np.mean(predicted == labels))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="bench/data/compare/mnist.npy")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default="bench/results/spectral_init.json")
    args = parser.parse_args()
    X = np.ascontiguousarray(np.load(args.data), dtype=np.float64)
    labels = np.load(args.data.replace(".npy", "_labels.npy")).astype(np.int64)
    P = turbotsne.joint_probabilities(X, n_jobs=args.threads, random_state=0)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    runs = []
    for seed in args.seeds:
        for init in ("pca", "spectral"):
            start = time.perf_counter()
            Y, info = turbotsne.tsne(X, init=init, random_state=seed, n_jobs=args.threads,
                                     return_info=True)
            seconds = time.perf_counter() - start
            kl = turbotsne.kl_divergence(P, Y)
            acc = knn_accuracy(Y, labels)
            run = dict(seed=seed, init=init, seconds=seconds,
                       init_seconds=info["timings"]["init"], kl=kl, knn10=acc)
            runs.append(run)
            print(json.dumps(run))
    summary = {}
    for init in ("pca", "spectral"):
        mine = [r for r in runs if r["init"] == init]
        summary[init] = {key: float(np.median([r[key] for r in mine]))
                         for key in ("seconds", "init_seconds", "kl", "knn10")}
    print(json.dumps(summary, indent=1))
    with open(args.output, "w") as f:
        json.dump(dict(runs=runs, median=summary, threads=args.threads, data=args.data), f,
                  indent=1)


if __name__ == "__main__":
    main()
