// Shared vocabulary of the core: the index type, dense matrix and CSR views, and `require`,
// the one check that turns a broken precondition into std::invalid_argument.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

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

// Compressed sparse rows over memory owned elsewhere. Column indices are sorted within a row.
struct CsrView {
  index_t n_rows = 0;
  index_t n_cols = 0;
  const std::int64_t* indptr = nullptr;   // n_rows + 1 offsets
  const std::int32_t* indices = nullptr;  // column of each stored value
  const double* values = nullptr;
  // Optional: the values rounded to float32 (half the bytes to stream). Where set, the
  // attraction's forces use them; the KL term always uses `values`.
  const float* values_f32 = nullptr;
  index_t nnz() const { return n_rows == 0 ? 0 : indptr[n_rows]; }
};

// A CSR matrix that owns its storage.
struct CsrMatrix {
  index_t n_rows = 0;
  index_t n_cols = 0;
  std::vector<std::int64_t> indptr;
  std::vector<std::int32_t> indices;
  std::vector<double> values;
  CsrView view() const {
    return {n_rows, n_cols, indptr.data(), indices.data(), values.data()};
  }
};

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
