// FFT-accelerated interpolation of the repulsive forces (Linderman, Rachh, Hoskins,
// Steinerberger, Kluger, Nature Methods 2019: "FIt-SNE"), for 1-D and 2-D embeddings.
//
// Each iteration: (1) a square grid of boxes over the embedding's range, p Lagrange nodes
// per box and dimension at the midpoints of equal sub-intervals; (2) the points' charges are
// spread to the nodes of their box with the Lagrange weights; (3) the node-node kernel sums
// are a Toeplitz product, done as a zero-padded FFT convolution; (4) the node potentials are
// interpolated back to the points with the same weights. The forces need the convolutions of
// the charges 1 and y (one per dimension) with the repulsive kernel w^((α+1)/α). Z needs no
// convolution of its own: for dof = 1 it comes from the spread |y|² charge too (against the
// 2-D node potentials, or by Parseval over the 1-D spectra), for other dof from the spectrum
// of w (see convolve_1d / convolve_2d).
//
// The method's name in the API is "fft"; the transforms themselves are in fft.hpp.
#pragma once

#include <memory>

#include "turbotsne/common.hpp"
#include "turbotsne/repulsion.hpp"

namespace turbotsne {

// Parameters of the interpolation; the names and defaults are those of FIt-SNE and openTSNE,
// so values carry over.
struct InterpolationParams {
  int n_interpolation_points = 3;  // p: Lagrange nodes per box and dimension
  int min_num_intervals = 50;      // boxes per dimension at least
  double ints_in_interval = 1.0;   // boxes = max(min_num_intervals, range / ints_in_interval)
  void validate() const;           // throws std::invalid_argument naming the parameter
};

// Boxes per dimension of the grid over an embedding of n points in dims (1 or 2) dimensions
// whose coordinates span `range` (see the definition for the rule and its caps).
int fft_boxes_per_dim(double range, index_t n, int dims, const InterpolationParams& params);

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

}  // namespace turbotsne
