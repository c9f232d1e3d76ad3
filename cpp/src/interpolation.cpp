#include "turbotsne/interpolation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "turbotsne/fft.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/stopwatch.hpp"

namespace turbotsne {
namespace {

// Grids are capped so that a diverging embedding cannot exhaust memory: beyond this many
// boxes per dimension the boxes just get wider (and the approximation coarser).
constexpr int kMaxBoxes1d = 100000;
constexpr int kMaxBoxes2d = 1000;

}  // namespace

void InterpolationParams::validate() const {
  if (n_interpolation_points < 1 || n_interpolation_points > 32) {
    throw std::invalid_argument("n_interpolation_points must be in [1, 32], got " +
                                std::to_string(n_interpolation_points));
  }
  if (min_num_intervals < 1) {
    throw std::invalid_argument("min_num_intervals must be >= 1, got " +
                                std::to_string(min_num_intervals));
  }
  if (!(ints_in_interval > 0.0) || !std::isfinite(ints_in_interval)) {
    throw std::invalid_argument("ints_in_interval must be positive and finite");
  }
}

int interpolation_boxes(double range, const InterpolationParams& params) {
  double want = static_cast<double>(params.min_num_intervals);
  if (range > 0.0 && std::isfinite(range)) want = std::max(want, std::ceil(range / params.ints_in_interval));
  return next_fast_size(static_cast<int>(std::min(want, 1e9)));
}

struct FftRepulsion::Impl {
  int dims;
  double dof;
  InterpolationParams params;
  InterpolationTimings timings;
  int boxes = 0;
  int fft_size = 0;

  std::vector<std::int32_t> box;       // dims x n: box of each point per dimension
  std::vector<double> weights;         // dims x n x p: Lagrange weights
  std::vector<std::int32_t> order;     // points sorted by cell, stable
  std::vector<std::int64_t> cell_start;
  std::vector<double> charges;         // n_charges grids of N^dims nodes
  std::vector<double> potentials;      // dims + 1 grids of N^dims nodes
  std::vector<double> padded;          // M^dims
  std::vector<Complex> kernel_hat[2];  // the kernels' spectra (dof != 1 needs two)
  std::vector<Complex> spectrum;
  std::vector<double> table;           // the kernel at the N x N node offsets (2-D)
  std::unique_ptr<RealFft2d> fft2;
  std::unique_ptr<RealFftPlan> fft1;
  std::vector<Complex> first_spectrum;  // the charge-1 grid's spectrum, for Z (dof = 1)
  std::vector<double> block_sums;       // Z's partial sums over blocks of spectrum rows

  double compute(ConstMatrix Y, Matrix forces, int n_threads);
};

FftRepulsion::FftRepulsion(int dims, double dof, InterpolationParams params)
    : impl_(std::make_unique<Impl>()) {
  if (dims != 1 && dims != 2) {
    throw std::invalid_argument("the FFT method supports 1 or 2 embedding dimensions, got " +
                                std::to_string(dims));
  }
  if (!(dof > 0.0) || !std::isfinite(dof)) throw std::invalid_argument("dof must be positive");
  params.validate();
  impl_->dims = dims;
  impl_->dof = dof;
  impl_->params = params;
}

FftRepulsion::~FftRepulsion() = default;

const InterpolationTimings& FftRepulsion::last_timings() const { return impl_->timings; }
int FftRepulsion::last_boxes_per_dim() const { return impl_->boxes; }
int FftRepulsion::last_fft_size() const { return impl_->fft_size; }

double FftRepulsion::compute(ConstMatrix Y, Matrix forces, int n_threads) {
  if (Y.cols != impl_->dims) throw std::invalid_argument("FFT repulsion: wrong embedding dimension");
  return impl_->compute(Y, forces, n_threads);
}

double FftRepulsion::Impl::compute(ConstMatrix Y, Matrix forces, int n_threads) {
  Stopwatch watch;
  const index_t n = Y.rows;
  const int D = dims;
  const int p = params.n_interpolation_points;
  const bool cauchy = dof == 1.0;

  // 1. The grid: one square box over all coordinates.
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (index_t e = 0; e < Y.size(); ++e) {
    lo = std::min(lo, Y.data[e]);
    hi = std::max(hi, Y.data[e]);
  }
  double range = hi - lo;
  if (!(range > 0.0)) range = 1.0;  // all points coincide: any grid is exact
  boxes = std::min(interpolation_boxes(range, params), D == 1 ? kMaxBoxes1d : kMaxBoxes2d);
  const int nb = boxes;
  const int N = nb * p;                  // nodes per dimension
  const int M = next_fast_even_size(2 * N);  // transform length per dimension
  fft_size = M;
  const double box_width = range / nb;
  const double spacing = box_width / p;  // between nodes; node j of a box at (j + 1/2) spacing
  // Lagrange basis in node units: L_j(t) = Π_{m≠j} (t − m − 1/2) / (j − m).
  std::vector<double> inv_denominator(p);
  for (int j = 0; j < p; ++j) {
    double d = 1.0;
    for (int m = 0; m < p; ++m) {
      if (m != j) d *= static_cast<double>(j - m);
    }
    inv_denominator[j] = 1.0 / d;
  }
  box.resize(static_cast<size_t>(D) * n);
  weights.resize(static_cast<size_t>(D) * n * p);
  parallel_for(0, n, n_threads, [&](index_t i) {
    for (int d = 0; d < D; ++d) {
      const double u = (Y(i, d) - lo) / spacing;  // in node units from the grid's corner
      const int b = std::clamp(static_cast<int>(u / p), 0, nb - 1);
      const double t = u - static_cast<double>(b) * p;
      box[static_cast<size_t>(d) * n + i] = b;
      double* w = weights.data() + (static_cast<size_t>(d) * n + i) * p;
      for (int j = 0; j < p; ++j) {
        double v = inv_denominator[j];
        for (int m = 0; m < p; ++m) {
          if (m != j) v *= t - m - 0.5;
        }
        w[j] = v;
      }
    }
  }, 1024);
  // Points sorted by cell (counting sort, stable), so spreading can go cell row by cell row.
  const index_t n_cells = D == 1 ? nb : static_cast<index_t>(nb) * nb;
  auto cell_of = [&](index_t i) -> index_t {
    return D == 1 ? box[i] : box[i] + static_cast<index_t>(nb) * box[n + i];
  };
  cell_start.assign(static_cast<size_t>(n_cells) + 1, 0);
  for (index_t i = 0; i < n; ++i) ++cell_start[cell_of(i) + 1];
  for (index_t c = 0; c < n_cells; ++c) cell_start[c + 1] += cell_start[c];
  order.resize(n);
  {
    std::vector<std::int64_t> fill(cell_start.begin(), cell_start.end() - 1);
    for (index_t i = 0; i < n; ++i) order[fill[cell_of(i)]++] = static_cast<std::int32_t>(i);
  }
  timings.grid = watch.lap();

  // 2. Spread the charges. dof = 1: (1, y..., |y|²) against the squared kernel; otherwise
  // (1, y...) against w^((α+1)/α), and the charge 1 once more against w for Z.
  const int n_charges = cauchy ? D + 2 : D + 1;
  const index_t grid_size = D == 1 ? N : static_cast<index_t>(N) * N;
  charges.assign(static_cast<size_t>(n_charges * grid_size), 0.0);
  auto charge = [&](index_t i, double* q) {
    q[0] = 1.0;
    double r2 = 0.0;
    for (int d = 0; d < D; ++d) {
      q[1 + d] = Y(i, d);
      r2 += Y(i, d) * Y(i, d);
    }
    if (cauchy) q[D + 1] = r2;
  };
  // Each task owns a row of boxes (2-D) or one box (1-D), hence disjoint nodes.
  parallel_for(0, nb, n_threads, [&](index_t row) {
    double q[4];
    const int first = D == 1 ? static_cast<int>(row) : 0;
    const int last = D == 1 ? static_cast<int>(row) + 1 : nb;
    for (int bx = first; bx < last; ++bx) {
      const index_t cell = D == 1 ? bx : bx + row * nb;
      for (std::int64_t t = cell_start[cell]; t < cell_start[cell + 1]; ++t) {
        const index_t i = order[t];
        charge(i, q);
        const double* wx = weights.data() + static_cast<size_t>(i) * p;
        if (D == 1) {
          for (int jx = 0; jx < p; ++jx) {
            const index_t node = static_cast<index_t>(bx) * p + jx;
            for (int c = 0; c < n_charges; ++c) charges[c * grid_size + node] += wx[jx] * q[c];
          }
          continue;
        }
        const double* wy = weights.data() + (static_cast<size_t>(n) + i) * p;
        for (int jy = 0; jy < p; ++jy) {
          const index_t base = (row * p + jy) * N + static_cast<index_t>(bx) * p;
          for (int jx = 0; jx < p; ++jx) {
            const double w = wy[jy] * wx[jx];
            for (int c = 0; c < n_charges; ++c) charges[c * grid_size + base + jx] += w * q[c];
          }
        }
      }
    }
  }, 1);
  timings.spread = watch.lap();

  // 3. Node-node sums: zero-padded circular convolutions, by FFT.
  const index_t padded_size = D == 1 ? M : static_cast<index_t>(M) * M;
  const index_t spectrum_size = D == 1 ? M / 2 + 1 : static_cast<index_t>(M) * (M / 2 + 1);
  if (D == 1 && (!fft1 || fft1->size() != M)) fft1 = std::make_unique<RealFftPlan>(M);
  if (D == 2 && (!fft2 || fft2->rows() != M)) fft2 = std::make_unique<RealFft2d>(M, M);
  padded.resize(static_cast<size_t>(padded_size));
  spectrum.resize(static_cast<size_t>(spectrum_size));
  std::vector<Complex> work1(D == 1 ? static_cast<size_t>(M) : 0);
  // The charge grids fill only the first N of M rows, and only N rows of the result are
  // used: the transforms skip the others.
  auto forward = [&](std::vector<Complex>& out, int nonzero_rows) {
    out.resize(static_cast<size_t>(spectrum_size));
    if (D == 1) {
      fft1->forward(padded.data(), out.data(), work1.data());
    } else {
      fft2->forward(padded.data(), out.data(), n_threads, nonzero_rows);
    }
  };
  auto inverse = [&]() {
    if (D == 1) {
      fft1->inverse(spectrum.data(), padded.data(), work1.data());
    } else {
      fft2->inverse(spectrum.data(), padded.data(), n_threads, N);
    }
  };
  // Kernel values at node offsets: index a < N is offset a, a > M − N is offset M − a.
  auto offset = [&](int a) -> int { return a < N ? a : (a > M - N ? M - a : -1); };
  const int n_kernels = cauchy ? 1 : 2;
  for (int kern = 0; kern < n_kernels; ++kern) {
    // kern 0: the repulsive weight (squared kernel for dof = 1); kern 1: w itself (for Z).
    const double power = kern == 0 ? -(dof + 1.0) : -dof;
    auto K = [&](double d2) {
      return cauchy ? 1.0 / ((1.0 + d2) * (1.0 + d2)) : std::pow(1.0 + d2 / dof, power);
    };
    const double h2 = spacing * spacing;
    if (D == 1) {
      for (int a = 0; a < M; ++a) {
        const int oa = offset(a);
        padded[a] = oa < 0 ? 0.0 : K(h2 * oa * oa);
      }
      forward(kernel_hat[kern], M);
      continue;
    }
    // The padded kernel is even: its rows a and M − a are equal, and so are its columns.
    // The N x N distinct values are computed once and mirrored, and only rows 0 .. M/2 are
    // filled and transformed.
    table.resize(static_cast<size_t>(N) * N);
    parallel_for(0, N, n_threads, [&](index_t a) {
      for (int b = 0; b < N; ++b) table[a * N + b] = K(h2 * (double(a) * a + double(b) * b));
    }, 16);
    parallel_for(0, M / 2 + 1, n_threads, [&](index_t a) {
      const int oa = offset(static_cast<int>(a));
      double* row = padded.data() + a * M;
      for (int b = 0; b < M; ++b) {
        const int ob = offset(b);
        row[b] = (oa < 0 || ob < 0) ? 0.0 : table[static_cast<index_t>(oa) * N + ob];
      }
    }, 16);
    kernel_hat[kern].resize(static_cast<size_t>(spectrum_size));
    fft2->forward_even_rows(padded.data(), kernel_hat[kern].data(), n_threads);
  }
  // One convolution with kernel 0 per charge grid that the forces need (1 and y). Z needs no
  // more transforms: Σ_i z_i is a sum over node pairs, Σ_nodes q_a · (K ∗ q_b), which
  // Parseval turns into Σ_k Re(conj(Q_a) K Q_b) / M^D over the spectrum (the half spectrum
  // counts columns 1 .. M/2 − 1 twice). Each charge's share is added as its spectrum is
  // multiplied by the kernel's, in fixed blocks of rows (the same sum for any thread
  // count). The padded kernels are even, so their spectra are real but for rounding: their
  // real parts are used.
  //   dof = 1: z_i = (1 + |y_i|²) φ_1 − 2 y_i · φ_y + φ_{|y|²} through the squared kernel,
  //            so Z + n = Σ K (|Q_1|² − 2 Σ_d |Q_{y_d}|² + 2 Re(conj(Q_{|y|²}) Q_1));
  //   else:    z_i = φ_1 through w, so Z + n = Σ K_w |Q_1|².
  const int n_conv = D + 1;
  potentials.resize(static_cast<size_t>(n_conv * grid_size));
  if (cauchy) first_spectrum.resize(static_cast<size_t>(spectrum_size));
  const index_t spectrum_cols = M / 2 + 1;
  const index_t spectrum_rows = D == 1 ? 1 : M;
  double z_grid = 0.0;
  for (int c = 0; c < n_charges; ++c) {
    const double* g = charges.data() + c * grid_size;
    if (D == 1) {
      std::copy(g, g + N, padded.begin());
      std::fill(padded.begin() + N, padded.end(), 0.0);
    } else {
      parallel_for(0, N, n_threads, [&](index_t r) {
        double* row = padded.data() + r * M;
        std::copy(g + r * N, g + (r + 1) * N, row);
        std::fill(row + N, row + M, 0.0);
      }, 64);
    }
    forward(spectrum, N);
    const bool convolve = c < n_conv;
    const std::vector<Complex>& kz = kernel_hat[cauchy ? 0 : 1];
    // The Z term of this charge: 0 none, 1 |Q|², 2 −2|Q|², 3 2 Re(conj(Q) Q_1).
    const int term = cauchy ? (c == 0 ? 1 : (c <= D ? 2 : 3)) : (c == 0 ? 1 : 0);
    auto rows_of = [&](index_t r0, index_t r1, auto term_const) {
      constexpr int kTerm = decltype(term_const)::value;
      double acc = 0.0;
      for (index_t r = r0; r < r1; ++r) {
        double row_acc = 0.0;
        Complex* row = spectrum.data() + r * spectrum_cols;
        const Complex* kz_row = kz.data() + r * spectrum_cols;
        const Complex* k0_row = kernel_hat[0].data() + r * spectrum_cols;
        const Complex* q1_row = first_spectrum.data() + r * spectrum_cols;
        Complex* keep_row = cauchy && c == 0 ? first_spectrum.data() + r * spectrum_cols : nullptr;
        for (index_t col = 0; col < spectrum_cols; ++col) {
          const Complex qk = row[col];
          if constexpr (kTerm != 0) {
            double t;
            if constexpr (kTerm == 1) t = qk.real() * qk.real() + qk.imag() * qk.imag();
            if constexpr (kTerm == 2) t = -2.0 * (qk.real() * qk.real() + qk.imag() * qk.imag());
            if constexpr (kTerm == 3) t = 2.0 * (qk.real() * q1_row[col].real() + qk.imag() * q1_row[col].imag());
            const double weight = (col == 0 || col == M / 2) ? 1.0 : 2.0;
            row_acc += weight * kz_row[col].real() * t;
          }
          if (keep_row != nullptr) keep_row[col] = qk;
          if (convolve) row[col] = complex_mul(qk, k0_row[col]);
        }
        acc += row_acc;
      }
      return acc;
    };
    // Fixed blocks of rows, their sums added in order: the same total for any thread count.
    constexpr index_t kRowsPerBlock = 16;
    const index_t n_blocks = (spectrum_rows + kRowsPerBlock - 1) / kRowsPerBlock;
    block_sums.assign(static_cast<size_t>(n_blocks), 0.0);
    parallel_for(0, n_blocks, n_threads, [&](index_t blk) {
      const index_t r0 = blk * kRowsPerBlock, r1 = std::min(spectrum_rows, r0 + kRowsPerBlock);
      switch (term) {
        case 0: block_sums[blk] = rows_of(r0, r1, std::integral_constant<int, 0>{}); break;
        case 1: block_sums[blk] = rows_of(r0, r1, std::integral_constant<int, 1>{}); break;
        case 2: block_sums[blk] = rows_of(r0, r1, std::integral_constant<int, 2>{}); break;
        default: block_sums[blk] = rows_of(r0, r1, std::integral_constant<int, 3>{}); break;
      }
    }, 1);
    for (double v : block_sums) z_grid += v;
    if (!convolve) continue;
    inverse();
    double* pot = potentials.data() + c * grid_size;
    if (D == 1) {
      std::copy(padded.begin(), padded.begin() + N, pot);
    } else {
      for (int r = 0; r < N; ++r) std::copy(padded.begin() + static_cast<index_t>(r) * M, padded.begin() + static_cast<index_t>(r) * M + N, pot + static_cast<index_t>(r) * N);
    }
  }
  timings.fft = watch.lap();

  // 4. Back to the points: potentials and forces.
  parallel_for(0, n, n_threads, [&](index_t i) {
    double phi[3] = {0.0, 0.0, 0.0};
    const double* wx = weights.data() + static_cast<size_t>(i) * p;
    const index_t bx = box[i];
    if (D == 1) {
      for (int jx = 0; jx < p; ++jx) {
        const index_t node = bx * p + jx;
        for (int c = 0; c < n_conv; ++c) phi[c] += wx[jx] * potentials[c * grid_size + node];
      }
    } else {
      const double* wy = weights.data() + (static_cast<size_t>(n) + i) * p;
      const index_t by = box[n + i];
      for (int jy = 0; jy < p; ++jy) {
        const index_t base = (by * p + jy) * N + bx * p;
        for (int jx = 0; jx < p; ++jx) {
          const double w = wy[jy] * wx[jx];
          for (int c = 0; c < n_conv; ++c) phi[c] += w * potentials[c * grid_size + base + jx];
        }
      }
    }
    for (int d = 0; d < D; ++d) forces(i, d) = Y(i, d) * phi[0] - phi[1 + d];
  }, 1024);
  const double total = z_grid / static_cast<double>(padded_size) - static_cast<double>(n);
  timings.interpolate = watch.lap();
  return total;
}

}  // namespace turbotsne
