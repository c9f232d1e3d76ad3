// Probes of the core's parts for the tests and bench/: exact and approximate neighbours with
// every algorithm forced, the gradient and each repulsion alone, the FFT, PCA, the sampled
// contrastive loss and the thread team. Registered in _core._testing; no stable API.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/complex.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "turbotsne/affinities.hpp"
#include "turbotsne/contrastive.hpp"
#include "turbotsne/distance.hpp"
#include "turbotsne/dot_tiles.hpp"
#include "turbotsne/exact_knn.hpp"
#include "turbotsne/fft.hpp"
#include "turbotsne/gradient.hpp"
#include "turbotsne/knn.hpp"
#include "turbotsne/nndescent.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/pca.hpp"
#include "turbotsne/precomputed.hpp"
#include "turbotsne/random.hpp"
#include "turbotsne/repulsion_methods.hpp"
#include "turbotsne/transform.hpp"
#include "turbotsne/tsne.hpp"
#include "turbotsne/vptree.hpp"

#include "bindings.hpp"

namespace turbotsne::bindings {

namespace {

// An int32 array of point indices as a vector; None: empty.
std::vector<std::int32_t> optional_order(const py::object& order) {
  if (order.is_none()) return {};
  const auto o = order.cast<Int32Array>();
  return std::vector<std::int32_t>(o.data(), o.data() + o.size());
}

// The exact and approximate searches with every choice forced; P renumbered.
void register_neighbor_probes(py::module_& t) {
  t.def("simd_levels", &available_simd_levels,
        "The instruction sets the brute-force kNN can use in this build and on this processor.");
  t.def("choose_exact_algorithm", &choose_exact_algorithm, py::arg("n_reference"),
        py::arg("n_queries"), py::arg("d"), py::arg("k"), py::arg("metric"),
        "The exact search ExactKnnAlgorithm.auto resolves to.");

  t.def("nearest_neighbors", [](const DoubleArray& X, int k, int n_threads, Metric metric,
                                ExactKnnAlgorithm algorithm, SimdLevel simd,
                                double max_permuted_bytes) {
    const ConstMatrix x = view(X, "X");
    KnnGraph g;
    {
      py::gil_scoped_release release;
      g = find_exact_neighbors(x, k, n_threads, nullptr, metric,
                               ExactKnnParams{algorithm, simd, max_permuted_bytes});
    }
    return graph_to_numpy(std::move(g));
  }, py::arg("X").noconvert(), py::arg("k"), py::arg("n_threads"),
     py::arg("metric") = Metric::kEuclidean, py::arg("algorithm") = ExactKnnAlgorithm::kAuto,
     py::arg("simd") = SimdLevel::kBest, py::arg("max_permuted_bytes") = kDefaultMaxPermutedBytes,
     "Exact kNN (self excluded): (indices, distances), rows sorted by (distance, index).");

  t.def("approximate_neighbors", [](const DoubleArray& X, int k, const ApproximateKnnParams& params,
                                    int n_threads, Metric metric) {
    const ConstMatrix x = view(X, "X");
    KnnGraph g;
    {
      py::gil_scoped_release release;
      g = find_approximate_neighbors(x, k, params, n_threads, nullptr, metric);
    }
    return graph_to_numpy(std::move(g));
  }, py::arg("X").noconvert(), py::arg("k"), py::arg("params"), py::arg("n_threads"),
     py::arg("metric") = Metric::kEuclidean,
     "Approximate kNN (RP forest + NN-descent): (indices, distances) like nearest_neighbors.");

  t.def("breadth_first_order", [](const Int32Array& indices, py::object roots) {
    if (indices.ndim() != 2) throw std::invalid_argument("indices must be (n, k)");
    KnnGraph g = empty_graph(indices.shape(0), static_cast<int>(indices.shape(1)));
    std::memcpy(g.indices.data(), indices.data(), sizeof(std::int32_t) * indices.size());
    const std::vector<std::int32_t> r = optional_order(roots);
    std::vector<std::int32_t> order;
    {
      py::gil_scoped_release release;
      order = breadth_first_order(g, r);
    }
    return Int32Array(static_cast<py::ssize_t>(order.size()), order.data());
  }, py::arg("indices").noconvert(), py::arg("roots"),
     "The points in breadth-first order over the kNN graph's rows (int32 (n,)), from roots "
     "(an order of all points) or 0, 1, ... when roots is None.");

  t.def("symmetrize", [](const Int64Array& indptr, const Int32Array& indices,
                         const DoubleArray& data, py::object order, int n_threads) {
    const index_t n = indptr.ndim() == 1 ? indptr.shape(0) - 1 : -1;
    CsrMatrix C = affinity_matrix(indptr, indices, data, n);
    const std::vector<std::int32_t> perm = optional_order(order);
    CsrMatrix P;
    {
      py::gil_scoped_release release;
      P = symmetrize(std::move(C), n_threads, order.is_none() ? nullptr : &perm);
    }
    return csr_to_numpy(std::move(P));
  }, py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
     py::arg("order"), py::arg("n_threads"),
     "(C + C^T) / 2n of a conditional P (rows sorted by column), numbered in order (row r = "
     "point order[r]) unless order is None.");
}

// (forces, Z) of one repulsion call on y, without the GIL.
py::tuple repulsion_call(Repulsion& repulsion, const ConstMatrix& y, int n_threads) {
  DoubleArray forces({y.rows, y.cols});
  double z = 0.0;
  {
    py::gil_scoped_release release;
    z = repulsion.compute(y, Matrix{forces.mutable_data(), y.rows, y.cols}, n_threads);
  }
  return py::make_tuple(forces, z);
}

// The gradient and each repulsion alone.
void register_gradient_probes(py::module_& t) {
  t.def("gradient", [](const Int64Array& indptr, const Int32Array& indices, const DoubleArray& data,
                       const DoubleArray& Y, Method method, const RepulsionParams& params,
                       double dof, double exaggeration, int n_threads) {
    const ConstMatrix y = view(Y, "Y");
    const CsrMatrix owned = affinity_matrix(indptr, indices, data, y.rows);
    const CsrView P = owned.view();
    DoubleArray grad({y.rows, y.cols});
    GradientStats stats;
    {
      py::gil_scoped_release release;
      const auto repulsion = make_repulsion(method, static_cast<int>(y.cols), dof, params);
      stats = kl_gradient(P, y, *repulsion, exaggeration,
                          Matrix{grad.mutable_data(), y.rows, y.cols}, n_threads);
    }
    return py::make_tuple(grad, stats.kl, stats.z);
  }, py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
     py::arg("Y").noconvert(), py::arg("method"), py::arg("params"), py::arg("dof"),
     py::arg("exaggeration"), py::arg("n_threads"),
     "(∂KL/∂Y with P exaggerated, KL for the plain P, Z) by the given repulsion method; P's "
     "values rounded to float32 as the core keeps them.");

  t.def("distances_f32", [](const py::array_t<float, py::array::c_style>& a,
                            const py::array_t<float, py::array::c_style>& rows, bool manhattan,
                            SimdLevel simd) {
    if (a.ndim() != 1 || rows.ndim() != 2 || rows.shape(1) != a.shape(0)) {
      throw std::invalid_argument("distances_f32: a must be (d,) and rows (count, d)");
    }
    py::array_t<float> out(rows.shape(0));
    distances_f32_with(manhattan, simd, a.data(), rows.data(), rows.shape(0), rows.shape(1),
                       out.mutable_data());
    return out;
  }, py::arg("a"), py::arg("rows"), py::arg("manhattan"), py::arg("simd"),
     "The approximate search's float32 keys of a against each row (squared Euclidean or "
     "Manhattan), by the loop of the given instruction set (baseline or avx2).");

  t.def("attraction", [](const Int64Array& indptr, const Int32Array& indices, const DoubleArray& data,
                         const DoubleArray& Y, double dof, bool with_kl, SimdLevel simd,
                         bool prefetch, int n_threads) {
    const ConstMatrix y = view(Y, "Y");
    const CsrMatrix owned = affinity_matrix(indptr, indices, data, y.rows);
    DoubleArray forces({y.rows, y.cols});
    KlTerms kl;
    {
      py::gil_scoped_release release;
      kl = compute_attraction_2d(owned.view(), y, dof, with_kl,
                                 Matrix{forces.mutable_data(), y.rows, y.cols}, n_threads, simd, prefetch);
    }
    return py::make_tuple(forces, kl.kl, kl.mass);
  }, py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
     py::arg("Y").noconvert(), py::arg("dof"), py::arg("with_kl"), py::arg("simd"),
     py::arg("prefetch"), py::arg("n_threads"),
     "The 2-D attraction Σ_j p_ij w_ij^(1/α) (y_i − y_j) by the loop of the given instruction "
     "set (baseline: SSE2 on x86-64; avx2 with or without prefetches): (forces, Σ p (log p + α "
     "log b), Σ p); P's values rounded to float32 as the core keeps them.");

  t.def("repulsion", [](const DoubleArray& Y, Method method, const RepulsionParams& params,
                        double dof, int n_threads) {
    const ConstMatrix y = view(Y, "Y");
    const auto repulsion = make_repulsion(method, static_cast<int>(y.cols), dof, params);
    return repulsion_call(*repulsion, y, n_threads);
  }, py::arg("Y").noconvert(), py::arg("method"), py::arg("params"), py::arg("dof"),
     py::arg("n_threads"),
     "(Σ_j w_ij^((α+1)/α) (y_i − y_j) per point, Z = Σ_{i≠j} w_ij) by the given method.");

  t.def("repulsion_sequence", [](const std::vector<DoubleArray>& layouts, Method method,
                                 const RepulsionParams& params, double dof, int n_threads) {
    std::vector<ConstMatrix> views;
    for (const DoubleArray& Y : layouts) views.push_back(view(Y, "Y"));
    if (views.empty()) throw std::invalid_argument("repulsion_sequence: no layouts");
    py::list out;
    const auto repulsion = make_repulsion(method, static_cast<int>(views[0].cols), dof, params);
    for (const ConstMatrix& y : views) out.append(repulsion_call(*repulsion, y, n_threads));
    return out;
  }, py::arg("layouts"), py::arg("method"), py::arg("params"), py::arg("dof"), py::arg("n_threads"),
     "repulsion() of each layout in turn by one repulsion object (which keeps its plans and "
     "buffers between calls, as in the optimiser).");

  t.def("reference_repulsion", [](const DoubleArray& reference, const DoubleArray& queries,
                                  double theta, double dof, int n_threads) {
    const ConstMatrix ref = view(reference, "reference");
    const ConstMatrix q = view(queries, "queries");
    DoubleArray forces({q.rows, q.cols});
    DoubleArray z(q.rows);
    {
      py::gil_scoped_release release;
      const ReferenceRepulsion repulsion(ref, theta, dof);
      repulsion.compute(q, Matrix{forces.mutable_data(), q.rows, q.cols}, z.mutable_data(),
                        n_threads);
    }
    return py::make_tuple(forces, z);
  }, py::arg("reference").noconvert(), py::arg("queries").noconvert(), py::arg("theta"),
     py::arg("dof"), py::arg("n_threads"),
     "(Σ_j w_qj^((α+1)/α) (y_q − y_j), Σ_j w_qj) per query q, j over the reference points.");
}

// The core's FFT, for its tests against numpy.fft.
void register_fft_probes(py::module_& t) {
  // The core's FFT, exposed for its tests against numpy.fft.
  t.def("next_fast_size", &next_fast_size, py::arg("n"));
  t.def("fft", [](const py::array_t<Complex, py::array::c_style>& x, bool inverse) {
    if (x.ndim() != 1) throw std::invalid_argument("x must be 1-D");
    const FftPlan plan(static_cast<int>(x.shape(0)));
    py::array_t<Complex> out(x.shape(0));
    std::vector<Complex> work(static_cast<size_t>(x.shape(0)));
    if (inverse) {
      plan.inverse(x.data(), out.mutable_data(), work.data());
    } else {
      plan.forward(x.data(), out.mutable_data(), work.data());
    }
    return out;
  }, py::arg("x").noconvert(), py::arg("inverse"), "Unnormalised complex DFT (inverse: no 1/n).");
  t.def("fft4", [](const py::array_t<Complex, py::array::c_style>& x, bool inverse) {
    if (x.ndim() != 2 || x.shape(1) != 4) throw std::invalid_argument("x must have shape (n, 4)");
    const FftPlan plan(static_cast<int>(x.shape(0)));
    py::array_t<Complex> out({x.shape(0), py::ssize_t{4}});
    std::vector<Complex> work(static_cast<size_t>(4 * x.shape(0)));
    if (inverse) {
      plan.inverse4(x.data(), out.mutable_data(), work.data());
    } else {
      plan.forward4(x.data(), out.mutable_data(), work.data());
    }
    return out;
  }, py::arg("x").noconvert(), py::arg("inverse"), "fft of the 4 columns of x at once.");
  t.def("rfft", [](const py::array_t<double, py::array::c_style>& x) {
    if (x.ndim() != 1) throw std::invalid_argument("x must be 1-D");
    const RealFftPlan plan(static_cast<int>(x.shape(0)));
    py::array_t<Complex> out(plan.spectrum_size());
    std::vector<Complex> work(static_cast<size_t>(plan.size()));
    plan.forward(x.data(), out.mutable_data(), work.data());
    return out;
  }, py::arg("x").noconvert());
  t.def("irfft", [](const py::array_t<Complex, py::array::c_style>& X, int n) {
    const RealFftPlan plan(n);
    if (X.ndim() != 1 || X.shape(0) != plan.spectrum_size()) throw std::invalid_argument("X must have n/2 + 1 entries");
    py::array_t<double> out(n);
    std::vector<Complex> work(static_cast<size_t>(n));
    plan.inverse(X.data(), out.mutable_data(), work.data());
    return out;
  }, py::arg("X").noconvert(), py::arg("n"));
  t.def("rfft4", [](const py::array_t<double, py::array::c_style>& x) {
    if (x.ndim() != 2 || x.shape(0) != 4) throw std::invalid_argument("x must have shape (4, n)");
    const RealFftPlan plan(static_cast<int>(x.shape(1)));
    const py::ssize_t n = x.shape(1), sc = plan.spectrum_size();
    py::array_t<Complex> out({py::ssize_t{4}, sc});
    std::vector<Complex> work(static_cast<size_t>(6 * n));
    const double* in[4];
    Complex* o[4];
    for (int b = 0; b < 4; ++b) {
      in[b] = x.data() + b * n;
      o[b] = out.mutable_data() + b * sc;
    }
    plan.forward4(in, o, work.data());
    return out;
  }, py::arg("x").noconvert(), "rfft of the 4 rows of x at once.");
  t.def("irfft4", [](const py::array_t<Complex, py::array::c_style>& X, int n, int count) {
    const RealFftPlan plan(n);
    const py::ssize_t sc = plan.spectrum_size();
    if (X.ndim() != 2 || X.shape(0) != 4 || X.shape(1) != sc) throw std::invalid_argument("X must have shape (4, n/2 + 1)");
    if (count < 0 || count > n) throw std::invalid_argument("count must be in [0, n]");
    py::array_t<double> out({py::ssize_t{4}, py::ssize_t{count}});
    std::vector<Complex> work(static_cast<size_t>(6 * n));
    const Complex* in[4];
    double* o[4];
    for (int b = 0; b < 4; ++b) {
      in[b] = X.data() + b * sc;
      o[b] = out.mutable_data() + b * static_cast<py::ssize_t>(count);
    }
    plan.inverse4(in, o, count, work.data());
    return out;
  }, py::arg("X").noconvert(), py::arg("n"), py::arg("count"), "The first count values of irfft of X's 4 rows at once.");
}

// Many loops of varied sizes and chunks on one ThreadTeam, as an optimisation runs them;
// counts wrong results (every item written once, sums over fixed blocks exact, a thrown
// exception propagated) instead of trusting the synchronisation, and the items that the
// team's workers did (none would make the check vacuous): (wrong results, items by workers).
std::pair<std::int64_t, std::int64_t> thread_team_check(int n_threads, int n_loops,
                                                       std::uint64_t seed) {
  std::int64_t failures = 0;
  std::atomic<std::int64_t> by_workers{0};
  with_thread_team(n_threads, [&] {
    Rng rng(seed);
    std::vector<std::int64_t> out;
    for (int loop = 0; loop < n_loops; ++loop) {
      const index_t n = static_cast<index_t>(rng.uniform() * 2000.0);
      const index_t chunk = 1 + static_cast<index_t>(rng.uniform() * 100.0);
      out.assign(static_cast<size_t>(n), -1);
      parallel_for(0, n, n_threads, [&](index_t i) {
        // Some work, so that workers get chunks; more in workers, so that the caller runs
        // out of chunks while theirs are still running (as when a worker is descheduled).
        const bool worker = detail::in_team_worker();
        std::uint64_t h = static_cast<std::uint64_t>(i);
        for (int r = 0; r < (worker ? 1024 : 64); ++r) h = h * 6364136223846793005ULL + 1442695040888963407ULL;
        out[i] = (out[i] == -1 && h != 0) ? i + loop : -2;
        if (worker) by_workers.fetch_add(1, std::memory_order_relaxed);
      }, chunk);
      for (index_t i = 0; i < n; ++i) failures += out[i] != i + loop;
      const auto total = blocked_sum<std::int64_t>(n, n_threads, [&](index_t b, index_t e) {
        std::int64_t s = 0;
        for (index_t i = b; i < e; ++i) s += out[i];
        return s;
      });
      failures += total != n * (n - 1) / 2 + n * loop;
      if (loop % 97 == 0 && n > 0) {
        bool caught = false;
        try {
          parallel_for(0, n, n_threads, [&](index_t i) {
            if (i == n / 2) throw std::runtime_error("thrown in a chunk");
          }, chunk);
        } catch (const std::runtime_error&) {
          caught = true;
        }
        failures += !caught;
      }
    }
  });
  return {failures, by_workers.load()};
}

// PCA and the sampled contrastive loss.
void register_pca_and_loss_probes(py::module_& t) {
  t.def("pca", [](const DoubleArray& X, int n_components, int n_threads) {
    const ConstMatrix x = view(X, "X");
    DoubleArray out({x.rows, static_cast<index_t>(n_components)});
    Matrix o = mutable_view(out, "out");
    {
      py::gil_scoped_release release;
      pca_project(x, o, n_threads);
    }
    return out;
  }, py::arg("X").noconvert(), py::arg("n_components"), py::arg("n_threads"),
     "Projections onto the top principal axes (unscaled).");
  t.def("sampled_contrastive_loss", [](const Int64Array& indptr, const Int32Array& indices,
                                       const DoubleArray& data, const DoubleArray& Y,
                                       const ContrastiveOptimizerParams& params, double z,
                                       std::uint64_t seed, int epoch, int n_threads) {
    const ConstMatrix y = view(Y, "Y");
    const CsrMatrix owned = affinity_matrix(indptr, indices, data, y.rows);
    const CsrView P = owned.view();
    DoubleArray loss(y.rows);
    DoubleArray grad({y.rows, y.cols});
    double dlogz = 0.0;
    {
      py::gil_scoped_release release;
      dlogz = sampled_contrastive_loss(P, y, params, z, seed, epoch, loss.mutable_data(),
                                       Matrix{grad.mutable_data(), y.rows, y.cols}, n_threads);
    }
    return py::make_tuple(loss, grad, dlogz);
  }, py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
     py::arg("Y").noconvert(), py::arg("params"), py::arg("z"), py::arg("seed"), py::arg("epoch"),
     py::arg("n_threads"),
     "(loss per point, gradient of each point's loss in its own position, Σ ∂loss/∂log Z) for "
     "the samples of one epoch.");
}

// OpenMP and the thread team.
void register_parallel_probes(py::module_& t) {
  t.attr("openmp_version") = openmp_version();
  t.def("parallel_team_size", &parallel_team_size, py::arg("n_threads"),
        "Threads a parallel region asked for n_threads gets (checks that OpenMP really runs).");
  t.def("thread_team_check", [](int n_threads, int n_loops, std::uint64_t seed) {
    std::pair<std::int64_t, std::int64_t> counts;
    {
      py::gil_scoped_release release;
      counts = thread_team_check(n_threads, n_loops, seed);
    }
    return py::make_tuple(counts.first, counts.second);
  }, py::arg("n_threads"), py::arg("n_loops"), py::arg("seed"),
     "(wrong results, items done by workers) of n_loops parallel loops on one ThreadTeam.");
}

}  // namespace

void register_testing(py::module_& t) {
  register_neighbor_probes(t);
  register_gradient_probes(t);
  register_fft_probes(t);
  register_pca_and_loss_probes(t);
  register_parallel_probes(t);
}

}  // namespace turbotsne::bindings
