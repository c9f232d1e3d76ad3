#include "turbotsne/transform.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "turbotsne/optimizer.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/repulsion_barnes_hut.hpp"

namespace turbotsne {

void TransformParams::validate() const {
  require(n_iter >= 0, "n_iter must be >= 0");
  require(positive_finite(learning_rate), "learning_rate must be positive and finite");
  require(positive_finite(exaggeration), "exaggeration must be positive and finite");
  require(momentum >= 0.0 && momentum < 1.0, "momentum must be in [0, 1)");
  require(positive_finite(min_gain), "min_gain must be positive and finite");
  require(!max_step_norm || positive_finite(*max_step_norm),
          "max_step_norm must be positive and finite");
  // theta and dof: by ReferenceRepulsion, built before any work.
}

namespace {

TransformResult optimize_new_points_on_team(const CsrView& P, ConstMatrix reference, Matrix Y,
                                            const TransformParams& params, int n_threads,
                                            Observer* observer) {
  const index_t m = Y.rows;
  const index_t dims = Y.cols;
  if (P.n_rows != m) throw std::invalid_argument("P must have one row per new point");
  if (reference.cols != dims) {
    throw std::invalid_argument("the new points and the reference have different dimensions");
  }
  for (index_t e = 0; e < P.nnz(); ++e) {
    if (P.indices[e] < 0 || P.indices[e] >= reference.rows) {
      throw std::invalid_argument("P has a column outside the reference embedding");
    }
  }
  const ReferenceRepulsion repulsion(reference, params.theta, params.dof);
  std::vector<double> forces(static_cast<size_t>(m * dims)), z(static_cast<size_t>(m));
  std::vector<double> update(static_cast<size_t>(m * dims), 0.0), gains(update.size(), 1.0);
  std::vector<double> kl_per_point(static_cast<size_t>(m), 0.0);
  const Matrix F{forces.data(), m, dims};
  const double inv_dof = 1.0 / params.dof;

  // One gradient step for every point (or, with step == false, only the KL terms).
  auto iterate = [&](bool step, bool with_kl) {
    repulsion.compute(Y, F, z.data(), n_threads);
    parallel_for(0, m, n_threads, [&](index_t q) {
      double* yq = Y.row(q);
      // The gradient (∂KL_q/∂y_q / 2; the 2 is in the learning rate) is built in place of the
      // repulsion: −forces / Z_q, plus exaggeration × the attraction.
      double* g = F.row(q);
      for (index_t c = 0; c < dims; ++c) g[c] = -g[c] / z[q];
      double kl = 0.0, mass = 0.0;
      for (std::int64_t e = P.indptr[q]; e < P.indptr[q + 1]; ++e) {
        const double* yj = reference.row(P.indices[e]);
        double d2 = 0.0;
        for (index_t c = 0; c < dims; ++c) d2 += (yq[c] - yj[c]) * (yq[c] - yj[c]);
        const double b = 1.0 + d2 * inv_dof;  // w^(1/α) = 1/b
        const double p = P.values[e];
        const double s = params.exaggeration * p / b;
        for (index_t c = 0; c < dims; ++c) g[c] += s * (yq[c] - yj[c]);
        if (with_kl && p > 0.0) kl += p * (std::log(p) + params.dof * std::log(b));
        mass += p;
      }
      if (with_kl) kl_per_point[q] = kl + mass * std::log(z[q]);
      if (!step) return;
      double unused = 0.0;
      descend_point(g, &update[q * dims], &gains[q * dims], yq, dims, params.momentum,
                    params.learning_rate, params.min_gain, params.max_step_norm, unused);
    }, 64);
  };

  TransformResult result;
  for (int it = 1; it <= params.n_iter; ++it) {
    const bool with_kl = observer != nullptr && observer->wants_value(it);
    iterate(true, with_kl);
    result.n_iter = it;
    const double kl =
        with_kl ? sum_in_blocks(kl_per_point.data(), m) / static_cast<double>(m) : 0.0;
    if (report_iteration(observer, it, params.n_iter, with_kl, kl, 0.0, Y)) {
      result.stopped = true;
      break;
    }
  }
  iterate(false, true);
  result.kl = m > 0 ? sum_in_blocks(kl_per_point.data(), m) / static_cast<double>(m) : 0.0;
  return result;
}

}  // namespace

TransformResult optimize_new_points(const CsrView& P, ConstMatrix reference, Matrix Y,
                                    const TransformParams& params, int n_threads,
                                    Observer* observer) {
  params.validate();
  return on_thread_team(n_threads, [&] {
    return optimize_new_points_on_team(P, reference, Y, params, n_threads, observer);
  });
}

}  // namespace turbotsne
