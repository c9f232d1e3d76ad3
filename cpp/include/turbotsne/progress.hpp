// The progress protocol of the core: the stages of a run, the reports of iterations and of
// long steps, and the Observer that receives them on the calling thread and may stop the run.
#pragma once

#include "turbotsne/common.hpp"

namespace turbotsne {

// The stages of a run, as reported to an Observer.
enum class Stage { kNeighbors, kAffinities, kInit, kOptimize };
const char* stage_name(Stage stage);

struct IterationReport {
  int iteration = 0;       // 1-based number of the iteration just finished
  int n_iter = 0;          // total planned
  bool has_value = false;  // whether value was evaluated on this iteration
  // The objective before this iteration's update: t-SNE's KL(P||Q) (unexaggerated P), the
  // contrastive loss, the placed points' mean KL in transform.
  double value = 0.0;
  double grad_norm = 0.0;  // Euclidean norm of this iteration's gradient
  ConstMatrix embedding;   // the embedding after the update; may be empty (0 rows) when !has_value
};

// How far a long step of a stage has come: `done` of `total` units (a stage may have several
// steps, e.g. the approximate search's trees, then its rounds; each counts from 0).
struct ProgressReport {
  Stage stage = Stage::kNeighbors;
  // What done and total count, in words that start with a plural noun: "points", "trees",
  // "rounds", "points (initial candidates)".
  const char* unit = "points";
  index_t done = 0;
  index_t total = 0;            // for "rounds": at most (NN-descent may converge sooner)
  // NN-descent rounds: the fraction of the n·k graph entries the round just done replaced
  // (the search stops when it falls below ApproximateKnnParams::delta); -1 elsewhere.
  double changed = -1.0;
};

// Receives progress on the calling thread, never from inside a parallel region. Every method
// may throw to abort the run (the exception propagates to the caller of the core).
class Observer {
 public:
  virtual ~Observer() = default;
  // Should iteration `iteration` (1-based) evaluate the objective for its report?
  virtual bool wants_value(int /*iteration*/) const { return false; }
  // Called after every iteration; returning true stops the optimisation.
  virtual bool on_iteration(const IterationReport& /*report*/) { return false; }
  // Called when a stage finishes.
  virtual void on_stage(Stage /*stage*/, double /*seconds*/) {}
  // Called between batches of long work (parallel_for_polled) and after the steps of a
  // stage, before poll(). Cheap to ignore: the default does nothing.
  virtual void on_progress(const ProgressReport& /*report*/) {}
  // Polled between batches of long parallel work; throws to interrupt (e.g. on Ctrl-C).
  virtual void poll() {}

  // The stage now computed, which progress reports carry: set by whoever starts a stage
  // (begin_stage), so that generic loops report progress without knowing what they compute.
  Stage stage() const { return stage_; }
  void set_stage(Stage stage) { stage_ = stage; }

 private:
  Stage stage_ = Stage::kNeighbors;
};

inline void poll(Observer* observer) {
  if (observer != nullptr) observer->poll();
}

inline void begin_stage(Observer* observer, Stage stage) {
  if (observer != nullptr) observer->set_stage(stage);
}

inline void report_stage(Observer* observer, Stage stage, double seconds) {
  if (observer != nullptr) observer->on_stage(stage, seconds);
}

// Reports iteration `iteration` of n_iter to the observer, if any (see IterationReport);
// returns whether it asks the run to stop.
inline bool report_iteration(Observer* observer, int iteration, int n_iter, bool has_value,
                             double value, double grad_norm, ConstMatrix embedding) {
  if (observer == nullptr) return false;
  IterationReport report;
  report.iteration = iteration;
  report.n_iter = n_iter;
  report.has_value = has_value;
  report.value = value;
  report.grad_norm = grad_norm;
  report.embedding = embedding;
  return observer->on_iteration(report);
}

// Reports `done` of `total` units of the observer's current stage.
inline void report_progress(Observer* observer, const char* unit, index_t done, index_t total,
                            double changed = -1.0) {
  if (observer != nullptr) observer->on_progress({observer->stage(), unit, done, total, changed});
}

}  // namespace turbotsne
