// Barnes-Hut repulsion: the t-SNE method "barnes_hut", and the repulsion of a fixed map on
// new points (transform).
#pragma once

#include <memory>
#include <vector>

#include "turbotsne/common.hpp"
#include "turbotsne/repulsion.hpp"

namespace turbotsne {

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

}  // namespace turbotsne
