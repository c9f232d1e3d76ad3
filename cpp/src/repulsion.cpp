#include "turbotsne/repulsion.hpp"

#include <stdexcept>
#include <vector>

#include "turbotsne/kernel.hpp"
#include "turbotsne/parallel.hpp"

namespace turbotsne {

Repulsion::Repulsion(double dof) : dof_(dof) { require_dof(dof); }

ExactRepulsion::ExactRepulsion(double dof) : Repulsion(dof) {}

double ExactRepulsion::compute(ConstMatrix Y, Matrix forces, int n_threads) {
  const index_t n = Y.rows;
  const index_t dims = Y.cols;
  z_.assign(static_cast<size_t>(n), 0.0);
  dispatch_kernel(dof(), [&](auto cauchy) {
    parallel_for(0, n, n_threads, [&](index_t i) {
      const double* yi = Y.row(i);
      double* fi = forces.row(i);
      for (index_t c = 0; c < dims; ++c) fi[c] = 0.0;
      double z = 0.0;
      for (index_t j = 0; j < n; ++j) {
        if (j == i) continue;
        const double* yj = Y.row(j);
        double d2 = 0.0;
        for (index_t c = 0; c < dims; ++c) {
          const double t = yi[c] - yj[c];
          d2 += t * t;
        }
        const KernelValue k = kernel_value<decltype(cauchy)::value>(d2, dof());
        z += k.w;
        for (index_t c = 0; c < dims; ++c) fi[c] += k.w_over_b * (yi[c] - yj[c]);
      }
      z_[i] = z;
    }, 16);
  });
  return sum_in_blocks(z_.data(), n);
}

}  // namespace turbotsne
