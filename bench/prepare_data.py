"""Convert a shared benchmark dataset into a float64 .npy file for bench/harness.cpp.

Reads <data-dir>/<dataset>.npz (arrays X and y), optionally takes a seeded random subset of
--n rows, projects the centred rows onto their top --pca principal components (numpy SVD of
the centred subset) and writes a C-order float64 .npy, plus the labels as <output>_labels.npy.

    python bench/prepare_data.py --dataset mnist --pca 50 --n 10000 -o bench/data/mnist10k_pca50.npy

Only numpy is needed. The datasets themselves are never copied into the repository;
bench/data/ is git-ignored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

DATASETS = ("mnist", "fashion_mnist", "cbmc_citeseq_pca50", "zeisel2015_pca50")
REPO_ROOT = Path(__file__).resolve().parent.parent


def pca_scores(X: np.ndarray, n_components: int) -> tuple[np.ndarray, float]:
    """Scores of the centred rows of X on the top principal axes, and the variance fraction.

    Each axis' sign makes its largest-magnitude loading positive (the convention of the
    core's PCA and of the shared *_pca50 files), so the output does not depend on LAPACK.
    """
    Xc = X - X.mean(axis=0)
    # SVD of the centred data through its R factor (Xc = QR, R = U' S Vt gives Xc = (QU') S Vt):
    # the same S and Vt as np.linalg.svd(Xc) without forming the n x d matrix U.
    r = np.linalg.qr(Xc, mode="r") if Xc.shape[0] > Xc.shape[1] else Xc
    _, s, vt = np.linalg.svd(r, full_matrices=False)
    axes = vt[:n_components]
    signs = np.sign(axes[np.arange(n_components), np.argmax(np.abs(axes), axis=1)])
    signs[signs == 0] = 1.0
    axes = axes * signs[:, None]
    scores = Xc @ axes.T
    total = float(np.sum(s**2))
    explained = float(np.sum(s[:n_components] ** 2)) / total if total > 0 else 1.0
    return scores, explained


def labels_path(output: Path) -> Path:
    return output.with_name(output.stem + "_labels.npy")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--pca", type=int, default=50,
                        help="number of principal components (0: keep the features, as float64)")
    parser.add_argument("--n", type=int, default=None,
                        help="random subset of this many rows (default: all rows, in order)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subset (default 0)")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"),
                        help="folder of the .npz files; a relative path is taken from the "
                             "repository root (default ../shared/data)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .npy file")
    args = parser.parse_args(argv)

    data_dir = args.data_dir if args.data_dir.is_absolute() else REPO_ROOT / args.data_dir
    source = (data_dir / f"{args.dataset}.npz").resolve()
    if not source.is_file():
        parser.error(f"{source} not found (set --data-dir)")
    if args.output.suffix != ".npy":
        parser.error(f"--output must end in .npy, got {args.output}")
    if args.pca < 0:
        parser.error("--pca must be >= 0")
    if args.seed < 0:
        parser.error("--seed must be >= 0")

    with np.load(source, allow_pickle=False) as archive:
        missing = {"X", "y"} - set(archive.files)
        if missing:
            parser.error(f"{source} lacks array(s) {sorted(missing)}")
        X = archive["X"]
        y = archive["y"]
    if X.ndim != 2 or y.shape != (X.shape[0],):
        parser.error(f"{source}: expected X of shape (n, d) and y of shape (n,), "
                     f"got {X.shape} and {y.shape}")
    n_all, d = X.shape

    if args.n is not None:
        if not 2 <= args.n <= n_all:
            parser.error(f"--n must be in [2, {n_all}] for {args.dataset}, got {args.n}")
        rows = np.sort(np.random.default_rng(args.seed).choice(n_all, size=args.n, replace=False))
        X, y = X[rows], y[rows]
    X = np.asarray(X, dtype=np.float64)
    if not np.all(np.isfinite(X)):
        parser.error(f"{source}: X has non-finite values")

    if args.pca > 0:
        if args.pca > min(X.shape):
            parser.error(f"--pca {args.pca} exceeds min(n, d) = {min(X.shape)}")
        X, explained = pca_scores(X, args.pca)
        what = f"PCA-{args.pca} ({100 * explained:.1f}% of the variance of the subset)"
    else:
        what = "original features"

    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.output, np.ascontiguousarray(X, dtype="<f8"))
    np.save(labels_path(args.output), np.ascontiguousarray(y, dtype="<i8"))
    subset = f"{len(X)} of {n_all} rows (seed {args.seed})" if args.n is not None else f"all {n_all} rows"
    print(f"{args.dataset}: {subset}, {d} features -> {what}")
    print(f"wrote {args.output} {X.shape} float64 and {labels_path(args.output)} {y.shape} int64")
    return 0


if __name__ == "__main__":
    sys.exit(main())
