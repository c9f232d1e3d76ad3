"""turbotsne.anndata.tsne against scanpy's sc.tl.tsne on AnnData objects: wall time, 10-NN
accuracy of the labels in the embedding, and scanpy's sc.pl.embedding picture of both.

    python bench/scanpy_compare.py --scanpy-python /path/to/venv-with-scanpy/bin/python \
        [--data /work/shared/data/zeisel2015_pca50.npz /work/shared/data/cbmc_citeseq_pca50.npz]
        [--threads 2] [--repeats 3] [--pictures /tmp] [--output bench/results/scanpy_compare.json]

Each dataset's X (already 50 principal components) goes into ``adata.obsm["X_pca"]`` (the data
is read where it lies, never copied into the repository), its labels into ``adata.obs``. Both
calls are the defaults but for the thread count and the representation:
``turbotsne.anndata.tsne(adata, use_rep="X_pca", n_jobs=threads)`` in this interpreter (which
must import turbotsne and anndata) and ``sc.tl.tsne(adata, use_rep="X_pca", n_jobs=threads)``
in ``--scanpy-python`` (scanpy 1.11 runs scikit-learn's Barnes-Hut TSNE there unless
``use_fast_tsne=True`` and MulticoreTSNE is installed; the run records which). Every run is a
fresh process with OMP_NUM_THREADS=threads; the time is that of the call alone; runs alternate
between the two, ``--repeats`` each, and the medians are reported. The load average is
recorded before and after each run (others may share the machine).

Quality is judged identically: the leave-one-out accuracy of a 10-NN majority vote of the
labels in each embedding (the first run's; turbotsne.knn_accuracy), and the exact KL
divergence of each embedding against the same P (turbotsne.joint_probabilities, perplexity
30, exact neighbours). The first run of each writes its AnnData to .h5ad; a last process
of ``--scanpy-python`` reads both files and draws ``sc.pl.embedding(adata, basis="tsne", color=<labels>)`` side by side,
saved as ``<pictures>/scanpy_compare_<dataset>.png``: scanpy's plotting reads turbotsne's
``obsm["X_tsne"]`` as it reads its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

# The AnnData each child builds from the .npz (labels as a categorical obs column).
_BUILD = """
import numpy as np, pandas as pd, anndata as ad
d = np.load({data!r})
names = d["label_names"][d["y"]]
obs = pd.DataFrame({{"cell type": pd.Categorical(names)}},
                   index=[str(i) for i in range(len(names))])
adata = ad.AnnData(obs=obs)
adata.obsm["X_pca"] = d["X"]
"""


def _timed(call: str) -> str:
    """The child's timed call ``call(adata, use_rep="X_pca", n_jobs=threads)``, then the
    embedding saved to ``out`` (and the AnnData to ``save``, when given)."""
    return f"""
import time
t = time.perf_counter()
{call}(adata, use_rep="X_pca", n_jobs={{threads}})
elapsed = time.perf_counter() - t
np.save({{out!r}}, adata.obsm["X_tsne"])
if {{save!r}}:
    adata.write_h5ad({{save!r}})
"""


RUNNERS = {
    "turbotsne": _BUILD + """
import json, os, turbotsne, turbotsne.anndata
""" + _timed('turbotsne.anndata.tsne') + """import subprocess
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True, cwd={root!r}).stdout.strip()
dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "python"],
                            capture_output=True, text=True, cwd={root!r}).stdout.strip())
print("RESULT", elapsed, json.dumps({{"turbotsne": commit + (" + uncommitted python/" if dirty
                                                           else ""),
                          "turbotsne_from": os.path.dirname(turbotsne.__file__),
                          "anndata": ad.__version__,
                          "numpy": np.__version__,
                          "uns": {{k: (v if not isinstance(v, np.generic) else v.item())
                                  for k, v in adata.uns["tsne"]["params"].items()}}}}))
""",
    "scanpy": _BUILD + """
import json, time, warnings, scanpy as sc, sklearn
try:
    import MulticoreTSNE
    multicore = True
except ImportError:
    multicore = False
warnings.simplefilter("ignore")  # scanpy's UserWarning about n_jobs > 1 and MulticoreTSNE
""" + _timed('sc.tl.tsne') + """from sklearn.manifold import TSNE
print("RESULT", elapsed, json.dumps({{"scanpy": sc.__version__, "scikit-learn": sklearn.__version__,
                          "anndata": ad.__version__, "numpy": np.__version__,
                          "backend": "sklearn.manifold.TSNE (use_fast_tsne=False, the default)",
                          "MulticoreTSNE installed": multicore,
                          "sklearn TSNE defaults": {{k: v for k, v in TSNE().get_params().items()
                                                    if k in ("max_iter", "method", "init",
                                                             "angle", "learning_rate")}},
                          "uns": {{k: (v if not isinstance(v, np.generic) else v.item())
                                  for k, v in adata.uns["tsne"]["params"].items()}}}}))
""",
}

_PLOT = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import anndata as ad, scanpy as sc
fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
for ax, (name, path, title) in zip(axes, {panels!r}):
    adata = ad.read_h5ad(path)
    sc.pl.embedding(adata, basis="tsne", color="cell type", ax=ax, show=False,
                    title=title, legend_loc="on data",
                    legend_fontsize=7, frameon=False)
fig.tight_layout()
fig.savefig({png!r}, dpi=110)
print("saved", {png!r})
"""


def run_once(name: str, python: str, data: str, threads: int, tmp: str, save: str):
    out = os.path.join(tmp, f"{name}.npy")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = RUNNERS[name].format(data=os.path.abspath(data), threads=threads, out=out, save=save,
                                root=root)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    load_before = os.getloadavg()[0]
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    load_after = os.getloadavg()[0]
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))
    _, seconds, meta = line.split(" ", 2)
    return float(seconds), json.loads(meta), np.load(out), load_before, load_after


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=[
        "/work/shared/data/zeisel2015_pca50.npz", "/work/shared/data/cbmc_citeseq_pca50.npz"])
    parser.add_argument("--scanpy-python", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pictures", default="/tmp")
    parser.add_argument("--output", default="bench/results/scanpy_compare.json")
    args = parser.parse_args()
    import turbotsne

    pythons = {"turbotsne": sys.executable, "scanpy": args.scanpy_python}
    result = dict(threads=args.threads, repeats=args.repeats, cpus=os.cpu_count(),
                  load_average_at_start=list(os.getloadavg()),
                  started=time.strftime("%Y-%m-%d %H:%M:%S"),
                  calls={"turbotsne": "turbotsne.anndata.tsne(adata, use_rep='X_pca', "
                                      f"n_jobs={args.threads})",
                         "scanpy": f"sc.tl.tsne(adata, use_rep='X_pca', n_jobs={args.threads})"},
                  datasets={})
    print(f"load average at start: {result['load_average_at_start']}", flush=True)
    for data in args.data:
        name = os.path.basename(data).split("_")[0]
        d = np.load(data)
        labels = d["y"].astype(np.int64)
        X = np.ascontiguousarray(d["X"], dtype=np.float64)
        entry = dict(file=data, n_samples=int(X.shape[0]), n_features=int(X.shape[1]),
                     n_labels=int(labels.max() + 1), runs=[])
        with tempfile.TemporaryDirectory() as tmp:
            first = {}
            for repeat in range(args.repeats):
                order = ("turbotsne", "scanpy") if repeat % 2 == 0 else ("scanpy", "turbotsne")
                for tool in order:
                    save = os.path.join(tmp, f"{tool}.h5ad") if repeat == 0 else ""
                    seconds, meta, Y, before, after = run_once(
                        tool, pythons[tool], data, args.threads, tmp, save)
                    if repeat == 0:
                        first[tool] = (Y, meta)
                    run = dict(tool=tool, repeat=repeat, seconds=seconds, load_before=before,
                               load_after=after)
                    entry["runs"].append(run)
                    print(name, json.dumps(run), flush=True)
            P = turbotsne.joint_probabilities(X, perplexity=30, n_jobs=args.threads,
                                              neighbors="exact")
            for tool, (Y, meta) in first.items():
                times = [r["seconds"] for r in entry["runs"] if r["tool"] == tool]
                entry[tool] = dict(seconds_median=statistics.median(times), seconds=times,
                                   knn10=turbotsne.knn_accuracy(Y, labels, k=10),
                                   kl=float(turbotsne.kl_divergence(P, Y)),
                                   embedding_std=float(Y.std()), **meta)
            png = os.path.join(args.pictures, f"scanpy_compare_{name}.png")
            panels = [(tool, os.path.join(tmp, f"{tool}.h5ad"),
                       f"{name}: {tool} ({entry[tool]['seconds_median']:.1f} s, "
                       f"10-NN {entry[tool]['knn10']:.3f})")
                      for tool in ("turbotsne", "scanpy")]
            subprocess.run([args.scanpy_python, "-c", _PLOT.format(panels=panels, png=png)],
                           check=True)
            entry["picture"] = png
        result["datasets"][name] = entry
        print(name, json.dumps({t: {k: entry[t][k] for k in ("seconds_median", "knn10", "kl")}
                                for t in ("turbotsne", "scanpy")}), flush=True)
    result["load_average_at_end"] = list(os.getloadavg())
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(result, f, indent=1)
    print("wrote", args.output)


if __name__ == "__main__":
    main()
