// The whole pipeline: neighbours → affinities → initialisation → optimisation.
#pragma once

#include <cstdint>
#include <vector>

#include "turbotsne/affinities.hpp"
#include "turbotsne/common.hpp"
#include "turbotsne/knn.hpp"
#include "turbotsne/optimizer.hpp"
#include "turbotsne/progress.hpp"
#include "turbotsne/repulsion_methods.hpp"

namespace turbotsne {

enum class Init {
  kPca,     // principal components, scaled so that column 0 has std 1e-4
  kRandom,  // seeded Gaussian, std 1e-4
  kGiven,   // the caller's values already in Y, used as they are
};

constexpr double kInitStd = 1e-4;

struct TsneParams {
  int n_components = 2;
  double perplexity = 30.0;
  Method method = Method::kBarnesHut;
  RepulsionParams repulsion;  // theta (Barnes-Hut), interpolation grid (FFT)
  double dof = 1.0;           // α of the embedding's Student-t kernel (1: t-SNE's Cauchy)
  Init init = Init::kPca;
  NeighborParams neighbors;
  std::uint64_t seed = 0;  // random init and approximate neighbours
  int n_threads = 1;
  OptimizerParams optimizer;  // iterations, exaggeration, learning rate, momentum
  // From this many points the optimiser works on the points in the breadth-first order of
  // the kNN graph (breadth_first_order, from the search's locality order where it gives one:
  // the approximate search and the exact brute force do, the VP-tree does not), so that the
  // attraction reads the embedding nearly in order: a large gain once the embedding no
  // longer fits in cache (MNIST 70k, exact search, in the search's own order: the
  // attraction's median of 4 runs 5.23 -> 4.55 s; 1M, approximate search, P fixed: 201 ms
  // per iteration in the search's order, 96 breadth-first), none measurable below (5,000 to
  // 40,000 points: within noise; README, "Memory"). The result is the same up to rounding,
  // and bit-identical for any thread count either way.
  index_t locality_min_samples = 50000;

  // Throws std::invalid_argument naming the parameter when a value is out of range for
  // n_samples points. Without affinities_computed_here (P given by the caller), the
  // perplexity is not checked. Each part is checked once, by its owner, before any work:
  // method, n_components, theta, interpolation and dof by the repulsion's constructor (which
  // run_tsne calls first), the approximate search's parameters by that search when it starts.
  void validate(index_t n_samples, bool affinities_computed_here = true) const;
};

struct Timings {
  double neighbors = 0.0;
  double affinities = 0.0;
  double init = 0.0;
  double optimize = 0.0;    // the whole optimisation, of which:
  double attraction = 0.0;  //   sparse attraction over P
  double repulsion = 0.0;   //   repulsion (exact, Barnes-Hut or FFT)
  double update = 0.0;      //   gains, momentum, step, recentring
};

struct TsneResult {
  double kl = 0.0;
  int n_iter = 0;
  bool stopped = false;
  Timings timings;
};

// Symmetric affinities P of the rows of X (kNN + perplexity calibration), in the caller's
// order. With locality_order, receives the neighbour search's locality order (see KnnGraph;
// empty for the VP-tree).
CsrMatrix joint_probabilities(DataMatrix X, double perplexity, const NeighborParams& neighbors,
                              int n_threads, Observer* observer = nullptr,
                              Timings* timings = nullptr,
                              std::vector<std::int32_t>* locality_order = nullptr);

// The conditional probabilities p_{j|i} of the rows of X (kNN + perplexity calibration, rows
// summing to 1): joint_probabilities before the symmetrisation.
CsrMatrix conditional_probabilities(DataMatrix X, double perplexity,
                                    const NeighborParams& neighbors, int n_threads,
                                    Observer* observer = nullptr);

// Writes the initial embedding into Y (n x n_components) for Init::kPca / kRandom; kGiven
// leaves Y as it is. Zero-variance columns of a PCA start (rank-deficient X) are filled with
// seeded noise so that no dimension is frozen.
void initialize(DataMatrix X, Init init, std::uint64_t seed, Matrix Y, int n_threads);

// What a run leaves for its continuation (TSNE.optimize): P and the optimiser's state, both
// in the optimiser's point order, and that order (row r is point order[r]; empty: the
// caller's order). P is kept only when a run is given a TsneState: 8 bytes per stored entry
// (float32 value, int32 index) and 8 per point, and 16 bytes per point and dimension for the
// optimiser's state.
struct TsneState {
  CsrMatrix P;
  std::vector<std::int32_t> order;
  OptimizerState optimizer;
};

// Runs t-SNE on the rows of X, writing the embedding into Y (X.rows x n_components; it holds
// the initial embedding on entry when params.init == Init::kGiven). With `keep`, P, the
// point order and the optimiser's state are moved into it at the end (else freed).
TsneResult run_tsne(DataMatrix X, const TsneParams& params, Matrix Y,
                    Observer* observer = nullptr, TsneState* keep = nullptr);

// Runs t-SNE from given affinities P (n x n, symmetric, summing to 1): only the
// initialisation and the optimisation of run_tsne, with the same observer calls after the
// affinities stage. X is read only by Init::kPca (it may have 0 rows otherwise); the
// neighbour and perplexity parameters are not used.
TsneResult run_tsne_from_affinities(CsrMatrix P, DataMatrix X, const TsneParams& params,
                                    Matrix Y, Observer* observer = nullptr,
                                    TsneState* keep = nullptr);

// Continues the optimisation that left `state` (a run's `keep`) for params.optimizer's
// schedule, from the embedding Y (caller's order) that run returned, carrying the state on:
// a run of n1 iterations continued for n2 gives the embedding of one run of n1 + n2
// iterations with the same schedule, bit for bit. Only params.optimizer, method, repulsion,
// dof, n_components and n_threads are read; state.P may have been replaced (in state.order)
// between stages.
TsneResult continue_tsne(TsneState& state, const TsneParams& params, Matrix Y,
                         Observer* observer = nullptr);

const char* version();

}  // namespace turbotsne
