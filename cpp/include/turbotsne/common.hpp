// Shared vocabulary of the core: the index type, dense matrix and CSR views, and `require`,
// the one check that turns a broken precondition into std::invalid_argument.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "turbotsne/buffer.hpp"

namespace turbotsne {

using index_t = std::int64_t;

// Row-major dense matrix over memory owned elsewhere (numpy arrays, std::vector).
template <class T>
struct MatrixView {
  T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;

  T* row(index_t i) const { return data + i * cols; }
  T& operator()(index_t i, index_t j) const { return data[i * cols + j]; }
  index_t size() const { return rows * cols; }
  operator MatrixView<const T>() const { return {data, rows, cols}; }
};
using Matrix = MatrixView<double>;
using ConstMatrix = MatrixView<const double>;
using ConstFloatMatrix = MatrixView<const float>;

// The input rows of a run: float64, or float32 as the caller holds them (the approximate
// neighbour search and the PCA read float32 rows without a float64 copy: 4 bytes per value
// instead of 12). Every computation on float32 rows is done in double on their exact values,
// so a float32 X gives the same bits as the same values in float64.
struct DataMatrix {
  const double* f64 = nullptr;
  const float* f32 = nullptr;
  index_t rows = 0;
  index_t cols = 0;

  DataMatrix() = default;
  DataMatrix(ConstMatrix m) : f64(m.data), rows(m.rows), cols(m.cols) {}        // NOLINT
  DataMatrix(ConstFloatMatrix m) : f32(m.data), rows(m.rows), cols(m.cols) {}   // NOLINT
  bool is_float32() const { return f32 != nullptr; }
  // The float64 rows; `what` names the stage that needs them when X is float32.
  ConstMatrix doubles(const char* what) const {
    if (is_float32()) {
      throw std::invalid_argument(std::string(what) + " needs float64 rows; got float32");
    }
    return {f64, rows, cols};
  }
  // f(MatrixView<const double>) or f(MatrixView<const float>); both must return one type.
  template <class F>
  decltype(auto) visit(F&& f) const {
    if (is_float32()) return f(ConstFloatMatrix{f32, rows, cols});
    return f(ConstMatrix{f64, rows, cols});
  }
};

// Compressed sparse rows over memory owned elsewhere. Column indices are sorted within a row.
template <class V>
struct CsrViewOf {
  index_t n_rows = 0;
  index_t n_cols = 0;
  const std::int64_t* indptr = nullptr;   // n_rows + 1 offsets
  const std::int32_t* indices = nullptr;  // column of each stored value
  const V* values = nullptr;
  index_t nnz() const { return n_rows == 0 ? 0 : indptr[n_rows]; }
};
// Affinity matrices (P) keep their values in float32: 8 bytes per stored entry with its
// column, the stream the attraction reads every iteration. Every sum over them is in double.
using CsrView = CsrViewOf<float>;
// Sparse distance matrices given by users (metric="precomputed") keep theirs in double.
using DistanceCsrView = CsrViewOf<double>;

// An affinity matrix that owns its storage (Buffer: P is built inside the kNN graph's arrays).
struct CsrMatrix {
  index_t n_rows = 0;
  index_t n_cols = 0;
  std::vector<std::int64_t> indptr;
  Buffer<std::int32_t> indices;
  Buffer<float> values;
  CsrView view() const {
    return {n_rows, n_cols, indptr.data(), indices.data(), values.data()};
  }
};

// Moves row p of each array (rows of `width` values) to row to[p], in place, for a
// permutation `to` of 0 .. to.size() − 1: along each cycle, slot `start` holds the row in
// transit, and swapping it with slot q puts it in place and picks up q's row.
template <class... T>
void scatter_rows(const std::vector<std::int32_t>& to, index_t width, T*... arrays) {
  const auto n = static_cast<index_t>(to.size());
  std::vector<bool> placed(static_cast<size_t>(n), false);
  for (index_t start = 0; start < n; ++start) {
    if (placed[start]) continue;
    placed[start] = true;
    for (index_t q = to[start]; q != start; q = to[q]) {
      (std::swap_ranges(arrays + start * width, arrays + (start + 1) * width, arrays + q * width), ...);
      placed[q] = true;
    }
  }
}

inline bool positive_finite(double x) { return x > 0.0 && std::isfinite(x); }

// Throws std::invalid_argument(message) unless ok: the entry points' checks of what a C++
// caller passes (the Python layer checks what users pass before it gets here).
inline void require(bool ok, const char* message) {
  if (!ok) throw std::invalid_argument(message);
}
inline void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace turbotsne
