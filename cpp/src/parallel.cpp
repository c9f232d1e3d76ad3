#include "turbotsne/parallel.hpp"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <thread>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace turbotsne {

int openmp_version() { return _OPENMP; }

int parallel_team_size(int n_threads) {
  int size = 0;
#pragma omp parallel num_threads(std::max(n_threads, 1))
  {
#pragma omp single
    size = omp_get_num_threads();
  }
  return size;
}

namespace {

inline void cpu_relax() {
#if defined(__SSE2__)
  _mm_pause();
#endif
}

using Clock = std::chrono::steady_clock;

// How long a waiting thread keeps the core before it yields it, and before it sleeps. The
// first covers the gap between two loops of an iteration on an idle machine (the caller's
// serial work between them is microseconds); the second bounds what a waiting thread costs
// a busy machine: after it, the thread sleeps until it is notified.
constexpr auto kSpinFor = std::chrono::microseconds(20);
constexpr auto kYieldFor = std::chrono::microseconds(200);

// Waits until ready() holds: spins, then yields, then returns false so that the caller can
// sleep (it then rechecks ready() under its lock).
template <class Ready>
bool wait_briefly(Ready&& ready) {
  const auto start = Clock::now();
  for (int round = 0;; ++round) {
    for (int s = 0; s < 64; ++s) {
      if (ready()) return true;
      cpu_relax();
    }
    const auto spent = Clock::now() - start;
    if (spent > kYieldFor) return false;
    if (spent > kSpinFor) std::this_thread::yield();
  }
}

thread_local ThreadTeam* tls_team = nullptr;
thread_local bool tls_worker = false;

}  // namespace

// The job board. `word_` packs the job's generation (high 32 bits) and the next unclaimed
// chunk (low 32 bits). Publishing a job is a seqlock: the generation turns odd while the job's
// fields are written and even again, with the chunk counter at 0, when they are ready. A
// worker reads the word, then the fields, then claims a chunk by compare-and-swap of the word
// it read: the swap succeeds only if no new job was started in between, so the fields it read
// are the claimed job's, and that job cannot end (its caller waits for every chunk) before the
// claimed chunk is done.
class ThreadTeam {
 public:
  explicit ThreadTeam(int n_threads) : n_threads_(n_threads) {}
  int size() const { return n_threads_; }

  void run(index_t n_chunks, void (*chunk)(void*, index_t), void* context) {
    // Publish: odd generation, fields, even generation with counter 0.
    const std::uint64_t generation = (word_.load(std::memory_order_relaxed) >> 32) + 1;
    word_.store(generation << 32, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    chunk_.store(chunk, std::memory_order_relaxed);
    context_.store(context, std::memory_order_relaxed);
    n_chunks_.store(n_chunks, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    word_.store((generation + 1) << 32, std::memory_order_seq_cst);  // release, and before sleeping_
    if (sleeping_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      work_ready_.notify_all();
    }
    // The caller works too, then waits only for chunks already claimed by workers.
    while (claim_and_run()) {
    }
    auto finished = [&] { return done_.load(std::memory_order_seq_cst) == n_chunks; };
    if (!wait_briefly(finished)) {
      std::unique_lock<std::mutex> lock(mutex_);
      caller_waiting_.store(true, std::memory_order_seq_cst);
      all_done_.wait(lock, finished);
      caller_waiting_.store(false, std::memory_order_relaxed);
    }
  }

  // The loop of a worker, until stop().
  void serve() {
    std::uint64_t seen = 0;  // the last generation this worker worked on
    for (;;) {
      auto news = [&] {
        const std::uint64_t g = word_.load(std::memory_order_acquire) >> 32;
        return stop_.load(std::memory_order_acquire) || (g != seen && g % 2 == 0);
      };
      if (!wait_briefly(news)) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_.fetch_add(1, std::memory_order_seq_cst);
        work_ready_.wait(lock, news);
        sleeping_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (stop_.load(std::memory_order_acquire)) return;
      seen = word_.load(std::memory_order_acquire) >> 32;
      while (claim_and_run()) {
      }
    }
  }

  void stop() {
    stop_.store(true, std::memory_order_seq_cst);
    std::lock_guard<std::mutex> lock(mutex_);
    work_ready_.notify_all();
  }

 private:
  // Claims one chunk of the current job and runs it; false when none is left.
  bool claim_and_run() {
    for (;;) {
      std::uint64_t word = word_.load(std::memory_order_acquire);
      if ((word >> 32) % 2 == 1) return false;  // a job is being published: none to claim
      auto* chunk = chunk_.load(std::memory_order_relaxed);
      void* context = context_.load(std::memory_order_relaxed);
      const index_t n_chunks = n_chunks_.load(std::memory_order_relaxed);
      const index_t c = static_cast<index_t>(word & 0xffffffffu);
      if (c >= n_chunks) return false;
      // Fields read from a newer job imply that its odd generation is visible to the swap.
      std::atomic_thread_fence(std::memory_order_acquire);
      if (!word_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel)) continue;
      chunk(context, c);
      if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == n_chunks &&
          caller_waiting_.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lock(mutex_);
        all_done_.notify_all();
      }
      return true;
    }
  }

  const int n_threads_;
  std::atomic<std::uint64_t> word_{0};
  std::atomic<void (*)(void*, index_t)> chunk_{nullptr};
  std::atomic<void*> context_{nullptr};
  std::atomic<index_t> n_chunks_{0};
  std::atomic<index_t> done_{0};
  std::atomic<int> sleeping_{0};
  std::atomic<bool> caller_waiting_{false};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable all_done_;
};

namespace detail {

ThreadTeam* current_team() { return tls_team; }
bool in_team_worker() { return tls_worker; }

void run_on_team(ThreadTeam& team, index_t n_chunks, void (*chunk)(void*, index_t), void* context) {
  // The chunk counter has 32 bits; a loop with more chunks than that runs in pieces.
  constexpr index_t kMaxChunks = index_t{1} << 31;
  struct Offset {
    void (*chunk)(void*, index_t);
    void* context;
    index_t first;
  };
  for (index_t first = 0; first < n_chunks; first += kMaxChunks) {
    Offset piece{chunk, context, first};
    team.run(std::min(kMaxChunks, n_chunks - first),
             [](void* p, index_t c) {
               auto* o = static_cast<Offset*>(p);
               o->chunk(o->context, o->first + c);
             },
             &piece);
  }
}

}  // namespace detail

void with_thread_team(int n_threads, const std::function<void()>& body) {
  if (n_threads <= 1 || tls_team != nullptr || tls_worker) {
    body();
    return;
  }
  ThreadTeam team(n_threads);
  std::exception_ptr error;
#pragma omp parallel num_threads(n_threads)
  {
    if (omp_get_thread_num() == 0) {
      tls_team = &team;
      try {
        body();
      } catch (...) {
        error = std::current_exception();
      }
      tls_team = nullptr;
      team.stop();
    } else {
      tls_worker = true;
      team.serve();
      tls_worker = false;
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace turbotsne
