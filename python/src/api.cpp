// The functions and parameter types the turbotsne package calls: the pipeline (t-SNE,
// contrastive, transform), neighbours and affinities, initialisation, KL. Every one releases
// the GIL for the core's work.
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
#include "turbotsne/sne.hpp"
#include "turbotsne/transform.hpp"
#include "turbotsne/tsne.hpp"
#include "turbotsne/vptree.hpp"

#include "bindings.hpp"

namespace turbotsne::bindings {
namespace {

// A KnnGraph owning a copy of (indices, distances) of shape (n, k).
KnnGraph graph_from_numpy(const Int32Array& indices, const DoubleArray& distances) {
  const ConstMatrix d = view(distances, "distances");
  if (indices.ndim() != 2 || indices.shape(0) != d.rows || indices.shape(1) != d.cols) {
    throw std::invalid_argument("indices and distances must have the same shape (n, k)");
  }
  KnnGraph g;
  g.n = d.rows;
  g.k = static_cast<int>(d.cols);
  g.indices.assign(indices.data(), indices.data() + indices.size());
  g.distances.assign(d.data, d.data + d.size());
  for (std::int32_t j : g.indices) {
    if (j < 0 || j >= g.n) throw std::invalid_argument("indices must lie in [0, n)");
  }
  return g;
}

py::dict timings_to_dict(const Timings& t) {
  py::dict timings;
  timings["neighbors"] = t.neighbors;
  timings["affinities"] = t.affinities;
  timings["init"] = t.init;
  timings["optimize"] = t.optimize;
  timings["attraction"] = t.attraction;
  timings["repulsion"] = t.repulsion;
  timings["update"] = t.update;
  return timings;
}

py::dict result_to_dict(const TsneResult& result) {
  py::dict out;
  out["kl_divergence"] = result.kl;
  out["n_iter"] = result.n_iter;
  out["stopped"] = result.stopped;
  out["timings"] = timings_to_dict(result.timings);
  return out;
}

py::dict run_tsne_py(const py::array& X, DoubleArray& Y, const TsneParams& params,
                     py::object report, std::vector<int> report_every, py::object on_stage,
                     py::object on_progress, TsneState* keep) {
  const DataMatrix x = data_view(X, "X");
  const Matrix y = mutable_view(Y, "Y");
  PyObserver observer(std::move(report), std::move(report_every), std::move(on_stage),
                      std::move(on_progress));
  TsneResult result;
  {
    py::gil_scoped_release release;
    result = run_tsne(x, params, y, &observer, keep);
  }
  return result_to_dict(result);
}

py::dict run_tsne_from_affinities_py(const Int64Array& indptr, const Int32Array& indices,
                                     const DoubleArray& data, const DoubleArray& X, DoubleArray& Y,
                                     const TsneParams& params, py::object report,
                                     std::vector<int> report_every, py::object on_stage,
                                     py::object on_progress, TsneState* keep) {
  const ConstMatrix x = view(X, "X");
  const Matrix y = mutable_view(Y, "Y");
  CsrMatrix P = affinity_matrix(indptr, indices, data, y.rows);
  PyObserver observer(std::move(report), std::move(report_every), std::move(on_stage),
                      std::move(on_progress));
  TsneResult result;
  {
    py::gil_scoped_release release;
    result = run_tsne_from_affinities(std::move(P), x, params, y, &observer, keep);
  }
  return result_to_dict(result);
}

py::dict continue_tsne_py(TsneState& state, DoubleArray& Y, const TsneParams& params,
                          py::object report, std::vector<int> report_every, py::object on_stage) {
  const Matrix y = mutable_view(Y, "Y");
  PyObserver observer(std::move(report), std::move(report_every), std::move(on_stage),
                      py::none());
  TsneResult result;
  {
    py::gil_scoped_release release;
    result = continue_tsne(state, params, y, &observer);
  }
  return result_to_dict(result);
}

// A copy of `size` values at `data` as a new 1-D numpy array.
template <class T>
py::array_t<T> copied(const T* data, size_t size) {
  return py::array_t<T>(static_cast<py::ssize_t>(size), data);
}

// A TsneState's order as a new int32 array (empty: the caller's order).
Int32Array state_order(const TsneState& state) {
  return copied(state.order.data(), state.order.size());
}

// Pickling of a TsneState (a fitted estimator's, for pickle and copy.deepcopy): its arrays.
py::tuple state_to_tuple(const TsneState& s) {
  const CsrMatrix& P = s.P;
  return py::make_tuple(P.n_rows, copied(P.indptr.data(), P.indptr.size()),
                        copied(P.indices.data(), P.indices.size()),
                        copied(P.values.data(), P.values.size()), state_order(s),
                        copied(s.optimizer.update.data(), s.optimizer.update.size()),
                        copied(s.optimizer.gains.data(), s.optimizer.gains.size()));
}

TsneState state_from_tuple(const py::tuple& t) {
  if (t.size() != 7) throw std::invalid_argument("TsneState: a state of 7 parts expected");
  TsneState s;
  s.P.n_rows = s.P.n_cols = t[0].cast<index_t>();
  const auto indptr = t[1].cast<Int64Array>();
  const auto indices = t[2].cast<py::array_t<std::int32_t, py::array::c_style>>();
  const auto values = t[3].cast<py::array_t<float, py::array::c_style>>();
  const auto order = t[4].cast<Int32Array>();
  const auto update = t[5].cast<DoubleArray>();
  const auto gains = t[6].cast<DoubleArray>();
  if (indptr.size() != s.P.n_rows + 1 || indices.size() != values.size() ||
      indptr.data()[s.P.n_rows] != indices.size() || update.size() != gains.size() ||
      (order.size() != 0 && order.size() != s.P.n_rows)) {
    throw std::invalid_argument("TsneState: inconsistent state");
  }
  s.P.indptr.assign(indptr.data(), indptr.data() + indptr.size());
  s.P.indices.assign(indices.data(), indices.data() + indices.size());
  s.P.values.assign(values.data(), values.data() + values.size());
  s.order.assign(order.data(), order.data() + order.size());
  s.optimizer.update.assign(update.data(), update.data() + update.size());
  s.optimizer.gains.assign(gains.data(), gains.data() + gains.size());
  return s;
}

py::dict contrastive_result_to_dict(const ContrastiveResult& result) {
  py::dict out;
  out["z"] = result.z;
  out["loss"] = result.loss;
  out["n_epochs"] = result.n_epochs;
  out["stopped"] = result.stopped;
  out["timings"] = timings_to_dict(result.timings);
  return out;
}

// Contrastive embeddings from X, or (indptr non-empty) from given affinities; X is then read
// only for init=pca.
py::dict run_contrastive_py(const Int64Array& indptr, const Int32Array& indices,
                            const DoubleArray& data, const DoubleArray& X, DoubleArray& Y,
                            const ContrastiveParams& params, py::object report,
                            std::vector<int> report_every, py::object on_stage,
                            py::object on_progress) {
  const ConstMatrix x = view(X, "X");
  const Matrix y = mutable_view(Y, "Y");
  const bool given = indptr.size() > 0;
  const CsrMatrix owned = given ? affinity_matrix(indptr, indices, data, y.rows) : CsrMatrix{};
  const CsrView p = owned.view();
  PyObserver observer(std::move(report), std::move(report_every), std::move(on_stage),
                      std::move(on_progress));
  ContrastiveResult result;
  {
    py::gil_scoped_release release;
    result = given ? run_contrastive_from_affinities(p, x, params, y, &observer)
                   : run_contrastive(x, params, y, &observer);
  }
  return contrastive_result_to_dict(result);
}

}  // namespace

namespace {

// t-SNE: methods, initialisations, metrics, its parameters and the two entry points.
void register_tsne(py::module_& m) {
  py::enum_<Method>(m, "Method")
      .value("exact", Method::kExact)
      .value("barnes_hut", Method::kBarnesHut)
      .value("fft", Method::kFft);
  py::enum_<Init>(m, "Init")
      .value("pca", Init::kPca)
      .value("random", Init::kRandom)
      .value("given", Init::kGiven);

  py::enum_<Metric>(m, "Metric")
      .value("euclidean", Metric::kEuclidean)
      .value("cosine", Metric::kCosine)
      .value("manhattan", Metric::kManhattan);

  py::class_<OptimizerParams>(m, "OptimizerParams")
      .def(py::init<>())
      .def_readwrite("n_iter", &OptimizerParams::n_iter)
      .def_readwrite("early_exaggeration_iter", &OptimizerParams::early_exaggeration_iter)
      .def_readwrite("early_exaggeration", &OptimizerParams::early_exaggeration)
      .def_readwrite("exaggeration", &OptimizerParams::exaggeration)
      .def_readwrite("learning_rate", &OptimizerParams::learning_rate)
      .def_readwrite("late_learning_rate", &OptimizerParams::late_learning_rate)
      .def_readwrite("momentum_early", &OptimizerParams::momentum_early)
      .def_readwrite("momentum_late", &OptimizerParams::momentum_late)
      .def_readwrite("min_gain", &OptimizerParams::min_gain)
      .def_readwrite("max_step_norm", &OptimizerParams::max_step_norm)
      .def("resolved_learning_rate", &OptimizerParams::resolved_learning_rate, py::arg("n"),
           py::arg("early") = true);

  py::class_<InterpolationParams>(m, "InterpolationParams")
      .def(py::init<>())
      .def_readwrite("n_interpolation_points", &InterpolationParams::n_interpolation_points)
      .def_readwrite("min_num_intervals", &InterpolationParams::min_num_intervals)
      .def_readwrite("ints_in_interval", &InterpolationParams::ints_in_interval);

  py::class_<RepulsionParams>(m, "RepulsionParams")
      .def(py::init<>())
      .def_readwrite("theta", &RepulsionParams::theta)
      .def_readwrite("interpolation", &RepulsionParams::interpolation);

  py::class_<TsneParams>(m, "TsneParams")
      .def(py::init<>())
      .def_readwrite("n_components", &TsneParams::n_components)
      .def_readwrite("perplexity", &TsneParams::perplexity)
      .def_readwrite("method", &TsneParams::method)
      .def_readwrite("repulsion", &TsneParams::repulsion)
      .def_readwrite("dof", &TsneParams::dof)
      .def_readwrite("init", &TsneParams::init)
      .def_readwrite("neighbors", &TsneParams::neighbors)
      .def_readwrite("seed", &TsneParams::seed)
      .def_readwrite("n_threads", &TsneParams::n_threads)
      .def_readwrite("optimizer", &TsneParams::optimizer)
      .def_readwrite("locality_min_samples", &TsneParams::locality_min_samples);

  py::class_<TsneState>(m, "TsneState",
                        "What a run keeps for its continuation: P and the optimizer's state in "
                        "the optimizer's point order, and that order.")
      .def(py::init<>())
      .def_property_readonly("n_samples", [](const TsneState& s) { return s.P.n_rows; })
      .def_property_readonly("nnz", [](const TsneState& s) {
        return s.P.indptr.empty() ? std::int64_t{0} : s.P.indptr.back();
      })
      .def_property_readonly("started", [](const TsneState& s) { return s.optimizer.started(); })
      .def_property_readonly("order", &state_order,
                             "Row r of P is point order[r] (empty: the caller's order).")
      .def("set_affinities",
           [](TsneState& s, const Int64Array& indptr, const Int32Array& indices,
              const DoubleArray& data) {
             if (s.P.n_rows == 0) throw std::invalid_argument("set_affinities: empty state");
             s.P = affinity_matrix(indptr, indices, data, s.P.n_rows);
           },
           py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
           py::arg("data").noconvert(),
           "Replaces P (symmetric, summing to 1, numbered in `order`); the optimizer's state "
           "stays.")
      .def(py::pickle(&state_to_tuple, &state_from_tuple));

  m.def("tsne", &run_tsne_py, py::arg("X").noconvert(), py::arg("Y").noconvert(),
        py::arg("params"), py::arg("report"), py::arg("report_every"), py::arg("on_stage"),
        py::arg("on_progress") = py::none(), py::arg("keep") = nullptr,
        "Runs the pipeline on X (float64, or float32 for the approximate search with the "
        "euclidean or manhattan metric); Y (n, n_components) holds the initial embedding for "
        "init=given "
        "and receives the result. report(iteration, kl, grad_norm, embedding) -> stop?; "
        "on_stage(name, seconds); on_progress(stage, unit, done, total, changed or None).");

  m.def("tsne_from_affinities", &run_tsne_from_affinities_py, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("data").noconvert(), py::arg("X").noconvert(),
        py::arg("Y").noconvert(), py::arg("params"), py::arg("report"), py::arg("report_every"),
        py::arg("on_stage"), py::arg("on_progress") = py::none(), py::arg("keep") = nullptr,
        "Like tsne from a symmetric CSR P summing to 1; X (n rows) is read only for init=pca "
        "and may have 0 rows otherwise.");

  m.def("tsne_continue", &continue_tsne_py, py::arg("state"), py::arg("Y").noconvert(),
        py::arg("params"), py::arg("report"), py::arg("report_every"), py::arg("on_stage"),
        "Continues the run that filled `state` (its keep) from its embedding Y for "
        "params.optimizer's schedule, carrying gains and updates on.");
}

// The neighbour searches' parameters.
void register_neighbor_params(py::module_& m) {
  py::enum_<ExactKnnAlgorithm>(m, "ExactKnnAlgorithm")
      .value("auto", ExactKnnAlgorithm::kAuto)
      .value("vptree", ExactKnnAlgorithm::kVpTree)
      .value("brute_force", ExactKnnAlgorithm::kBruteForce);
  py::enum_<SimdLevel>(m, "SimdLevel")
      .value("best", SimdLevel::kBest)
      .value("baseline", SimdLevel::kBaseline)
      .value("avx2", SimdLevel::kAvx2)
      .value("avx512", SimdLevel::kAvx512);
  py::class_<ExactKnnParams>(m, "ExactKnnParams")
      .def(py::init<>())
      .def_readwrite("algorithm", &ExactKnnParams::algorithm)
      .def_readwrite("simd", &ExactKnnParams::simd)
      .def_readwrite("max_permuted_bytes", &ExactKnnParams::max_permuted_bytes);

  py::class_<ApproximateKnnParams>(m, "ApproximateKnnParams")
      .def(py::init<>())
      .def_readwrite("n_trees", &ApproximateKnnParams::n_trees)
      .def_readwrite("leaf_size", &ApproximateKnnParams::leaf_size)
      .def_readwrite("max_candidates", &ApproximateKnnParams::max_candidates)
      .def_readwrite("max_rounds", &ApproximateKnnParams::max_rounds)
      .def_readwrite("delta", &ApproximateKnnParams::delta)
      .def_readwrite("seed", &ApproximateKnnParams::seed);

  py::enum_<NeighborMethod>(m, "NeighborMethod")
      .value("exact", NeighborMethod::kExact)
      .value("approximate", NeighborMethod::kApproximate);
  py::class_<NeighborParams>(m, "NeighborParams")
      .def(py::init<>())
      .def_readwrite("method", &NeighborParams::method)
      .def_readwrite("metric", &NeighborParams::metric)
      .def_readwrite("exact", &NeighborParams::exact)
      .def_readwrite("approximate", &NeighborParams::approximate);
}

// Neighbours: exact queries, and the kNN of precomputed distances.
void register_neighbors(py::module_& m) {
  m.def("query_neighbors", [](const DoubleArray& reference, const DoubleArray& queries, int k,
                              Metric metric, int n_threads, ExactKnnAlgorithm algorithm,
                              SimdLevel simd, double max_permuted_bytes) {
    const ConstMatrix r = view(reference, "reference");
    const ConstMatrix q = view(queries, "queries");
    KnnGraph g;
    {
      py::gil_scoped_release release;
      g = query_exact_neighbors(r, q, k, metric, n_threads, nullptr,
                                  ExactKnnParams{algorithm, simd, max_permuted_bytes});
    }
    return graph_to_numpy(std::move(g));
  }, py::arg("reference").noconvert(), py::arg("queries").noconvert(), py::arg("k"),
     py::arg("metric"), py::arg("n_threads"), py::arg("algorithm") = ExactKnnAlgorithm::kAuto,
     py::arg("simd") = SimdLevel::kBest, py::arg("max_permuted_bytes") = kDefaultMaxPermutedBytes,
     "Exact k nearest rows of reference for each row of queries: (indices int32 (m, k), "
     "distances (m, k)), rows sorted by (distance, index).");

  m.def("neighbors_from_distance_matrix", [](const DoubleArray& D, int k, int n_threads,
                                             py::object on_progress) {
    const ConstMatrix d = view(D, "D");
    PyObserver observer(Stage::kNeighbors, std::move(on_progress));
    KnnGraph g;
    {
      py::gil_scoped_release release;
      g = neighbors_from_distance_matrix(d, k, n_threads, &observer);
    }
    return graph_to_numpy(std::move(g));
  }, py::arg("D").noconvert(), py::arg("k"), py::arg("n_threads"),
     py::arg("on_progress") = py::none(),
     "The k nearest of each row of a dense square distance matrix (diagonal ignored).");

  m.def("neighbors", [](const py::array& X, int k, const NeighborParams& params, int n_threads,
                        py::object on_progress) {
    const DataMatrix x = data_view(X, "X");
    PyObserver observer(Stage::kNeighbors, std::move(on_progress));
    KnnGraph g;
    {
      py::gil_scoped_release release;
      g = on_thread_team(n_threads, [&] { return find_neighbors(x, k, params, n_threads, &observer); });
    }
    g.locality_order.clear();
    return graph_to_numpy(std::move(g));
  }, py::arg("X").noconvert(), py::arg("k"), py::arg("params"), py::arg("n_threads"),
     py::arg("on_progress") = py::none(),
     "The k nearest neighbours of each row of X among the others, by the search t-SNE runs "
     "(exact or approximate): (indices int32 (n, k), distances (n, k)).");

  m.def("nearest_in_rows", [](const DoubleArray& D, int k, index_t self_offset, int n_threads) {
    const ConstMatrix d = view(D, "D");
    KnnGraph g;
    {
      py::gil_scoped_release release;
      g = nearest_in_rows(d, self_offset, k, n_threads, nullptr);
    }
    return graph_to_numpy(std::move(g));
  }, py::arg("D").noconvert(), py::arg("k"), py::arg("self_offset"), py::arg("n_threads"),
     "The k nearest of each row of a block of distances (rows x n) by (distance, index); "
     "self_offset >= 0: row i is column self_offset + i, which is skipped.");

  m.def("neighbors_from_sparse_distances", [](const Int64Array& indptr, const Int32Array& indices,
                                              const DoubleArray& data, int k, int n_threads,
                                              py::object on_progress) {
    const index_t n = indptr.ndim() == 1 ? indptr.shape(0) - 1 : -1;
    const DistanceCsrView d = csr_view(indptr, indices, data, n);
    PyObserver observer(Stage::kNeighbors, std::move(on_progress));
    KnnGraph g;
    {
      py::gil_scoped_release release;
      g = neighbors_from_sparse_distances(d, k, n_threads, &observer);
    }
    return graph_to_numpy(std::move(g));
  }, py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
     py::arg("k"), py::arg("n_threads"), py::arg("on_progress") = py::none(),
     "The k nearest of each row of a sparse square CSR distance matrix (diagonal dropped).");
}

// Affinities: the neighbour count, the calibration, P from a kNN graph or from data.
void register_affinities(py::module_& m) {
  m.def("neighbor_count", &neighbor_count, py::arg("n_samples"), py::arg("perplexity"),
        "Neighbours per point for a perplexity: min(n_samples - 1, floor(3 * perplexity)), at least 1.");
  m.def("affinities_from_neighbors", [](const Int32Array& indices, const DoubleArray& distances,
                                        double perplexity, int n_threads, py::object on_progress) {
    const KnnGraph g = graph_from_numpy(indices, distances);
    PyObserver observer(Stage::kAffinities, std::move(on_progress));
    CsrMatrix P;
    {
      py::gil_scoped_release release;
      P = symmetrize(conditional_probabilities(g, perplexity, n_threads, &observer), n_threads);
    }
    return csr_to_numpy(std::move(P));
  }, py::arg("indices").noconvert(), py::arg("distances").noconvert(), py::arg("perplexity"),
     py::arg("n_threads"), py::arg("on_progress") = py::none(),
     "Symmetric joint P from a kNN graph (rows of (indices, distances)), as (indptr, indices, data).");

  m.def("joint_from_conditional", [](const Int32Array& indices, const DoubleArray& values,
                                     int n_threads) {
    const ConstMatrix v = view(values, "values");
    if (indices.ndim() != 2 || indices.shape(0) != v.rows || indices.shape(1) != v.cols) {
      throw std::invalid_argument("indices and values must have the same shape (n, k)");
    }
    const index_t n = v.rows;
    const index_t k = v.cols;
    CsrMatrix C;
    C.n_rows = C.n_cols = n;
    C.indptr.resize(static_cast<size_t>(n) + 1);
    C.indices.resize(static_cast<size_t>(n * k));
    C.values.resize(static_cast<size_t>(n * k));
    const std::int32_t* idx = indices.data();
    for (index_t i = 0; i <= n; ++i) C.indptr[i] = i * k;
    for (index_t e = 0; e < n * k; ++e) {
      if (idx[e] < 0 || idx[e] >= n || idx[e] == e / k) {
        throw std::invalid_argument("indices must lie in [0, n) and differ from their row");
      }
      if (!(v.data[e] >= 0.0) || !std::isfinite(v.data[e])) {
        throw std::invalid_argument("values must be finite and non-negative");
      }
    }
    CsrMatrix P;
    {
      py::gil_scoped_release release;
      // Each row by column index, its values as float32 (as conditional_probabilities gives).
      std::vector<std::pair<std::int32_t, double>> row(static_cast<size_t>(k));
      for (index_t i = 0; i < n; ++i) {
        for (index_t j = 0; j < k; ++j) row[j] = {idx[i * k + j], v.data[i * k + j]};
        std::sort(row.begin(), row.end());
        for (index_t j = 0; j < k; ++j) {
          if (j > 0 && row[j].first == row[j - 1].first) {
            throw std::invalid_argument("a row's indices must be distinct");
          }
          C.indices[i * k + j] = row[j].first;
          C.values[i * k + j] = static_cast<float>(row[j].second);
        }
      }
      P = on_thread_team(n_threads, [&] { return symmetrize(std::move(C), n_threads); });
    }
    return csr_to_numpy(std::move(P));
  }, py::arg("indices").noconvert(), py::arg("values").noconvert(), py::arg("n_threads"),
     "(C + Cᵀ) / (2 n) of the row-stochastic conditional C given as k neighbours per row "
     "(indices (n, k) int32, distinct and not the row itself; values (n, k)): CSR arrays.");

  m.def("calibrate_rows", [](const DoubleArray& squared_distances, double perplexity) {
    const ConstMatrix d = view(squared_distances, "squared_distances");
    std::vector<double> p(static_cast<size_t>(d.size())), beta(d.rows), perp(d.rows);
    std::vector<std::uint8_t> converged(d.rows);
    {
      py::gil_scoped_release release;
      calibrate_rows(d, perplexity, p.data(), beta.data(), perp.data(), converged.data());
    }
    const auto n = static_cast<py::ssize_t>(d.rows);
    return py::make_tuple(to_numpy(std::move(p), {n, static_cast<py::ssize_t>(d.cols)}),
                          to_numpy(std::move(beta), {n}), to_numpy(std::move(perp), {n}),
                          to_numpy(std::move(converged), {n}));
  }, py::arg("squared_distances").noconvert(), py::arg("perplexity"),
     "Per-row perplexity calibration: (P, beta, perplexity reached, converged).");

  m.def("affinities", [](const DoubleArray& X, double perplexity, const NeighborParams& neighbors,
                         int n_threads, bool symmetric, py::object on_stage, py::object on_progress) {
    const ConstMatrix x = view(X, "X");
    PyObserver observer(py::none(), {}, std::move(on_stage), std::move(on_progress));
    CsrMatrix P;
    {
      py::gil_scoped_release release;
      P = symmetric ? joint_probabilities(x, perplexity, neighbors, n_threads, &observer)
                    : conditional_probabilities(x, perplexity, neighbors, n_threads, &observer);
    }
    return csr_to_numpy(std::move(P));
  }, py::arg("X").noconvert(), py::arg("perplexity"), py::arg("neighbors"), py::arg("n_threads"),
     py::arg("symmetric"), py::arg("on_stage") = py::none(), py::arg("on_progress") = py::none(),
     "Symmetric joint P, or the conditional P (rows sum to 1), as (indptr, indices, data).");
}

// Placing new points; KL; the initial embedding.
void register_transform(py::module_& m) {
  py::class_<TransformParams>(m, "TransformParams")
      .def(py::init<>())
      .def_readwrite("n_iter", &TransformParams::n_iter)
      .def_readwrite("learning_rate", &TransformParams::learning_rate)
      .def_readwrite("exaggeration", &TransformParams::exaggeration)
      .def_readwrite("momentum", &TransformParams::momentum)
      .def_readwrite("min_gain", &TransformParams::min_gain)
      .def_readwrite("max_step_norm", &TransformParams::max_step_norm)
      .def_readwrite("dof", &TransformParams::dof)
      .def_readwrite("theta", &TransformParams::theta);

  m.def("transform", [](const Int64Array& indptr, const Int32Array& indices, const DoubleArray& data,
                        const DoubleArray& reference, DoubleArray& Y, const TransformParams& params,
                        int n_threads, py::object report, std::vector<int> report_every) {
    const ConstMatrix ref = view(reference, "reference");
    const Matrix y = mutable_view(Y, "Y");
    const CsrMatrix owned = affinity_matrix(indptr, indices, data, y.rows, ref.rows);
    const CsrView P = owned.view();
    PyObserver observer(std::move(report), std::move(report_every), py::none());
    TransformResult result;
    {
      py::gil_scoped_release release;
      result = optimize_new_points(P, ref, y, params, n_threads, &observer);
    }
    py::dict out;
    out["kl_divergence"] = result.kl;
    out["n_iter"] = result.n_iter;
    out["stopped"] = result.stopped;
    return out;
  }, py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
     py::arg("reference").noconvert(), py::arg("Y").noconvert(), py::arg("params"),
     py::arg("n_threads"), py::arg("report"), py::arg("report_every"),
     "Optimises the new points Y (in place) against the fixed reference embedding; "
     "P: their conditional affinities to the reference points.");

  m.def("kl_divergence", [](const Int64Array& indptr, const Int32Array& indices,
                            const DoubleArray& data, const DoubleArray& Y, double dof, int n_threads) {
    const ConstMatrix y = view(Y, "Y");
    const CsrMatrix P = affinity_matrix(indptr, indices, data, y.rows);
    py::gil_scoped_release release;
    return kl_divergence_exact(P.view(), y, dof, n_threads);
  }, py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
     py::arg("Y").noconvert(), py::arg("dof"), py::arg("n_threads"));

  m.def("initial_embedding", [](const DoubleArray& X, int n_components, Init init,
                                std::uint64_t seed, int n_threads) {
    const ConstMatrix x = view(X, "X");
    DoubleArray Y({x.rows, static_cast<index_t>(n_components)});
    Matrix y = mutable_view(Y, "Y");
    {
      py::gil_scoped_release release;
      initialize(x, init, seed, y, n_threads);
    }
    return Y;
  }, py::arg("X").noconvert(), py::arg("n_components"), py::arg("init"), py::arg("seed"),
     py::arg("n_threads"));
}

// Contrastive embeddings.
void register_contrastive(py::module_& m) {
  py::enum_<ContrastiveLoss>(m, "ContrastiveLoss")
      .value("neg", ContrastiveLoss::kNeg)
      .value("nce", ContrastiveLoss::kNce)
      .value("infonce", ContrastiveLoss::kInfoNce);
  py::class_<ContrastiveOptimizerParams>(m, "ContrastiveOptimizerParams")
      .def(py::init<>())
      .def_readwrite("loss", &ContrastiveOptimizerParams::loss)
      .def_readwrite("z_bar", &ContrastiveOptimizerParams::z_bar)
      .def_readwrite("n_negatives", &ContrastiveOptimizerParams::n_negatives)
      .def_readwrite("n_epochs", &ContrastiveOptimizerParams::n_epochs)
      .def_readwrite("positives_per_epoch", &ContrastiveOptimizerParams::positives_per_epoch)
      .def_readwrite("learning_rate", &ContrastiveOptimizerParams::learning_rate)
      .def_readwrite("dof", &ContrastiveOptimizerParams::dof)
      .def_readwrite("max_step_norm", &ContrastiveOptimizerParams::max_step_norm);
  py::class_<ContrastiveParams>(m, "ContrastiveParams")
      .def(py::init<>())
      .def_readwrite("n_components", &ContrastiveParams::n_components)
      .def_readwrite("perplexity", &ContrastiveParams::perplexity)
      .def_readwrite("init", &ContrastiveParams::init)
      .def_readwrite("neighbors", &ContrastiveParams::neighbors)
      .def_readwrite("seed", &ContrastiveParams::seed)
      .def_readwrite("n_threads", &ContrastiveParams::n_threads)
      .def_readwrite("optimizer", &ContrastiveParams::optimizer);
  m.def("contrastive", &run_contrastive_py, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("data").noconvert(), py::arg("X").noconvert(),
        py::arg("Y").noconvert(), py::arg("params"), py::arg("report"), py::arg("report_every"),
        py::arg("on_stage"), py::arg("on_progress") = py::none(),
        "Contrastive embedding of X (empty indptr) or from the CSR affinities (X then read only "
        "for init=pca); Y receives the result. report(epoch, loss, grad_norm, embedding) -> stop?");
  m.def("umap_z_bar", &umap_z_bar, py::arg("n_samples"), py::arg("n_negatives"),
        "|X| / m = n (n - 1) / m: the Z̄ with which NEG is UMAP's loss.");
}

}  // namespace

// The SNE family (sne.hpp): exact gradients of SNE, symmetric SNE and UNI-SNE.
void register_sne(py::module_& m) {
  py::enum_<Objective>(m, "Objective")
      .value("tsne", Objective::tsne)
      .value("sne", Objective::sne)
      .value("symmetric_sne", Objective::symmetric_sne)
      .value("uni_sne", Objective::uni_sne);

  m.def("sne_gradient", [](Objective objective, const Int64Array& indptr,
                           const Int32Array& indices, const DoubleArray& data,
                           const DoubleArray& Y, double background, double exaggeration,
                           int n_threads) {
    const ConstMatrix y = view(Y, "Y");
    const CsrMatrix P = affinity_matrix(indptr, indices, data, y.rows);
    const CsrMatrix T = objective == Objective::sne ? csr_transpose(P.view()) : CsrMatrix{};
    DoubleArray grad({y.rows, y.cols});
    const Matrix g = mutable_view(grad, "grad");
    double cost = 0.0;
    {
      py::gil_scoped_release release;
      cost = sne_gradient(SneObjective{objective, background}, P.view(), T.view(), y,
                          exaggeration, g, n_threads);
    }
    return py::make_tuple(cost, grad);
  }, py::arg("objective"), py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
     py::arg("data").noconvert(), py::arg("Y").noconvert(), py::arg("background"),
     py::arg("exaggeration"), py::arg("n_threads"),
     "(cost, dC/dY) of the objective at Y, exact; P conditional (rows sum to 1) for sne, "
     "joint otherwise.");

  m.def("sne", [](Objective objective, const Int64Array& indptr, const Int32Array& indices,
                  const DoubleArray& data, DoubleArray& Y, const OptimizerParams& params,
                  double background, int n_threads, py::object report,
                  std::vector<int> report_every) {
    const Matrix y = mutable_view(Y, "Y");
    const CsrMatrix P = affinity_matrix(indptr, indices, data, y.rows);
    PyObserver observer(std::move(report), std::move(report_every), py::none());
    SneResult result;
    {
      py::gil_scoped_release release;
      result = optimize_sne(SneObjective{objective, background}, P.view(), y, params, n_threads,
                            &observer);
    }
    py::dict out;
    out["kl_divergence"] = result.cost;
    out["n_iter"] = result.n_iter;
    out["stopped"] = result.stopped;
    py::dict timings;
    timings["optimize"] = result.seconds;
    out["timings"] = timings;
    return out;
  }, py::arg("objective"), py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
     py::arg("data").noconvert(), py::arg("Y").noconvert(), py::arg("params"),
     py::arg("background"), py::arg("n_threads"), py::arg("report"), py::arg("report_every"),
     "Optimises Y (the initial embedding, written in place) for an SNE-family objective; "
     "report(iteration, cost, grad_norm, embedding) -> stop?.");
}

void register_api(py::module_& m) {
  register_neighbor_params(m);
  register_tsne(m);
  register_neighbors(m);
  register_affinities(m);
  register_transform(m);
  register_contrastive(m);
  register_sne(m);
}

}  // namespace turbotsne::bindings
