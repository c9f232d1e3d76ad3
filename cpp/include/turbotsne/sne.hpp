// The SNE family t-SNE grew from, with exact O(n²) gradients:
//   SNE (Hinton & Roweis, NIPS 2002): conditional p_j|i and q_j|i ∝ exp(−‖y_i − y_j‖²),
//     cost Σ_i KL(P_i ‖ Q_i);
//   symmetric SNE (van der Maaten & Hinton, JMLR 2008, §3.1): joint P, q_ij ∝ exp(−d_ij²)
//     over all ordered pairs, cost KL(P ‖ Q);
//   UNI-SNE (Cook, Sutskever, Mnih & Hinton, AISTATS 2007): symmetric SNE's Q mixed with a
//     uniform background, q_ij = (1 − ρ) g_ij / Z + ρ / (n (n − 1)), so that no pair's q
//     falls below ρ / (n (n − 1)) however far apart its points are.
// t-SNE itself (the Student-t Q) is gradient.hpp's, with the Barnes-Hut and FFT repulsions;
// these Gaussian kernels have no such approximation here, so they are exact only.
#pragma once

#include "turbotsne/common.hpp"
#include "turbotsne/optimizer.hpp"
#include "turbotsne/progress.hpp"

namespace turbotsne {

enum class Objective { tsne, sne, symmetric_sne, uni_sne };

// What an SNE-family gradient needs besides P and Y. P: for SNE, the conditional
// probabilities (each row sums to 1, the diagonal empty); for the others the joint P
// (symmetric, summing to 1).
struct SneObjective {
  Objective objective = Objective::symmetric_sne;
  double background = 0.0;  // UNI-SNE's ρ in [0, 1); 0 for the others
};

// The cost C of `objective` at Y (with P's entries multiplied by `exaggeration` in the
// attraction, as early exaggeration does; the cost itself is of the unexaggerated P) and
// its gradient ∂C/∂Y, written to grad (n × dims), both exact. For SNE, `transposed` must be
// Pᵀ (csr_transpose below); otherwise it is unused.
double sne_gradient(const SneObjective& objective, const CsrView& P, const CsrView& transposed,
                    ConstMatrix Y, double exaggeration, Matrix grad, int n_threads);

// Pᵀ of an n × n CSR matrix, rows sorted by column (a counting sort: deterministic).
CsrMatrix csr_transpose(const CsrView& P);

// UNI-SNE's background at iteration `iteration` of `params`: off (0) through early
// exaggeration, as Cook et al. switch it on only once the map has formed, then raised
// linearly to `background` over the next half of the remaining iterations and kept there.
double background_at(double background, int iteration, const OptimizerParams& params);

struct SneResult {
  int n_iter = 0;
  double cost = 0.0;  // the objective at the final embedding (ρ at its final value)
  bool stopped = false;
  double seconds = 0.0;  // the optimisation
};

// Gradient descent on the objective, with optimize()'s schedule (gains, momentum, early
// exaggeration, step clipping), from Y (written in place). The gradient descended is
// ∂C/∂Y / 4 for the joint objectives (t-SNE's scale, so the same learning rates apply) and
// ∂C/∂Y / (4 n) for SNE, whose cost sums n conditional divergences.
SneResult optimize_sne(const SneObjective& objective, const CsrView& P, Matrix Y,
                       const OptimizerParams& params, int n_threads, Observer* observer = nullptr);

}  // namespace turbotsne
