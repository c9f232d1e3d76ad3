"""The large-data route: the kNN graph from another engine (faiss), the optimisation here.

    pip install faiss-cpu        # bench only; not a dependency of turbotsne
    python bench/faiss_knn.py [--data ../shared/data/mnist.npz] [--pcs 50] [--threads 2]
                              [--chunk 10000] [--hnsw-m 32] [--ef-search 128] [--output FILE.json]

Reduces the images to `--pcs` principal components (numpy, from a 10,000-row sample), writes
them as float32 to a memory-mapped file and builds the 90-neighbour graph (perplexity 30) with
faiss' HNSW index, adding and querying the rows in chunks of `--chunk` read from that file:
the engine never needs the data in memory at once, and any engine that writes a kNN graph
(a distributed one, a GPU one) takes its place. The graph goes to
``turbotsne.tsne(D, metric="precomputed")`` as a scipy CSR matrix of distances. The same data
also runs through turbotsne's own search. Printed per route: the neighbour time, the t-SNE
time, the graph's recall of the exact 90 neighbours (faiss' exact flat index), the final KL
and the embedding's 10-NN accuracy of the labels.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
import scipy.sparse

import turbotsne


def _pca(X: np.ndarray, n_components: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sample = X[rng.choice(len(X), min(len(X), 10000), replace=False)].astype(np.float64)
    mean = sample.mean(axis=0)
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    return (X.astype(np.float64) - mean) @ vt[:n_components].T


def _knn_accuracy(Y: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    from scipy.spatial import cKDTree

    _, idx = cKDTree(Y).query(Y, k + 1)
    votes = labels[idx[:, 1:]]
    pred = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in votes])
    return float(np.mean(pred == labels))


def _search(index, mm: np.ndarray, k: int, chunk: int):
    """(indices, distances) of the k nearest other rows of every row of mm, chunk by chunk."""
    n = len(mm)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float64)
    for start in range(0, n, chunk):
        rows = np.ascontiguousarray(mm[start:start + chunk])
        d2, idx = index.search(rows, k + 1)
        own = np.arange(start, start + len(rows))[:, None]
        # Drop each row itself (or, for duplicates, the last hit) and keep k others.
        keep = idx != own
        keep[keep.sum(axis=1) > k, -1] = False
        indices[start:start + len(rows)] = idx[keep].reshape(len(rows), k)
        distances[start:start + len(rows)] = np.sqrt(np.maximum(d2[keep], 0.0)).reshape(len(rows), k)
    return indices, distances


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data", "mnist.npz"))
    ap.add_argument("--pcs", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=10000)
    ap.add_argument("--hnsw-m", type=int, default=32)
    ap.add_argument("--ef-search", type=int, default=128)
    ap.add_argument("--output")
    args = ap.parse_args()
    import faiss  # imported here: only this script needs it

    faiss.omp_set_num_threads(args.threads)
    data = np.load(args.data)
    labels = data["y"]
    X = _pca(data["X"], args.pcs).astype(np.float32)
    n, d = X.shape
    k = 90  # floor(3 * perplexity) at the default perplexity 30
    results = {"n": n, "d": d, "threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "X.f32")
        X.tofile(path)
        del X
        mm = np.memmap(path, dtype=np.float32, mode="r", shape=(n, d))

        start = time.perf_counter()
        index = faiss.IndexHNSWFlat(d, args.hnsw_m)
        index.hnsw.efSearch = args.ef_search
        for s in range(0, n, args.chunk):
            index.add(np.ascontiguousarray(mm[s:s + args.chunk]))
        indices, distances = _search(index, mm, k, args.chunk)
        t_faiss = time.perf_counter() - start
        del index

        exact = faiss.IndexFlatL2(d)
        for s in range(0, n, args.chunk):
            exact.add(np.ascontiguousarray(mm[s:s + args.chunk]))
        true_idx, _ = _search(exact, mm, k, args.chunk)
        del exact
        recall = float(np.mean([np.intersect1d(a, b).size for a, b in zip(indices, true_idx)]) / k)

        D = scipy.sparse.csr_matrix(
            (distances.ravel(), indices.ravel().astype(np.int32), np.arange(0, n * k + 1, k)),
            shape=(n, n))
        del indices, distances
        X64 = np.asarray(mm, dtype=np.float64)

    # Distances carry no coordinates: the same PCA start as the built-in route's, from the data.
    init = turbotsne._core.initial_embedding(X64, 2, turbotsne._core.Init.pca, 0, args.threads)
    start = time.perf_counter()
    Y, info = turbotsne.tsne(D, metric="precomputed", init=init, random_state=0,
                             n_jobs=args.threads, return_info=True)
    t_tsne = time.perf_counter() - start
    results["faiss_hnsw"] = {
        "neighbors_s": round(t_faiss, 2), "tsne_s": round(t_tsne, 2), "recall90": round(recall, 4),
        "kl": round(info["kl_divergence"], 4), "knn_accuracy_10": round(_knn_accuracy(Y, labels), 4),
        "stages_s": {key: round(v, 2) for key, v in info["timings"].items()}}

    start = time.perf_counter()
    Y, info = turbotsne.tsne(X64, random_state=0, n_jobs=args.threads, return_info=True)
    t_own = time.perf_counter() - start
    results["turbotsne_search"] = {
        "neighbors_s": round(info["timings"]["neighbors"], 2), "tsne_s": round(t_own, 2),
        "kl": round(info["kl_divergence"], 4), "knn_accuracy_10": round(_knn_accuracy(Y, labels), 4),
        "stages_s": {key: round(v, 2) for key, v in info["timings"].items()}}
    for route in ("faiss_hnsw", "turbotsne_search"):
        print(f"{route:18s}", "  ".join(f"{key} {value}" for key, value in results[route].items()))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
