// Contrastive neighbour embeddings (Damrich, Böhm, Hamprecht, Kobak, "From t-SNE to UMAP with
// contrastive learning", ICLR 2023), on the same kNN graph, affinities P and initialisation as
// t-SNE.
//
// Notation. q_ij = (1 + d_ij²/α)^(−α) is the unnormalised kernel (α = dof; Cauchy for α = 1).
// Positive pairs ij are drawn with probability p_ij; noise pairs uniformly among the
// |X| = n(n − 1) ordered pairs, m of them per positive pair. With c = Z·m/|X|:
//   NCE  (normalisation Z learned):  −log(q/(q + c)) for a positive pair,
//                                    −log(1 − q/(q + c)) = log(1 + q/c) for a noise pair;
//   NEG  (negative sampling): the same with Z = Z̄ fixed. Z̄ = |X|/m (c = 1) is UMAP's loss
//        with the Cauchy kernel; Z̄ near t-SNE's partition function Σ_{i≠j} q_ij gives
//        t-SNE-like embeddings. Larger Z̄ = more attraction: compact, UMAP-like clusters;
//        smaller Z̄ = more repulsion.
//   InfoNCE: −log(q_ij / (q_ij + Σ_k q_ik)) for each positive pair and its m noise pairs.
//
// The optimiser. Each epoch, every point i draws K = positives_per_epoch positive partners j
// from its row of P (each with probability p_ij / p_i, by systematic sampling: stratified) and
// m noise partners per positive (uniform over the other points); every draw is a hash of (seed, epoch, point, slot), so nothing depends
// on the order in which points are processed. Each point's gradient is that of its own sampled
// terms with respect to its own position (the partners held fixed), weighted so that its
// expectation is proportional to the gradient of the loss: positives by n·p_i (p_i = Σ_j
// p_ij), noise terms by 1. For NCE and NEG that expectation is exactly half the gradient of
// the loss (P and the noise are symmetric, so every pair's other half reaches the partner
// through the partner's own draws). All points move at once from the positions at the start
// of the epoch (a synchronous step), by plain SGD with a learning rate decaying linearly to
// zero, so the result is bit-identical for any number of threads.
#pragma once

#include <cstdint>
#include <optional>

#include "turbotsne/common.hpp"
#include "turbotsne/progress.hpp"
#include "turbotsne/tsne.hpp"

namespace turbotsne {

enum class ContrastiveLoss {
  kNeg,      // negative sampling with a fixed normalisation Z̄
  kNce,      // noise-contrastive estimation: Z learned with the embedding
  kInfoNce,  // InfoNCE
};

struct ContrastiveOptimizerParams {
  ContrastiveLoss loss = ContrastiveLoss::kNeg;
  // NEG: the fixed normalisation Z̄. NCE: the initial Z. Unset: |X| / m (UMAP's loss).
  // InfoNCE: not used.
  std::optional<double> z_bar;
  int n_negatives = 5;           // m: noise pairs per positive pair
  int n_epochs = 500;
  int positives_per_epoch = 10;  // K: positive pairs drawn per point and epoch
  // Step = learning_rate · (1 − epoch / n_epochs) · s · gradient, where s = (1 + c)/(2c) for
  // NEG and NCE (so that the stiffest attraction, 2c/(1 + c) at distance 0, moves a point by
  // learning_rate times its distance) and s = 1 for InfoNCE. The default 2 was measured on MNIST.
  double learning_rate = 2.0;
  double dof = 1.0;  // α of the kernel
  // Longest step a point may take in one epoch (its update is shortened to it). Unset: none.
  std::optional<double> max_step_norm = 5.0;

  void validate() const;  // throws std::invalid_argument naming the parameter
};

struct ContrastiveParams {
  int n_components = 2;
  double perplexity = 30.0;
  // kPca / kRandom: the core's t-SNE initialisation rescaled to standard deviation 1 in its
  // first column (the SGD's natural scale); kGiven: Y as given.
  Init init = Init::kPca;
  NeighborParams neighbors;  // its approximate.seed is set from `seed`
  std::uint64_t seed = 0;    // random init, approximate neighbours and every sample drawn
  int n_threads = 1;
  ContrastiveOptimizerParams optimizer;

  // Throws std::invalid_argument naming the parameter; without affinities_computed_here the
  // perplexity is not checked. The approximate search's parameters are checked by that search
  // when it starts (the first stage), not here.
  void validate(index_t n_samples, bool affinities_computed_here = true) const;
};

struct ContrastiveResult {
  // The normalisation at the end: Z̄ (NEG), the learned Z (NCE); 0 for InfoNCE.
  double z = 0.0;
  double loss = 0.0;  // mean sampled loss per positive pair in the last epoch
  int n_epochs = 0;   // epochs done
  bool stopped = false;
  Timings timings;    // neighbors, affinities, init, optimize
};

// |X| = n(n − 1), the number of ordered pairs of distinct points.
double pair_count(index_t n_samples);

// The Z̄ with which NEG is UMAP's loss (Cauchy kernel): |X| / m.
double umap_z_bar(index_t n_samples, int n_negatives);

// The multiplier s of the learning rate for a given c = Z·m/|X| (see learning_rate).
double contrastive_step_scale(ContrastiveLoss loss, double c);

// One epoch's sampled loss, point by point, at Y (the samples of `epoch` drawn with `seed`).
// Writes loss[i] (point i's own terms, divided by K) and grad (each point's gradient with
// respect to its own position, partners fixed) and returns Σ_i ∂loss[i]/∂log Z. With c =
// z·m/|X|; z is not used by InfoNCE. For the finite-difference tests and for callers that
// want the loss itself.
double sampled_contrastive_loss(const CsrView& P, ConstMatrix Y,
                                const ContrastiveOptimizerParams& params, double z,
                                std::uint64_t seed, int epoch, double* loss, Matrix grad,
                                int n_threads);

// Optimises Y in place (n x dims, P n x n symmetric with non-negative entries). The observer
// sees one report per epoch, its `kl` holding the mean sampled loss when it asked for it.
ContrastiveResult optimize_contrastive(const CsrView& P, Matrix Y,
                                       const ContrastiveOptimizerParams& params,
                                       std::uint64_t seed, int n_threads,
                                       Observer* observer = nullptr);

// optimize_contrastive without checking params and without starting a thread team: for
// callers that checked params at their own entry point and already run on a team.
ContrastiveResult optimize_contrastive_on_team(const CsrView& P, Matrix Y,
                                               const ContrastiveOptimizerParams& params,
                                               std::uint64_t seed, int n_threads,
                                               Observer* observer);

// Neighbours, affinities (joint_probabilities), initialisation and optimisation of the rows
// of X; Y (n x n_components) holds the initial embedding when params.init == Init::kGiven.
ContrastiveResult run_contrastive(ConstMatrix X, const ContrastiveParams& params, Matrix Y,
                                  Observer* observer = nullptr);

// The same from given affinities P (symmetric, non-negative); X is read only by Init::kPca.
ContrastiveResult run_contrastive_from_affinities(const CsrView& P, ConstMatrix X,
                                                  const ContrastiveParams& params, Matrix Y,
                                                  Observer* observer = nullptr);

}  // namespace turbotsne
