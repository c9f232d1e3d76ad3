#include "turbotsne/repulsion_methods.hpp"

#include <memory>
#include <stdexcept>

namespace turbotsne {

const char* method_name(Method method) {
  switch (method) {
    case Method::kExact: return "exact";
    case Method::kBarnesHut: return "barnes_hut";
    case Method::kFft: return "fft";
  }
  return "?";
}

std::unique_ptr<Repulsion> make_repulsion(Method method, int dims, double dof,
                                          const RepulsionParams& params) {
  switch (method) {
    case Method::kExact: return std::make_unique<ExactRepulsion>(dof);
    case Method::kBarnesHut: return std::make_unique<BarnesHutRepulsion>(dims, params.theta, dof);
    case Method::kFft: return std::make_unique<FftRepulsion>(dims, dof, params.interpolation);
  }
  throw std::invalid_argument("unknown method");
}

}  // namespace turbotsne
