#include "turbotsne/sne.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "turbotsne/parallel.hpp"
#include "turbotsne/stopwatch.hpp"

namespace turbotsne {
namespace {

double squared_distance(const double* a, const double* b, index_t dims) {
  double d2 = 0.0;
  for (index_t c = 0; c < dims; ++c) {
    const double t = a[c] - b[c];
    d2 += t * t;
  }
  return d2;
}

// Terms exp(−(d² − shift)) below exp(−kNegligible) of a row's largest are left out: they
// change the row's sums by less than n · 2e-22 of themselves (and exp of large negative
// arguments is slow where it underflows).
constexpr double kNegligible = 50.0;

// Row i's Gaussian sums over j ≠ i, kept as exp(−shift) times their scaled values with shift
// the row's smallest d² (so that scaled ≥ 1 and nothing underflows, however far the points
// lie): the normaliser Σ_j exp(−d_ij²) and, when asked, the force Σ_j exp(−d_ij²)(y_i − y_j).
// One pass over j in order, rescaling when a nearer point appears (the online log-sum-exp),
// so each row's values are independent of the thread count.
struct RowNormaliser {
  double shift = std::numeric_limits<double>::infinity();
  double scaled = 0.0;
  double log_z() const { return std::log(scaled) - shift; }
};

RowNormaliser gaussian_row(ConstMatrix Y, index_t i, double* force) {
  const index_t n = Y.rows, dims = Y.cols;
  const double* yi = Y.row(i);
  RowNormaliser r;
  for (index_t c = 0; c < dims && force != nullptr; ++c) force[c] = 0.0;
  for (index_t j = 0; j < n; ++j) {
    if (j == i) continue;
    const double* yj = Y.row(j);
    const double d2 = squared_distance(yi, yj, dims);
    double e = 1.0;
    if (d2 < r.shift) {  // a new nearest: rescale what was summed (0 · exp(−∞) = 0 at first)
      const double factor = std::exp(d2 - r.shift);
      r.scaled *= factor;
      for (index_t c = 0; c < dims && force != nullptr; ++c) force[c] *= factor;
      r.shift = d2;
    } else {
      const double t = r.shift - d2;
      if (t < -kNegligible) continue;
      e = std::exp(t);
    }
    r.scaled += e;
    for (index_t c = 0; c < dims && force != nullptr; ++c) force[c] += e * (yi[c] - yj[c]);
  }
  return r;
}

// Every row's normaliser, and with `forces` (n × dims) each row's scaled force.
std::vector<RowNormaliser> gaussian_rows(ConstMatrix Y, Matrix* forces, int n_threads) {
  std::vector<RowNormaliser> rows(static_cast<size_t>(Y.rows));
  parallel_for(0, Y.rows, n_threads, [&](index_t i) {
    rows[i] = gaussian_row(Y, i, forces != nullptr ? forces->row(i) : nullptr);
  }, 16);
  return rows;
}

// Σ_i of the rows' normalisers as one: Z = exp(−shift) · scaled with shift the smallest d²
// of all, summed over fixed blocks of rows (blocked_sum).
RowNormaliser joint_normaliser(const std::vector<RowNormaliser>& rows, int n_threads) {
  RowNormaliser total;
  for (const RowNormaliser& r : rows) total.shift = std::min(total.shift, r.shift);
  const auto n = static_cast<index_t>(rows.size());
  total.scaled = blocked_sum<double>(n, n_threads, [&](index_t b, index_t e) {
    double s = 0.0;
    for (index_t i = b; i < e; ++i) s += rows[i].scaled * std::exp(total.shift - rows[i].shift);
    return s;
  });
  return total;
}

// Σ p log p over P's entries (entries of 0 add nothing).
double entropy_term(const CsrView& P, int n_threads) {
  return blocked_sum<double>(P.n_rows, n_threads, [&](index_t b, index_t e) {
    double s = 0.0;
    for (std::int64_t k = P.indptr[b]; k < P.indptr[e]; ++k) {
      const double p = P.values[k];
      if (p > 0.0) s += p * std::log(p);
    }
    return s;
  });
}

// SNE: C = Σ_i Σ_j p_j|i log(p_j|i / q_j|i) and
// ∂C/∂y_i = 2 Σ_j (p_j|i − q_j|i + p_i|j − q_i|j)(y_i − y_j). Two passes over all pairs: the
// rows' normalisers Z_i with Σ_j q_j|i (y_i − y_j), then Σ_j q_i|j (y_i − y_j), which needs
// every Z_j.
double sne_conditional(const CsrView& P, const CsrView& T, ConstMatrix Y, double exaggeration,
                       Matrix grad, int n_threads) {
  const index_t n = Y.rows, dims = Y.cols;
  const std::vector<RowNormaliser> rows = gaussian_rows(Y, &grad, n_threads);
  const double cross = blocked_sum<double>(n, n_threads, [&](index_t b, index_t e) {
    double s = 0.0;  // Σ p_j|i (d_ij² + log Z_i) = −Σ p_j|i log q_j|i
    for (index_t i = b; i < e; ++i) {
      const double log_z = rows[i].log_z();
      for (std::int64_t k = P.indptr[i]; k < P.indptr[i + 1]; ++k) {
        const double d2 = squared_distance(Y.row(i), Y.row(P.indices[k]), dims);
        s += static_cast<double>(P.values[k]) * (d2 + log_z);
      }
    }
    return s;
  });
  parallel_for(0, n, n_threads, [&](index_t i) {
    double* g = grad.row(i);  // holds exp(shift_i) Σ_j g_ij (y_i − y_j)
    const double* yi = Y.row(i);
    for (index_t c = 0; c < dims; ++c) g[c] *= -2.0 / rows[i].scaled;  // −2 Σ_j q_j|i (y_i − y_j)
    for (const CsrView* M : {&P, &T}) {  // p_j|i, then p_i|j
      for (std::int64_t k = M->indptr[i]; k < M->indptr[i + 1]; ++k) {
        const double a = 2.0 * exaggeration * static_cast<double>(M->values[k]);
        const double* yj = Y.row(M->indices[k]);
        for (index_t c = 0; c < dims; ++c) g[c] += a * (yi[c] - yj[c]);
      }
    }
    for (index_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const double* yj = Y.row(j);
      const double t = rows[j].shift - squared_distance(yi, yj, dims);
      if (t < -kNegligible) continue;
      const double q = std::exp(t) / rows[j].scaled;  // q_i|j
      for (index_t c = 0; c < dims; ++c) g[c] -= 2.0 * q * (yi[c] - yj[c]);
    }
  }, 16);
  return entropy_term(P, n_threads) + cross;
}

// Symmetric SNE (background 0) and UNI-SNE: q_ij = (1 − ρ) g_ij / Z + u, u = ρ / (n (n − 1)).
// With w_ij = (1 − ρ) g_ij / Z and s = Σ p_ij w_ij / q_ij,
// ∂C/∂y_i = 4 Σ_j (p_ij w_ij / q_ij − s g_ij / Z)(y_i − y_j), which for ρ = 0 (w = q, s = Σ p)
// is symmetric SNE's 4 Σ_j (p_ij − q_ij)(y_i − y_j) when P sums to 1. One pass over all pairs
// (Z and each row's Σ_j g_ij (y_i − y_j)), then P's entries.
double sne_joint(const CsrView& P, ConstMatrix Y, double background, double exaggeration,
                 Matrix grad, int n_threads) {
  const index_t n = Y.rows, dims = Y.cols;
  const std::vector<RowNormaliser> rows = gaussian_rows(Y, &grad, n_threads);
  const RowNormaliser z = joint_normaliser(rows, n_threads);
  const double uniform = background / (static_cast<double>(n) * static_cast<double>(n - 1));
  const double keep = 1.0 - background;
  // q^G_ij = g_ij / Z, computed from d² without underflow to 0/0.
  auto gaussian = [&](double d2) { return std::exp(z.shift - d2) / z.scaled; };
  struct Sums {
    double cross = 0.0;  // −Σ p log q
    double s = 0.0;      // Σ p w / q
    Sums& operator+=(const Sums& o) {
      cross += o.cross;
      s += o.s;
      return *this;
    }
  };
  const Sums sums = blocked_sum<Sums>(n, n_threads, [&](index_t b, index_t e) {
    Sums part;
    for (index_t i = b; i < e; ++i) {
      for (std::int64_t k = P.indptr[i]; k < P.indptr[i + 1]; ++k) {
        const double p = P.values[k];
        const double d2 = squared_distance(Y.row(i), Y.row(P.indices[k]), dims);
        if (background == 0.0) {  // log q = −d² − log Z exactly, however far
          part.cross += p * (d2 + z.log_z());
          part.s += p;
        } else {
          const double w = keep * gaussian(d2);
          const double q = w + uniform;
          part.cross -= p * std::log(q);
          part.s += p * w / q;
        }
      }
    }
    return part;
  });
  parallel_for(0, n, n_threads, [&](index_t i) {
    double* g = grad.row(i);  // holds exp(shift_i) Σ_j g_ij (y_i − y_j)
    const double* yi = Y.row(i);
    const double r = -4.0 * sums.s * std::exp(z.shift - rows[i].shift) / z.scaled;
    for (index_t c = 0; c < dims; ++c) g[c] *= r;
    for (std::int64_t k = P.indptr[i]; k < P.indptr[i + 1]; ++k) {
      const double* yj = Y.row(P.indices[k]);
      double a = 4.0 * exaggeration * static_cast<double>(P.values[k]);
      if (background != 0.0) {
        const double w = keep * gaussian(squared_distance(yi, yj, dims));
        a *= w / (w + uniform);
      }
      for (index_t c = 0; c < dims; ++c) g[c] += a * (yi[c] - yj[c]);
    }
  }, 1024);
  return entropy_term(P, n_threads) + sums.cross;
}

// What sne_gradient and optimize_sne take: an SNE-family objective with ρ in [0, 1) and an
// n × n P for n ≥ 2 points.
void check_inputs(const SneObjective& objective, const CsrView& P, ConstMatrix Y) {
  require(objective.objective != Objective::tsne,
          "sne: t-SNE is compute_gradient's and optimize's (gradient.hpp, optimizer.hpp)");
  require(objective.background >= 0.0 && objective.background < 1.0,
          "sne: background must be in [0, 1)");
  require(P.n_rows == Y.rows && P.n_cols == Y.rows,
          "sne: P must be n × n for an embedding of n points");
  require(Y.rows >= 2, "sne: at least 2 points are needed");
}

}  // namespace

CsrMatrix csr_transpose(const CsrView& P) {
  CsrMatrix T;
  T.n_rows = P.n_cols;
  T.n_cols = P.n_rows;
  const std::int64_t nnz = P.nnz();
  T.indptr.assign(static_cast<size_t>(T.n_rows + 1), 0);
  for (std::int64_t k = 0; k < nnz; ++k) ++T.indptr[P.indices[k] + 1];
  for (index_t r = 0; r < T.n_rows; ++r) T.indptr[r + 1] += T.indptr[r];
  T.indices = Buffer<std::int32_t>(static_cast<size_t>(nnz));
  T.values = Buffer<float>(static_cast<size_t>(nnz));
  std::vector<std::int64_t> next(T.indptr.begin(), T.indptr.end() - 1);
  for (index_t i = 0; i < P.n_rows; ++i) {  // rows in order: each of Tᵀ's rows sorted
    for (std::int64_t k = P.indptr[i]; k < P.indptr[i + 1]; ++k) {
      const std::int64_t slot = next[P.indices[k]]++;
      T.indices[slot] = static_cast<std::int32_t>(i);
      T.values[slot] = P.values[k];
    }
  }
  return T;
}

double sne_gradient(const SneObjective& objective, const CsrView& P, const CsrView& transposed,
                    ConstMatrix Y, double exaggeration, Matrix grad, int n_threads) {
  check_inputs(objective, P, Y);
  switch (objective.objective) {
    case Objective::sne:
      require(transposed.n_rows == P.n_cols && transposed.nnz() == P.nnz(),
              "sne: transposed must be Pᵀ");
      return sne_conditional(P, transposed, Y, exaggeration, grad, n_threads);
    case Objective::symmetric_sne:
      return sne_joint(P, Y, 0.0, exaggeration, grad, n_threads);
    case Objective::uni_sne:
    case Objective::tsne:  // refused by check_inputs
      break;
  }
  return sne_joint(P, Y, objective.background, exaggeration, grad, n_threads);
}

double background_at(double background, int iteration, const OptimizerParams& params) {
  const int start = params.early_exaggeration_iter;
  if (iteration <= start) return 0.0;
  const int ramp = std::max(1, (params.n_iter - start) / 2);
  return background * std::min(1.0, static_cast<double>(iteration - start) / ramp);
}

SneResult optimize_sne(const SneObjective& objective, const CsrView& P, Matrix Y,
                       const OptimizerParams& params, int n_threads, Observer* observer) {
  params.validate();
  check_inputs(objective, P, Y);
  const CsrMatrix transposed =
      objective.objective == Objective::sne ? csr_transpose(P) : CsrMatrix{};
  const CsrView T = transposed.view();
  const double scale = objective.objective == Objective::sne
                           ? 1.0 / (4.0 * static_cast<double>(Y.rows))
                           : 0.25;
  Stopwatch watch;
  const OptimizeResult r = on_thread_team(n_threads, [&] {
    return optimize_gradient_on_team(
        Y, params, n_threads, observer, nullptr,
        [&](int iteration, double exaggeration, bool, Matrix G) {
          SneObjective now = objective;
          now.background = background_at(objective.background, iteration, params);
          const double cost = sne_gradient(now, P, T, Y, exaggeration, G, n_threads);
          for (index_t k = 0; k < G.size(); ++k) G.data[k] *= scale;
          GradientStats stats;
          stats.kl = cost;
          return stats;
        });
  });
  SneResult result;
  result.n_iter = r.n_iter;
  result.cost = r.kl;
  result.stopped = r.stopped;
  result.seconds = watch.lap();
  return result;
}

}  // namespace turbotsne
