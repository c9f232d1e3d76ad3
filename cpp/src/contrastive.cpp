#include "turbotsne/contrastive.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "turbotsne/kernel.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/random.hpp"
#include "turbotsne/stopwatch.hpp"

namespace turbotsne {
namespace {

// Draws positive partners: row i's cumulative distribution, normalised to end at exactly 1,
// and the weight n·p_i of point i's positive terms.
struct PositiveSampler {
  std::vector<double> cdf;     // one per stored entry of P
  std::vector<double> weight;  // one per point
};

PositiveSampler make_sampler(const CsrView& P, int n_threads) {
  PositiveSampler s;
  s.cdf.resize(static_cast<size_t>(P.nnz()));
  s.weight.resize(static_cast<size_t>(P.n_rows));
  const double n = static_cast<double>(P.n_rows);
  parallel_for(0, P.n_rows, n_threads, [&](index_t i) {
    const std::int64_t begin = P.indptr[i], end = P.indptr[i + 1];
    double total = 0.0;
    for (std::int64_t e = begin; e < end; ++e) total += P.values[e];
    double run = 0.0;
    for (std::int64_t e = begin; e < end; ++e) {
      run += P.values[e];
      s.cdf[e] = total > 0.0 ? run / total : 0.0;
    }
    if (end > begin) s.cdf[end - 1] = 1.0;  // upper_bound(u < 1) always finds an entry
    s.weight[i] = n * total;
  }, 1024);
  return s;
}

// Sums of one epoch's terms over points (added over fixed blocks: thread-independent).
struct EpochStats {
  double loss = 0.0;     // Σ_i loss_i
  double dlogz = 0.0;    // Σ_i ∂loss_i/∂log Z
  double d2logz = 0.0;   // Σ_i ∂²loss_i/∂(log Z)²
  double grad2 = 0.0;    // Σ_i |gradient_i|²
  EpochStats& operator+=(const EpochStats& o) {
    loss += o.loss;
    dlogz += o.dlogz;
    d2logz += o.d2logz;
    grad2 += o.grad2;
    return *this;
  }
};

struct EpochContext {
  const CsrView& P;
  const PositiveSampler& sampler;
  ConstMatrix Y;
  double c;       // Z·m/|X| (NEG, NCE)
  double dof;
  int m;          // noise pairs per positive pair
  int k;          // positive pairs per point
  std::uint64_t seed;
  int epoch;
};

inline double uniform01(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

// A point other than i, uniformly (multiply-shift of 32 random bits; n < 2^31).
inline index_t other_point(std::uint64_t h, index_t i, index_t n) {
  index_t k = static_cast<index_t>(((h >> 32) * static_cast<std::uint64_t>(n - 1)) >> 32);
  return k >= i ? k + 1 : k;
}

// The kernel at squared distance d2: q = (1 + d2/α)^(−α), b = 1 + d2/α.
template <bool kCauchy>
struct KernelPoint {
  double b, q, inv_b;
  KernelPoint(double d2, double dof) {
    if constexpr (kCauchy) {
      b = 1.0 + d2;
      inv_b = 1.0 / b;
      q = inv_b;
    } else {
      b = 1.0 + d2 / dof;
      inv_b = 1.0 / b;
      q = std::pow(b, -dof);
    }
  }
  // log(1/q) = α log b
  double neg_log_q(double dof) const { return kCauchy ? std::log(b) : dof * std::log(b); }
  // 1/q = b^α
  double inv_q(double dof) const { return kCauchy ? b : std::pow(b, dof); }
};

// One point's running sums besides its gradient.
struct PointSums {
  double loss = 0.0, dlogz = 0.0, d2logz = 0.0;
};

// NCE / NEG, the positive pair (diff = y_i − y_j at squared distance d2), weight w:
// −log(q/(q + c)), coefficient 2·(1/b)·c/(q + c) on (y_i − y_j); rho = q/(q + c) is the
// classifier's probability of "data".
template <bool kCauchy, bool kWithLoss>
inline void nce_positive(double d2, const double* diff, index_t dims, double c, double dof,
                         double w, double* gi, PointSums& sums) {
  double rho, coef;
  if constexpr (kCauchy) {
    const double b = 1.0 + d2;
    rho = 1.0 / (1.0 + c * b);
    coef = 2.0 * w * c * rho;  // (1/b)·c/(q + c) = c·rho
    if constexpr (kWithLoss) sums.loss += w * std::log1p(c * b);
  } else {
    const KernelPoint<false> kp(d2, dof);
    rho = kp.q / (kp.q + c);
    coef = 2.0 * w * kp.inv_b * (1.0 - rho);
    if constexpr (kWithLoss) sums.loss += w * std::log1p(c * kp.inv_q(dof));
  }
  for (index_t a = 0; a < dims; ++a) gi[a] += coef * diff[a];
  sums.dlogz += w * (1.0 - rho);
  sums.d2logz += w * rho * (1.0 - rho);
}

// NCE / NEG, the m noise points of one slot: −log(1 − q/(q + c)) = log(1 + q/c) each,
// coefficient −2·(1/b)·q/(q + c). diff is scratch.
template <bool kCauchy, bool kWithLoss>
inline void nce_noise(const EpochContext& ctx, index_t i, std::uint64_t slot, const double* yi,
                      index_t dims, double* diff, double* gi, PointSums& sums) {
  const index_t n = ctx.P.n_rows;
  const double c = ctx.c, dof = ctx.dof;
  for (int t = 0; t < ctx.m; ++t) {
    const index_t k = other_point(mix64(slot + 1 + static_cast<std::uint64_t>(t)), i, n);
    const double* yk = ctx.Y.row(k);
    double d2 = 0.0;
    for (index_t a = 0; a < dims; ++a) {
      diff[a] = yi[a] - yk[a];
      d2 += diff[a] * diff[a];
    }
    double rho, coef;
    if constexpr (kCauchy) {
      const double b = 1.0 + d2;
      const double t_inv = 1.0 / (b * (1.0 + c * b));  // q/(q + c) = b·t_inv
      rho = b * t_inv;
      coef = 2.0 * t_inv;
      if constexpr (kWithLoss) sums.loss += std::log1p(1.0 / (c * b));
    } else {
      const KernelPoint<false> kp(d2, dof);
      rho = kp.q / (kp.q + c);
      coef = 2.0 * kp.inv_b * rho;
      if constexpr (kWithLoss) sums.loss += std::log1p(kp.q / c);
    }
    for (index_t a = 0; a < dims; ++a) gi[a] -= coef * diff[a];
    sums.dlogz -= rho;
    sums.d2logz += rho * (1.0 - rho);
  }
}

// InfoNCE, one slot: the positive pair (diff = y_i − y_j at squared distance d2) against the
// slot's m noise points, −log(q_j / S), S = q_j + Σ_k q_k, weight w. acc is scratch.
template <bool kCauchy, bool kWithLoss>
inline void infonce_slot(const EpochContext& ctx, index_t i, std::uint64_t slot, const double* yi,
                         index_t dims, double d2, const double* diff, double w, double* acc,
                         double* gi, PointSums& sums) {
  const index_t n = ctx.P.n_rows;
  const double dof = ctx.dof;
  const KernelPoint<kCauchy> positive(d2, dof);
  for (index_t a = 0; a < dims; ++a) acc[a] = 0.0;
  double sum_q = positive.q;
  for (int t = 0; t < ctx.m; ++t) {
    const index_t k = other_point(mix64(slot + 1 + static_cast<std::uint64_t>(t)), i, n);
    const double* yk = ctx.Y.row(k);
    double e2 = 0.0;
    for (index_t a = 0; a < dims; ++a) e2 += (yi[a] - yk[a]) * (yi[a] - yk[a]);
    const KernelPoint<kCauchy> kp(e2, dof);
    sum_q += kp.q;
    const double f = kp.q * kp.inv_b;
    for (index_t a = 0; a < dims; ++a) acc[a] += f * (yi[a] - yk[a]);
  }
  const double ratio = sum_q > 0.0 ? positive.q / sum_q : 0.0;
  const double inv_s = sum_q > 0.0 ? 1.0 / sum_q : 0.0;
  const double coef_pos = 2.0 * w * positive.inv_b * (1.0 - ratio);
  for (index_t a = 0; a < dims; ++a) gi[a] += coef_pos * diff[a] - 2.0 * w * inv_s * acc[a];
  if constexpr (kWithLoss) {
    if (sum_q > 0.0) sums.loss += w * (std::log(sum_q) + positive.neg_log_q(dof));
  }
}

// Point i's sampled terms: writes its gradient (dims values) and adds its loss and the
// derivatives in log Z to `stats`. D: the dimension at compile time (0: run time).
template <int D, bool kCauchy, ContrastiveLoss kLoss, bool kWithLoss>
void point_terms(const EpochContext& ctx, index_t i, double* grad, EpochStats& stats) {
  constexpr bool kInfoNce = kLoss == ContrastiveLoss::kInfoNce;
  const CsrView& P = ctx.P;
  const index_t dims = D > 0 ? D : ctx.Y.cols;
  const double* yi = ctx.Y.row(i);
  const double w = ctx.sampler.weight[i];
  const std::int64_t row_begin = P.indptr[i], row_end = P.indptr[i + 1];
  const bool has_positive = row_end > row_begin;
  const std::uint64_t base = mix64(ctx.seed ^ mix64(static_cast<std::uint64_t>(ctx.epoch) ^
                                                    mix64(static_cast<std::uint64_t>(i))));
  constexpr int kMaxFixed = D > 0 ? D : 1;
  double g[kMaxFixed] = {};
  double* gi = D > 0 ? g : grad;
  if constexpr (D == 0) {
    for (index_t a = 0; a < dims; ++a) gi[a] = 0.0;
  }
  std::vector<double> scratch(D > 0 ? 0 : 2 * static_cast<size_t>(dims));
  double diff_fixed[kMaxFixed], acc_fixed[kMaxFixed];
  double* diff = D > 0 ? diff_fixed : scratch.data();
  double* acc = D > 0 ? acc_fixed : scratch.data() + dims;
  PointSums sums;

  // Positive partners by systematic sampling: slot s takes the entry where row i's cumulative
  // distribution first exceeds (s + u0)/K, one uniform u0 per point and epoch. Each slot's
  // partner is still ~ p_ij / p_i on average over u0 (so the estimate stays unbiased), the K
  // draws are stratified (less variance), and they are found by one forward walk over the row
  // instead of K binary searches (cache misses in a row of ~130 entries).
  const double u0 = uniform01(mix64(base ^ 0x5851F42D4C957F2DULL));
  const double* cdf = ctx.sampler.cdf.data();
  std::int64_t e = row_begin;
  for (int s = 0; s < ctx.k; ++s) {
    const std::uint64_t slot = base + static_cast<std::uint64_t>(s) * static_cast<std::uint64_t>(ctx.m + 1);
    if (kInfoNce && !has_positive) continue;
    // The positive partner j ~ p_ij / p_i.
    double d2 = 0.0;
    if (has_positive) {
      const double u = (static_cast<double>(s) + u0) / static_cast<double>(ctx.k);
      while (e < row_end - 1 && cdf[e] <= u) ++e;
      const double* yj = ctx.Y.row(P.indices[e]);
      for (index_t a = 0; a < dims; ++a) {
        diff[a] = yi[a] - yj[a];
        d2 += diff[a] * diff[a];
      }
    }
    if constexpr (kInfoNce) {
      infonce_slot<kCauchy, kWithLoss>(ctx, i, slot, yi, dims, d2, diff, w, acc, gi, sums);
    } else {
      if (has_positive) nce_positive<kCauchy, kWithLoss>(d2, diff, dims, ctx.c, ctx.dof, w, gi, sums);
      nce_noise<kCauchy, kWithLoss>(ctx, i, slot, yi, dims, diff, gi, sums);
    }
  }
  const double inv_k = 1.0 / static_cast<double>(ctx.k);
  double g2 = 0.0;
  for (index_t a = 0; a < dims; ++a) {
    grad[a] = gi[a] * inv_k;
    g2 += grad[a] * grad[a];
  }
  stats.loss += sums.loss * inv_k;
  stats.dlogz += sums.dlogz * inv_k;
  stats.d2logz += sums.d2logz * inv_k;
  stats.grad2 += g2;
}

// Calls f(per_point) where per_point(ctx, i, grad, stats) is point_terms with the loss, the
// kernel and the dimension fixed at compile time.
template <bool kWithLoss, class F>
void dispatch_point_terms(ContrastiveLoss loss, double dof, index_t dims, F&& f) {
  dispatch_kernel(dof, [&](auto cauchy) {
    constexpr bool kCauchy = decltype(cauchy)::value;
    auto with_dims = [&](auto lossc) {
      constexpr ContrastiveLoss kL = decltype(lossc)::value;
      switch (dims) {
        case 1: f(point_terms<1, kCauchy, kL, kWithLoss>); break;
        case 2: f(point_terms<2, kCauchy, kL, kWithLoss>); break;
        case 3: f(point_terms<3, kCauchy, kL, kWithLoss>); break;
        default: f(point_terms<0, kCauchy, kL, kWithLoss>); break;
      }
    };
    switch (loss) {
      case ContrastiveLoss::kNeg:
        with_dims(std::integral_constant<ContrastiveLoss, ContrastiveLoss::kNeg>{});
        break;
      case ContrastiveLoss::kNce:
        with_dims(std::integral_constant<ContrastiveLoss, ContrastiveLoss::kNce>{});
        break;
      case ContrastiveLoss::kInfoNce:
        with_dims(std::integral_constant<ContrastiveLoss, ContrastiveLoss::kInfoNce>{});
        break;
    }
  });
}

// One synchronous epoch: every point's gradient g at `ctx.Y`, then update(i, g, y_i, next_i)
// writes its new position (one parallel pass; `next` must not alias ctx.Y). Returns the
// epoch's sums.
template <class Update>
EpochStats epoch_step(const EpochContext& ctx, ContrastiveLoss loss, bool with_loss, Matrix next,
                      int n_threads, const Update& update) {
  const index_t dims = ctx.Y.cols;
  EpochStats total;
  auto run = [&](auto per_point) {
    total = blocked_sum<EpochStats>(ctx.Y.rows, n_threads, [&](index_t begin, index_t end) {
      EpochStats part;
      std::vector<double> g(static_cast<size_t>(dims));
      for (index_t i = begin; i < end; ++i) {
        per_point(ctx, i, g.data(), part);
        update(i, g.data(), ctx.Y.row(i), next.row(i));
      }
      return part;
    });
  };
  if (with_loss) {
    dispatch_point_terms<true>(loss, ctx.dof, dims, run);
  } else {
    dispatch_point_terms<false>(loss, ctx.dof, dims, run);
  }
  return total;
}

// Bounds on c = Z m/|X|: beyond them the step scale (1 + c)/(2c) or the loss's terms
// would overflow or underflow.
constexpr double kMinC = 1e-200, kMaxC = 1e200;

double c_of_z(double z, index_t n, int m) { return z * static_cast<double>(m) / pair_count(n); }

}  // namespace

double pair_count(index_t n_samples) {
  return static_cast<double>(n_samples) * static_cast<double>(n_samples - 1);
}

double umap_z_bar(index_t n_samples, int n_negatives) {
  return pair_count(n_samples) / static_cast<double>(n_negatives);
}

double contrastive_step_scale(ContrastiveLoss loss, double c) {
  if (loss == ContrastiveLoss::kInfoNce) return 1.0;
  return (1.0 + c) / (2.0 * c);
}

void ContrastiveOptimizerParams::validate() const {
  require(!z_bar || positive_finite(*z_bar), "z_bar must be positive and finite");
  require(n_negatives >= 1, "n_negatives must be >= 1, got " + std::to_string(n_negatives));
  require(n_epochs >= 1, "n_epochs must be >= 1, got " + std::to_string(n_epochs));
  require(positives_per_epoch >= 1,
          "positives_per_epoch must be >= 1, got " + std::to_string(positives_per_epoch));
  require(positive_finite(learning_rate), "learning_rate must be positive and finite");
  require_dof(dof);
  require(!max_step_norm || positive_finite(*max_step_norm),
          "max_step_norm must be positive and finite");
}

void ContrastiveParams::validate(index_t n_samples, bool affinities_computed_here) const {
  require_run_sizes(n_samples, n_components, n_threads);
  if (affinities_computed_here) require_perplexity(perplexity, n_samples);
  optimizer.validate();
}

double sampled_contrastive_loss(const CsrView& P, ConstMatrix Y,
                                const ContrastiveOptimizerParams& params, double z,
                                std::uint64_t seed, int epoch, double* loss, Matrix grad,
                                int n_threads) {
  params.validate();
  require(positive_finite(z), "z must be positive and finite");
  require(P.n_rows == Y.rows && P.n_cols == Y.rows && Y.rows >= 2,
          "sampled_contrastive_loss: P must be n x n and Y n x dims, n >= 2");
  require(grad.rows == Y.rows && grad.cols == Y.cols, "grad must have the shape of Y");
  const PositiveSampler sampler = make_sampler(P, n_threads);
  const EpochContext ctx{P, sampler, Y, c_of_z(z, Y.rows, params.n_negatives), params.dof,
                         params.n_negatives, params.positives_per_epoch, seed, epoch};
  std::vector<double> dlogz(static_cast<size_t>(Y.rows));
  dispatch_point_terms<true>(params.loss, params.dof, Y.cols, [&](auto per_point) {
    parallel_for(0, Y.rows, n_threads, [&](index_t i) {
      EpochStats mine;
      per_point(ctx, i, grad.row(i), mine);
      loss[i] = mine.loss;
      dlogz[i] = mine.dlogz;
    }, 256);
  });
  const double total = sum_in_blocks(dlogz.data(), Y.rows);
  return params.loss == ContrastiveLoss::kInfoNce ? 0.0 : total;
}

ContrastiveResult optimize_contrastive_on_team(const CsrView& P, Matrix Y,
                                               const ContrastiveOptimizerParams& params,
                                               std::uint64_t seed, int n_threads,
                                               Observer* observer) {
  const index_t n = Y.rows, dims = Y.cols;
  require(P.n_rows == n && P.n_cols == n, "optimize_contrastive: P must be n x n");
  require(n >= 2, "optimize_contrastive: need at least 2 points");
  const PositiveSampler sampler = make_sampler(P, n_threads);
  const int m = params.n_negatives;
  const double z0 = params.z_bar ? *params.z_bar : umap_z_bar(n, m);
  const double c0 = c_of_z(z0, n, m);
  require(c0 >= kMinC && c0 <= kMaxC,
          "z_bar * n_negatives / (n (n - 1)) must lie in [1e-200, 1e200] (z_bar " +
              std::to_string(z0) + " is too extreme for this many samples)");
  double log_c = std::log(c0);
  // Points move from the positions at the start of each epoch: read one buffer, write the
  // other (Y and a copy, swapped every epoch).
  std::vector<double> spare(static_cast<size_t>(Y.size()));
  std::memcpy(spare.data(), Y.data, sizeof(double) * static_cast<size_t>(Y.size()));
  Matrix current{spare.data(), n, dims}, next = Y;
  ContrastiveResult result;
  for (int epoch = 0; epoch < params.n_epochs; ++epoch) {
    std::swap(current, next);  // current: the positions now; next: where the step goes
    const int it = epoch + 1;
    // The loss is evaluated where the observer asks for it, and in the last epoch (the result).
    const bool with_loss =
        it == params.n_epochs || (observer != nullptr && observer->wants_value(it));
    const double c = std::exp(log_c);
    const EpochContext ctx{P, sampler, ConstMatrix{current.data, n, dims}, c, params.dof, m,
                           params.positives_per_epoch, seed, epoch};
    const double decay = 1.0 - static_cast<double>(epoch) / static_cast<double>(params.n_epochs);
    const double rate = params.learning_rate * decay * contrastive_step_scale(params.loss, c);
    const auto max_step = params.max_step_norm;
    const EpochStats stats = epoch_step(ctx, params.loss, with_loss, next, n_threads,
                                        [&](index_t /*i*/, const double* g, const double* y,
                                            double* out) {
      // SGD; a step longer than max_step_norm is shortened to it.
      double step2 = 0.0;
      for (index_t a = 0; a < dims; ++a) step2 += g[a] * g[a];
      step2 *= rate * rate;
      double f = rate;
      if (max_step && step2 > *max_step * *max_step) f *= *max_step / std::sqrt(step2);
      for (index_t a = 0; a < dims; ++a) out[a] = y[a] - f * g[a];
    });
    if (params.loss == ContrastiveLoss::kNce && stats.d2logz > 0.0) {
      // Z is learned with the points: one Newton step on log Z of the epoch's sampled loss
      // (convex in log Z), at most a factor e per epoch.
      log_c -= std::clamp(stats.dlogz / stats.d2logz, -1.0, 1.0);
      log_c = std::clamp(log_c, std::log(kMinC), std::log(kMaxC));
    }
    result.n_epochs = it;
    result.loss = stats.loss / static_cast<double>(n);
    const bool has_value = with_loss && observer != nullptr && observer->wants_value(it);
    if (report_iteration(observer, it, params.n_epochs, has_value, result.loss, std::sqrt(stats.grad2),
                         next)) {
      result.stopped = true;
      break;
    }
  }
  if (next.data != Y.data) {
    std::memcpy(Y.data, next.data, sizeof(double) * static_cast<size_t>(Y.size()));
  }
  if (params.loss != ContrastiveLoss::kInfoNce) {
    result.z = std::exp(log_c) * pair_count(n) / static_cast<double>(m);
  }
  return result;
}

ContrastiveResult optimize_contrastive(const CsrView& P, Matrix Y,
                                       const ContrastiveOptimizerParams& params,
                                       std::uint64_t seed, int n_threads, Observer* observer) {
  params.validate();
  return on_thread_team(n_threads, [&] {
    return optimize_contrastive_on_team(P, Y, params, seed, n_threads, observer);
  });
}

namespace {

ContrastiveResult initialize_and_optimize(const CsrView& P, ConstMatrix X,
                                          const ContrastiveParams& params, Matrix Y,
                                          Observer* observer, Timings timings) {
  Stopwatch watch;
  begin_stage(observer, Stage::kInit);
  if (params.init != Init::kGiven) {
    // t-SNE's start (std 1e-4 in the first column), rescaled to std 1.
    initialize(X, params.init, params.seed, Y, params.n_threads);
    for (index_t e = 0; e < Y.size(); ++e) Y.data[e] *= 1.0 / kInitStd;
  }
  timings.init = watch.lap();
  report_stage(observer, Stage::kInit, timings.init);
  begin_stage(observer, Stage::kOptimize);
  ContrastiveResult result = optimize_contrastive_on_team(P, Y, params.optimizer, params.seed,
                                                          params.n_threads, observer);
  timings.optimize = watch.lap();
  report_stage(observer, Stage::kOptimize, timings.optimize);
  result.timings = timings;
  return result;
}

}  // namespace

ContrastiveResult run_contrastive(ConstMatrix X, const ContrastiveParams& params, Matrix Y,
                                  Observer* observer) {
  params.validate(X.rows);
  require(Y.rows == X.rows && Y.cols == params.n_components,
          "run_contrastive: Y must have shape (n_samples, n_components)");
  NeighborParams neighbors = params.neighbors;
  neighbors.approximate.seed = params.seed;
  return on_thread_team(params.n_threads, [&] {
    Timings timings;
    const CsrMatrix P =
        joint_probabilities(X, params.perplexity, neighbors, params.n_threads, observer, &timings);
    return initialize_and_optimize(P.view(), X, params, Y, observer, timings);
  });
}

ContrastiveResult run_contrastive_from_affinities(const CsrView& P, ConstMatrix X,
                                                  const ContrastiveParams& params, Matrix Y,
                                                  Observer* observer) {
  params.validate(Y.rows, false);
  require(P.n_rows == Y.rows && P.n_cols == Y.rows && Y.cols == params.n_components,
          "run_contrastive_from_affinities: P must be n x n and Y n x n_components");
  require(params.init != Init::kPca || X.rows == Y.rows,
          "run_contrastive_from_affinities: init=pca needs X with n rows");
  return on_thread_team(params.n_threads, [&] {
    return initialize_and_optimize(P, X, params, Y, observer, Timings{});
  });
}

}  // namespace turbotsne
