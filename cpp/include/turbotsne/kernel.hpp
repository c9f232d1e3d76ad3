// The heavy-tailed Student-t kernel of the embedding (Kobak et al., ECML 2019):
//   w(d²) = (1 + d²/α)^(−α),   α = dof;  α = 1 is t-SNE's Cauchy kernel.
// With b = 1 + d²/α the gradient of KL needs w^(1/α) = 1/b (attraction) and
// w^((α+1)/α) = w/b (repulsion), so only the repulsion needs a power.
#pragma once

#include <cmath>

#include "turbotsne/common.hpp"

namespace turbotsne {

// The one check of α, for every entry point that takes it.
inline void require_dof(double dof) { require(positive_finite(dof), "dof must be positive and finite"); }

struct KernelValue {
  double w;         // the kernel
  double w_over_b;  // w^((α+1)/α), the repulsive weight
};

template <bool kCauchy>
inline KernelValue kernel_value(double d2, double dof) {
  if constexpr (kCauchy) {
    const double w = 1.0 / (1.0 + d2);
    return {w, w * w};
  } else {
    const double b = 1.0 + d2 / dof;
    const double w = std::pow(b, -dof);
    return {w, w / b};
  }
}

// Calls f.template operator()<kCauchy>() with kCauchy = (dof == 1), so hot loops get a
// compile-time kernel.
template <class F>
decltype(auto) dispatch_kernel(double dof, F&& f) {
  if (dof == 1.0) return f(std::true_type{});
  return f(std::false_type{});
}

}  // namespace turbotsne
