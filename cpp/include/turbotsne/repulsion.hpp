// Repulsive forces of the t-SNE gradient. Every method fills
//   forces_i = Σ_{j≠i} w_ij^((α+1)/α) (y_i − y_j)
// and returns the normalisation Z = Σ_{i≠j} w_ij, so the optimiser sees only "a repulsion"
// (the shape of openTSNE's kl_divergence_bh / kl_divergence_fft).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "turbotsne/common.hpp"

namespace turbotsne {

enum class Method { kExact, kBarnesHut, kFft };
const char* method_name(Method method);

// Parameters of the FFT-accelerated interpolation (method kFft); the names and defaults are
// those of FIt-SNE and openTSNE, so values carry over.
struct InterpolationParams {
  int n_interpolation_points = 3;  // p: Lagrange nodes per box and dimension
  int min_num_intervals = 50;      // boxes per dimension at least
  double ints_in_interval = 1.0;   // boxes = max(min_num_intervals, range / ints_in_interval)
  void validate() const;           // throws std::invalid_argument naming the parameter
};

struct RepulsionParams {
  double theta = 0.5;  // Barnes-Hut
  InterpolationParams interpolation;  // FFT
};

class Repulsion {
 public:
  virtual ~Repulsion() = default;
  virtual double compute(ConstMatrix Y, Matrix forces, int n_threads) = 0;
};

// All pairs, O(n²) per call: the reference, and the fastest choice for small n.
class ExactRepulsion final : public Repulsion {
 public:
  explicit ExactRepulsion(double dof);
  double compute(ConstMatrix Y, Matrix forces, int n_threads) override;

 private:
  double dof_;
  std::vector<double> z_;
};

// Barnes-Hut (van der Maaten, JMLR 2014) over a 2^d-tree for d = 1, 2, 3. A cell is summarised
// by its centre of mass when (side of the cell) < θ · (distance to its centre of mass) and the
// point is outside the cell; the side is the full side, as openTSNE counts it (bhtsne compares
// the half-width, so the same θ is more accurate here). θ = 0 is exact.
class BarnesHutRepulsion final : public Repulsion {
 public:
  BarnesHutRepulsion(int dims, double theta, double dof);
  ~BarnesHutRepulsion() override;
  double compute(ConstMatrix Y, Matrix forces, int n_threads) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The repulsion of a fixed embedding (the reference) on other points, for placing new points
// into an existing map: for each row q of `queries`,
//   forces_q = Σ_j w_qj^((α+1)/α) (y_q − y_j)   and   z[q] = Σ_j w_qj,
// j over all reference points. Barnes-Hut over a tree of the reference built once (1-3
// dimensions, θ > 0; same cell criterion as BarnesHutRepulsion), else the exact sum. Each
// query's result depends only on that query, so it is the same for any thread count.
class ReferenceRepulsion {
 public:
  // `reference` must outlive this object.
  ReferenceRepulsion(ConstMatrix reference, double theta, double dof);
  ~ReferenceRepulsion();
  void compute(ConstMatrix queries, Matrix forces, double* z, int n_threads) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::unique_ptr<Repulsion> make_repulsion(Method method, int dims, double dof,
                                          const RepulsionParams& params);

}  // namespace turbotsne
