// Placing new points into an existing embedding (openTSNE's `transform`, Poličar et al. 2019):
// the reference embedding stays fixed and each new point q minimises its own
//   KL(p_·|q ‖ q_·|q),   q_j|q = w_qj / Σ_k w_qk   (j over the reference points),
// where p_·|q are the new point's conditional affinities to its nearest reference points.
// The points do not interact, so each one's path depends only on itself: the result is the
// same for any thread count.
#pragma once

#include <optional>

#include "turbotsne/common.hpp"
#include "turbotsne/progress.hpp"

namespace turbotsne {

struct TransformParams {
  int n_iter = 100;
  double learning_rate = 1.0;
  double exaggeration = 1.0;  // factor on the attraction
  double momentum = 0.5;
  double min_gain = 0.01;
  // Longest step a point may take in one iteration (as OptimizerParams::max_step_norm).
  std::optional<double> max_step_norm = 1.0;
  double dof = 1.0;    // α of the Student-t kernel
  double theta = 0.5;  // Barnes-Hut over the reference (0: exact sums)

  // Throws std::invalid_argument naming the parameter; theta and dof are checked where they
  // are used (ReferenceRepulsion).
  void validate() const;
};

struct TransformResult {
  int n_iter = 0;
  double kl = 0.0;  // mean over the new points of their KL(p_·|q ‖ q_·|q) at the end
  bool stopped = false;
};

// P: one row per new point (rows summing to 1), columns index the rows of `reference`.
// Y: the new points' initial positions on entry (P.n_rows x reference.cols), optimised in place.
TransformResult optimize_new_points(const CsrView& P, ConstMatrix reference, Matrix Y,
                                    const TransformParams& params, int n_threads,
                                    Observer* observer = nullptr);

}  // namespace turbotsne
