// Repulsive forces of the t-SNE gradient: the contract every method fills, and the exact
// all-pairs sum. Barnes-Hut is in repulsion_barnes_hut.hpp, the FFT interpolation in
// repulsion_fft.hpp, the choice among them (the `method` parameter) in repulsion_methods.hpp.
#pragma once

#include <vector>

#include "turbotsne/common.hpp"

namespace turbotsne {

// Every method fills
//   forces_i = Σ_{j≠i} w_ij^((α+1)/α) (y_i − y_j)
// and returns the normalisation Z = Σ_{i≠j} w_ij, so the optimiser sees only "a repulsion"
// (the shape of openTSNE's kl_divergence_bh / kl_divergence_fft).
class Repulsion {
 public:
  explicit Repulsion(double dof);  // throws std::invalid_argument unless dof > 0 and finite
  virtual ~Repulsion() = default;
  virtual double compute(ConstMatrix Y, Matrix forces, int n_threads) = 0;
  // α of the Student-t kernel w = (1 + d²/α)^(−α) it sums (1: t-SNE's); the attraction of a
  // gradient uses the same kernel, so this is where the optimiser takes it from.
  double dof() const { return dof_; }

 private:
  double dof_;
};

// All pairs, O(n²) per call: the reference, and the fastest choice for small n.
class ExactRepulsion final : public Repulsion {
 public:
  explicit ExactRepulsion(double dof);
  double compute(ConstMatrix Y, Matrix forces, int n_threads) override;

 private:
  std::vector<double> z_;
};

}  // namespace turbotsne
