"""``python -m turbotsne demo``: embed the built-in dataset and save the embedding."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import __version__, make_blobs, tsne


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m turbotsne", description=__doc__)
    parser.add_argument("--version", action="version", version=f"turbotsne {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="embed a built-in dataset (10 Gaussian clusters in 50-D)")
    demo.add_argument("-o", "--output", default="embedding.npy", help="where to write the .npy embedding")
    demo.add_argument("-n", "--n-samples", type=int, default=5000)
    demo.add_argument("--threads", type=int, default=-1)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    try:
        X, labels = make_blobs(n_samples=args.n_samples, random_state=args.seed)
        start = time.perf_counter()
        Y = tsne(X, random_state=args.seed, n_jobs=args.threads, verbose=not args.quiet)
        elapsed = time.perf_counter() - start
        np.save(args.output, Y)
    except (ValueError, TypeError, OSError) as exc:
        print(f"turbotsne: error: {exc}", file=sys.stderr)
        return 2
    print(f"embedded {X.shape[0]} x {X.shape[1]} in {elapsed:.2f} s -> {args.output} {Y.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
