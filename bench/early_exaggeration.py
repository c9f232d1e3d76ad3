"""The length of early exaggeration: the default call with other ``early_exaggeration_iter``.

For each dataset of bench/compare.py (its cached PCA-50 inputs and exact input-space 10-NN,
made by a compare.py run) and each length, one ``turbotsne.tsne(X, random_state=0,
early_exaggeration_iter=L)`` call (the total stays at 750 iterations) scored as compare.py
scores embeddings: recall@10 of the input's neighbours, 10-NN accuracy of the labels, the
final KL the run reports and, up to 20,000 points, the exact KL against the same P; also the
embedding's spread (its largest coordinate range, which sets the FFT grid) and the call's
seconds (one run each: a guide, not a benchmark). Optionally the spread of the embedding
during the early phase, every 25 iterations (``--trace``), to see when it stops growing.

    python bench/early_exaggeration.py --datasets mnist,fashion_mnist,digits,zeisel,cbmc \\
        --lengths 250,200 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from compare import embedding_quality  # noqa: E402  (bench/ is not a package)

import turbotsne  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mnist,fashion_mnist,digits,zeisel,cbmc")
    parser.add_argument("--lengths", default="250,200")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trace", action="store_true", help="spread every 25 iterations")
    parser.add_argument("--cache", type=Path, default=BENCH / "data" / "compare")
    args = parser.parse_args()
    print("| data | early iterations | recall@10 | 10-NN accuracy | KL (run) | exact KL | spread | s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.datasets.split(","):
        X = np.load(args.cache / f"{name}.npy")
        labels = np.load(args.cache / f"{name}_labels.npy")
        with np.load(args.cache / f"{name}_knn10.npz") as f:
            rows, knn = f["rows"], f["knn"]
        P = turbotsne.joint_probabilities(X, perplexity=30) if len(X) <= 20000 else None
        for length in (int(v) for v in args.lengths.split(",")):
            spreads = []

            def trace(iteration, kl, Y):
                spreads.append((iteration, float(np.ptp(Y))))
                return False

            t = time.perf_counter()
            Y, info = turbotsne.tsne(X, random_state=0, n_jobs=args.threads, return_info=True,
                                     early_exaggeration_iter=length,
                                     callback=trace if args.trace else None, callback_every=25)
            seconds = time.perf_counter() - t
            q = embedding_quality(Y, labels, rows, knn)
            exact = f"{turbotsne.kl_divergence(P, Y):.4f}" if P is not None else "-"
            print(f"| {name} | {length} | {q['recall10']:.4f} | {q['acc10']:.4f} | "
                  f"{info['kl_divergence']:.4f} | {exact} | {np.ptp(Y):.1f} | {seconds:.1f} |",
                  flush=True)
            if args.trace:
                print("  spread by iteration: " + ", ".join(f"{i}: {s:.1f}" for i, s in spreads
                                                            if i <= length + 25), flush=True)


if __name__ == "__main__":
    main()
