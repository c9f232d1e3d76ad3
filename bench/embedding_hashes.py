"""SHA-256 hashes of embeddings from every kind of run, to prove a refactoring bit-identical.

    python bench/embedding_hashes.py [--output hashes.json] [--compare before.json]

Runs, each on 1 and 2 threads (the hashes must also agree across thread counts): exact,
Barnes-Hut (2-D and 3-D) and FFT (1-D and 2-D) t-SNE, exact and approximate neighbours,
a Student-t dof other than 1, `joint_probabilities`, the conditional P, `TSNE.transform` of held-out points and
`contrastive_embedding` (NEG, NCE and InfoNCE, 2-D to 5-D, dof 1 and 0.6). Small generated data, about half a minute in all.
With --compare, exits 1 and lists the runs whose hash differs from the given file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

import numpy as np

import turbotsne


def digest(array) -> str:
    a = np.ascontiguousarray(array)
    return hashlib.sha256(a.tobytes() + str((a.dtype.str, a.shape)).encode()).hexdigest()


def runs(threads: int):
    X, _ = turbotsne.make_blobs(3000, 20, n_centers=6, random_state=1)
    small = X[:400]
    common = dict(random_state=3, n_jobs=threads, n_iter=300)
    yield "exact", lambda: turbotsne.tsne(small, method="exact", **common)
    yield "barnes_hut_2d", lambda: turbotsne.tsne(X, method="barnes_hut", **common)
    yield "barnes_hut_3d", lambda: turbotsne.tsne(X[:1500], 3, method="barnes_hut", **common)
    yield "fft_2d", lambda: turbotsne.tsne(X, method="fft", **common)
    yield "fft_1d", lambda: turbotsne.tsne(X, 1, method="fft", **common)
    yield "fft_dof_half", lambda: turbotsne.tsne(X, method="fft", dof=0.5, **common)
    yield "fft_approx_neighbors", lambda: turbotsne.tsne(X, method="fft", neighbors="approx", **common)
    yield "auto_defaults", lambda: turbotsne.tsne(X, random_state=3, n_jobs=threads)

    def in_locality_order(method):
        # The path of >= TsneParams.locality_min_samples points (P and the optimisation in the
        # approximate search's locality order), reached here by lowering that threshold to 0.
        from turbotsne import _core
        params_class = _core.TsneParams

        def params_without_threshold():
            params = params_class()
            params.locality_min_samples = 0
            return params

        _core.TsneParams = params_without_threshold
        try:
            return turbotsne.tsne(X, method=method, neighbors="approx", **common)
        finally:
            _core.TsneParams = params_class

    yield "fft_locality_order", lambda: in_locality_order("fft")
    yield "barnes_hut_locality_order", lambda: in_locality_order("barnes_hut")
    yield "joint_probabilities", lambda: turbotsne.joint_probabilities(X, n_jobs=threads).toarray()

    def conditional():
        from turbotsne import _core
        params = _core.NeighborParams()
        return np.concatenate([np.asarray(a, dtype=np.float64) for a in
                               _core.affinities(X, 30.0, params, threads, False)])

    yield "conditional_probabilities", conditional

    def permuted():
        from turbotsne import _core
        order = np.random.default_rng(5).permutation(len(X)).astype(np.int32)
        probes = getattr(_core, "_testing", _core)  # (before the probes had their submodule)
        if hasattr(probes, "symmetrize"):  # P built in an order from the conditional P
            arrays = probes.symmetrize(*_core.affinities(X, 30.0, _core.NeighborParams(), threads,
                                                         False), order, threads)
        else:  # (before: the joint P renumbered afterwards)
            P = turbotsne.joint_probabilities(X, n_jobs=threads)
            arrays = probes.permute_symmetric(P.indptr.astype(np.int64), P.indices.astype(np.int32),
                                              P.data, order, threads)
        return np.concatenate([np.asarray(a, dtype=np.float64) for a in arrays])

    yield "permute_symmetric", permuted

    def transform():
        model = turbotsne.TSNE(random_state=3, n_jobs=threads, max_iter=300).fit(X[:2500])
        return model.transform(X[2500:])

    yield "transform", transform
    for loss in ("neg", "infonce"):
        yield f"contrastive_{loss}", lambda loss=loss: turbotsne.contrastive_embedding(
            X, loss=loss, n_epochs=100, random_state=3, n_jobs=threads)
    for loss in ("nce", "infonce"):
        yield f"contrastive_{loss}_3d_dof", lambda loss=loss: turbotsne.contrastive_embedding(
            X[:1000], 3, loss=loss, n_epochs=60, dof=0.6, random_state=3, n_jobs=threads)
    yield "contrastive_neg_5d", lambda: turbotsne.contrastive_embedding(
        X[:1000], 5, loss="neg", n_epochs=60, random_state=3, n_jobs=threads)
    yield "exact_5d", lambda: turbotsne.tsne(small, 5, method="exact", **common)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", help="write the hashes to this JSON file")
    parser.add_argument("--compare", help="a JSON file of earlier hashes to compare with")
    args = parser.parse_args(argv)
    hashes = {}
    for threads in (1, 2):
        for name, run in runs(threads):
            key = f"{name}/threads={threads}"
            hashes[key] = digest(run())
            print(f"{name:24s} threads={threads}  {hashes[key][:16]}")
    names = [k.split("/")[0] for k in hashes if k.endswith("/threads=1")]
    uneven = [n for n in names if hashes[f"{n}/threads=1"] != hashes[f"{n}/threads=2"]]
    for name in uneven:
        print(f"differs between 1 and 2 threads: {name}", file=sys.stderr)
    if args.output:
        with open(args.output, "w") as f:
            json.dump(hashes, f, indent=1, sort_keys=True)
    status = 1 if uneven else 0
    if args.compare:
        with open(args.compare) as f:
            before = json.load(f)
        changed = sorted(k for k in before.keys() | hashes.keys() if before.get(k) != hashes.get(k))
        for k in changed:
            print(f"changed: {k}", file=sys.stderr)
        print(f"{len(hashes) - len(changed)} of {len(hashes)} runs identical to {args.compare}")
        status = status or (1 if changed else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
