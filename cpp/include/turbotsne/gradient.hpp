// The t-SNE objective KL(P‖Q) and its gradient over a sparse P.
#pragma once

#include <cmath>

#include "turbotsne/common.hpp"
#include "turbotsne/dot_tiles.hpp"
#include "turbotsne/repulsion.hpp"

namespace turbotsne {

// The attraction's share of KL(P‖Q) = Σ p log(p / w) + (Σ p) log Z: `kl` is the first sum and
// `mass` Σ p (1 up to the float32 rounding of P's values, which it keeps out of the KL).
struct KlTerms {
  double kl = 0.0;
  double mass = 0.0;
  KlTerms& operator+=(const KlTerms& other) {
    kl += other.kl;
    mass += other.mass;
    return *this;
  }
  double with_z(double z) const { return kl + mass * std::log(z); }
};

// forces_i = Σ_j p_ij w_ij^(1/α) (y_i − y_j) over the stored entries of P. Returns the KL
// terms when with_kl, else zeros.
KlTerms compute_attraction(const CsrView& P, ConstMatrix Y, double dof, bool with_kl,
                           Matrix forces, int n_threads);

// compute_attraction for 2-D Y with its loop chosen, for the tests: kBaseline the SSE2 loop
// on x86-64 (attraction_rows's elsewhere), kAvx2 (or kAvx512) the AVX2 one with or without
// prefetches (std::invalid_argument where the processor or build lacks it), kBest the one
// compute_attraction takes. All but the non-SSE2 loop give the same bits.
KlTerms compute_attraction_2d(const CsrView& P, ConstMatrix Y, double dof, bool with_kl,
                              Matrix forces, int n_threads, SimdLevel level, bool prefetch);

struct GradientStats {
  double z = 0.0;   // normalisation of Q (exact or estimated, per the repulsion method)
  double kl = 0.0;  // KL(P‖Q) for the unexaggerated P, when requested
};

// Seconds spent in the two halves of compute_gradient, accumulated over calls.
struct GradientTimings {
  double attraction = 0.0;  // the sparse sum over P (and combining it with the repulsion)
  double repulsion = 0.0;   // Repulsion::compute
};

// grad = exaggeration · attraction − repulsion / Z, which is ∂KL/∂Y / 4: the scale on which
// bhtsne, openTSNE and FIt-SNE define their learning rates (scikit-learn keeps the 4).
// The attraction uses the repulsion's kernel (repulsion.dof()). `work` is caller-provided
// scratch of the same shape as Y.
GradientStats compute_gradient(const CsrView& P, ConstMatrix Y, Repulsion& repulsion,
                               double exaggeration, bool with_kl, Matrix grad, Matrix work,
                               int n_threads,
                               GradientTimings* timings = nullptr);

// ∂KL/∂Y itself (with P exaggerated), 4 × compute_gradient's grad: what the numpy reference
// gradients of the tests compute. Allocates its own scratch.
GradientStats kl_gradient(const CsrView& P, ConstMatrix Y, Repulsion& repulsion,
                          double exaggeration, Matrix grad, int n_threads);

// Exact KL(P‖Q) with Z summed over all pairs (O(n²)). P must sum to 1.
double kl_divergence_exact(const CsrView& P, ConstMatrix Y, double dof, int n_threads);

}  // namespace turbotsne
