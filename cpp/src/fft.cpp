#include "turbotsne/fft.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "turbotsne/parallel.hpp"

namespace turbotsne {
namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;

// e^{-2πi num/den}, with num reduced exactly so that large angles keep full accuracy.
Complex unit_root(long long num, long long den) {
  num %= den;
  const double angle = -kTwoPi * static_cast<double>(num) / static_cast<double>(den);
  return {std::cos(angle), std::sin(angle)};
}

// Multiply by -i (forward) or +i (inverse).
inline Complex rotate(const Complex& z, bool inverse) {
  return inverse ? Complex(-z.imag(), z.real()) : Complex(z.imag(), -z.real());
}

}  // namespace

bool is_fast_size(int n) {
  if (n < 1) return false;
  for (int p : {2, 3, 5}) {
    while (n % p == 0) n /= p;
  }
  return n == 1;
}

int next_fast_size(int n) {
  int m = std::max(n, 1);
  while (!is_fast_size(m)) ++m;
  return m;
}

int next_fast_even_size(int n) { return 2 * next_fast_size((std::max(n, 2) + 1) / 2); }

FftPlan::FftPlan(int n) : n_(n) {
  if (!is_fast_size(n)) {
    throw std::invalid_argument("FFT size must be of the form 2^a 3^b 5^c, got " + std::to_string(n));
  }
  // Radices: 4s first (cheapest per point), then 2, 3, 5.
  std::vector<int> radices;
  int m = n;
  while (m % 4 == 0) {
    radices.push_back(4);
    m /= 4;
  }
  for (int p : {2, 3, 5}) {
    while (m % p == 0) {
      radices.push_back(p);
      m /= p;
    }
  }
  int length = 1;
  for (int r : radices) {
    Stage s;
    s.radix = r;
    s.length = length;
    s.stride = n / (length * r);
    s.twiddles.resize(static_cast<size_t>(length) * (r - 1));
    for (int k = 0; k < length; ++k) {
      for (int p = 1; p < r; ++p) {
        s.twiddles[static_cast<size_t>(k) * (r - 1) + (p - 1)] =
            unit_root(static_cast<long long>(p) * k, static_cast<long long>(length) * r);
      }
    }
    stages_.push_back(std::move(s));
    length *= r;
  }
}

// Stockham autosort, decimation in time. Before a stage, A[q·L + k] holds the length-L DFTs
// of the S = n/L subsequences x[q::S]; a stage of radix r combines, for each q' < S' = S/r,
// the r subsequences q' + S'·p into the length-rL DFT
//   B[q'·rL + k + L·s] = Σ_p (ω_{rL}^{pk} A[(q' + S'p)·L + k]) ω_r^{ps}.
void FftPlan::run(const Complex* in, Complex* out, Complex* work, bool inverse) const {
  if (stages_.empty()) {  // n == 1
    out[0] = in[0];
    return;
  }
  // Ping-pong between out and work so that the last stage writes into out: with an odd
  // number of stages the first one writes out, which must then not be the input.
  const Complex* src = in;
  const bool odd = stages_.size() % 2 == 1;
  Complex* bufs[2] = {odd ? out : work, odd ? work : out};
  if (odd && in == out) {
    std::copy(in, in + n_, work);
    src = work;
  }
  int which = 0;
  for (const Stage& st : stages_) {
    Complex* dst = bufs[which];
    const int r = st.radix, L = st.length, S = st.stride, rL = r * L;
    for (int q = 0; q < S; ++q) {
      for (int k = 0; k < L; ++k) {
        const Complex* tw = st.twiddles.data() + static_cast<size_t>(k) * (r - 1);
        Complex a[5];
        a[0] = src[static_cast<size_t>(q) * L + k];
        for (int p = 1; p < r; ++p) {
          const Complex w = inverse ? std::conj(tw[p - 1]) : tw[p - 1];
          a[p] = w * src[(static_cast<size_t>(q) + static_cast<size_t>(S) * p) * L + k];
        }
        Complex* b = dst + static_cast<size_t>(q) * rL + k;
        switch (r) {
          case 2:
            b[0] = a[0] + a[1];
            b[L] = a[0] - a[1];
            break;
          case 3: {
            constexpr double kSin60 = 0.86602540378443864676372317075294;
            const Complex t1 = a[1] + a[2];
            const Complex t2 = a[0] - 0.5 * t1;
            const Complex t3 = rotate(kSin60 * (a[1] - a[2]), inverse);
            b[0] = a[0] + t1;
            b[L] = t2 + t3;
            b[2 * L] = t2 - t3;
            break;
          }
          case 4: {
            const Complex t0 = a[0] + a[2], t1 = a[0] - a[2];
            const Complex t2 = a[1] + a[3], t3 = rotate(a[1] - a[3], inverse);
            b[0] = t0 + t2;
            b[L] = t1 + t3;
            b[2 * L] = t0 - t2;
            b[3 * L] = t1 - t3;
            break;
          }
          default: {  // 5
            constexpr double kC1 = 0.30901699437494742410229341718282;   // cos(2π/5)
            constexpr double kC2 = -0.80901699437494742410229341718282;  // cos(4π/5)
            constexpr double kS1 = 0.95105651629515357211643933337938;   // sin(2π/5)
            constexpr double kS2 = 0.58778525229247312916870595463907;   // sin(4π/5)
            const Complex t1 = a[1] + a[4], t2 = a[2] + a[3];
            const Complex t3 = a[1] - a[4], t4 = a[2] - a[3];
            const Complex m1 = a[0] + kC1 * t1 + kC2 * t2;
            const Complex m2 = a[0] + kC2 * t1 + kC1 * t2;
            const Complex r1 = rotate(kS1 * t3 + kS2 * t4, inverse);
            const Complex r2 = rotate(kS2 * t3 - kS1 * t4, inverse);
            b[0] = a[0] + t1 + t2;
            b[L] = m1 + r1;
            b[4 * L] = m1 - r1;
            b[2 * L] = m2 + r2;
            b[3 * L] = m2 - r2;
            break;
          }
        }
      }
    }
    src = dst;
    which ^= 1;
  }
}

RealFftPlan::RealFftPlan(int n) : n_(n), half_(n / 2) {
  if (n < 2 || n % 2 != 0) {
    throw std::invalid_argument("real FFT size must be even, got " + std::to_string(n));
  }
  twiddles_.resize(static_cast<size_t>(n / 2) + 1);
  for (int k = 0; k <= n / 2; ++k) twiddles_[k] = unit_root(k, n);
}

// x real of length n; z[m] = x[2m] + i x[2m+1] has DFT Z of length h = n/2, and
//   X[k] = E[k] + ω_n^k O[k],  E[k] = (Z[k] + conj Z[h-k]) / 2,  O[k] = (Z[k] - conj Z[h-k]) / 2i.
void RealFftPlan::forward(const double* in, Complex* out, Complex* work) const {
  const int h = n_ / 2;
  for (int m = 0; m < h; ++m) out[m] = Complex(in[2 * m], in[2 * m + 1]);
  half_.forward(out, out, work);
  const Complex z0 = out[0];
  out[h] = Complex(z0.real() - z0.imag(), 0.0);
  out[0] = Complex(z0.real() + z0.imag(), 0.0);
  for (int k = 1; k <= h - k; ++k) {
    const Complex zk = out[k], zm = out[h - k];
    const Complex ek = 0.5 * (zk + std::conj(zm));
    const Complex ok = Complex(0.0, -0.5) * (zk - std::conj(zm));
    const Complex em = 0.5 * (zm + std::conj(zk));
    const Complex om = Complex(0.0, -0.5) * (zm - std::conj(zk));
    out[k] = ek + twiddles_[k] * ok;
    out[h - k] = em + twiddles_[h - k] * om;
  }
}

// The forward steps undone: E[k] = (X[k] + conj X[h-k]) / 2, O[k] = (X[k] - conj X[h-k]) / 2 · ω_n^{-k},
// Z = E + iO, z = IDFT(Z) / h, x[2m] = Re z[m], x[2m+1] = Im z[m].
void RealFftPlan::inverse(const Complex* in, double* out, Complex* work) const {
  const int h = n_ / 2;
  Complex* Z = work;  // work[0, h): Z; work[h, 2h): the half transform's own work
  for (int k = 0; k < h; ++k) {
    const Complex xk = in[k], xm = std::conj(in[h - k]);
    const Complex e = 0.5 * (xk + xm);
    const Complex o = 0.5 * (xk - xm) * std::conj(twiddles_[k]);
    Z[k] = e + Complex(-o.imag(), o.real());
  }
  half_.inverse(Z, Z, work + h);
  const double scale = 1.0 / h;
  for (int m = 0; m < h; ++m) {
    out[2 * m] = Z[m].real() * scale;
    out[2 * m + 1] = Z[m].imag() * scale;
  }
}

RealFft2d::RealFft2d(int rows, int cols)
    : rows_(rows), cols_(cols), row_plan_(cols), col_plan_(rows) {}

void RealFft2d::forward(const double* in, Complex* out, int n_threads) const {
  const int sc = spectrum_cols();
  parallel_for(0, rows_, n_threads, [&](index_t i) {
    std::vector<Complex> work(static_cast<size_t>(cols_));
    row_plan_.forward(in + i * cols_, out + i * sc, work.data());
  }, 8);
  parallel_for(0, sc, n_threads, [&](index_t j) {
    std::vector<Complex> column(static_cast<size_t>(rows_)), work(static_cast<size_t>(rows_));
    for (int i = 0; i < rows_; ++i) column[i] = out[static_cast<size_t>(i) * sc + j];
    col_plan_.forward(column.data(), column.data(), work.data());
    for (int i = 0; i < rows_; ++i) out[static_cast<size_t>(i) * sc + j] = column[i];
  }, 4);
}

void RealFft2d::inverse(const Complex* in, double* out, int n_threads) const {
  const int sc = spectrum_cols();
  std::vector<Complex> mid(static_cast<size_t>(rows_) * sc);
  parallel_for(0, sc, n_threads, [&](index_t j) {
    std::vector<Complex> column(static_cast<size_t>(rows_)), work(static_cast<size_t>(rows_));
    for (int i = 0; i < rows_; ++i) column[i] = in[static_cast<size_t>(i) * sc + j];
    col_plan_.inverse(column.data(), column.data(), work.data());
    const double scale = 1.0 / rows_;
    for (int i = 0; i < rows_; ++i) mid[static_cast<size_t>(i) * sc + j] = column[i] * scale;
  }, 4);
  parallel_for(0, rows_, n_threads, [&](index_t i) {
    std::vector<Complex> work(static_cast<size_t>(cols_));
    row_plan_.inverse(mid.data() + i * sc, out + i * cols_, work.data());
  }, 8);
}

}  // namespace turbotsne
