"""Do more threads ever make a run slower? turbotsne.tsne with n_jobs = 1, 2 and -1 (all
CPUs), on an idle machine and with one core busy.

"Busy" is a competing process that spins on one core (``python -c "while True: pass"``),
started by this script before the runs of a row and stopped after them. Every run is a fresh
process that loads the data and times the tsne call alone; the thread counts of a row run in
turns (1, 2, -1, 1, 2, -1, ...) and the table shows medians.

    python bench/threads_under_load.py --repeats 3
    python bench/threads_under_load.py --cases digits:fft:300 --repeats 5 --load busy

A case is DATA:METHOD:N_ITER, DATA one of digits, mnist20k (the first 20,000 rows of MNIST,
PCA-50, as compare.py caches it) or mnist (all 70,000 rows). The exact method on 20,000
points runs 10 iterations only (each costs 4·10⁸ pair terms); the time per iteration is what
the threads change.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from compare import load_dataset  # noqa: E402

CACHE = BENCH / "data" / "compare"
DEFAULT_CASES = ("digits:exact:300,digits:barnes_hut:300,digits:fft:300,"
                 "mnist20k:exact:10,mnist20k:barnes_hut:300,mnist20k:fft:300")

CHILD = """
import sys, time, json, numpy as np, turbotsne
X = np.load(sys.argv[1])
method, n_iter, n_jobs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t0 = time.perf_counter()
turbotsne.tsne(X, method=method, n_iter=n_iter, n_jobs=n_jobs, random_state=0)
print(json.dumps(dict(seconds=time.perf_counter() - t0)))
"""


def data_path(name: str, data_dir: Path) -> Path:
    if name == "mnist20k":
        path = CACHE / "mnist20k_first.npy"
        if not path.is_file():
            x_path, _ = load_dataset("mnist", CACHE, data_dir)
            np.save(path, np.ascontiguousarray(np.load(x_path)[:20_000]))
        return path
    return load_dataset(name, CACHE, data_dir)[0]


def run(path: Path, method: str, n_iter: int, n_jobs: int) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), method, str(n_iter), str(n_jobs)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=DEFAULT_CASES)
    parser.add_argument("--jobs", default="1,2,-1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--load", default="idle,busy", help="idle, busy or both (comma list)")
    parser.add_argument("--data-dir", type=Path, default=BENCH.parent.parent / "shared" / "data")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "threads_under_load.json")
    args = parser.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]
    rows = []
    print(f"{'data':>10} {'method':>10} {'iter':>5} {'machine':>7} "
          + " ".join(f"{f'n_jobs={j}':>10}" for j in jobs) + f" {'2 / 1':>7} {'-1 / 1':>7}  load")
    for case in args.cases.split(","):
        name, method, n_iter = case.split(":")
        path = data_path(name, args.data_dir)
        for load in args.load.split(","):
            spinner = None
            if load == "busy":
                spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(0.5)
            try:
                times = {j: [] for j in jobs}
                loads = []
                for _ in range(args.repeats):
                    for j in jobs:
                        loads.append(os.getloadavg()[0])
                        times[j].append(run(path, method, int(n_iter), j))
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
            med = {j: statistics.median(t) for j, t in times.items()}
            row = dict(data=name, method=method, n_iter=int(n_iter), machine=load, seconds=times,
                       median=med, load=[min(loads), max(loads)])
            rows.append(row)
            ratio = lambda j: f"{med[j] / med[1]:7.2f}" if j in med and 1 in med else "      -"
            print(f"{name:>10} {method:>10} {n_iter:>5} {load:>7} "
                  + " ".join(f"{med[j]:10.3f}" for j in jobs) + f" {ratio(2)} {ratio(-1)}"
                  + f"  {min(loads):.1f}-{max(loads):.1f}", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(dict(cpus=os.cpu_count(), rows=rows), indent=1))


if __name__ == "__main__":
    main()
