#!/usr/bin/env bash
# The core and the C++ harness built with AddressSanitizer + UndefinedBehaviorSanitizer (and
# LeakSanitizer, part of ASan on Linux), then every method in every dimension it supports, and
# the contrastive losses and the SNE family, with exact and approximate neighbours, on small data. Any report stops the run with a non-zero
# exit (halt_on_error, -fno-sanitize-recover=all); the last line sums up.
#
#   bash tests/sanitize.sh            # build dir: build/sanitize (kept between runs)
#   BUILD=/tmp/san bash tests/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/sanitize}
start=$SECONDS

generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTURBOTSNE_BUILD_BENCH=ON -DTURBOTSNE_BUILD_PYTHON=OFF -DTURBOTSNE_SANITIZE=address,undefined > "$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" --target turbotsne_bench -j "${JOBS:-2}" > "$build.build.log" 2>&1 \
  || { tail -50 "$build.build.log"; exit 1; }
echo "sanitize: built $build/turbotsne_bench in $((SECONDS - start)) s"

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
runs=0
run() {
  local log
  log=$(mktemp)
  if ! "$build/turbotsne_bench" "$@" > "$log" 2>&1 || grep -q -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$log"; then
    cat "$log"
    echo "sanitize: FAILED on: turbotsne_bench $*" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  runs=$((runs + 1))
}
for neighbors in exact approx; do
  for dims in 1 2 3; do
    methods=exact,bh,fft
    [ "$dims" = 3 ] && methods=exact,bh
    # two thread counts: the parallel paths and the serial ones
    run --blobs 700 10 --dims "$dims" --methods "$methods" --neighbors "$neighbors" \
        --n-iter 60 --threads 1,2 --repeats 1 --perplexity 10
  done
done
# the repulsion kernels alone on generated late-stage layouts (bigger FFT grids, deeper trees)
run --layout 3000 --methods fft,bh --threads 2 --repeats 1
# duplicated points (zero distances, coincident tree cells)
run --blobs 300 2 --dims 2 --methods exact,bh,fft --n-iter 30 --threads 2 --repeats 1 --perplexity 5 --seed 3
# contrastive embeddings: NEG, NCE and InfoNCE in 1-3 dimensions, exact and approximate
# neighbours (the harness also fails unless 1 and 2 threads give the same embedding)
for neighbors in exact approx; do
  for dims in 1 2 3; do
    run --blobs 700 10 --contrastive --dims "$dims" --neighbors "$neighbors" --n-iter 40 \
        --threads 1,2 --perplexity 10
  done
done
# the SNE family (sne.cpp): SNE, symmetric SNE and UNI-SNE in 1-3 dimensions, exact gradients
for dims in 1 2 3; do
  run --blobs 300 5 --sne --dims "$dims" --n-iter 40 --threads 1,2 --perplexity 10
done
echo "sanitize: $runs harness runs (every t-SNE method, contrastive loss and SNE-family objective x dims 1-3 x exact/approx neighbours, 1 and 2 threads), 0 sanitizer reports, $((SECONDS - start)) s"
