"""turbotsne vs openTSNE on the same data and settings: Barnes-Hut against Barnes-Hut, or
FFT interpolation against FFT interpolation (--method fft; both at the same grid defaults:
3 nodes per box, at least 50 boxes, boxes at most 1 unit wide).

Each run happens in a fresh Python process (so no warm caches or imported state carry
over); the wall time of the embedding call is what is compared, neighbours included. Both
get: 2-D, perplexity 30, PCA init, 250 early-exaggeration iterations at 12 then 500 at 1,
momentum 0.5/0.8 (openTSNE 1.0 defaults to 0.8/0.8; set here), theta 0.5 (both compare the cell's full side with theta), the same
learning rate n/12 in both phases (openTSNE's "auto" would switch to n after the early
phase; turbotsne's "auto" keeps n/12), the same thread count. Each finds neighbours its own
default way for the size (openTSNE: Annoy from 1,000 points; turbotsne: the exact VP tree up
to 20,000 points, RP forest + NN-descent above).

Quality is judged identically for both: the exact KL divergence of each embedding against
the same P (turbotsne.joint_probabilities, perplexity 30, exact neighbours) and, given labels, the accuracy of
a leave-one-out 10-NN majority vote in the embedding.

    python bench/compare_opentsne.py --data bench/data/mnist10k_pca50.npy \
        --labels bench/data/mnist10k_pca50_labels.npy --threads 2 --repeats 3 \
        --peer-python /path/to/venv-with-opentsne/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

RUNNERS = {
    "turbotsne": """
import time, numpy as np, turbotsne
X = np.load({data!r})
t = time.perf_counter()
Y = turbotsne.tsne(X, method={ours!r}, theta=0.5, perplexity=30, n_iter={n_iter},
                   learning_rate=max(len(X) / 12, 50), random_state=0, n_jobs={threads})
elapsed = time.perf_counter() - t
np.save({out!r}, Y)
print("RESULT", elapsed)
""",
    "openTSNE": """
import time, numpy as np, openTSNE
X = np.load({data!r})
t = time.perf_counter()
Y = openTSNE.TSNE(n_components=2, perplexity=30, learning_rate=max(len(X) / 12, 50),
                  early_exaggeration_iter=250, early_exaggeration=12, n_iter={n_iter} - 250,
                  negative_gradient_method={theirs!r}, theta=0.5, initialization="pca",
                  initial_momentum=0.5, final_momentum=0.8,
                  n_jobs={threads}, random_state=0, verbose=False).fit(X)
elapsed = time.perf_counter() - t
np.save({out!r}, np.asarray(Y))
print("RESULT", elapsed)
""",
}


def run_once(name: str, python: str, data: str, threads: int, n_iter: int, method: str):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "Y.npy")
        code = RUNNERS[name].format(data=os.path.abspath(data), n_iter=n_iter, threads=threads, out=out,
                                    ours="barnes_hut" if method == "bh" else "fft", theirs=method)
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
        elapsed = float(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT")).split()[1])
        return elapsed, np.load(out)


def knn_accuracy(Y, labels, k=10):
    from scipy.spatial import cKDTree

    _, idx = cKDTree(Y).query(Y, k + 1)
    votes = labels[idx[:, 1:]]
    pred = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in votes])
    return float(np.mean(pred == labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help=".npy file (n x d), e.g. from bench/prepare_data.py")
    parser.add_argument("--labels", help=".npy labels for the 10-NN accuracy")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-iter", type=int, default=750)
    parser.add_argument("--method", choices=("bh", "fft"), default="bh")
    parser.add_argument("--peer-python", default=sys.executable, help="interpreter with openTSNE installed")
    args = parser.parse_args()

    import turbotsne

    X = np.load(args.data)
    labels = np.load(args.labels) if args.labels else None
    P = turbotsne.joint_probabilities(X, perplexity=30, neighbors="exact")
    rows = {}
    for name, python in (("turbotsne", sys.executable), ("openTSNE", args.peer_python)):
        times, Y = [], None
        for r in range(args.repeats):
            t, Y = run_once(name, python, args.data, args.threads, args.n_iter, args.method)
            times.append(t)
            print(f"{name} run {r + 1}: {t:.2f} s", file=sys.stderr, flush=True)
        kl = turbotsne.kl_divergence(P, Y)
        acc = knn_accuracy(Y, labels) if labels is not None else float("nan")
        rows[name] = dict(median=statistics.median(times), runs=times, kl=kl, acc=acc)
    print(f"data {args.data} {X.shape}, method {args.method}, threads {args.threads}, "
          f"{args.n_iter} iterations, medians of {args.repeats}")
    print("| impl | median s | runs s | exact KL | 10-NN acc |")
    print("|---|---:|---|---:|---:|")
    for name, r in rows.items():
        runs = ", ".join(f"{t:.1f}" for t in r["runs"])
        print(f"| {name} | {r['median']:.2f} | {runs} | {r['kl']:.4f} | {r['acc']:.4f} |")
    ratio = rows["turbotsne"]["median"] / rows["openTSNE"]["median"]
    print(f"\nturbotsne / openTSNE ({args.method}) wall time: {ratio:.3f}")
    print(json.dumps({k: {kk: vv for kk, vv in v.items()} for k, v in rows.items()}), file=sys.stderr)


if __name__ == "__main__":
    main()
