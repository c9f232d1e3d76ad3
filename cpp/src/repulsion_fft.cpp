#include "turbotsne/repulsion_fft.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "turbotsne/fft.hpp"
#include "turbotsne/parallel.hpp"
#include "turbotsne/prefetch.hpp"
#include "turbotsne/stopwatch.hpp"

namespace turbotsne {

namespace {

// Scratch of the calling thread that keeps its storage from call to call (one buffer per
// kSlot and type). The transforms' work arrays are written before they are read, so they
// need no allocation and no zeroing per task: value-initialising them (std::complex zeroes
// itself) wrote about 35 MB per iteration on MNIST's 900-point grid.
template <class T, int kSlot>
T* thread_scratch(size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

// Cache lines asked for ahead of their use (prefetch_line, prefetch.hpp): the column pass
// walks the row spectra down a column block, one line per row and rows a stride of ~10 KB
// apart (MNIST's last grids): lines the hardware did not fetch ahead, so that the pass waited
// on most of them (a third of its time outside the transforms).
constexpr index_t kRowsAhead = 8;  // rows of the column pass asked for ahead
// Placing the points reads, and interpolating writes, their rows of Y and of the forces in
// cell order: rows scattered over arrays (16 MB each at 1M points) that the transforms
// between them have evicted from the caches.
constexpr index_t kPointsAhead = 16;

// Uninitialised storage for the 2-D row spectra, on Linux 2 MB-aligned with transparent huge
// pages requested (where the system grants them on request, as with the default "madvise"
// setting). The column pass walks the spectra down their columns: one 64-byte line per row,
// the rows 7 KB apart on MNIST's grid, so with 4 KB pages every line it reads or writes is
// another page, and a TLB miss.
class SpectrumStorage {
 public:
  SpectrumStorage() = default;
  SpectrumStorage(const SpectrumStorage&) = delete;
  SpectrumStorage& operator=(const SpectrumStorage&) = delete;
  ~SpectrumStorage() { release(); }
  // At least n values, 64-byte aligned; the old contents are not kept.
  Complex* reserve(size_t n) {
    if (n <= capacity_) return data_;
    release();
#if defined(__linux__)
    constexpr size_t kHuge = size_t{2} << 20;
    const size_t bytes = (n * sizeof(Complex) + kHuge - 1) / kHuge * kHuge;
    void* p = nullptr;
    if (posix_memalign(&p, kHuge, bytes) != 0) throw std::bad_alloc();
    madvise(p, bytes, MADV_HUGEPAGE);  // a request: refused, the pages are 4 KB ones
    data_ = static_cast<Complex*>(p);
    capacity_ = bytes / sizeof(Complex);
#else
    data_ = static_cast<Complex*>(::operator new(n * sizeof(Complex), std::align_val_t{64}));
    capacity_ = n;
#endif
    return data_;
  }

 private:
  void release() {
#if defined(__linux__)
    std::free(data_);
#else
    if (data_) ::operator delete(data_, std::align_val_t{64});
#endif
    data_ = nullptr;
    capacity_ = 0;
  }
  Complex* data_ = nullptr;
  size_t capacity_ = 0;
};

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

// The peers' rule, boxes at most ints_in_interval wide and at least min_num_intervals of
// them, rounded up to a size of the form 2^a 3^b 5^c so that the transforms are fast; then
// capped so that a diverging embedding, an outlier or a small embedding spread wide cannot
// make a grid that exhausts memory or costs more than the points (beyond a cap the boxes get
// wider and the approximation coarser):
//   1-D: at most 100,000 boxes;
//   2-D: at most 1,000 boxes, at most 3000 nodes per dimension (the 2-D grid's cost is
//        quadratic in them) whatever n_interpolation_points, and at most
//        max(min_num_intervals, 4·sqrt(n)) boxes. A t-SNE embedding spans about 0.6·sqrt(n)
//        (MNIST 70k: 150 boxes), well inside the last bound.
int fft_boxes_per_dim(double range, index_t n, int dims, const InterpolationParams& params) {
  constexpr int kMaxBoxes1d = 100000;
  constexpr int kMaxBoxes2d = 1000;
  double want = static_cast<double>(params.min_num_intervals);
  if (range > 0.0 && std::isfinite(range)) want = std::max(want, std::ceil(range / params.ints_in_interval));
  const int boxes = std::min(next_fast_size(static_cast<int>(std::min(want, 1e9))),
                             dims == 1 ? kMaxBoxes1d : kMaxBoxes2d);
  if (dims == 1) return boxes;
  const double sqrt_n = std::sqrt(static_cast<double>(n));
  const int few_points_cap =
      std::max(params.min_num_intervals, static_cast<int>(std::ceil(4.0 * sqrt_n)));
  const int node_cap = 3 * kMaxBoxes2d / params.n_interpolation_points;
  return std::max(1, std::min({boxes, few_points_cap, node_cap}));
}

struct FftRepulsion::Impl {
  int dims;
  double dof;
  InterpolationParams params;
  InterpolationTimings timings;

  std::vector<std::int32_t> cell;      // n: each point's cell (box index, x fastest)
  std::vector<double> sorted_y;        // n x dims: the points' coordinates in cell order
  std::vector<double> weights;         // n x dims x p: Lagrange weights, in cell order
  std::vector<std::int32_t> order;     // points sorted by cell, stable
  std::vector<std::int64_t> cell_start;
  std::vector<double> charges;         // N^dims nodes x n_charges values, node by node
  std::vector<double> potentials;      // N^dims nodes x (dims + 1) values, node by node
  std::vector<double> block_sums;      // Z's partial sums over fixed blocks of the spectrum

  // 1-D
  std::unique_ptr<RealFftPlan> fft1;
  std::vector<double> padded;          // M
  std::vector<Complex> kernel_hat[2];  // the kernels' spectra (dof != 1 needs two)
  std::vector<Complex> spectrum;

  // 2-D
  std::unique_ptr<RealFftPlan> row_plan;  // length M, real
  std::unique_ptr<FftPlan> col_plan;      // length M, complex
  std::vector<double> table;              // the kernel at the N x N node offsets
  // Row transforms: grids x N rows of M/2 + 1 values, each row `stride` values apart (M/2 + 1
  // rounded up to a block of kCols) from a 64-byte boundary, so that a block of kCols columns
  // of a row is one cache line (the column pass reads and writes the spectra block by block).
  SpectrumStorage row_storage;
  Complex* row_spectra = nullptr;
  index_t stride = 0;
  std::vector<double> kernel_columns[2];  // real kernel spectra, column-major, rows 0 .. M/2 (kernel 0 / M)

  // The grid of the last call.
  struct Grid {
    int boxes = 0;         // per dimension
    int nodes = 0;         // N = boxes · p, per dimension
    int fft_size = 0;      // M, the transform length per dimension
    double spacing = 0.0;  // between nodes
  } grid;

  double compute(ConstMatrix Y, Matrix forces, int n_threads);
  // The point stages, with the nodes per box P known at compile time (P = 0: run time,
  // params.n_interpolation_points), so that the default 3 gets unrolled loops.
  template <int P>
  void place_points(ConstMatrix Y, int n_threads);
  template <int P>
  void spread_charges(int n_threads);
  template <int P>
  void interpolate_forces(Matrix forces, int n_threads);
  template <class F>
  void with_static_p(F&& f) {
    if (params.n_interpolation_points == 3) {
      f(std::integral_constant<int, 3>());
    } else {
      f(std::integral_constant<int, 0>());
    }
  }
  double convolve_1d(int N, int M, double spacing);
  double convolve_2d(int N, int M, double spacing, int n_threads);
  // The steps of convolve_2d.
  static constexpr index_t kCols = 4;  // spectrum columns transformed together
  static constexpr index_t kRowChunk = 8;  // rows per task of the row transforms
  template <class FillRow, class Dest>
  void transform_rows(index_t n_rows, int M, int n_threads, FillRow&& fill_row, Dest&& dest);
  void kernel_spectra_2d(int N, int M, double spacing, int n_threads);
  void charge_row_spectra(int N, int M, int n_threads);
  double convolve_columns(int N, int M, int n_threads);
  void potential_rows(int N, int M, int n_threads);
};

FftRepulsion::FftRepulsion(int dims, double dof, InterpolationParams params)
    : Repulsion(dof), impl_(std::make_unique<Impl>()) {
  if (dims != 1 && dims != 2) {
    throw std::invalid_argument("the FFT method supports 1 or 2 embedding dimensions, got " +
                                std::to_string(dims));
  }
  params.validate();
  impl_->dims = dims;
  impl_->dof = dof;
  impl_->params = params;
}

FftRepulsion::~FftRepulsion() = default;

const InterpolationTimings& FftRepulsion::last_timings() const { return impl_->timings; }
int FftRepulsion::last_boxes_per_dim() const { return impl_->grid.boxes; }
int FftRepulsion::last_fft_size() const { return impl_->grid.fft_size; }

double FftRepulsion::compute(ConstMatrix Y, Matrix forces, int n_threads) {
  if (Y.cols != impl_->dims) throw std::invalid_argument("FFT repulsion: wrong embedding dimension");
  return impl_->compute(Y, forces, n_threads);
}

// One call: the four steps of the header's description, each timed.
double FftRepulsion::Impl::compute(ConstMatrix Y, Matrix forces, int n_threads) {
  Stopwatch watch;
  with_static_p([&](auto P) { place_points<P()>(Y, n_threads); });
  timings.grid = watch.lap();
  with_static_p([&](auto P) { spread_charges<P()>(n_threads); });
  timings.spread = watch.lap();
  const double z_plus_n = dims == 1 ? convolve_1d(grid.nodes, grid.fft_size, grid.spacing)
                                    : convolve_2d(grid.nodes, grid.fft_size, grid.spacing, n_threads);
  timings.fft = watch.lap();
  with_static_p([&](auto P) { interpolate_forces<P()>(forces, n_threads); });
  // Z is the grid's Z + n less n: when the points lie so far apart that the true Z is below
  // the transforms' rounding of Z + n (a few ulps of n), the difference is noise and can be
  // zero or negative. Floor it there, at a Z that small (the forces then carry the noise
  // divided by it, which is tiny), instead of stopping the run: t-SNE embeddings have
  // Z / n of order 1 or more, so no run that works is changed.
  const double n = static_cast<double>(Y.rows);
  const double total = std::max(z_plus_n - n, 1e-10 * n);
  timings.interpolate = watch.lap();
  return total;
}

// 1. The grid: one square box over all coordinates; each point's cell, the points sorted by
// cell (counting sort, stable), their coordinates and Lagrange weights in that order.
template <int P>
void FftRepulsion::Impl::place_points(ConstMatrix Y, int n_threads) {
  const index_t n = Y.rows;
  const int D = dims;
  const int p = P > 0 ? P : params.n_interpolation_points;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (index_t e = 0; e < Y.size(); ++e) {
    lo = std::min(lo, Y.data[e]);
    hi = std::max(hi, Y.data[e]);
  }
  double range = hi - lo;
  if (!(range > 0.0)) range = 1.0;  // all points coincide: any grid is exact
  const int nb = fft_boxes_per_dim(range, n, D, params);
  grid.boxes = nb;
  grid.nodes = nb * p;
  grid.fft_size = next_fast_even_size(2 * grid.nodes);
  const double box_width = range / nb;
  const double spacing = box_width / p;  // between nodes; node j of a box at (j + 1/2) spacing
  grid.spacing = spacing;
  // Lagrange basis in node units: L_j(t) = Π_{m≠j} (t − m − 1/2) / (j − m).
  std::vector<double> inv_denominator(p);
  for (int j = 0; j < p; ++j) {
    double d = 1.0;
    for (int m = 0; m < p; ++m) {
      if (m != j) d *= static_cast<double>(j - m);
    }
    inv_denominator[j] = 1.0 / d;
  }
  // Spreading goes cell row by cell row, and both spreading and interpolation read the
  // points' data (coordinates, Lagrange weights) in cell order, contiguously.
  const index_t n_cells = D == 1 ? nb : static_cast<index_t>(nb) * nb;
  // u: y in node units from the grid's corner, by products with the reciprocals rather than
  // divisions (whose latency the two loops waited on); a box so found may leave `local` a
  // rounding outside [0, p), which the weights extrapolate.
  const double inv_spacing = 1.0 / spacing, inv_p = 1.0 / p;
  auto box_of_u = [&](double u) { return std::clamp(static_cast<int>(u * inv_p), 0, nb - 1); };
  auto box_of = [&](double y) { return box_of_u((y - lo) * inv_spacing); };
  cell.resize(n);
  parallel_for(0, n, n_threads, [&](index_t i) {
    cell[i] = D == 1 ? box_of(Y(i, 0)) : box_of(Y(i, 0)) + nb * box_of(Y(i, 1));
  }, 4096);
  cell_start.assign(static_cast<size_t>(n_cells) + 1, 0);
  for (index_t i = 0; i < n; ++i) ++cell_start[cell[i] + 1];
  for (index_t c = 0; c < n_cells; ++c) cell_start[c + 1] += cell_start[c];
  order.resize(n);
  {
    std::vector<std::int64_t> fill(cell_start.begin(), cell_start.end() - 1);
    for (index_t i = 0; i < n; ++i) order[fill[cell[i]]++] = static_cast<std::int32_t>(i);
  }
  // Sorted point t: coordinates sorted_y[t·D + d], weights weights[(t·D + d)·p + j].
  sorted_y.resize(static_cast<size_t>(D) * n);
  weights.resize(static_cast<size_t>(D) * n * p);
  parallel_for(0, n, n_threads, [&](index_t t) {
    if (t + kPointsAhead < n) prefetch_line(Y.row(order[t + kPointsAhead]));
    const index_t i = order[t];
    for (int d = 0; d < D; ++d) {
      const double y = Y(i, d);
      const double u = (y - lo) * inv_spacing;
      const double local = u - static_cast<double>(box_of_u(u)) * p;
      sorted_y[t * D + d] = y;
      double* w = weights.data() + (t * D + d) * p;
      for (int j = 0; j < p; ++j) {
        double v = inv_denominator[j];
        for (int m = 0; m < p; ++m) {
          if (m != j) v *= local - m - 0.5;
        }
        w[j] = v;
      }
    }
  }, 1024);
}

// 2. The charges spread to the nodes. dof = 1: (1, y..., |y|²) against the squared kernel;
// otherwise (1, y...) against w^((α+1)/α), and the charge 1 once more against w for Z.
template <int P>
void FftRepulsion::Impl::spread_charges(int n_threads) {
  const int D = dims;
  const int p = P > 0 ? P : params.n_interpolation_points;
  const bool cauchy = dof == 1.0;
  const int nb = grid.boxes;
  const int N = grid.nodes;
  const int n_charges = cauchy ? D + 2 : D + 1;
  const index_t grid_size = D == 1 ? N : static_cast<index_t>(N) * N;
  // Every node is zeroed by the task that owns it, just before its charges are added (a
  // serial assign of the whole grid, 13 MB on MNIST's last grids, took ~5% of a call).
  charges.resize(static_cast<size_t>(n_charges * grid_size));
  auto charge = [&](index_t t, double* q) {
    q[0] = 1.0;
    double r2 = 0.0;
    for (int d = 0; d < D; ++d) {
      const double y = sorted_y[t * D + d];
      q[1 + d] = y;
      r2 += y * y;
    }
    if (cauchy) q[D + 1] = r2;
  };
  // Each task owns a row of boxes (2-D) or one box (1-D), hence disjoint nodes.
  parallel_for(0, nb, n_threads, [&](index_t row) {
    double q[4];
    const int first = D == 1 ? static_cast<int>(row) : 0;
    const int last = D == 1 ? static_cast<int>(row) + 1 : nb;
    // The task's nodes: box `row`'s p nodes (1-D), or the p node rows of box row `row` (2-D).
    const index_t owned = D == 1 ? p : static_cast<index_t>(p) * N;
    std::fill_n(charges.data() + row * owned * n_charges, owned * n_charges, 0.0);
    for (int bx = first; bx < last; ++bx) {
      const index_t c0 = D == 1 ? bx : bx + row * nb;
      for (std::int64_t t = cell_start[c0]; t < cell_start[c0 + 1]; ++t) {
        charge(t, q);
        const double* wx = weights.data() + t * D * p;
        if (D == 1) {
          for (int jx = 0; jx < p; ++jx) {
            const index_t node = static_cast<index_t>(bx) * p + jx;
            for (int c = 0; c < n_charges; ++c) charges[node * n_charges + c] += wx[jx] * q[c];
          }
          continue;
        }
        const double* wy = wx + p;
        // The charges' count as a constant, so that q stays in registers.
        auto spread_2d = [&](auto count) {
          for (int jy = 0; jy < p; ++jy) {
            const index_t base = (row * p + jy) * N + static_cast<index_t>(bx) * p;
            for (int jx = 0; jx < p; ++jx) {
              const double w = wy[jy] * wx[jx];
              double* node = charges.data() + (base + jx) * count();
              for (int c = 0; c < count(); ++c) node[c] += w * q[c];
            }
          }
        };
        if (n_charges == 4) {
          spread_2d(std::integral_constant<int, 4>());
        } else {
          spread_2d(std::integral_constant<int, 3>());
        }
      }
    }
  }, 1);
  potentials.resize(static_cast<size_t>((D + 1) * grid_size));  // written by the convolutions
}

// 4. The node potentials back to the points, in sorted order, and their forces (step 3 is
// convolve_1d / convolve_2d).
template <int P>
void FftRepulsion::Impl::interpolate_forces(Matrix forces, int n_threads) {
  const int D = dims;
  const int p = P > 0 ? P : params.n_interpolation_points;
  const int nb = grid.boxes;
  const int N = grid.nodes;
  const int n_conv = D + 1;
  const index_t n = forces.rows;
  const index_t n_cells = D == 1 ? nb : static_cast<index_t>(nb) * nb;
  parallel_for(0, n_cells, n_threads, [&](index_t c0) {
    const index_t bx = D == 1 ? c0 : c0 % nb;
    const index_t by = D == 1 ? 0 : c0 / nb;
    for (std::int64_t t = cell_start[c0]; t < cell_start[c0 + 1]; ++t) {
      const double* wx = weights.data() + t * D * p;
      if (t + kPointsAhead < n) prefetch_line(forces.row(order[t + kPointsAhead]), true);
      const index_t i = order[t];
      if (D == 1) {
        double phi0 = 0.0, phi1 = 0.0;
        for (int jx = 0; jx < p; ++jx) {
          const double* node = potentials.data() + (bx * p + jx) * n_conv;
          phi0 += wx[jx] * node[0];
          phi1 += wx[jx] * node[1];
        }
        forces(i, 0) = sorted_y[t] * phi0 - phi1;
        continue;
      }
      // n_conv = 3: three named sums, kept in registers, and the forces formed from them
      // (stored to an array and reloaded as a vector, they stalled on a failed store
      // forward: most of this step).
      const double* wy = wx + p;
      double phi0 = 0.0, phi1 = 0.0, phi2 = 0.0;
      for (int jy = 0; jy < p; ++jy) {
        const index_t base = (by * p + jy) * N + bx * p;
        for (int jx = 0; jx < p; ++jx) {
          const double w = wy[jy] * wx[jx];
          const double* node = potentials.data() + (base + jx) * 3;
          phi0 += w * node[0];
          phi1 += w * node[1];
          phi2 += w * node[2];
        }
      }
      forces(i, 0) = sorted_y[t * 2] * phi0 - phi1;
      forces(i, 1) = sorted_y[t * 2 + 1] * phi0 - phi2;
    }
  }, 64);
}

// The kernel whose spectrum the convolutions use: kern 0 is the repulsive weight (the squared
// kernel for dof = 1), kern 1 is w itself (for Z when dof != 1). d2: squared distance.
namespace {
double kernel_value(double dof, int kern, double d2) {
  if (dof == 1.0) return 1.0 / ((1.0 + d2) * (1.0 + d2));
  return std::pow(1.0 + d2 / dof, kern == 0 ? -(dof + 1.0) : -dof);
}

// The share of one frequency in Z + n (Parseval; see convolve_2d). q: the charge spectra at
// that frequency in the order of compute's charges.
inline double z_term(bool cauchy, int D, const Complex* const* q, index_t k) {
  const Complex q1 = q[0][k];
  double t = q1.real() * q1.real() + q1.imag() * q1.imag();
  if (cauchy) {
    for (int d = 1; d <= D; ++d) t -= 2.0 * (q[d][k].real() * q[d][k].real() + q[d][k].imag() * q[d][k].imag());
    t += 2.0 * (q[D + 1][k].real() * q1.real() + q[D + 1][k].imag() * q1.imag());
  }
  return t;
}
}  // namespace

// One convolution with kernel 0 per charge grid that the forces need (1 and y). Z needs no
// more transforms: Σ_i z_i is a sum over node pairs, Σ_nodes q_a · (K ∗ q_b), which Parseval
// turns into Σ_k Re(conj(Q_a) K Q_b) / M^D over the spectrum (the half spectrum counts
// columns 1 .. M/2 − 1 twice). The padded kernels are even, so their spectra are real but for
// rounding: their real parts are used.
//   dof = 1: z_i = (1 + |y_i|²) φ_1 − 2 y_i · φ_y + φ_{|y|²} through the squared kernel,
//            so Z + n = Σ K (|Q_1|² − 2 Σ_d |Q_{y_d}|² + 2 Re(conj(Q_{|y|²}) Q_1));
//   else:    z_i = φ_1 through w, so Z + n = Σ K_w |Q_1|².
// Returns the grid's Z + n.
double FftRepulsion::Impl::convolve_1d(int N, int M, double spacing) {
  constexpr int D = 1;
  const bool cauchy = dof == 1.0;
  const int n_charges = cauchy ? D + 2 : D + 1;
  const int n_conv = D + 1;
  const index_t sc = M / 2 + 1;
  if (!fft1 || fft1->size() != M) fft1 = std::make_unique<RealFftPlan>(M);
  padded.resize(static_cast<size_t>(M));
  spectrum.resize(static_cast<size_t>(sc));
  std::vector<Complex> work(static_cast<size_t>(M));
  const double h2 = spacing * spacing;
  for (int kern = 0; kern < (cauchy ? 1 : 2); ++kern) {
    // Index a < N is offset a, a > M − N is offset M − a, the rest is padding.
    for (int a = 0; a < M; ++a) {
      const int oa = a < N ? a : (a > M - N ? M - a : -1);
      padded[a] = oa < 0 ? 0.0 : kernel_value(dof, kern, h2 * oa * oa);
    }
    kernel_hat[kern].resize(static_cast<size_t>(sc));
    fft1->forward(padded.data(), kernel_hat[kern].data(), work.data());
  }
  std::vector<std::vector<Complex>> q(static_cast<size_t>(n_charges));
  for (int c = 0; c < n_charges; ++c) {
    for (int t = 0; t < N; ++t) padded[t] = charges[static_cast<size_t>(t) * n_charges + c];
    std::fill(padded.begin() + N, padded.end(), 0.0);
    q[c].resize(static_cast<size_t>(sc));
    fft1->forward(padded.data(), q[c].data(), work.data());
  }
  const Complex* qs[4] = {};
  for (int c = 0; c < n_charges; ++c) qs[c] = q[c].data();
  const std::vector<Complex>& kz = kernel_hat[cauchy ? 0 : 1];
  double z_grid = 0.0;
  for (index_t k = 0; k < sc; ++k) {
    const double weight = (k == 0 || k == M / 2) ? 1.0 : 2.0;
    z_grid += weight * kz[k].real() * z_term(cauchy, D, qs, k);
  }
  for (int c = 0; c < n_conv; ++c) {
    for (index_t k = 0; k < sc; ++k) spectrum[k] = complex_mul(q[c][k], kernel_hat[0][k]);
    fft1->inverse(spectrum.data(), padded.data(), work.data());
    for (int t = 0; t < N; ++t) potentials[static_cast<size_t>(t) * n_conv + c] = padded[t];
  }
  return z_grid / M;
}

// Transforms the rows s in [0, n_rows) that fill_row(s, row) writes into row dest(s) of
// row_spectra, four at a time (RealFftPlan::forward4). The row buffers start at zero and
// fill_row may write only a prefix of them.
template <class FillRow, class Dest>
void FftRepulsion::Impl::transform_rows(index_t n_rows, int M, int n_threads, FillRow&& fill_row,
                                        Dest&& dest) {
  const index_t sc = M / 2 + 1;
  parallel_for(0, (n_rows + kRowChunk - 1) / kRowChunk, n_threads, [&](index_t chunk) {
    std::vector<double> rows(static_cast<size_t>(4 * M), 0.0);
    Complex* spare = thread_scratch<Complex, 0>(static_cast<size_t>(sc));
    Complex* work = thread_scratch<Complex, 1>(static_cast<size_t>(6 * M));
    const index_t end = std::min(n_rows, (chunk + 1) * kRowChunk);
    for (index_t r0 = chunk * kRowChunk; r0 < end; r0 += 4) {
      const double* in[4];
      Complex* out[4];
      for (index_t b = 0; b < 4; ++b) {
        double* row = rows.data() + b * M;
        in[b] = row;
        out[b] = spare;  // past the last row: a result nobody reads
        if (r0 + b < end) {
          fill_row(r0 + b, row);
          out[b] = row_spectra + dest(r0 + b) * stride;
        }
      }
      row_plan->forward4(in, out, work);
    }
  }, 1);
}

// The kernels' spectra (kernel_columns). The padded kernel is even in both indices (index
// a < N is offset a, a > M − N is offset M − a), so its N x N distinct values are computed
// once, rows 0 .. M/2 are transformed, and each column's transform reads rows M/2 + 1 .. M − 1
// as mirrors.
void FftRepulsion::Impl::kernel_spectra_2d(int N, int M, double spacing, int n_threads) {
  const bool cauchy = dof == 1.0;
  const int n_kernels = cauchy ? 1 : 2;
  const index_t sc = M / 2 + 1;
  const index_t half = M / 2 + 1;
  const index_t grid_size = static_cast<index_t>(N) * N;
  const index_t n_col_blocks = (sc + kCols - 1) / kCols;
  // Kernel spectra are stored per block of 4 columns, row by row: value (r, j) at
  // ((j / 4) · (M/2 + 1) + r) · 4 + j % 4, so that the product reads them in its own order.
  auto kernel_index = [&](index_t j, index_t r) { return ((j / kCols) * half + r) * kCols + j % kCols; };
  const double h2 = spacing * spacing;
  auto offset = [&](index_t a) -> index_t { return a < N ? a : (a > M - N ? M - a : -1); };
  table.resize(static_cast<size_t>(grid_size));
  for (int kern = 0; kern < n_kernels; ++kern) {
    parallel_for(0, N, n_threads, [&](index_t a) {
      for (index_t b = 0; b < N; ++b) table[a * N + b] = kernel_value(dof, kern, h2 * (double(a) * a + double(b) * b));
    }, 16);
    transform_rows(half, M, n_threads, [&](index_t a, double* row) {
      // Row offset(a) of the table, then its mirror image (offsets N − 1 .. 1 at M − N + 1 ..
      // M − 1), zeros between; all zeros in the padding rows.
      const index_t oa = offset(a);
      if (oa < 0) {
        std::fill(row, row + M, 0.0);
        return;
      }
      const double* t = table.data() + oa * N;
      std::copy(t, t + N, row);
      std::fill(row + N, row + M - N + 1, 0.0);
      for (index_t b = M - N + 1; b < M; ++b) row[b] = t[M - b];
    }, [](index_t a) { return a; });
    std::vector<double>& kc = kernel_columns[kern];
    // Kernel 0 carries the column inverse's 1/M (the product with it precedes the inverse).
    const double scale = kern == 0 ? 1.0 / M : 1.0;
    kc.assign(static_cast<size_t>(n_col_blocks * kCols * half), 0.0);
    // The rows' spectra are real (even rows), and so are the columns' (even columns): two
    // columns travel as the real and imaginary parts of one complex transform, so a block of
    // 8 columns is one 4-way transform.
    constexpr index_t kPairCols = 2 * kCols;
    parallel_for(0, (sc + kPairCols - 1) / kPairCols, n_threads, [&](index_t blk) {
      const index_t j0 = blk * kPairCols, width = std::min(kPairCols, sc - j0);
      Complex* cols = thread_scratch<Complex, 0>(static_cast<size_t>(kCols * M));
      Complex* work = thread_scratch<Complex, 1>(static_cast<size_t>(kCols * M));
      for (index_t r = 0; r < half; ++r) {
        const Complex* src = row_spectra + r * stride + j0;
        for (index_t w = 0; w < kCols; ++w) {
          const double re = 2 * w < width ? src[2 * w].real() : 0.0;
          const double im = 2 * w + 1 < width ? src[2 * w + 1].real() : 0.0;
          cols[r * kCols + w] = Complex(re, im);
        }
      }
      for (index_t r = half; r < M; ++r) {
        std::copy(cols + (M - r) * kCols, cols + (M - r + 1) * kCols, cols + r * kCols);
      }
      col_plan->forward4(cols, cols, work);
      for (index_t r = 0; r < half; ++r) {
        for (index_t w = 0; w < kCols; ++w) {
          if (2 * w < width) kc[kernel_index(j0 + 2 * w, r)] = cols[r * kCols + w].real() * scale;
          if (2 * w + 1 < width) kc[kernel_index(j0 + 2 * w + 1, r)] = cols[r * kCols + w].imag() * scale;
        }
      }
    }, 1);
  }
}

// The charge grids' rows (1, y_1, y_2) into row_spectra.
void FftRepulsion::Impl::charge_row_spectra(int N, int M, int n_threads) {
  constexpr int D = 2;
  const bool cauchy = dof == 1.0;
  const int n_charges = cauchy ? D + 2 : D + 1;  // the spread charges, node by node
  const int n_conv = D + 1;                      // the grids transformed: 1, y_1, y_2
  // The charge grids' rows, taken in the nodes' order (s = r·n_conv + c: grid c's row r, so
  // that four at a time read the same nodes): row r of grid c becomes row c·N + r of
  // row_spectra.
  transform_rows(static_cast<index_t>(n_conv) * N, M, n_threads, [&](index_t s, double* row) {
    const double* src = charges.data() + (s / n_conv) * N * n_charges + s % n_conv;
    for (index_t b = 0; b < N; ++b) row[b] = src[b * n_charges];
  }, [&](index_t s) { return (s % n_conv) * N + s / n_conv; });
}

// Per block of spectrum columns: each grid's columns forward, their share of Z (dof != 1),
// the product with kernel 0, and back, while they are in cache. Returns the Z sum over the
// spectrum (used for dof != 1 only).
double FftRepulsion::Impl::convolve_columns(int N, int M, int n_threads) {
  constexpr int D = 2;
  const bool cauchy = dof == 1.0;
  const int n_conv = D + 1;                      // the grids transformed: 1, y_1, y_2
  const index_t sc = M / 2 + 1;    // spectrum columns
  const index_t half = M / 2 + 1;  // kernel spectrum rows kept: row M − r equals row r
  const index_t n_col_blocks = (sc + kCols - 1) / kCols;
  // Columns: forward, Z, product with kernel 0 (which carries the inverse's 1/M), inverse;
  // fixed blocks of columns, their Z sums added in order (the same total for any thread
  // count). A task takes a run of blocks, so that its scratch is allocated once for them.
  block_sums.assign(static_cast<size_t>(n_col_blocks), 0.0);
  const index_t per_task = std::max<index_t>(1, n_col_blocks / (8 * static_cast<index_t>(std::max(n_threads, 1))));
  parallel_for(0, (n_col_blocks + per_task - 1) / per_task, n_threads, [&](index_t task) {
    // Out-of-place transforms (input -> cols -> output): an odd number of stages then needs
    // no copy. Rows N .. M − 1 of `input` stay zero.
    Complex* cols = thread_scratch<Complex, 0>(static_cast<size_t>(n_conv * kCols * M));
    Complex* work = thread_scratch<Complex, 1>(static_cast<size_t>(kCols * M));
    Complex* input = thread_scratch<Complex, 2>(static_cast<size_t>(kCols * M));
    Complex* output = thread_scratch<Complex, 3>(static_cast<size_t>(kCols * M));
    std::fill(input + N * kCols, input + M * kCols, Complex(0.0, 0.0));
    auto grid = [&](int c) { return cols + static_cast<index_t>(c) * kCols * M; };
    const index_t blk_end = std::min(n_col_blocks, (task + 1) * per_task);
    for (index_t blk = task * per_task; blk < blk_end; ++blk) {
      const index_t j0 = blk * kCols, width = std::min(kCols, sc - j0);
      // The block's columns of grid c: one cache line per row (stride, alignment), the
      // columns past sc (at most kCols − 1, in the padding) read as zeros.
      for (int c = 0; c < n_conv; ++c) {
        const Complex* src = row_spectra + static_cast<index_t>(c) * N * stride + j0;
        for (index_t r = 0; r < N; ++r, src += stride) {
          if (r + kRowsAhead < N) prefetch_line(src + kRowsAhead * stride, false);
          for (index_t w = 0; w < kCols; ++w) input[r * kCols + w] = w < width ? src[w] : Complex(0.0, 0.0);
        }
        col_plan->forward4(input, grid(c), work);
      }
      const double* k0 = kernel_columns[0].data() + blk * kCols * half;
      const double* kz = kernel_columns[cauchy ? 0 : 1].data() + blk * kCols * half;
      const Complex* q[4] = {};
      for (int c = 0; c < n_conv; ++c) q[c] = grid(c);
      double z_column[kCols] = {};
      for (index_t r = 0; r < M; ++r) {
        const index_t rr = r < half ? r : M - r;
        for (index_t w = 0; w < width; ++w) {
          const index_t e = r * kCols + w;
          if (!cauchy) z_column[w] += kz[rr * kCols + w] * z_term(false, D, q, e);
          for (int c = 0; c < n_conv; ++c) grid(c)[e] *= k0[rr * kCols + w];
        }
      }
      double z_block = 0.0;
      for (index_t w = 0; w < width; ++w) z_block += (j0 + w == 0 || j0 + w == M / 2 ? 1.0 : 2.0) * z_column[w];
      block_sums[blk] = z_block;
      for (int c = 0; c < n_conv; ++c) {
        col_plan->inverse4(grid(c), output, work);
        Complex* dst = row_spectra + static_cast<index_t>(c) * N * stride + j0;
        for (index_t r = 0; r < N; ++r, dst += stride) {
          if (r + kRowsAhead < N) prefetch_line(dst + kRowsAhead * stride, true);
          for (index_t w = 0; w < width; ++w) dst[w] = output[r * kCols + w];
        }
      }
    }
  }, 1);
  double z_grid = 0.0;
  for (double v : block_sums) z_grid += v;
  return z_grid;
}

// The potentials: the first N values of the first N rows of each result, transformed back.
void FftRepulsion::Impl::potential_rows(int N, int M, int n_threads) {
  constexpr int D = 2;
  const int n_conv = D + 1;
  const index_t result_rows = static_cast<index_t>(n_conv) * N;
  parallel_for(0, (result_rows + kRowChunk - 1) / kRowChunk, n_threads, [&](index_t chunk) {
    double* rows = thread_scratch<double, 0>(static_cast<size_t>(4 * N));
    Complex* work = thread_scratch<Complex, 1>(static_cast<size_t>(6 * M));
    const index_t end = std::min(result_rows, (chunk + 1) * kRowChunk);
    for (index_t r0 = chunk * kRowChunk; r0 < end; r0 += 4) {
      const Complex* in[4];
      double* out[4];
      // In the nodes' order, as the charges: s = r·n_conv + c is result c's row r.
      for (index_t b = 0; b < 4; ++b) {
        const index_t s = std::min(r0 + b, end - 1);
        in[b] = row_spectra + ((s % n_conv) * N + s / n_conv) * stride;
        out[b] = rows + b * N;
      }
      row_plan->inverse4(in, out, N, work);
      for (index_t b = 0; b < 4 && r0 + b < end; ++b) {
        const index_t s = r0 + b;
        double* dst = potentials.data() + (s / n_conv) * N * n_conv + s % n_conv;
        for (index_t t = 0; t < N; ++t) dst[t * n_conv] = out[b][t];
      }
    }
  }, 1);
}

// convolve_1d in 2-D, with the transforms arranged around the padding: the charge grids fill
// N of the M rows and columns and only N x N nodes of each result are used. Rows are
// transformed first (N of them per grid); then, per block of spectrum columns, each grid's
// column is transformed, multiplied by the kernel's column, summed into Z and transformed
// back while it is in cache; last, N rows per result are transformed back. Compared with three
// passes of whole 2-D transforms, the spectra are never stored at full height.
// Only the grids of 1 and y are transformed. For dof = 1, Z needs no spectrum at all: the
// kernel is symmetric, so Σ_nodes q_{|y|²} · (K ∗ q_1) = Σ_nodes q_1 · (K ∗ q_{|y|²}), and
//   Z + n = Σ_nodes (q_1 + 2 q_{|y|²}) φ_1 − 2 Σ_d q_{y_d} φ_{y_d}
// over the node potentials φ that the forces need anyway (one forward transform fewer than
// Parseval with the |y|² grid). For dof != 1, Z + n = Σ K_w |Q_1|² by Parseval as in 1-D.
// Returns the grid's Z + n.
double FftRepulsion::Impl::convolve_2d(int N, int M, double spacing, int n_threads) {
  constexpr int D = 2;
  const bool cauchy = dof == 1.0;
  const int n_charges = cauchy ? D + 2 : D + 1;  // the spread charges, node by node
  const int n_conv = D + 1;                      // the grids transformed: 1, y_1, y_2
  const index_t grid_size = static_cast<index_t>(N) * N;
  const index_t sc = M / 2 + 1;
  const index_t half = M / 2 + 1;
  if (!row_plan || row_plan->size() != M) {
    row_plan = std::make_unique<RealFftPlan>(M);
    col_plan = std::make_unique<FftPlan>(M);
  }
  stride = (sc + kCols - 1) / kCols * kCols;
  row_spectra = row_storage.reserve(static_cast<size_t>(std::max<index_t>(n_conv * static_cast<index_t>(N), half) * stride));
  kernel_spectra_2d(N, M, spacing, n_threads);
  charge_row_spectra(N, M, n_threads);
  const double z_grid = convolve_columns(N, M, n_threads);
  potential_rows(N, M, n_threads);
  if (!cauchy) return z_grid / (static_cast<double>(M) * M);
  // dof = 1: Z + n over the nodes (see above), by fixed blocks of nodes.
  return blocked_sum<double>(grid_size, n_threads, [&](index_t begin, index_t end) {
    double z = 0.0;
    for (index_t a = begin; a < end; ++a) {
      const double* q = charges.data() + a * n_charges;  // 1, y_1, y_2, |y|²
      const double* phi = potentials.data() + a * n_conv;  // K ∗ 1, K ∗ y_1, K ∗ y_2
      z += (q[0] + 2.0 * q[3]) * phi[0] - 2.0 * (q[1] * phi[1] + q[2] * phi[2]);
    }
    return z;
  });
}

}  // namespace turbotsne
