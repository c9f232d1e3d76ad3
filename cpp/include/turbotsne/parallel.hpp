// OpenMP helpers. Two rules make every result independent of the thread count:
//   * parallel loops write disjoint outputs, so scheduling cannot change a value;
//   * every reduction sums per-block partials over blocks of a fixed size (kBlock), then adds
//     the blocks in order on one thread.
// No exception may leave an OpenMP region: the first one thrown by a worker is captured and
// rethrown after the loop (the idea of hnswlib's ParallelFor).
#pragma once

#include <algorithm>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "turbotsne/common.hpp"
#include "turbotsne/progress.hpp"

namespace turbotsne {

constexpr index_t kBlock = 1024;  // block size of deterministic reductions

// The OpenMP specification the core was compiled against, as the date yyyymm of _OPENMP
// (201511 for OpenMP 4.5). The build refuses to go on without OpenMP, so this is never 0.
int openmp_version();

// Number of threads a parallel region asked for `n_threads` really runs with: n_threads
// unless the runtime caps it (OMP_THREAD_LIMIT, or an OpenMP stub that runs serially).
int parallel_team_size(int n_threads);

class ExceptionCollector {
 public:
  template <class F>
  void run(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
};

// A team of threads for the many short parallel loops of an optimisation (a t-SNE iteration
// runs about fifteen). OpenMP's fork/join makes every loop wait at its end for every thread of
// the team, and its idle threads spin: with another process busy on one core, a thread that
// the kernel has descheduled, or one that spins on the core the others need, stalls each loop
// for a time slice (bench/threads_under_load.py measures it). In a team:
//   * a loop is cut into chunks that the calling thread and the workers claim one at a time,
//     and the loop returns as soon as every chunk is done: a worker that has not woken up yet
//     is not waited for (the caller does its share), only a chunk already being worked on;
//   * idle workers spin briefly, then yield the core, then sleep, so they never hold a core
//     that another thread (of this process or another one) could use;
//   * the workers are the threads of one OpenMP parallel region around the whole
//     optimisation, so the team is sized by n_threads like every other region.
// The results do not change: loops still write disjoint outputs and reductions still add
// fixed blocks in order, whoever computes them.
class ThreadTeam;

namespace detail {
// The team whose loops this thread dispatches (set by with_thread_team on the calling thread),
// and whether this thread is one of a team's workers (their loops run serially).
ThreadTeam* current_team();
bool in_team_worker();
void run_on_team(ThreadTeam& team, index_t n_chunks, void (*chunk)(void*, index_t), void* context);
}  // namespace detail

// Runs body() on the calling thread while a team of n_threads threads (the caller included)
// serves the parallel_for / blocked_sum calls it makes from this thread. Exceptions from
// body propagate after the team has stopped.
void with_thread_team(int n_threads, const std::function<void()>& body);

// f() on a team of n_threads threads (see with_thread_team), returning its result.
template <class F>
auto on_thread_team(int n_threads, F&& f) -> decltype(f()) {
  std::optional<decltype(f())> result;
  with_thread_team(n_threads, [&] { result.emplace(f()); });
  return std::move(*result);
}

// body(i) for i in [begin, end), dynamically scheduled in chunks of `chunk`.
template <class F>
void parallel_for(index_t begin, index_t end, int n_threads, F&& body, index_t chunk = 64) {
  if (end <= begin) return;
  ExceptionCollector errors;
  const index_t n_chunks = (end - begin + chunk - 1) / chunk;
  const int threads = static_cast<int>(std::min<index_t>(n_threads, n_chunks));
  auto run_chunk = [&](index_t c) {
    errors.run([&] {
      const index_t start = begin + c * chunk;
      const index_t stop = std::min(end, start + chunk);
      for (index_t i = start; i < stop; ++i) body(i);
    });
  };
  if (threads <= 1 || detail::in_team_worker()) {
    for (index_t c = 0; c < n_chunks; ++c) run_chunk(c);
  } else if (ThreadTeam* team = detail::current_team()) {
    using Chunk = decltype(run_chunk);
    detail::run_on_team(*team, n_chunks,
                        [](void* context, index_t c) { (*static_cast<Chunk*>(context))(c); },
                        &run_chunk);
  } else {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (index_t c = 0; c < n_chunks; ++c) run_chunk(c);
  }
  errors.rethrow();
}

// Like parallel_for over [0, n), but in batches of `batch` items; before each batch and after
// the last, on the calling thread, the observer hears how many items are done (as `unit`s of
// its current stage) and is polled, so that long stages show progress and can be interrupted.
// `after_batch`, when given, runs on the calling thread after each batch.
template <class F>
void parallel_for_polled(index_t n, int n_threads, Observer* observer, F&& body,
                         index_t chunk = 64, index_t batch = 16384, const char* unit = "points",
                         void (*after_batch)() = nullptr) {
  for (index_t start = 0; start < n; start += batch) {
    report_progress(observer, unit, start, n);
    poll(observer);
    parallel_for(start, std::min(n, start + batch), n_threads, body, chunk);
    if (after_batch != nullptr) after_batch();
  }
  report_progress(observer, unit, n, n);
  poll(observer);
}

// Sum of block(begin, end) -> T over consecutive blocks of kBlock items, added in block order.
// T needs default construction to zero and +=. The result does not depend on n_threads.
template <class T, class F>
T blocked_sum(index_t n, int n_threads, F&& block) {
  const index_t n_blocks = (n + kBlock - 1) / kBlock;
  std::vector<T> partial(static_cast<size_t>(n_blocks), T{});
  parallel_for(0, n_blocks, n_threads, [&](index_t b) {
    partial[b] = block(b * kBlock, std::min(n, (b + 1) * kBlock));
  }, 1);
  T total{};
  for (const T& p : partial) total += p;
  return total;
}

// The column means of X: per column, the sums over fixed blocks of rows added in block order
// (blocked_sum), so the result does not depend on n_threads.
template <class Rows>
std::vector<double> column_means(Rows X, int n_threads) {
  struct Sums {
    std::vector<double> s;
    Sums& operator+=(const Sums& o) {
      if (s.empty()) s.assign(o.s.size(), 0.0);
      for (size_t c = 0; c < o.s.size(); ++c) s[c] += o.s[c];
      return *this;
    }
  };
  const index_t d = X.cols;
  std::vector<double> mean = blocked_sum<Sums>(X.rows, n_threads, [&](index_t b, index_t e) {
    Sums part{std::vector<double>(static_cast<size_t>(d), 0.0)};
    for (index_t i = b; i < e; ++i) {
      for (index_t c = 0; c < d; ++c) part.s[c] += static_cast<double>(X(i, c));
    }
    return part;
  }).s;
  for (double& m : mean) m /= static_cast<double>(X.rows);
  return mean;
}

// Σ v[i] over fixed blocks of kBlock values added in order: the same bits as blocked_sum
// for values that were computed in parallel beforehand.
inline double sum_in_blocks(const double* v, index_t n) {
  double total = 0.0;
  for (index_t b = 0; b < n; b += kBlock) {
    double s = 0.0;
    for (index_t i = b; i < std::min(n, b + kBlock); ++i) s += v[i];
    total += s;
  }
  return total;
}

}  // namespace turbotsne
