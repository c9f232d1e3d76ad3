#include "turbotsne/tsne.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "turbotsne/exact_knn.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/pca.hpp"
#include "turbotsne/random.hpp"
#include "turbotsne/stopwatch.hpp"

namespace turbotsne {
namespace {

double column_std(ConstMatrix Y, index_t c) {
  double mean = 0.0;
  for (index_t i = 0; i < Y.rows; ++i) mean += Y(i, c);
  mean /= static_cast<double>(Y.rows);
  double var = 0.0;
  for (index_t i = 0; i < Y.rows; ++i) var += (Y(i, c) - mean) * (Y(i, c) - mean);
  return std::sqrt(var / static_cast<double>(Y.rows));
}

}  // namespace

void TsneParams::validate(index_t n_samples, bool affinities_computed_here) const {
  require_run_sizes(n_samples, n_components, n_threads);
  if (affinities_computed_here) require_perplexity(perplexity, n_samples);
  optimizer.validate();
}

namespace {

// joint_probabilities; with in_locality_order, P is numbered in the breadth-first order of
// the kNN graph from the search's locality order (see symmetrize, breadth_first_order), and
// that order is what locality_order receives. The kNN graph becomes the conditional P in
// place, and that becomes P in place: one set of arrays from the search to the optimisation.
CsrMatrix joint_probabilities_on_team(DataMatrix X, double perplexity,
                                      const NeighborParams& neighbors, int n_threads,
                                      Observer* observer, Timings* timings,
                                      std::vector<std::int32_t>* locality_order,
                                      bool in_locality_order = false) {
  Stopwatch watch;
  begin_stage(observer, Stage::kNeighbors);
  KnnGraph graph =
      find_neighbors(X, neighbor_count(X.rows, perplexity), neighbors, n_threads, observer);
  std::vector<std::int32_t> order = std::move(graph.locality_order);
  // The search's order (tree leaves, or blocks of the brute force) keeps most neighbours
  // near, but every cut through a neighbourhood puts some far apart; breadth-first over the
  // graph from it keeps nearly all of them near (see breadth_first_order).
  if (in_locality_order) order = breadth_first_order(graph, order);
  release_free_heap();  // the search's small blocks (~200 bytes per point): not under P
  const double t_knn = watch.lap();
  report_stage(observer, Stage::kNeighbors, t_knn);
  begin_stage(observer, Stage::kAffinities);
  CsrMatrix P = symmetrize(conditional_probabilities(std::move(graph), perplexity, n_threads, observer),
                           n_threads, in_locality_order ? &order : nullptr);
  if (locality_order != nullptr) *locality_order = std::move(order);
  const double t_aff = watch.lap();
  report_stage(observer, Stage::kAffinities, t_aff);
  if (timings != nullptr) {
    timings->neighbors = t_knn;
    timings->affinities = t_aff;
  }
  return P;
}

}  // namespace

CsrMatrix joint_probabilities(DataMatrix X, double perplexity, const NeighborParams& neighbors,
                              int n_threads, Observer* observer, Timings* timings,
                              std::vector<std::int32_t>* locality_order) {
  return on_thread_team(n_threads, [&] {
    return joint_probabilities_on_team(X, perplexity, neighbors, n_threads, observer, timings,
                                       locality_order);
  });
}

CsrMatrix conditional_probabilities(DataMatrix X, double perplexity,
                                    const NeighborParams& neighbors, int n_threads,
                                    Observer* observer) {
  KnnGraph g =
      find_neighbors(X, neighbor_count(X.rows, perplexity), neighbors, n_threads, observer);
  begin_stage(observer, Stage::kAffinities);
  return conditional_probabilities(std::move(g), perplexity, n_threads, observer);
}

namespace {

// Hands the caller's observer the embedding in the caller's order while the optimiser works
// on permuted points; only on iterations that evaluate the KL (the ones observers use), so
// that the others cost nothing.
class UnpermutingObserver final : public Observer {
 public:
  UnpermutingObserver(Observer* inner, const std::vector<std::int32_t>& order, index_t dims)
      : inner_(inner), order_(order), dims_(dims) {
    if (inner != nullptr) set_stage(inner->stage());
  }
  bool wants_value(int iteration) const override { return inner_->wants_value(iteration); }
  void on_stage(Stage stage, double seconds) override { inner_->on_stage(stage, seconds); }
  void on_progress(const ProgressReport& report) override { inner_->on_progress(report); }
  void poll() override { inner_->poll(); }
  bool on_iteration(const IterationReport& report) override {
    IterationReport mine = report;
    if (report.has_value) {
      buffer_.resize(order_.size() * static_cast<size_t>(dims_));  // on the first report
      for (size_t r = 0; r < order_.size(); ++r) {
        for (index_t c = 0; c < dims_; ++c) {
          buffer_[static_cast<size_t>(order_[r]) * dims_ + c] = report.embedding(static_cast<index_t>(r), c);
        }
      }
      mine.embedding = ConstMatrix{buffer_.data(), static_cast<index_t>(order_.size()), dims_};
    } else {
      mine.embedding = ConstMatrix{buffer_.data(), 0, dims_};
    }
    return inner_->on_iteration(mine);
  }

 private:
  Observer* inner_;
  const std::vector<std::int32_t>& order_;
  std::vector<double> buffer_;
  index_t dims_;
};

}  // namespace

void initialize(DataMatrix X, Init init, std::uint64_t seed, Matrix Y, int n_threads) {
  if (init == Init::kGiven) return;
  Rng rng(seed);
  if (init == Init::kPca) {
    pca_project(X, Y, n_threads);
    const double s0 = column_std(Y, 0);
    const bool usable = s0 > 0.0 && std::isfinite(s0);
    for (index_t c = 0; c < Y.cols; ++c) {
      // Columns with no variance (or all of them, for constant X) get seeded noise instead.
      if (usable && column_std(Y, c) > 1e-12 * s0) {
        for (index_t i = 0; i < Y.rows; ++i) Y(i, c) *= kInitStd / s0;
      } else {
        for (index_t i = 0; i < Y.rows; ++i) Y(i, c) = kInitStd * rng.normal();
      }
    }
    return;
  }
  for (index_t e = 0; e < Y.size(); ++e) Y.data[e] = kInitStd * rng.normal();
}

namespace {

// The optimisation of run.P, for run_tsne, run_tsne_from_affinities and continue_tsne:
// `state` is the optimiser's state to start or continue (nullptr: none kept), `result`
// receives the optimisation's timings, KL and iterations.
void optimize_in_order(TsneState& run, const TsneParams& params, Repulsion& repulsion, Matrix Y,
                       Observer* observer, TsneResult& result, OptimizerState* state) {
  Stopwatch watch;
  begin_stage(observer, Stage::kOptimize);
  OptimizeResult opt;
  const std::vector<std::int32_t>& order = run.order;
  if (order.empty()) {
    opt = optimize_on_team(run.P.view(), Y, repulsion, params.optimizer, params.n_threads,
                           observer, state);
  } else {
    // Optimise the points in the neighbour search's locality order (P was built in it): the
    // attraction then reads the embedding almost in order instead of at random (for large n
    // the points no longer fit in cache, and the random reads dominated the iterations).
    // Y's rows are put in that order in place (row r becomes point order[r]), and back.
    std::vector<std::int32_t> rank(order.size());
    for (size_t r = 0; r < order.size(); ++r) rank[order[r]] = static_cast<std::int32_t>(r);
    scatter_rows(rank, Y.cols, Y.data);
    rank = std::vector<std::int32_t>();
    UnpermutingObserver unpermuting(observer, order, Y.cols);
    opt = optimize_on_team(run.P.view(), Y, repulsion, params.optimizer, params.n_threads,
                           observer != nullptr ? &unpermuting : nullptr, state);
    scatter_rows(order, Y.cols, Y.data);
  }
  result.timings.optimize = watch.lap();
  result.timings.attraction = opt.attraction;
  result.timings.repulsion = opt.repulsion;
  result.timings.update = opt.update;
  report_stage(observer, Stage::kOptimize, result.timings.optimize);
  result.kl = opt.kl;
  result.n_iter = opt.n_iter;
  result.stopped = opt.stopped;
}

// Initialisation and optimisation, for run_tsne and run_tsne_from_affinities; run holds P
// and the locality order in which P is numbered (or none: P in the caller's order), `result`
// the timings so far. With keep (run itself), the optimiser's state is kept in it; without,
// P is freed at the end.
void initialize_and_optimize(TsneState& run, DataMatrix X, const TsneParams& params,
                             Repulsion& repulsion, Matrix Y, Observer* observer,
                             TsneResult& result, bool keep) {
  Stopwatch watch;
  begin_stage(observer, Stage::kInit);
  initialize(X, params.init, params.seed, Y, params.n_threads);
  result.timings.init = watch.lap();
  report_stage(observer, Stage::kInit, result.timings.init);
  run.optimizer = OptimizerState();
  optimize_in_order(run, params, repulsion, Y, observer, result,
                    keep ? &run.optimizer : nullptr);
  if (!keep) run = TsneState();
}

// The entry points' checks: params, then the repulsion, whose constructor checks its own.
std::unique_ptr<Repulsion> checked_repulsion(const TsneParams& params, index_t n_samples,
                                             bool affinities_computed_here) {
  params.validate(n_samples, affinities_computed_here);
  return make_repulsion(params.method, params.n_components, params.dof, params.repulsion);
}

TsneResult run_tsne_on_team(DataMatrix X, const TsneParams& params, Matrix Y, Observer* observer,
                            TsneState* keep) {
  const auto repulsion = checked_repulsion(params, X.rows, true);
  if (Y.rows != X.rows || Y.cols != params.n_components) {
    throw std::invalid_argument("run_tsne: Y must have shape (n_samples, n_components)");
  }
  TsneResult result;
  NeighborParams neighbors = params.neighbors;
  neighbors.approximate.seed = params.seed;
  TsneState local;
  TsneState& run = keep != nullptr ? *keep : local;
  run = TsneState();
  const bool in_locality_order = X.rows >= params.locality_min_samples;
  run.P = joint_probabilities_on_team(X, params.perplexity, neighbors, params.n_threads,
                                      observer, &result.timings, &run.order, in_locality_order);
  if (!in_locality_order) run.order.clear();
  initialize_and_optimize(run, X, params, *repulsion, Y, observer, result, keep != nullptr);
  return result;
}

TsneResult run_tsne_from_affinities_on_team(CsrMatrix P, DataMatrix X, const TsneParams& params,
                                            Matrix Y, Observer* observer, TsneState* keep) {
  const auto repulsion = checked_repulsion(params, Y.rows, false);
  if (P.n_rows != Y.rows || P.n_cols != Y.rows || Y.cols != params.n_components) {
    throw std::invalid_argument(
        "run_tsne_from_affinities: P must be n x n and Y n x n_components");
  }
  if (params.init == Init::kPca && X.rows != Y.rows) {
    throw std::invalid_argument("run_tsne_from_affinities: init=pca needs X with n rows");
  }
  TsneResult result;
  TsneState local;
  TsneState& run = keep != nullptr ? *keep : local;
  run = TsneState();
  run.P = std::move(P);
  initialize_and_optimize(run, X, params, *repulsion, Y, observer, result, keep != nullptr);
  return result;
}

TsneResult continue_tsne_on_team(TsneState& state, const TsneParams& params, Matrix Y,
                                 Observer* observer) {
  const auto repulsion = checked_repulsion(params, Y.rows, false);
  if (state.P.n_rows != Y.rows || state.P.n_cols != Y.rows || Y.cols != params.n_components ||
      (!state.order.empty() && state.order.size() != static_cast<size_t>(Y.rows))) {
    throw std::invalid_argument(
        "continue_tsne: the state's P must be n x n and Y n x n_components");
  }
  TsneResult result;
  optimize_in_order(state, params, *repulsion, Y, observer, result, &state.optimizer);
  return result;
}

}  // namespace

TsneResult run_tsne(DataMatrix X, const TsneParams& params, Matrix Y, Observer* observer,
                    TsneState* keep) {
  return on_thread_team(params.n_threads,
                        [&] { return run_tsne_on_team(X, params, Y, observer, keep); });
}

TsneResult run_tsne_from_affinities(CsrMatrix P, DataMatrix X, const TsneParams& params,
                                    Matrix Y, Observer* observer, TsneState* keep) {
  return on_thread_team(params.n_threads, [&] {
    return run_tsne_from_affinities_on_team(std::move(P), X, params, Y, observer, keep);
  });
}

TsneResult continue_tsne(TsneState& state, const TsneParams& params, Matrix Y,
                         Observer* observer) {
  return on_thread_team(params.n_threads,
                        [&] { return continue_tsne_on_team(state, params, Y, observer); });
}

}  // namespace turbotsne
