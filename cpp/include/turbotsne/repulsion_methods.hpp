// The t-SNE `method` parameter: which repulsion the optimiser gets, and its parameters.
#pragma once

#include <memory>

#include "turbotsne/repulsion.hpp"
#include "turbotsne/repulsion_barnes_hut.hpp"
#include "turbotsne/repulsion_fft.hpp"

namespace turbotsne {

enum class Method { kExact, kBarnesHut, kFft };
const char* method_name(Method method);

struct RepulsionParams {
  double theta = 0.5;                 // Barnes-Hut
  InterpolationParams interpolation;  // FFT
};

// The repulsion of `method` for a dims-dimensional embedding and Student-t dof.
std::unique_ptr<Repulsion> make_repulsion(Method method, int dims, double dof,
                                          const RepulsionParams& params);

}  // namespace turbotsne
