#include "turbotsne/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "turbotsne/gradient.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/stopwatch.hpp"

namespace turbotsne {
namespace {

// Subtracts the column means from Y (sums over fixed blocks: independent of threads).
void recentre(Matrix Y, int n_threads) {
  const index_t dims = Y.cols;
  const std::vector<double> mean = column_means(Y, n_threads);
  parallel_for(0, Y.rows, n_threads, [&](index_t i) {
    for (index_t c = 0; c < dims; ++c) Y(i, c) -= mean[c];
  }, 1024);
}

}  // namespace

void OptimizerParams::validate() const {
  require(n_iter >= 1, "n_iter must be >= 1, got " + std::to_string(n_iter));
  require(early_exaggeration_iter >= 0,
          "early_exaggeration_iter must be >= 0, got " + std::to_string(early_exaggeration_iter));
  require(positive_finite(early_exaggeration), "early_exaggeration must be positive and finite");
  require(positive_finite(exaggeration), "exaggeration must be positive and finite");
  require(!learning_rate || positive_finite(*learning_rate),
          "learning_rate must be positive and finite");
  require(!late_learning_rate || positive_finite(*late_learning_rate),
          "late_learning_rate must be positive and finite");
  require(momentum_early >= 0.0 && momentum_early < 1.0, "momentum must be in [0, 1)");
  require(momentum_late >= 0.0 && momentum_late < 1.0, "momentum must be in [0, 1)");
  require(positive_finite(min_gain), "min_gain must be positive");
  require(!max_step_norm || positive_finite(*max_step_norm),
          "max_step_norm must be positive and finite");
}

double OptimizerParams::resolved_learning_rate(index_t n, bool early) const {
  if (!early && late_learning_rate) return *late_learning_rate;
  if (learning_rate) return *learning_rate;
  return std::max(static_cast<double>(n) / (early ? early_exaggeration : exaggeration), 50.0);
}

OptimizeResult optimize_gradient_on_team(Matrix Y, const OptimizerParams& params, int n_threads,
                                        Observer* observer, OptimizerState* state,
                                        const GradientFn& gradient) {
  const index_t size = Y.size();
  const double early_learning_rate = params.resolved_learning_rate(Y.rows, true);
  const double late_learning_rate = params.resolved_learning_rate(Y.rows, false);
  OptimizerState local;
  OptimizerState& carried = state != nullptr ? *state : local;
  const bool resume = carried.started();
  if (resume && (carried.update.size() != static_cast<size_t>(size) ||
                 carried.gains.size() != static_cast<size_t>(size))) {
    throw std::invalid_argument("optimize: the optimizer state does not match Y's shape");
  }
  if (!resume) {
    carried.update.assign(static_cast<size_t>(size), 0.0);
    carried.gains.assign(static_cast<size_t>(size), 1.0);
  }
  std::vector<double>& update = carried.update;
  std::vector<double>& gains = carried.gains;
  std::vector<double> grad(size);
  Matrix G{grad.data(), Y.rows, Y.cols};

  OptimizeResult result;
  double update_time = 0.0;
  if (!resume) recentre(Y, n_threads);
  for (int it = 1; it <= params.n_iter; ++it) {
    const bool early = it <= params.early_exaggeration_iter;
    const double exaggeration = early ? params.early_exaggeration : params.exaggeration;
    const double momentum = early ? params.momentum_early : params.momentum_late;
    const double learning_rate = early ? early_learning_rate : late_learning_rate;
    const bool with_kl = observer != nullptr && observer->wants_value(it);
    const GradientStats stats = gradient(it, exaggeration, with_kl, G);
    Stopwatch update_watch;
    const index_t dims = Y.cols;
    const double grad_norm2 = blocked_sum<double>(Y.rows, n_threads, [&](index_t b, index_t e) {
      double s = 0.0;
      for (index_t i = b; i < e; ++i) {
        const index_t k = i * dims;
        descend_point(&grad[k], &update[k], &gains[k], Y.data + k, dims, momentum, learning_rate,
                      params.min_gain, params.max_step_norm, s);
      }
      return s;
    });
    recentre(Y, n_threads);
    update_time += update_watch.lap();
    result.n_iter = it;
    if (report_iteration(observer, it, params.n_iter, with_kl, stats.kl, std::sqrt(grad_norm2),
                         Y)) {
      result.stopped = true;
      break;
    }
  }
  // The objective at the final embedding: one more evaluation, without exaggeration, at the
  // last iteration's schedule.
  result.kl = gradient(std::max(result.n_iter, 1), 1.0, true, G).kl;
  result.update = update_time;
  return result;
}

OptimizeResult optimize_on_team(const CsrView& P, Matrix Y, Repulsion& repulsion,
                                const OptimizerParams& params, int n_threads, Observer* observer,
                                OptimizerState* state) {
  if (P.n_rows != Y.rows) throw std::invalid_argument("optimize: P and Y disagree on n");
  std::vector<double> work(Y.size());
  Matrix W{work.data(), Y.rows, Y.cols};
  GradientTimings gradient_time;
  OptimizeResult result = optimize_gradient_on_team(
      Y, params, n_threads, observer, state,
      [&](int, double exaggeration, bool with_kl, Matrix G) {
        return compute_gradient(P, Y, repulsion, exaggeration, with_kl, G, W, n_threads,
                                &gradient_time);
      });
  result.attraction = gradient_time.attraction;
  result.repulsion = gradient_time.repulsion;
  return result;
}

OptimizeResult optimize(const CsrView& P, Matrix Y, Repulsion& repulsion,
                        const OptimizerParams& params, int n_threads, Observer* observer,
                        OptimizerState* state) {
  params.validate();
  // The iterations' many short loops run on one team of threads (see ThreadTeam).
  return on_thread_team(n_threads, [&] {
    return optimize_on_team(P, Y, repulsion, params, n_threads, observer, state);
  });
}

}  // namespace turbotsne
