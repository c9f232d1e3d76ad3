"""Contrastive embeddings on MNIST (70,000 x PCA-50): timings against umap-learn and against
turbotsne's t-SNE, and the spectrum figure.

    .venv/bin/python bench/contrastive_mnist.py --data bench/data/compare/mnist.npy \
        --repeats 3 --threads 2 --figure docs/spectrum_mnist.png

Each run is a child process (bench/compare.py's run_child: wall time of the call alone, after
the imports; umap-learn's includes its numba compilation, as a user's first call does), in
rounds that alternate the implementations so that they share the machine's load; the load
average is recorded before each run. Quality: bench/compare.py's embedding_quality (10-NN
accuracy and recall@10 of the exact 10 nearest neighbours in PCA-50 space, over all points).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (bench/ is not a package)

compare.RUNNERS.update({
    "neg": """
import turbotsne
method = "neg (UMAP's z_bar)"
t0 = time.perf_counter()
Y = turbotsne.contrastive_embedding(X, loss="neg", random_state=0, n_jobs={threads})
""",
    "nce": """
import turbotsne
method = "nce m=50"
t0 = time.perf_counter()
Y = turbotsne.contrastive_embedding(X, loss="nce", n_negatives=50, positives_per_epoch=3,
                                    learning_rate=3.0, random_state=0, n_jobs={threads})
""",
    "nce5": """
import turbotsne
method = "nce m=5"
t0 = time.perf_counter()
Y = turbotsne.contrastive_embedding(X, loss="nce", random_state=0, n_jobs={threads})
""",
})
PAIRS = [("neg", "umap"), ("nce", "turbotsne")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="MNIST PCA-50 .npy (labels beside it)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers-python", default="/work/peers-venv/bin/python")
    ap.add_argument("--figure", type=Path, help="write the spectrum figure here")
    ap.add_argument("--out", type=Path, default=Path("contrastive_mnist.json"))
    ap.add_argument("--figure-only", action="store_true", help="skip the timings")
    args = ap.parse_args(argv)

    X = np.load(args.data)
    labels = np.load(args.data.with_name(args.data.stem + "_labels.npy"))
    rows = compare.quality_rows(len(X))
    knn = compare.exact_knn(np.ascontiguousarray(X, dtype=np.float64), rows)
    python = {"umap": args.peers_python}
    records = []
    impls = [i for pair in PAIRS for i in pair] + ["nce5"]
    for r in range(0 if args.figure_only else args.repeats):
        for impl in impls:
            if impl == "nce5" and r > 0:
                continue
            load = os.getloadavg()[0]
            rec, Y = compare.run_child(impl, python.get(impl, sys.executable), args.data,
                                       args.threads, 750, len(X) / 12, timeout=1800)
            rec.update(impl=impl, round=r, load1=load)
            if Y is not None:
                rec.update(compare.embedding_quality(Y, labels, rows, knn))
            records.append(rec)
            print(json.dumps(rec), flush=True)
    summary = {}
    for impl in impls:
        runs = [x for x in records if x["impl"] == impl and x.get("status") == "ok"]
        if runs:
            summary[impl] = dict(median_s=statistics.median(x["seconds"] for x in runs),
                                 runs_s=[round(x["seconds"], 1) for x in runs],
                                 load1=[round(x["load1"], 2) for x in runs],
                                 acc10=runs[0]["acc10"], recall10=runs[0]["recall10"])
    for a, b in PAIRS:
        if a in summary and b in summary:
            summary[f"{a}/{b}"] = summary[a]["median_s"] / summary[b]["median_s"]
    if records:
        print(json.dumps(summary, indent=1))
        args.out.write_text(json.dumps(dict(records=records, summary=summary), indent=1))

    if args.figure is not None:
        import matplotlib

        matplotlib.use("Agg")
        import turbotsne

        z_bars, E = turbotsne.spectrum(np.ascontiguousarray(X, dtype=np.float64),
                                       random_state=0, n_jobs=args.threads)
        for z, Y in zip(z_bars, E):
            q = compare.embedding_quality(Y, labels, rows, knn)
            print(f"z_bar {z:.4g}: {q}", flush=True)
        fig = turbotsne.plot_spectrum(z_bars, E, labels, s=0.3, alpha=0.5)
        fig.suptitle(f"NEG on MNIST (n = {len(X):,}, PCA-50): from t-SNE's Z̄ ≈ 100 n (left) "
                     f"to UMAP's |X|/m (right); larger Z̄, more attraction", y=1.08)
        fig.savefig(args.figure, dpi=110, bbox_inches="tight")
    return 0


if __name__ == "__main__":
    sys.exit(main())
