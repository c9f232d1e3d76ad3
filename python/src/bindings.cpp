// The only file that knows about Python: numpy arrays become views over the same memory,
// the GIL is released for all work of the core, progress and Ctrl-C come back through an
// Observer that takes the GIL only between iterations, and C++ exceptions map to Python ones
// (std::invalid_argument → ValueError, std::bad_alloc → MemoryError, others → RuntimeError).
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
#include "turbotsne/transform.hpp"
#include "turbotsne/tsne.hpp"
#include "turbotsne/vptree.hpp"

namespace py = pybind11;
using namespace turbotsne;

namespace {

// Inputs arrive already as float64 C-contiguous (the Python layer converts once), so these
// views never copy: `noconvert()` on every array argument makes pybind11 refuse anything else.
using DoubleArray = py::array_t<double, py::array::c_style>;
using Int64Array = py::array_t<std::int64_t, py::array::c_style>;
using Int32Array = py::array_t<std::int32_t, py::array::c_style>;

ConstMatrix view(const DoubleArray& a, const char* name) {
  if (a.ndim() != 2) throw std::invalid_argument(std::string(name) + " must be 2-D");
  return {a.data(), a.shape(0), a.shape(1)};
}

Matrix mutable_view(DoubleArray& a, const char* name) {
  if (a.ndim() != 2) throw std::invalid_argument(std::string(name) + " must be 2-D");
  return {a.mutable_data(), a.shape(0), a.shape(1)};
}

// n rows; n_cols columns (-1: square).
CsrView csr_view(const Int64Array& indptr, const Int32Array& indices, const DoubleArray& data,
                 index_t n, index_t n_cols = -1) {
  if (indptr.ndim() != 1 || indptr.shape(0) != n + 1) {
    throw std::invalid_argument("P.indptr must have one entry per row, plus one");
  }
  const index_t nnz = indptr.at(n);
  if (indices.ndim() != 1 || data.ndim() != 1 || indices.shape(0) != nnz || data.shape(0) != nnz) {
    throw std::invalid_argument("P.indices and P.data must have indptr[-1] entries");
  }
  return {n, n_cols < 0 ? n : n_cols, indptr.data(), indices.data(), data.data()};
}

// Hands a std::vector to numpy without copying: the array keeps the vector alive.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owned->data(), free_when_done);
}

py::tuple csr_to_numpy(CsrMatrix&& P) {
  const auto n = static_cast<py::ssize_t>(P.n_rows);
  const auto nnz = static_cast<py::ssize_t>(P.values.size());
  return py::make_tuple(to_numpy(std::move(P.indptr), {n + 1}),
                        to_numpy(std::move(P.indices), {nnz}),
                        to_numpy(std::move(P.values), {nnz}));
}

// Progress, callbacks and Ctrl-C. Runs on the calling thread between iterations and between
// batches of parallel work; takes the GIL only for that moment.
class PyObserver final : public Observer {
 public:
  // report(iteration, kl, grad_norm, embedding) -> stop? on iterations that are a multiple of
  // one of report_every; on_stage(name, seconds); on_progress(stage, unit, done, total,
  // changed or None). Each may be None.
  PyObserver(py::object report, std::vector<int> report_every, py::object on_stage,
             py::object on_progress = py::none())
      : report_(std::move(report)), every_(std::move(report_every)), on_stage_(std::move(on_stage)),
        on_progress_(std::move(on_progress)) {}

  // For a stage's function called on its own: progress only, reported as `stage`.
  PyObserver(Stage stage, py::object on_progress)
      : PyObserver(py::none(), {}, py::none(), std::move(on_progress)) {
    set_stage(stage);
  }

  bool wants_value(int iteration) const override {
    for (int e : every_) {
      if (e > 0 && iteration % e == 0) return true;
    }
    return false;
  }

  bool on_iteration(const IterationReport& r) override {
    py::gil_scoped_acquire gil;
    check_signals();
    if (!r.has_value || report_.is_none()) return false;
    DoubleArray embedding({r.embedding.rows, r.embedding.cols});
    std::memcpy(embedding.mutable_data(), r.embedding.data,
                sizeof(double) * static_cast<size_t>(r.embedding.size()));
    py::object stop = report_(r.iteration, r.value, r.grad_norm, embedding);
    const int truth = PyObject_IsTrue(stop.ptr());
    if (truth < 0) throw py::error_already_set();
    return truth == 1;
  }

  void on_stage(Stage stage, double seconds) override {
    py::gil_scoped_acquire gil;
    check_signals();
    if (!on_stage_.is_none()) on_stage_(stage_name(stage), seconds);
  }

  void on_progress(const ProgressReport& r) override {
    if (on_progress_.is_none()) return;  // (a pointer comparison: no GIL needed)
    py::gil_scoped_acquire gil;
    check_signals();
    on_progress_(stage_name(r.stage), r.unit, r.done, r.total,
                 r.changed < 0.0 ? py::object(py::none()) : py::object(py::float_(r.changed)));
  }

  void poll() override {
    py::gil_scoped_acquire gil;
    check_signals();
  }

 private:
  // Raises the pending KeyboardInterrupt (or whatever a signal handler raised) as a C++
  // exception; it unwinds the core and is restored as the Python exception by pybind11.
  static void check_signals() {
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }

  py::object report_;
  std::vector<int> every_;
  py::object on_stage_;
  py::object on_progress_;
};

// The graph's (indices, distances) as numpy arrays of shape (n, k).
py::tuple graph_to_numpy(KnnGraph&& g) {
  const auto n = static_cast<py::ssize_t>(g.n);
  return py::make_tuple(to_numpy(std::move(g.indices), {n, g.k}),
                        to_numpy(std::move(g.distances), {n, g.k}));
}

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

py::dict run_tsne_py(const DoubleArray& X, DoubleArray& Y, const TsneParams& params,
                     py::object report, std::vector<int> report_every, py::object on_stage,
                     py::object on_progress) {
  const ConstMatrix x = view(X, "X");
  const Matrix y = mutable_view(Y, "Y");
  PyObserver observer(std::move(report), std::move(report_every), std::move(on_stage),
                      std::move(on_progress));
  TsneResult result;
  {
    py::gil_scoped_release release;
    result = run_tsne(x, params, y, &observer);
  }
  return result_to_dict(result);
}

py::dict run_tsne_from_affinities_py(const Int64Array& indptr, const Int32Array& indices,
                                     const DoubleArray& data, const DoubleArray& X, DoubleArray& Y,
                                     const TsneParams& params, py::object report,
                                     std::vector<int> report_every, py::object on_stage,
                                     py::object on_progress) {
  const ConstMatrix x = view(X, "X");
  const Matrix y = mutable_view(Y, "Y");
  const CsrView p = csr_view(indptr, indices, data, y.rows);
  CsrMatrix P;
  P.n_rows = P.n_cols = y.rows;
  P.indptr.assign(p.indptr, p.indptr + y.rows + 1);
  P.indices.assign(p.indices, p.indices + p.nnz());
  P.values.assign(p.values, p.values + p.nnz());
  PyObserver observer(std::move(report), std::move(report_every), std::move(on_stage),
                      std::move(on_progress));
  TsneResult result;
  {
    py::gil_scoped_release release;
    result = run_tsne_from_affinities(std::move(P), x, params, y, &observer);
  }
  return result_to_dict(result);
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
  const CsrView p = given ? csr_view(indptr, indices, data, y.rows) : CsrView{};
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

PYBIND11_MODULE(_core, m) {
  m.doc() = "turbotsne's C++ core (private: use the functions of the turbotsne package)";
  m.attr("__version__") = version();

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
      .def_readwrite("dof", &OptimizerParams::dof)
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
      .def_readwrite("init", &TsneParams::init)
      .def_readwrite("neighbors", &TsneParams::neighbors)
      .def_readwrite("seed", &TsneParams::seed)
      .def_readwrite("n_threads", &TsneParams::n_threads)
      .def_readwrite("optimizer", &TsneParams::optimizer)
      .def_readwrite("locality_min_samples", &TsneParams::locality_min_samples);

  m.def("tsne", &run_tsne_py, py::arg("X").noconvert(), py::arg("Y").noconvert(),
        py::arg("params"), py::arg("report"), py::arg("report_every"), py::arg("on_stage"),
        py::arg("on_progress") = py::none(),
        "Runs the pipeline; Y (n, n_components) holds the initial embedding for init=given "
        "and receives the result. report(iteration, kl, grad_norm, embedding) -> stop?; "
        "on_stage(name, seconds); on_progress(stage, unit, done, total, changed or None).");

  m.def("tsne_from_affinities", &run_tsne_from_affinities_py, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("data").noconvert(), py::arg("X").noconvert(),
        py::arg("Y").noconvert(), py::arg("params"), py::arg("report"), py::arg("report_every"),
        py::arg("on_stage"), py::arg("on_progress") = py::none(),
        "Like tsne from a symmetric CSR P summing to 1; X (n rows) is read only for init=pca "
        "and may have 0 rows otherwise.");

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
  m.def("simd_levels", &available_simd_levels,
        "The instruction sets the brute-force kNN can use in this build and on this processor.");
  m.def("choose_exact_algorithm", &choose_exact_algorithm, py::arg("n_reference"),
        py::arg("n_queries"), py::arg("d"), py::arg("k"), py::arg("metric"),
        "The exact search ExactKnnAlgorithm.auto resolves to.");

  m.def("nearest_neighbors", [](const DoubleArray& X, int k, int n_threads, Metric metric,
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

  m.def("neighbors_from_sparse_distances", [](const Int64Array& indptr, const Int32Array& indices,
                                              const DoubleArray& data, int k, int n_threads,
                                              py::object on_progress) {
    const index_t n = indptr.ndim() == 1 ? indptr.shape(0) - 1 : -1;
    const CsrView d = csr_view(indptr, indices, data, n);
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

  m.def("approximate_neighbors", [](const DoubleArray& X, int k, const ApproximateKnnParams& params,
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

  m.def("permute_symmetric", [](const Int64Array& indptr, const Int32Array& indices,
                                const DoubleArray& data, const Int32Array& order, int n_threads) {
    const index_t n = order.shape(0);
    const CsrView view = csr_view(indptr, indices, data, n);
    std::vector<std::int32_t> perm(order.data(), order.data() + n);
    CsrMatrix P;
    P.n_rows = P.n_cols = n;
    P.indptr.assign(view.indptr, view.indptr + n + 1);
    P.indices.assign(view.indices, view.indices + view.nnz());
    P.values.assign(view.values, view.values + view.nnz());
    CsrMatrix Q;
    {
      py::gil_scoped_release release;
      Q = permute_symmetric(P, perm, n_threads);
    }
    return csr_to_numpy(std::move(Q));
  }, py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
     py::arg("order").noconvert(), py::arg("n_threads"),
     "P with rows and columns renumbered by order (row r = old row order[r]).");

  m.def("gradient", [](const Int64Array& indptr, const Int32Array& indices, const DoubleArray& data,
                       const DoubleArray& Y, Method method, const RepulsionParams& params,
                       double dof, double exaggeration, int n_threads, bool p_float32) {
    const ConstMatrix y = view(Y, "Y");
    CsrView P = csr_view(indptr, indices, data, y.rows);
    std::vector<float> values_f32;
    if (p_float32) {
      values_f32.assign(P.values, P.values + P.nnz());
      P.values_f32 = values_f32.data();
    }
    DoubleArray grad({y.rows, y.cols});
    GradientStats stats;
    {
      py::gil_scoped_release release;
      const auto repulsion = make_repulsion(method, static_cast<int>(y.cols), dof, params);
      stats = kl_gradient(P, y, *repulsion, dof, exaggeration,
                          Matrix{grad.mutable_data(), y.rows, y.cols}, n_threads);
    }
    return py::make_tuple(grad, stats.kl, stats.z);
  }, py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
     py::arg("Y").noconvert(), py::arg("method"), py::arg("params"), py::arg("dof"),
     py::arg("exaggeration"), py::arg("n_threads"), py::arg("p_float32") = false,
     "(∂KL/∂Y with P exaggerated, KL for the plain P, Z) by the given repulsion method; "
     "p_float32: the forces read P's values as float32, as the optimiser does in 2-D.");

  m.def("repulsion", [](const DoubleArray& Y, Method method, const RepulsionParams& params,
                        double dof, int n_threads) {
    const ConstMatrix y = view(Y, "Y");
    DoubleArray forces({y.rows, y.cols});
    double z = 0.0;
    {
      py::gil_scoped_release release;
      const auto repulsion = make_repulsion(method, static_cast<int>(y.cols), dof, params);
      z = repulsion->compute(y, Matrix{forces.mutable_data(), y.rows, y.cols}, n_threads);
    }
    return py::make_tuple(forces, z);
  }, py::arg("Y").noconvert(), py::arg("method"), py::arg("params"), py::arg("dof"),
     py::arg("n_threads"),
     "(Σ_j w_ij^((α+1)/α) (y_i − y_j) per point, Z = Σ_{i≠j} w_ij) by the given method.");

  m.def("reference_repulsion", [](const DoubleArray& reference, const DoubleArray& queries,
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
    const CsrView P = csr_view(indptr, indices, data, y.rows, ref.rows);
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

  // The core's FFT, exposed for its tests against numpy.fft.
  m.def("next_fast_size", &next_fast_size, py::arg("n"));
  m.def("fft", [](const py::array_t<Complex, py::array::c_style>& x, bool inverse) {
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
  m.def("fft4", [](const py::array_t<Complex, py::array::c_style>& x, bool inverse) {
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
  m.def("rfft", [](const py::array_t<double, py::array::c_style>& x) {
    if (x.ndim() != 1) throw std::invalid_argument("x must be 1-D");
    const RealFftPlan plan(static_cast<int>(x.shape(0)));
    py::array_t<Complex> out(plan.spectrum_size());
    std::vector<Complex> work(static_cast<size_t>(plan.size()));
    plan.forward(x.data(), out.mutable_data(), work.data());
    return out;
  }, py::arg("x").noconvert());
  m.def("irfft", [](const py::array_t<Complex, py::array::c_style>& X, int n) {
    const RealFftPlan plan(n);
    if (X.ndim() != 1 || X.shape(0) != plan.spectrum_size()) throw std::invalid_argument("X must have n/2 + 1 entries");
    py::array_t<double> out(n);
    std::vector<Complex> work(static_cast<size_t>(n));
    plan.inverse(X.data(), out.mutable_data(), work.data());
    return out;
  }, py::arg("X").noconvert(), py::arg("n"));
  m.def("rfft4", [](const py::array_t<double, py::array::c_style>& x) {
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
  m.def("irfft4", [](const py::array_t<Complex, py::array::c_style>& X, int n, int count) {
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

  m.def("kl_divergence", [](const Int64Array& indptr, const Int32Array& indices,
                            const DoubleArray& data, const DoubleArray& Y, double dof, int n_threads) {
    const ConstMatrix y = view(Y, "Y");
    const CsrView P = csr_view(indptr, indices, data, y.rows);
    py::gil_scoped_release release;
    return kl_divergence_exact(P, y, dof, n_threads);
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

  m.def("pca", [](const DoubleArray& X, int n_components, int n_threads) {
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
  m.def("sampled_contrastive_loss", [](const Int64Array& indptr, const Int32Array& indices,
                                       const DoubleArray& data, const DoubleArray& Y,
                                       const ContrastiveOptimizerParams& params, double z,
                                       std::uint64_t seed, int epoch, int n_threads) {
    const ConstMatrix y = view(Y, "Y");
    const CsrView P = csr_view(indptr, indices, data, y.rows);
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
  m.def("umap_z_bar", &umap_z_bar, py::arg("n_samples"), py::arg("n_negatives"),
        "|X| / m = n (n - 1) / m: the Z̄ with which NEG is UMAP's loss.");

  m.attr("openmp_version") = openmp_version();
  m.def("parallel_team_size", &parallel_team_size, py::arg("n_threads"),
        "Threads a parallel region asked for n_threads gets (checks that OpenMP really runs).");
  m.def("thread_team_check", [](int n_threads, int n_loops, std::uint64_t seed) {
    // Many loops of varied sizes and chunks on one ThreadTeam, as an optimisation runs them;
    // counts wrong results (every item written once, sums over fixed blocks exact, a thrown
    // exception propagated) instead of trusting the synchronisation, and the items that the
    // team's workers did (none would make the check vacuous).
    std::int64_t failures = 0;
    std::atomic<std::int64_t> by_workers{0};
    {
      py::gil_scoped_release release;
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
    }
    return py::make_tuple(failures, by_workers.load());
  }, py::arg("n_threads"), py::arg("n_loops"), py::arg("seed"),
     "(wrong results, items done by workers) of n_loops parallel loops on one ThreadTeam.");
}
