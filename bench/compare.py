"""turbotsne against the other t-SNE implementations (and UMAP), side by side.

Every run is a fresh Python process that loads the same prepared input (PCA-50, done once and
cached in bench/data/compare/), sets the same thread count for OpenMP, BLAS and numba, and
times only the embedding call (neighbours, affinities and optimisation). The child reports its
peak resident memory (VmHWM from /proc/self/status; ru_maxrss of a forked child would inherit
the parent's high-water mark). Quality is computed here, identically for every embedding:

- recall@10: the fraction of each point's 10 exact input-space neighbours (brute force) that
  are among its 10 nearest neighbours in the embedding;
- 10-NN accuracy: leave-one-out majority vote of the 10 nearest embedded neighbours' labels;
- KL: the exact KL(P||Q) against one P (turbotsne.joint_probabilities, perplexity 30, exact
  neighbours), for n <= 20,000.
Above 100,000 points the recall and accuracy use a seeded sample of 5,000 query points.

Settings shared by all t-SNEs: 2-D, perplexity 30, 750 iterations of which 250 with early
exaggeration 12, momentum 0.5 then 0.8, and one learning rate lr = max(n / 12, 50) on the
bhtsne/openTSNE/FIt-SNE scale in both phases. Each peer's convention:

- turbotsne: lr as given; PCA init; momentum 0.5 early (its default is 0.8); method "fft" for
  n >= 10,000 and Barnes-Hut (theta 0.5, full-side convention) below (openTSNE's own rule for
  its "auto"); neighbours by turbotsne's "auto". "turbotsne_auto" is the same call with
  method="auto".
- FIt-SNE 1.2.1 (`fitsne.FItSNE`): its default lr is max(200, n / 12); passed explicitly. It
  gets a PCA start as openTSNE's (scores scaled to std 1e-4 in the first column), computed
  inside the timed call. Annoy neighbours, FFT repulsion (its defaults). It evaluates the KL
  every 50 iterations, which cannot be turned off.
- openTSNE 1.0.4: its "auto" lr is n / exaggeration in each phase (n / 12, then n): passed
  explicitly instead; its momentum default is 0.8 / 0.8: set to 0.5 / 0.8;
  negative_gradient_method "auto" (Barnes-Hut below 10,000 points, FFT above).
- tsne-h2pack 3.2.0 (`tsne_h2pack.TSNE`): random init only (its one option; PCA and arrays
  are refused); 250 exaggeration iterations are built in. Its learning rate is on
  scikit-learn's scale (it is a drop-in replacement for sklearn's TSNE), whatever its
  docstring says: it gets lr / 4. Measured by bench/lr_convention.py (MNIST 10k sample,
  spread of the embedding at iteration 300 and 400): given n / 12 it spreads like
  scikit-learn given n / 12 (9.71 / 19.37 vs 9.72 / 21.25), given n / 48 like FIt-SNE,
  openTSNE and turbotsne given n / 12 (5.91 / 13.73 vs 5.87 / 13.79, 5.98 / 13.83,
  5.99 / 13.84). Before this was found, it ran with a 4 times larger step than the others. It
  finds neighbours with PyNNDescent (numba) from 10,000 points: numba compiles on first use
  and caches to disk, so the first run after installing is slower (the median drops it).
- MulticoreTSNE 0.1: random init, N(0, 1) (given an init array it skips early
  exaggeration); angle 0.5 on bhtsne's half-width convention. It scales X by its maximum.
- scikit-learn TSNE: its gradient keeps the factor 4, so its learning rate is lr / 4; PCA
  init; Barnes-Hut, angle 0.5 (squared-width convention); its gradient's threads follow
  OMP_NUM_THREADS (set), n_jobs only the neighbour search.
- "*_default" (turbotsne_default, fitsne_default, opentsne_default, h2pack_default): each
  implementation's own defaults, what its users get, with only the thread count (and a seed,
  where it takes one) set: turbotsne.tsne(X); FItSNE(X) (lr max(200, n/12) throughout,
  momentum 0.5/0.8, PCA init, FFT); openTSNE.TSNE().fit(X) (lr n/12 then n, momentum 0.8, FFT
  from 10,000 points); tsne_h2pack.TSNE().fit_transform(X) (1,000 iterations, random init,
  scikit-learn's lr scale). Their time ratios are to turbotsne_default.
- UMAP (not t-SNE): its defaults (15 neighbours, its own epochs and init); no random_state,
  which would make it single-threaded.

    python bench/compare.py --datasets digits,mnist,fashion_mnist --impls turbotsne,fitsne,h2pack \\
        --repeats 3 --threads 2 --peer-python /path/to/venv-with-peers/bin/python

Results are merged into bench/results/compare.json (a later run of the same dataset and
implementation replaces the earlier one) and rendered as bench/results/compare.md and
bench/results/time_vs_n.png (when matplotlib is importable).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from prepare_data import pca_scores  # noqa: E402  (bench/ is not a package)

PERPLEXITY = 30.0
KL_MAX_SAMPLES = 20_000
FULL_QUALITY_MAX_SAMPLES = 100_000
QUALITY_SAMPLE = 5_000

# name -> (source, n or None); sources: "shared:<file>" (../shared/data), "digits", "blobs"
DATASETS = {
    "digits": ("digits", None),
    "zeisel": ("shared:zeisel2015_pca50", None),
    "cbmc": ("shared:cbmc_citeseq_pca50", None),
    "mnist": ("shared:mnist", None),
    "fashion_mnist": ("shared:fashion_mnist", None),
    "blobs20k": ("blobs", 20_000),
    "blobs100k": ("blobs", 100_000),
    "blobs1m": ("blobs", 1_000_000),
}

# Code run in the child. {data}, {out}, {threads}, {n_iter}, {lr} are filled in; the child
# prints one line "RESULT <json>" with the wall time of the call and its VmHWM.
PRELUDE = """
import json, time, numpy as np
X = np.load({data!r})
n = len(X)
lr = {lr!r}
def vmhwm_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
def pca_start(X):
    Xc = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(Xc[:: max(1, len(Xc) // 20000)], full_matrices=False)
    Y = Xc @ vt[:2].T
    return np.ascontiguousarray(Y / Y[:, 0].std() * 1e-4)
"""
EPILOGUE = """
elapsed = time.perf_counter() - t0
np.save({out!r}, np.asarray(Y, dtype=np.float64))
print("RESULT", json.dumps(dict(seconds=elapsed, vmhwm_mb=vmhwm_mb(), method=method)))
"""
RUNNERS = {
    "turbotsne": """
from turbotsne import _api
method = "fft" if n >= 10000 else "barnes_hut"
t0 = time.perf_counter()
Y, _ = _api._tsne(X, 2, perplexity=30, n_iter={n_iter}, early_exaggeration_iter=250,
                  learning_rate=lr, method=method, theta=0.5, init="pca", random_state=0,
                  n_jobs={threads}, _optimizer=dict(momentum_early=0.5))
""",
    "turbotsne_auto": """
import turbotsne
method = "auto"
t0 = time.perf_counter()
Y = turbotsne.tsne(X, 2, perplexity=30, n_iter={n_iter}, early_exaggeration_iter=250,
                   learning_rate=lr, init="pca", random_state=0, n_jobs={threads})
""",
    "fitsne": """
from fitsne import FItSNE
method = "fft"
t0 = time.perf_counter()
Y = FItSNE(np.ascontiguousarray(X, dtype=np.float64), no_dims=2, perplexity=30,
           max_iter={n_iter}, stop_early_exag_iter=250, early_exag_coeff=12.0,
           learning_rate=lr, momentum=0.5, final_momentum=0.8, mom_switch_iter=250,
           initialization=pca_start(X), nthreads={threads}, rand_seed=0)
""",
    "opentsne": """
import openTSNE
method = "fft" if n >= 10000 else "bh"
t0 = time.perf_counter()
Y = openTSNE.TSNE(n_components=2, perplexity=30, learning_rate=lr, early_exaggeration_iter=250,
                  early_exaggeration=12, n_iter={n_iter} - 250, negative_gradient_method="auto",
                  theta=0.5, initialization="pca", initial_momentum=0.5, final_momentum=0.8,
                  n_jobs={threads}, random_state=0, verbose=False).fit(X)
""",
    "h2pack": """
from tsne_h2pack import TSNE
method = "h2pack"
t0 = time.perf_counter()
Y = TSNE(n_components=2, perplexity=30, max_iter={n_iter}, early_exaggeration=12,
         learning_rate=lr / 4, random_state=0, n_jobs={threads}).fit_transform(X)
""",
    "multicore": """
from MulticoreTSNE import MulticoreTSNE
method = "bh"
t0 = time.perf_counter()
Y = MulticoreTSNE(n_components=2, perplexity=30, n_iter={n_iter}, early_exaggeration=12,
                  n_iter_early_exag=250, learning_rate=lr, angle=0.5, n_jobs={threads}, random_state=0).fit_transform(X)
""",
    "sklearn": """
from sklearn.manifold import TSNE
method = "bh"
t0 = time.perf_counter()
Y = TSNE(n_components=2, perplexity=30, max_iter={n_iter}, early_exaggeration=12,
         learning_rate=lr / 4, init="pca", method="barnes_hut", angle=0.5, n_jobs={threads},
         random_state=0).fit_transform(X)
""",
    # Each at its own defaults (what its users get), threads and seed aside.
    "turbotsne_default": """
import turbotsne
t0 = time.perf_counter()
Y, info = turbotsne.tsne(X, random_state=0, n_jobs={threads}, return_info=True)
method = info["method"]
""",
    "fitsne_default": """
from fitsne import FItSNE
method = "fft"
t0 = time.perf_counter()
Y = FItSNE(np.ascontiguousarray(X, dtype=np.float64), nthreads={threads}, rand_seed=0)
""",
    "opentsne_default": """
import openTSNE
method = "fft" if n >= 10000 else "bh"
t0 = time.perf_counter()
Y = openTSNE.TSNE(n_jobs={threads}, random_state=0).fit(X)
""",
    "h2pack_default": """
from tsne_h2pack import TSNE
method = "h2pack"
t0 = time.perf_counter()
Y = TSNE(n_jobs={threads}, random_state=0).fit_transform(X)
""",
    "umap": """
import umap
method = "umap"
t0 = time.perf_counter()
Y = umap.UMAP(n_components=2, n_jobs={threads}).fit_transform(X)
""",
}
LABELS = {
    "turbotsne": "turbotsne",
    "turbotsne_auto": "turbotsne (method=auto)",
    "fitsne": "FIt-SNE",
    "opentsne": "openTSNE",
    "h2pack": "tsne-h2pack",
    "multicore": "MulticoreTSNE",
    "sklearn": "scikit-learn",
    "umap": "UMAP (not t-SNE)",
    "turbotsne_default": "turbotsne default",
    "fitsne_default": "FIt-SNE default",
    "opentsne_default": "openTSNE default",
    "h2pack_default": "tsne-h2pack default",
}
PEER_MODULES = {"turbotsne": "turbotsne", "turbotsne_auto": "turbotsne", "fitsne": "fitsne", "opentsne": "openTSNE", "h2pack": "tsne_h2pack",
                "multicore": "MulticoreTSNE", "sklearn": "sklearn", "umap": "umap",
                "turbotsne_default": "turbotsne", "fitsne_default": "fitsne",
                "opentsne_default": "openTSNE", "h2pack_default": "tsne_h2pack"}


def reference_impl(impl: str) -> str:
    """The turbotsne run a peer's time is divided into: the default call for peers at their
    defaults, the shared-settings run otherwise."""
    return "turbotsne_default" if impl.endswith("_default") else "turbotsne"


# ----------------------------------------------------------------------------- data

def load_dataset(name: str, cache: Path, data_dir: Path) -> tuple[Path, np.ndarray]:
    """The PCA-50 input of a dataset as a cached .npy path, and its labels."""
    source, size = DATASETS[name]
    x_path, y_path = cache / f"{name}.npy", cache / f"{name}_labels.npy"
    if x_path.is_file() and y_path.is_file():
        return x_path, np.load(y_path)
    if source == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        X, y = digits.data.astype(np.float64), digits.target.astype(np.int64)
    elif source == "blobs":
        import turbotsne

        X, y = turbotsne.make_blobs(size, 50, random_state=0)
    else:
        with np.load(data_dir / f"{source.split(':', 1)[1]}.npz") as archive:
            X, y = archive["X"].astype(np.float64), archive["y"].astype(np.int64)
    if X.shape[1] > 50:
        X, _ = pca_scores(X, 50)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(x_path, np.ascontiguousarray(X, dtype="<f8"))
    np.save(y_path, y)
    return x_path, y


def quality_rows(n: int) -> np.ndarray:
    """The points whose neighbourhoods are scored: all, or a seeded sample for large n."""
    if n <= FULL_QUALITY_MAX_SAMPLES:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, QUALITY_SAMPLE, replace=False))


def exact_knn(X: np.ndarray, rows: np.ndarray, k: int = 10) -> np.ndarray:
    """Brute-force k nearest neighbours (itself excluded) of X[rows] among all of X."""
    sq = np.einsum("ij,ij->i", X, X)
    out = np.empty((len(rows), k), dtype=np.int64)
    block = max(1, 50_000_000 // len(X))
    for b in range(0, len(rows), block):
        r = rows[b:b + block]
        d2 = sq[r, None] - 2.0 * (X[r] @ X.T) + sq[None, :]
        d2[np.arange(len(r)), r] = np.inf
        part = np.argpartition(d2, k, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d2, part, axis=1), axis=1)
        out[b:b + block] = np.take_along_axis(part, order, axis=1)
    return out


def input_neighbours(name: str, x_path: Path, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    path = cache / f"{name}_knn10.npz"
    if path.is_file():
        with np.load(path) as f:
            return f["rows"], f["knn"]
    X = np.load(x_path)
    rows = quality_rows(len(X))
    print(f"[{name}] exact 10-NN of {len(rows)} points (once)...", file=sys.stderr, flush=True)
    knn = exact_knn(X, rows)
    np.savez(path, rows=rows, knn=knn)
    return rows, knn


def embedding_quality(Y, labels, rows, knn_input) -> dict:
    from scipy.spatial import cKDTree

    k = knn_input.shape[1]
    _, idx = cKDTree(Y).query(Y[rows], k + 1)
    # Drop each query itself (ties of identical points may put it second).
    idx = np.array([[j for j in r if j != i][:k] for i, r in zip(rows, idx)])
    recall = np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(idx, knn_input)])
    return dict(recall10=float(recall), acc10=knn_vote_accuracy(labels, rows, idx))


def knn_vote_accuracy(labels, rows, idx) -> float:
    """Share of the points rows whose neighbours idx (one row each) vote for their label
    (majority, ties to the smaller label): the k-NN classifier's accuracy."""
    k = idx.shape[1]
    n_classes = int(labels.max()) + 1
    votes = np.zeros((len(rows), n_classes), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(len(rows)), k), labels[idx].ravel()), 1)
    return float(np.mean(votes.argmax(axis=1) == labels[rows]))


# ----------------------------------------------------------------------------- runs

def run_child(impl: str, python: str, x_path: Path, threads: int, n_iter: int, lr: float,
              timeout: float):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "Y.npy")
        fields = dict(data=str(x_path), out=out, threads=threads, n_iter=n_iter, lr=lr)
        code = (PRELUDE + RUNNERS[impl] + EPILOGUE).format(**fields)
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS"):
            env[var] = str(threads)
        try:
            proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env,
                                  timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            return dict(status=f"timeout > {timeout:.0f} s"), None
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            return dict(status=f"failed: {tail[:200]}"), None
        line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
        record = json.loads(line[len("RESULT "):])
        record["status"] = "ok"
        return record, np.load(out)


def installed(impl: str, python: str) -> str | None:
    """None when the implementation imports in `python`, else the reason."""
    module = PEER_MODULES[impl]
    proc = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    return (proc.stderr.strip().splitlines() or ["import failed"])[-1]


# ----------------------------------------------------------------------------- report

def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def render(results: dict, out_dir: Path) -> str:
    records = results["records"]
    lines = ["# turbotsne vs peers (bench/compare.py)", ""]
    machine = results.get("machine", {})
    if machine:
        lines.append(f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
                     f"{machine.get('python', '?')}. Threads {machine.get('threads', '?')}, "
                     f"{machine.get('n_iter', '?')} iterations, perplexity 30, PCA-50 input.")
        lines.append("")
    datasets = [d for d in DATASETS if any(r["dataset"] == d for r in records)]
    impls = [i for i in RUNNERS if any(r["impl"] == i for r in records)]

    def seconds(rec):
        return rec.get("median_s") if rec and rec.get("status") == "ok" else None

    lines.append("Wall time of the embedding call, seconds (median of the runs; "
                 "turbotsne / peer ratio in the last columns):")
    lines.append("")
    head = "| data | n | " + " | ".join(LABELS[i] for i in impls) + " |"
    lines += [head, "|---|---:|" + "---:|" * len(impls)]
    for d in datasets:
        row_recs = {r["impl"]: r for r in records if r["dataset"] == d}
        n = next(iter(row_recs.values()))["n"]
        cells = []
        for i in impls:
            rec = row_recs.get(i)
            if rec is None:
                cells.append("")
            elif rec["status"] != "ok":
                cells.append(rec["status"].split(":")[0])
            else:
                cells.append(f"{rec['median_s']:.2f}")
        lines.append(f"| {d} | {n:,} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Per run: times, peak memory of the child (VmHWM), quality "
                 "(recall@10 of input neighbours, 10-NN accuracy, exact KL for n <= 20,000):")
    lines.append("")
    lines += ["| data | impl | method | median s | runs s | ratio turbotsne/impl | peak MB "
              "| recall@10 | 10-NN acc | KL | measured |",
              "|---|---|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for d in datasets:
        for i in impls:
            rec = next((r for r in records if r["dataset"] == d and r["impl"] == i), None)
            if rec is None:
                continue
            ours = next((r for r in records if r["dataset"] == d and r["impl"] == reference_impl(i)), None)
            ratio = (seconds(ours) / seconds(rec)
                     if seconds(ours) is not None and seconds(rec) else None)
            runs = ", ".join(f"{t:.1f}" for t in rec.get("runs_s", []))
            lines.append(
                f"| {d} | {LABELS[i]} | {rec.get('method', '-')} | {fmt(seconds(rec), '.2f')} "
                f"| {runs or rec['status']} | {fmt(ratio, '.3f')} | {fmt(rec.get('peak_mb'), '.0f')} "
                f"| {fmt(rec.get('recall10'), '.4f')} | {fmt(rec.get('acc10'), '.4f')} "
                f"| {fmt(rec.get('kl'), '.4f')} | {rec.get('when', '')} |")
    skipped = results.get("not_installed", {})
    if skipped:
        lines += ["", "Not installed: " + "; ".join(f"{LABELS[k]} ({v})" for k, v in skipped.items())]
    text = "\n".join(lines) + "\n"
    (out_dir / "compare.md").write_text(text)
    plot(records, datasets, impls, out_dir / "time_vs_n.png")
    return text


def plot(records, datasets, impls, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not importable: no plot", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(7, 5))
    for i in impls:
        pts = sorted((r["n"], r["median_s"], r["dataset"]) for r in records
                     if r["impl"] == i and r["status"] == "ok")
        if not pts:
            continue
        style = dict(lw=2.5, color="black") if i == "turbotsne" else dict(lw=1.2)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=LABELS[i], **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("points n (datasets of bench/compare.py)")
    ax.set_ylabel("wall time of the embedding call, s")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("t-SNE wall time vs n, 2 threads, 750 iterations")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- main

def machine_info(threads: int, n_iter: int) -> dict:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return dict(cpu=cpu, cores=os.cpu_count(), python=platform.python_version(),
                threads=threads, n_iter=n_iter)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="digits,mnist,fashion_mnist",
                        help="comma list of " + ", ".join(DATASETS))
    parser.add_argument("--impls", default=",".join(i for i in RUNNERS if i != "turbotsne_auto"),
                        help="comma list of " + ", ".join(RUNNERS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-iter", type=int, default=750)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of turbotsne and of the --repeat-peers (median reported)")
    parser.add_argument("--repeat-peers", default="fitsne,h2pack,fitsne_default,turbotsne_default",
                        help="peers that also get --repeats runs; the others run once")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--peer-python", default=sys.executable,
                        help="interpreter in which the peers are installed")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=BENCH / "data" / "compare")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)

    datasets = [d for d in args.datasets.split(",") if d]
    impls = [i for i in args.impls.split(",") if i]
    for d in datasets:
        if d not in DATASETS:
            parser.error(f"unknown dataset {d!r}; choose from {', '.join(DATASETS)}")
    for i in impls:
        if i not in RUNNERS:
            parser.error(f"unknown implementation {i!r}; choose from {', '.join(RUNNERS)}")
    repeat_peers = set(args.repeat_peers.split(",")) | {"turbotsne", "turbotsne_default"}

    import turbotsne

    args.results.mkdir(parents=True, exist_ok=True)
    store = args.results / "compare.json"
    results = json.loads(store.read_text()) if store.is_file() else {"records": []}
    results["machine"] = machine_info(args.threads, args.n_iter)
    results.setdefault("not_installed", {})
    available = []
    for i in impls:
        python = sys.executable if i.startswith("turbotsne") else args.peer_python
        why = installed(i, python)
        if why is None:
            available.append(i)
            results["not_installed"].pop(i, None)
        else:
            results["not_installed"][i] = why
            print(f"{LABELS[i]} not installed in {python}: {why}", file=sys.stderr)

    for d in datasets:
        x_path, labels = load_dataset(d, args.cache, args.data_dir)
        X = np.load(x_path)
        n = len(X)
        rows, knn = input_neighbours(d, x_path, args.cache)
        P = (turbotsne.joint_probabilities(X, perplexity=PERPLEXITY, neighbors="exact",
                                           n_jobs=args.threads)
             if n <= KL_MAX_SAMPLES else None)
        lr = max(n / 12.0, 50.0)
        for i in available:
            python = sys.executable if i.startswith("turbotsne") else args.peer_python
            repeats = args.repeats if i in repeat_peers else 1
            times, record, Y = [], None, None
            for r in range(repeats):
                rec, emb = run_child(i, python, x_path, args.threads, args.n_iter, lr,
                                     args.timeout)
                print(f"[{d}] {LABELS[i]} run {r + 1}/{repeats}: "
                      + (f"{rec['seconds']:.2f} s, {rec['vmhwm_mb']:.0f} MB" if rec["status"] == "ok"
                         else rec["status"]), file=sys.stderr, flush=True)
                if rec["status"] != "ok":
                    record = rec
                    break
                times.append(rec["seconds"])
                if Y is None:
                    record, Y = rec, emb
                record["peak_mb"] = max(record.get("peak_mb", 0.0), rec["vmhwm_mb"])
            entry = dict(dataset=d, n=n, impl=i, status=record["status"],
                         when=datetime.date.today().isoformat())
            if record["status"] == "ok":
                entry.update(method=record.get("method"), runs_s=times,
                             median_s=statistics.median(times), peak_mb=record["peak_mb"])
                if np.all(np.isfinite(Y)):
                    entry.update(embedding_quality(Y, labels, rows, knn))
                    if P is not None:
                        entry["kl"] = float(turbotsne.kl_divergence(P, Y))
                else:
                    entry["status"] = "non-finite embedding"
            results["records"] = [e for e in results["records"]
                                  if not (e["dataset"] == d and e["impl"] == i)] + [entry]
            store.write_text(json.dumps(results, indent=1))
    print(render(results, args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
