// What the binding files share: numpy arrays as views over the same memory, vectors handed
// to numpy without a copy, and the Observer through which progress, callbacks and Ctrl-C come
// back to Python (it takes the GIL only between iterations and batches of work).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "turbotsne/affinities.hpp"
#include "turbotsne/common.hpp"
#include "turbotsne/knn_graph.hpp"
#include "turbotsne/progress.hpp"

namespace turbotsne::bindings {

namespace py = pybind11;


// Inputs arrive already as float64 C-contiguous (the Python layer converts once), so these
// views never copy: `noconvert()` on every array argument makes pybind11 refuse anything else.
using DoubleArray = py::array_t<double, py::array::c_style>;
using Int64Array = py::array_t<std::int64_t, py::array::c_style>;
using Int32Array = py::array_t<std::int32_t, py::array::c_style>;

inline ConstMatrix view(const DoubleArray& a, const char* name) {
  if (a.ndim() != 2) throw std::invalid_argument(std::string(name) + " must be 2-D");
  return {a.data(), a.shape(0), a.shape(1)};
}

// The input rows of a run: a float64 or float32 C-contiguous 2-D array, as a view.
inline DataMatrix data_view(const py::array& a, const char* name) {
  if (a.ndim() != 2) throw std::invalid_argument(std::string(name) + " must be 2-D");
  if (!(a.flags() & py::array::c_style)) {
    throw std::invalid_argument(std::string(name) + " must be C-contiguous");
  }
  if (py::isinstance<py::array_t<double>>(a)) {
    return ConstMatrix{static_cast<const double*>(a.data()), a.shape(0), a.shape(1)};
  }
  if (py::isinstance<py::array_t<float>>(a)) {
    return ConstFloatMatrix{static_cast<const float*>(a.data()), a.shape(0), a.shape(1)};
  }
  throw std::invalid_argument(std::string(name) + " must be float64 or float32");
}

inline Matrix mutable_view(DoubleArray& a, const char* name) {
  if (a.ndim() != 2) throw std::invalid_argument(std::string(name) + " must be 2-D");
  return {a.mutable_data(), a.shape(0), a.shape(1)};
}

// A CSR matrix of n rows and n_cols columns (-1: square) from numpy arrays, as a view.
inline DistanceCsrView csr_view(const Int64Array& indptr, const Int32Array& indices,
                                const DoubleArray& data, index_t n, index_t n_cols = -1) {
  if (indptr.ndim() != 1 || indptr.shape(0) != n + 1) {
    throw std::invalid_argument("P.indptr must have one entry per row, plus one");
  }
  const index_t nnz = indptr.at(n);
  if (indices.ndim() != 1 || data.ndim() != 1 || indices.shape(0) != nnz || data.shape(0) != nnz) {
    throw std::invalid_argument("P.indices and P.data must have indptr[-1] entries");
  }
  return {n, n_cols < 0 ? n : n_cols, indptr.data(), indices.data(), data.data()};
}

// An affinity matrix from numpy arrays: a copy, its values rounded to float32 as the core
// keeps them (see CsrView).
inline CsrMatrix affinity_matrix(const Int64Array& indptr, const Int32Array& indices,
                                 const DoubleArray& data, index_t n, index_t n_cols = -1) {
  const DistanceCsrView v = csr_view(indptr, indices, data, n, n_cols);
  CsrMatrix P;
  P.n_rows = v.n_rows;
  P.n_cols = v.n_cols;
  P.indptr.assign(v.indptr, v.indptr + v.n_rows + 1);
  P.indices.assign(v.indices, v.indices + v.nnz());
  P.values.resize_uninitialized(static_cast<size_t>(v.nnz()));
  for (index_t e = 0; e < v.nnz(); ++e) P.values[e] = static_cast<float>(v.values[e]);
  return P;
}

// Hands a std::vector or a Buffer to numpy without copying: the array keeps it alive.
template <class Container>
py::array_t<typename Container::value_type> to_numpy(Container&& v, std::vector<py::ssize_t> shape) {
  auto* owned = new Container(std::move(v));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<Container*>(p); });
  return py::array_t<typename Container::value_type>(shape, owned->data(), free_when_done);
}

// P as (indptr, indices, data) numpy arrays, data widened to float64 (exactly) for Python.
inline py::tuple csr_to_numpy(CsrMatrix&& P) {
  const auto n = static_cast<py::ssize_t>(P.n_rows);
  const auto nnz = static_cast<py::ssize_t>(P.values.size());
  std::vector<double> data(P.values.begin(), P.values.end());
  P.values.clear();
  return py::make_tuple(to_numpy(std::move(P.indptr), {n + 1}),
                        to_numpy(std::move(P.indices), {nnz}),
                        to_numpy(std::move(data), {nnz}));
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
inline py::tuple graph_to_numpy(KnnGraph&& g) {
  const auto n = static_cast<py::ssize_t>(g.n);
  return py::make_tuple(to_numpy(std::move(g.indices), {n, g.k}),
                        to_numpy(std::move(g.distances), {n, g.k}));
}

// The public API that the turbotsne package calls (api.cpp) and the probes that only the
// tests and bench/ use, registered in the submodule _core._testing (testing.cpp).
void register_api(py::module_& m);
void register_testing(py::module_& t);

}  // namespace turbotsne::bindings
