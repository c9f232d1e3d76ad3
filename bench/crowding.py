"""The crowding problem on MNIST: SNE, symmetric SNE, UNI-SNE and t-SNE side by side.

    python bench/crowding.py [--data ../shared/data/mnist.npz] [--n 2500] [--seed 0]
                             [--threads 2] [--output bench/results/crowding.json]
                             [--figure docs/crowding.png]

A random subset of ``--n`` MNIST images (drawn with ``--seed``), reduced to 50 principal
components, is embedded by ``turbotsne.crowding`` with each objective at tsne's defaults
otherwise (perplexity 30, PCA init, the same seed); the figure shows the four panels with the
10-NN accuracy (leave-one-out) of the digit labels in each, and the JSON holds accuracy,
final cost and wall time per objective.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import turbotsne

OBJECTIVES = ("sne", "symmetric_sne", "uni_sne", "tsne")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data",
                                                       "mnist.npz"))
    parser.add_argument("--n", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default=os.path.join(here, "results", "crowding.json"))
    parser.add_argument("--figure", default=os.path.join(here, "..", "docs", "crowding.png"))
    args = parser.parse_args()

    with np.load(args.data) as f:
        X, y = f["X"], f["y"]
    rows = np.sort(np.random.default_rng(args.seed).choice(len(X), args.n, replace=False))
    X, y = X[rows].astype(np.float64), y[rows]
    X -= X.mean(axis=0)
    U, S, _ = np.linalg.svd(X, full_matrices=False)
    X = U[:, :50] * S[:50]  # PCA-50, as for t-SNE's usual MNIST runs

    load = os.getloadavg()
    start = time.perf_counter()
    result = turbotsne.crowding(X, y, objectives=OBJECTIVES, random_state=args.seed,
                                n_jobs=args.threads)
    total = time.perf_counter() - start
    for objective in OBJECTIVES:
        print(f"{objective:14s} 10-NN accuracy {result['knn_accuracy'][objective]:.4f}  "
              f"cost {result['cost'][objective]:.4f}  {result['seconds'][objective]:.1f} s")
    fig = turbotsne.plot_crowding(result, y)
    fig.savefig(args.figure, dpi=110)
    print(f"figure: {args.figure}")
    out = {
        "command": "python bench/crowding.py " + " ".join(
            f"--{k} {v}" for k, v in (("n", args.n), ("seed", args.seed),
                                      ("threads", args.threads))),
        "data": f"MNIST, {args.n} random images (seed {args.seed}), PCA-50",
        "load_average_before": load,
        "total_seconds": total,
        "objectives": {o: {"knn_accuracy_10": result["knn_accuracy"][o],
                           "cost": result["cost"][o], "seconds": result["seconds"][o]}
                       for o in OBJECTIVES},
    }
    with open(args.output, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
