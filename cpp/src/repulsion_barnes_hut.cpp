#include "turbotsne/repulsion_barnes_hut.hpp"

#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "turbotsne/kernel.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/space_tree.hpp"

namespace turbotsne {

namespace {

void require_theta(double theta) {
  require(theta >= 0.0 && std::isfinite(theta), "theta must be finite and >= 0");
}

// The Barnes-Hut sum for one point at y: adds Σ_j w_j^((α+1)/α) (y − y_j) over the tree's
// points (row `self` skipped; -1 skips none) to f and returns Σ_j w_j.
template <int D, bool kCauchy>
double barnes_hut_point(const SpaceTree<D>& tree, ConstMatrix Y, const std::array<double, D>& y,
                        std::int32_t self, double theta2, double dof, std::array<double, D>& f) {
  using Node = typename SpaceTree<D>::Node;
  const auto& nodes = tree.nodes();
  const auto& order = tree.order();
  double z = 0.0;
  std::int32_t stack[kSpaceTreeMaxDepth * (1 << D) + 1];
  int top = 0;
  stack[top++] = 0;
  while (top > 0) {
    const Node& node = nodes[stack[--top]];
    std::array<double, D> dx;
    double d2 = 0.0;
    bool inside = true;
    for (int c = 0; c < D; ++c) {
      dx[c] = y[c] - node.com[c];
      d2 += dx[c] * dx[c];
      inside = inside && std::fabs(y[c] - node.center[c]) <= node.half;
    }
    const double side = 2.0 * node.half;
    if (!inside && side * side < theta2 * d2) {
      const KernelValue k = kernel_value<kCauchy>(d2, dof);
      z += node.count * k.w;
      const double s = node.count * k.w_over_b;
      for (int c = 0; c < D; ++c) f[c] += s * dx[c];
    } else if (node.first_child < 0) {
      for (std::int32_t p = node.begin; p < node.end; ++p) {
        const std::int32_t j = order[p];
        if (j == self) continue;
        double e2 = 0.0;
        std::array<double, D> ex;
        for (int c = 0; c < D; ++c) {
          ex[c] = y[c] - Y(j, c);
          e2 += ex[c] * ex[c];
        }
        const KernelValue k = kernel_value<kCauchy>(e2, dof);
        z += k.w;
        for (int c = 0; c < D; ++c) f[c] += k.w_over_b * ex[c];
      }
    } else {
      for (std::int32_t ch = node.first_child + node.n_children - 1; ch >= node.first_child; --ch) {
        stack[top++] = ch;
      }
    }
  }
  return z;
}

template <int D, bool kCauchy>
double barnes_hut_forces(const SpaceTree<D>& tree, ConstMatrix Y, double theta, double dof,
                         Matrix forces, std::vector<double>& z_per_point, int n_threads) {
  const auto& order = tree.order();
  const double theta2 = theta * theta;
  const index_t n = Y.rows;
  z_per_point.assign(static_cast<size_t>(n), 0.0);
  // Points are visited in tree order so that consecutive points walk similar paths.
  parallel_for(0, n, n_threads, [&](index_t t) {
    const std::int32_t i = order[t];
    std::array<double, D> y, f{};
    for (int c = 0; c < D; ++c) y[c] = Y(i, c);
    const double z = barnes_hut_point<D, kCauchy>(tree, Y, y, i, theta2, dof, f);
    for (int c = 0; c < D; ++c) forces(i, c) = f[c];
    z_per_point[i] = z;
  }, 32);
  return sum_in_blocks(z_per_point.data(), n);
}

}  // namespace

struct BarnesHutRepulsion::Impl {
  int dims;
  double theta;
  double dof;
  SpaceTree<1> tree1;
  SpaceTree<2> tree2;
  SpaceTree<3> tree3;
  std::vector<double> z;

  template <int D>
  double run(SpaceTree<D>& tree, ConstMatrix Y, Matrix forces, int n_threads) {
    tree.build(Y);
    return dispatch_kernel(dof, [&](auto cauchy) {
      return barnes_hut_forces<D, decltype(cauchy)::value>(tree, Y, theta, dof, forces, z,
                                                           n_threads);
    });
  }
};

BarnesHutRepulsion::BarnesHutRepulsion(int dims, double theta, double dof)
    : Repulsion(dof), impl_(std::make_unique<Impl>()) {
  if (dims < 1 || dims > 3) {
    throw std::invalid_argument("Barnes-Hut supports 1, 2 or 3 embedding dimensions, got " +
                                std::to_string(dims));
  }
  require_theta(theta);
  impl_->dims = dims;
  impl_->theta = theta;
  impl_->dof = dof;
}

BarnesHutRepulsion::~BarnesHutRepulsion() = default;

double BarnesHutRepulsion::compute(ConstMatrix Y, Matrix forces, int n_threads) {
  if (Y.cols != impl_->dims) throw std::invalid_argument("Barnes-Hut: wrong embedding dimension");
  switch (impl_->dims) {
    case 1: return impl_->run(impl_->tree1, Y, forces, n_threads);
    case 2: return impl_->run(impl_->tree2, Y, forces, n_threads);
    default: return impl_->run(impl_->tree3, Y, forces, n_threads);
  }
}

// ---------------------------------------------------------------------------------------
// Repulsion of a fixed reference embedding on other points

struct ReferenceRepulsion::Impl {
  ConstMatrix reference;
  double theta;
  double dof;
  SpaceTree<1> tree1;
  SpaceTree<2> tree2;
  SpaceTree<3> tree3;

  bool uses_tree() const { return theta > 0.0 && reference.cols <= 3; }

  template <int D>
  void tree_forces(const SpaceTree<D>& tree, ConstMatrix queries, Matrix forces, double* z,
                   int n_threads) const {
    dispatch_kernel(dof, [&](auto cauchy) {
      parallel_for(0, queries.rows, n_threads, [&](index_t q) {
        std::array<double, D> y, f{};
        for (int c = 0; c < D; ++c) y[c] = queries(q, c);
        z[q] = barnes_hut_point<D, decltype(cauchy)::value>(tree, reference, y, -1,
                                                            theta * theta, dof, f);
        for (int c = 0; c < D; ++c) forces(q, c) = f[c];
      }, 32);
    });
  }

  void exact_forces(ConstMatrix queries, Matrix forces, double* z, int n_threads) const {
    const index_t dims = reference.cols;
    dispatch_kernel(dof, [&](auto cauchy) {
      parallel_for(0, queries.rows, n_threads, [&](index_t q) {
        const double* yq = queries.row(q);
        double* fq = forces.row(q);
        for (index_t c = 0; c < dims; ++c) fq[c] = 0.0;
        double zq = 0.0;
        for (index_t j = 0; j < reference.rows; ++j) {
          const double* yj = reference.row(j);
          double d2 = 0.0;
          for (index_t c = 0; c < dims; ++c) d2 += (yq[c] - yj[c]) * (yq[c] - yj[c]);
          const KernelValue k = kernel_value<decltype(cauchy)::value>(d2, dof);
          zq += k.w;
          for (index_t c = 0; c < dims; ++c) fq[c] += k.w_over_b * (yq[c] - yj[c]);
        }
        z[q] = zq;
      }, 16);
    });
  }
};

ReferenceRepulsion::ReferenceRepulsion(ConstMatrix reference, double theta, double dof)
    : impl_(std::make_unique<Impl>()) {
  if (reference.rows < 1) throw std::invalid_argument("the reference embedding is empty");
  require_theta(theta);
  require_dof(dof);
  impl_->reference = reference;
  impl_->theta = theta;
  impl_->dof = dof;
  if (impl_->uses_tree()) {
    switch (reference.cols) {
      case 1: impl_->tree1.build(reference); break;
      case 2: impl_->tree2.build(reference); break;
      default: impl_->tree3.build(reference); break;
    }
  }
}

ReferenceRepulsion::~ReferenceRepulsion() = default;

void ReferenceRepulsion::compute(ConstMatrix queries, Matrix forces, double* z,
                                 int n_threads) const {
  if (queries.cols != impl_->reference.cols) {
    throw std::invalid_argument("the new points and the reference have different dimensions");
  }
  if (!impl_->uses_tree()) return impl_->exact_forces(queries, forces, z, n_threads);
  switch (impl_->reference.cols) {
    case 1: return impl_->tree_forces(impl_->tree1, queries, forces, z, n_threads);
    case 2: return impl_->tree_forces(impl_->tree2, queries, forces, z, n_threads);
    default: return impl_->tree_forces(impl_->tree3, queries, forces, z, n_threads);
  }
}

}  // namespace turbotsne
