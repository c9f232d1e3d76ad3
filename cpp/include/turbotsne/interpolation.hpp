// FFT-accelerated interpolation of the repulsive forces (Linderman, Rachh, Hoskins,
// Steinerberger, Kluger, Nature Methods 2019: "FIt-SNE"), for 1-D and 2-D embeddings.
//
// Each iteration: (1) a square grid of boxes over the embedding's range, p Lagrange nodes
// per box and dimension at the midpoints of equal sub-intervals; (2) the points' charges are
// spread to the nodes of their box with the Lagrange weights; (3) the node-node kernel sums
// are a Toeplitz product, done as a zero-padded FFT convolution; (4) the node potentials are
// interpolated back to the points with the same weights. For dof = 1 one squared-kernel
// convolution per charge (1, y, |y|² and the coordinates) gives both the forces and Z; for
// other dof, w^((α+1)/α) gives the forces and w itself Z.
#pragma once

#include <memory>

#include "turbotsne/common.hpp"
#include "turbotsne/repulsion.hpp"

namespace turbotsne {

// Time spent in the parts of the last compute() call, in seconds.
struct InterpolationTimings {
  double grid = 0.0;         // bounding box, box assignment, Lagrange weights, sort by box
  double spread = 0.0;       // charges to nodes
  double fft = 0.0;          // kernel and charge transforms, products, inverse transforms
  double interpolate = 0.0;  // node potentials back to the points, forces and Z
};

class FftRepulsion final : public Repulsion {
 public:
  FftRepulsion(int dims, double dof, InterpolationParams params);
  ~FftRepulsion() override;
  double compute(ConstMatrix Y, Matrix forces, int n_threads) override;

  const InterpolationTimings& last_timings() const;
  int last_boxes_per_dim() const;  // grid size chosen by the last call
  int last_fft_size() const;       // transform length per dimension of the last call

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Boxes per dimension for an embedding of the given range (the peers' convention, rounded up
// to a size of the form 2^a 3^b 5^c so that the transforms are fast).
int interpolation_boxes(double range, const InterpolationParams& params);

}  // namespace turbotsne
