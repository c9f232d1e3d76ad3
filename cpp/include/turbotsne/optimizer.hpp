// Gradient descent with momentum and per-coordinate gains (Jacobs 1988), as in bhtsne,
// openTSNE and FIt-SNE, with early exaggeration.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <vector>

#include "turbotsne/common.hpp"
#include "turbotsne/gradient.hpp"
#include "turbotsne/progress.hpp"
#include "turbotsne/repulsion.hpp"

namespace turbotsne {

struct OptimizerParams {
  int n_iter = 750;                 // total, early exaggeration included
  // 200, not the peers' 250: the early phase's embedding stops changing by ~150 iterations
  // (MNIST, Fashion-MNIST), and 50 more iterations after it raise recall@10 by ~0.003 and
  // lower the KL on every shared set, the total still 750 (README, "How the defaults were
  // chosen").
  int early_exaggeration_iter = 200;
  double early_exaggeration = 12.0;
  double exaggeration = 1.0;        // after the early phase
  // On the bhtsne/openTSNE/FIt-SNE scale, in both phases. Unset: "auto", n / (the phase's
  // exaggeration) and at least 50: n / early_exaggeration during early exaggeration (Belkina
  // et al. 2019; Linderman et al. 2019), n / exaggeration after it (openTSNE >= 1.0).
  std::optional<double> learning_rate;
  // After the early phase only, when set (overrides learning_rate there).
  std::optional<double> late_learning_rate;
  // 0.8 in both phases (openTSNE's default; bhtsne and FIt-SNE use 0.5 early): with the
  // learning rate n after early exaggeration it reached a lower exact KL than 0.5 early on
  // CBMC (2.455 vs 2.499) with 10-NN accuracy and recall@10 as good, and as low a KL on digits,
  // Zeisel and MNIST 20k (bench/choose_auto.py lr; the README has the table).
  double momentum_early = 0.8;
  double momentum_late = 0.8;
  double min_gain = 0.01;
  // Longest step a point may take in one iteration (Euclidean norm of its update, which is
  // clipped to it; the clipped update is what momentum carries on). A few points with little
  // attraction can otherwise be thrown hundreds of units away by a large learning rate and
  // gains, and the FFT method's grid, which spans all points, grows with them (1M blobs: one
  // point at 1,000 units while 99.99% lie within 40). The idea and the default 5 are
  // openTSNE's (max_step_norm, Poličar et al.). Unset: no clipping.
  std::optional<double> max_step_norm = 5.0;

  void validate() const;  // throws std::invalid_argument naming the parameter
  // The learning rate of the early phase (early = true) or of the phase after it, for n points.
  double resolved_learning_rate(index_t n, bool early = true) const;
};

// One point's step of gradient descent: per-coordinate gains grow (+0.2) where the gradient
// turned against the last step and shrink (×0.8, at least min_gain) where it keeps its
// direction (the sign rule of openTSNE's gradient_descent); momentum carries the update, which
// is shortened to max_step_norm when longer; y moves by it. Adds Σ g² to grad_norm2.
inline void descend_point(const double* g, double* update, double* gains, double* y,
                          index_t dims, double momentum, double learning_rate, double min_gain,
                          const std::optional<double>& max_step_norm, double& grad_norm2) {
  double step2 = 0.0;
  for (index_t c = 0; c < dims; ++c) {
    double gain = ((g[c] > 0.0) != (update[c] > 0.0)) ? gains[c] + 0.2 : gains[c] * 0.8;
    gain = std::max(gain, min_gain);
    gains[c] = gain;
    update[c] = momentum * update[c] - learning_rate * gain * g[c];
    step2 += update[c] * update[c];
    grad_norm2 += g[c] * g[c];
  }
  if (max_step_norm && step2 > *max_step_norm * *max_step_norm) {
    const double scale = *max_step_norm / std::sqrt(step2);
    for (index_t c = 0; c < dims; ++c) update[c] *= scale;
  }
  for (index_t c = 0; c < dims; ++c) y[c] += update[c];
}

struct OptimizeResult {
  int n_iter = 0;        // iterations done
  double kl = 0.0;       // KL(P‖Q) at the final embedding (Z per the repulsion method)
  bool stopped = false;  // the observer asked to stop early
  // Seconds, summed over the iterations and the final KL evaluation.
  double attraction = 0.0;  // sparse attraction over P
  double repulsion = 0.0;   // the repulsion method (exact, Barnes-Hut or FFT)
  double update = 0.0;      // gains, momentum, step and recentring
};

// What the optimiser carries from one iteration to the next besides the embedding: each
// coordinate's last update (which momentum carries on) and its gain. Kept between the stages
// of one optimisation (TSNE.optimize), so that a run continued in stages is the same, bit for
// bit, as one run of the same schedule. Empty: not started.
struct OptimizerState {
  std::vector<double> update;
  std::vector<double> gains;
  bool started() const { return !update.empty(); }
};

// Optimises Y in place. P: symmetric, summing to 1. Each iteration computes the gradient,
// updates gains and momentum, moves the points and recentres them at the origin. With
// `state`: a state not started is started (zero updates, unit gains, Y recentred first, as
// without a state), a started one is continued (Y as it is: the previous stage left it
// centred) and left as the last iteration leaves it.
OptimizeResult optimize(const CsrView& P, Matrix Y, Repulsion& repulsion,
                        const OptimizerParams& params, int n_threads,
                        Observer* observer = nullptr, OptimizerState* state = nullptr);

// optimize without checking params and without starting a thread team: for callers that
// checked params at their own entry point and already run on a team (run_tsne).
OptimizeResult optimize_on_team(const CsrView& P, Matrix Y, Repulsion& repulsion,
                                const OptimizerParams& params, int n_threads, Observer* observer,
                                OptimizerState* state = nullptr);

// The gradient an optimisation descends, for iteration `iteration` (1-based) and its
// exaggeration: fills grad on the learning rate's scale and returns the objective's value
// in GradientStats::kl when with_value.
using GradientFn = std::function<GradientStats(int iteration, double exaggeration,
                                               bool with_value, Matrix grad)>;

// The loop of optimize_on_team for any gradient (the SNE family of sne.hpp): the same
// gains, momentum, step clipping, recentring, state and observer. The result's attraction
// and repulsion times are left at zero.
OptimizeResult optimize_gradient_on_team(Matrix Y, const OptimizerParams& params, int n_threads,
                                        Observer* observer, OptimizerState* state,
                                        const GradientFn& gradient);

}  // namespace turbotsne
