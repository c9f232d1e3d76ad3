"""Which learning-rate scale does each t-SNE take? Measured, not read from its docs.

The step a t-SNE takes is learning_rate x gradient, and implementations disagree on the
gradient by a factor of 4: bhtsne, FIt-SNE, openTSNE and turbotsne drop the 4 of
dKL/dy_i = 4 sum_j (p_ij - q_ij) ... ; scikit-learn keeps it. The same learning_rate then moves
points 4 times as far. Right after early exaggeration ends, the embedding expands at a speed
set by that step, so the spread of the embedding a few dozen iterations later tells the
scale apart: this script runs each implementation for 300 and 400 iterations (250 of them
exaggerated, exaggeration 12, momentum 0.5 then 0.8, lr = n / 12 on the bhtsne scale, or the
lr given to --divide) on a seeded 10,000-point sample of the cached MNIST PCA-50 input and
prints the standard deviation of each coordinate.

    python bench/lr_convention.py                       # turbotsne (this environment)
    /path/to/peers-venv/bin/python bench/lr_convention.py --impls fitsne,opentsne,h2pack,sklearn

Same scale, same spread (init and the approximations differ, so within ~10 %); a 4 times
larger step shows as a spread about 1.6 times larger at iteration 300.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "compare" / "mnist.npy"


def run(impl: str, X: np.ndarray, n_iter: int, lr: float) -> np.ndarray:
    if impl == "turbotsne":
        import turbotsne
        return turbotsne.tsne(X, 2, perplexity=30, n_iter=n_iter, early_exaggeration=12,
                              early_exaggeration_iter=250, learning_rate=lr, method="fft",
                              random_state=0, n_jobs=2)
    if impl == "fitsne":
        import fitsne
        return fitsne.FItSNE(np.ascontiguousarray(X), no_dims=2, perplexity=30, max_iter=n_iter,
                             learning_rate=lr, early_exag_coeff=12, stop_early_exag_iter=250,
                             momentum=0.5, final_momentum=0.8, mom_switch_iter=250, nthreads=2,
                             rand_seed=0)
    if impl == "opentsne":
        import openTSNE
        return np.asarray(openTSNE.TSNE(
            n_components=2, perplexity=30, learning_rate=lr, early_exaggeration_iter=250,
            early_exaggeration=12, n_iter=n_iter - 250, initial_momentum=0.5,
            final_momentum=0.8, negative_gradient_method="fft", n_jobs=2,
            random_state=0).fit(X))
    if impl == "h2pack":
        from tsne_h2pack import TSNE
        return TSNE(n_components=2, perplexity=30, max_iter=n_iter, early_exaggeration=12,
                    learning_rate=lr, random_state=0, n_jobs=2).fit_transform(X)
    if impl == "sklearn":
        from sklearn.manifold import TSNE
        return TSNE(n_components=2, perplexity=30, max_iter=n_iter, early_exaggeration=12,
                    learning_rate=lr, init="pca", method="barnes_hut", n_jobs=2,
                    random_state=0).fit_transform(X)
    raise ValueError(f"unknown implementation {impl!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impls", default="turbotsne",
                        help="comma separated: turbotsne, fitsne, opentsne, h2pack, sklearn")
    parser.add_argument("--divide", default="1,4",
                        help="run each with lr = (n / 12) / each of these (default 1,4)")
    parser.add_argument("--n", type=int, default=10_000, help="sample size (default 10000)")
    args = parser.parse_args()
    X = np.load(DATA)
    X = np.ascontiguousarray(X[np.random.default_rng(0).choice(len(X), args.n, replace=False)],
                             dtype=np.float64)
    print("| impl | lr | std at 300 | std at 400 |\n|---|---:|---:|---:|")
    for impl in args.impls.split(","):
        for div in (float(v) for v in args.divide.split(",")):
            lr = len(X) / 12 / div
            spread = [float(np.mean(np.std(run(impl, X, it, lr), axis=0))) for it in (300, 400)]
            label = "n/12" if div == 1 else f"n/12/{div:g}"
            print(f"| {impl} | {label} | {spread[0]:.2f} | {spread[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
