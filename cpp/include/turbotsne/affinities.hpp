// Input-space affinities: per-point Gaussian bandwidths calibrated to a perplexity, then the
// symmetric joint distribution P = (P_cond + P_condᵀ) / 2n over the kNN graph.
#pragma once

#include <cstdint>
#include <vector>

#include "turbotsne/common.hpp"
#include "turbotsne/knn_graph.hpp"
#include "turbotsne/progress.hpp"

namespace turbotsne {

// Relative tolerance on the perplexity reached by each row (the contract is 1e-5; the solver
// goes much further because it converges quadratically and P is compared at 1e-6).
constexpr double kPerplexityTolerance = 1e-10;

struct RowCalibration {
  double beta = 0.0;        // precision of the Gaussian: p_j ∝ exp(-beta (d_j² - d_min²))
  double perplexity = 0.0;  // exp(entropy) reached
  int iterations = 0;
  bool converged = false;   // false when the target is out of reach (e.g. all distances equal)
};

// One row: finds beta such that the distribution p_j ∝ exp(-beta d_j²) over the k given
// squared distances has the target perplexity, and writes p (summing to 1). A safeguarded
// Newton iteration on log(beta) inside a bisection bracket: every step keeps a bracket, so it
// ends for any input; distances that are all equal, all zero, or span 1e-300..1e300 (squared)
// give a finite p. The entropy is computed on distances shifted by their minimum, so nothing
// underflows to an all-zero row. Throws std::invalid_argument for a squared distance that is
// negative, NaN or infinite.
RowCalibration calibrate_row(const double* squared_distances, int k, double perplexity,
                             double* p);

// calibrate_row for every row of a dense n x k matrix of squared distances: p (n x k, row by
// row) and, per row, beta, the perplexity reached and whether it converged (0 or 1).
void calibrate_rows(ConstMatrix squared_distances, double perplexity, double* p, double* beta,
                    double* perplexity_reached, std::uint8_t* converged);

// What a run that computes affinities for n_samples points needs of its perplexity: positive,
// finite, and 3 · perplexity < n_samples (each point uses floor(3 · perplexity) neighbours).
void require_perplexity(double perplexity, index_t n_samples);

// What every embedding run needs: 2 to 2^31 - 1 samples, at least one component, a thread.
void require_run_sizes(index_t n_samples, int n_components, int n_threads);

// Conditional probabilities p_{j|i} on the kNN graph: row i holds the k neighbours of i,
// sorted by column index, with float32 values (computed in double). Every row sums to 1 up
// to that rounding. The rvalue overload builds them in the graph's own arrays (no second n·k
// copy: the values take the first half of the distances' bytes) and leaves the graph empty.
CsrMatrix conditional_probabilities(KnnGraph&& graph, double perplexity, int n_threads,
                                    Observer* observer = nullptr);
CsrMatrix conditional_probabilities(const KnnGraph& graph, double perplexity, int n_threads,
                                    Observer* observer = nullptr);

// (C + Cᵀ) / (2 n) for a row-stochastic C (values >= 0): symmetric, sums to 1, rows sorted
// by column. The rvalue overload builds P in C's own arrays, which grow to P's size (no
// transposed or second copy: see the passes in affinities.cpp). With `order` (a permutation
// of 0 .. n − 1), the result is numbered in that order: its row r is point order[r], and
// point j is column r where order[r] = j. Throws std::invalid_argument unless order is such
// a permutation.
CsrMatrix symmetrize(CsrMatrix&& conditional, int n_threads,
                     const std::vector<std::int32_t>* order = nullptr);
CsrMatrix symmetrize(const CsrMatrix& conditional, int n_threads,
                     const std::vector<std::int32_t>* order = nullptr);

}  // namespace turbotsne
