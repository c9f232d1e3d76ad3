#include "turbotsne/fft.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "turbotsne/common.hpp"

// The transforms are compiled twice where GCC can dispatch at run time (ifunc on x86-64
// Linux): for the baseline x86-64 and for AVX2, the version taken on CPUs that have it. The
// stages are inlined into FftPlan::run so that both versions are vectorised for their
// target. Without -ffast-math and without FMA (not part of the "avx2" target) both give the
// same bits.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(TURBOTSNE_NO_CLONES)
#define TURBOTSNE_TARGET_CLONES __attribute__((target_clones("avx2", "default")))
#define TURBOTSNE_INLINE __attribute__((always_inline)) inline
#define TURBOTSNE_LAMBDA_INLINE __attribute__((always_inline))
#else
#define TURBOTSNE_LAMBDA_INLINE
#define TURBOTSNE_TARGET_CLONES
#define TURBOTSNE_INLINE inline
#endif

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
template <bool kInverse>
inline Complex rotate(const Complex& z) {
  return kInverse ? Complex(-z.imag(), z.real()) : Complex(z.imag(), -z.real());
}

inline Complex cmul(const Complex& a, const Complex& b) { return complex_mul(a, b); }

// Four complex values side by side, for four transforms run together (FftPlan::forward4),
// split: the four real parts in one vector, the four imaginary parts in the other, so that a
// complex product or a rotation by ±i is lane-wise arithmetic with no shuffles. GCC's generic
// vectors, so that each clone of the transforms uses its target's widest registers (one
// 256-bit register per part with AVX2). The lanes hold the transforms in the order
// (0, 2, 1, 3): the order in which two unpack shuffles (swap_layout) take four interleaved
// values (re0, im0, re1, im1), (re2, im2, re3, im3) apart, and put them back. Every operation
// does per value what the Complex one does, in the same order, so the bits are the same:
// a − b is a + (−b), and multiplying by ±1 or negating only sets the sign.
#if defined(__GNUC__) && !defined(TURBOTSNE_NO_COMPLEX4)
#define TURBOTSNE_COMPLEX4 1
// The helpers are always inlined into the transforms, so no Vec4 crosses a call: GCC's note
// that passing one by value depends on AVX (-Wpsabi) does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
typedef double Vec4 __attribute__((vector_size(32), aligned(8)));
typedef long long Vec4Index __attribute__((vector_size(32)));
struct Complex4 {
  Vec4 re, im;
};
TURBOTSNE_INLINE Complex4 operator+(const Complex4& x, const Complex4& y) { return {x.re + y.re, x.im + y.im}; }
TURBOTSNE_INLINE Complex4 operator-(const Complex4& x, const Complex4& y) { return {x.re - y.re, x.im - y.im}; }
TURBOTSNE_INLINE Complex4 operator*(double s, const Complex4& x) { return {s * x.re, s * x.im}; }
// Lanes of x (0-3) and y (4-7) by index.
template <int kA, int kB, int kC, int kD>
TURBOTSNE_INLINE Vec4 shuffle(const Vec4& x, const Vec4& y) {
#if defined(__clang__)
  return __builtin_shufflevector(x, y, kA, kB, kC, kD);
#else
  return __builtin_shuffle(x, y, Vec4Index{kA, kB, kC, kD});
#endif
}
// Interleaved (as four Complex in memory) to split, and back, by the same two shuffles
// (AVX's unpacklo and unpackhi).
TURBOTSNE_INLINE Complex4 swap_layout(const Complex4& z) {
  return {shuffle<0, 4, 2, 6>(z.re, z.im), shuffle<1, 5, 3, 7>(z.re, z.im)};
}
template <bool kInverse>
TURBOTSNE_INLINE Complex4 rotate(const Complex4& z) {
  // forward (re, im) -> (im, -re); inverse -> (-im, re)
  return kInverse ? Complex4{-z.im, z.re} : Complex4{z.im, -z.re};
}
// w · x per value: (wr·xr − wi·xi, wr·xi + wi·xr), as complex_mul(w, x).
TURBOTSNE_INLINE Complex4 cmul(const Complex& w, const Complex4& x) {
  return {w.real() * x.re - w.imag() * x.im, w.real() * x.im + w.imag() * x.re};
}
// Negates the imaginary parts, as std::conj does.
TURBOTSNE_INLINE Complex4 conj(const Complex4& z) { return {z.re, -z.im}; }
// The lane of transform b.
constexpr int kLaneOf[4] = {0, 2, 1, 3};
// Element k of four arrays, one per lane.
TURBOTSNE_INLINE Complex4 gather4(const Complex* const x[4], index_t k) {
  return {Vec4{x[0][k].real(), x[2][k].real(), x[1][k].real(), x[3][k].real()},
          Vec4{x[0][k].imag(), x[2][k].imag(), x[1][k].imag(), x[3][k].imag()}};
}
TURBOTSNE_INLINE Complex lane(const Complex4& z, int b) { return Complex(z.re[kLaneOf[b]], z.im[kLaneOf[b]]); }
TURBOTSNE_INLINE void scatter4(const Complex4& z, Complex* const x[4], index_t k) {
  for (int b = 0; b < 4; ++b) x[b][k] = lane(z, b);
}
#endif  // TURBOTSNE_COMPLEX4

// The radix-R butterfly on a[0..R): writes b[0], b[L], ..., b[(R-1)L].
template <int R, bool kInverse, class T>
TURBOTSNE_INLINE void butterfly(const T* a, T* b, int L) {
  if constexpr (R == 2) {
    b[0] = a[0] + a[1];
    b[L] = a[0] - a[1];
  } else if constexpr (R == 3) {
    constexpr double kSin60 = 0.86602540378443864676372317075294;
    const T t1 = a[1] + a[2];
    const T t2 = a[0] - 0.5 * t1;
    const T t3 = rotate<kInverse>(kSin60 * (a[1] - a[2]));
    b[0] = a[0] + t1;
    b[L] = t2 + t3;
    b[2 * L] = t2 - t3;
  } else if constexpr (R == 4) {
    const T t0 = a[0] + a[2], t1 = a[0] - a[2];
    const T t2 = a[1] + a[3], t3 = rotate<kInverse>(a[1] - a[3]);
    b[0] = t0 + t2;
    b[L] = t1 + t3;
    b[2 * L] = t0 - t2;
    b[3 * L] = t1 - t3;
  } else {
    static_assert(R == 5, "radix 2, 3, 4 or 5");
    constexpr double kC1 = 0.30901699437494742410229341718282;   // cos(2π/5)
    constexpr double kC2 = -0.80901699437494742410229341718282;  // cos(4π/5)
    constexpr double kS1 = 0.95105651629515357211643933337938;   // sin(2π/5)
    constexpr double kS2 = 0.58778525229247312916870595463907;   // sin(4π/5)
    const T t1 = a[1] + a[4], t2 = a[2] + a[3];
    const T t3 = a[1] - a[4], t4 = a[2] - a[3];
    const T m1 = a[0] + kC1 * t1 + kC2 * t2;
    const T m2 = a[0] + kC2 * t1 + kC1 * t2;
    const T r1 = rotate<kInverse>(kS1 * t3 + kS2 * t4);
    const T r2 = rotate<kInverse>(kS2 * t3 - kS1 * t4);
    b[0] = a[0] + t1 + t2;
    b[L] = m1 + r1;
    b[4 * L] = m1 - r1;
    b[2 * L] = m2 + r2;
    b[3 * L] = m2 - r2;
  }
}

// A value as it is loaded or stored by a stage: kSwap converts between the interleaved
// layout of FftPlan::forward4's arrays and the split one of Complex4 (the first stage loads
// interleaved values, the last stores them).
template <bool kSwap, class T>
TURBOTSNE_INLINE T relayout(const T& z) {
#if defined(TURBOTSNE_COMPLEX4)
  if constexpr (kSwap && std::is_same_v<T, Complex4>) return swap_layout(z);
#endif
  return z;
}

// One Stockham stage of radix R (see FftPlan::run). The loop over the longer of the two
// index ranges is the inner one, so that memory is walked contiguously. The twiddles of
// k = 0 are 1 and are not multiplied by (every stage; the whole first stage, L = 1).
template <int R, bool kInverse, bool kSwapIn, bool kSwapOut, class T>
TURBOTSNE_INLINE void stage(const T* src, T* dst, const Complex* twiddles, int L, int S) {
  const size_t stride = static_cast<size_t>(S) * L;
  auto one = [&](int q, int k, const Complex* w) TURBOTSNE_LAMBDA_INLINE {
    T a[R], b[R];
    const T* in = src + static_cast<size_t>(q) * L + k;
    a[0] = relayout<kSwapIn>(in[0]);
    for (int p = 1; p < R; ++p) {
      a[p] = w ? cmul(w[p - 1], relayout<kSwapIn>(in[p * stride])) : relayout<kSwapIn>(in[p * stride]);
    }
    butterfly<R, kInverse, T>(a, b, 1);
    T* out = dst + static_cast<size_t>(q) * R * L + k;
    for (int p = 0; p < R; ++p) out[p * static_cast<size_t>(L)] = relayout<kSwapOut>(b[p]);
  };
  auto twiddles_of = [&](int k, Complex* w) {
    for (int p = 1; p < R; ++p) {
      const Complex t = twiddles[static_cast<size_t>(k) * (R - 1) + (p - 1)];
      w[p - 1] = kInverse ? std::conj(t) : t;
    }
  };
  Complex w[R - 1];
  if (L >= S) {
    for (int q = 0; q < S; ++q) {
      one(q, 0, nullptr);
      for (int k = 1; k < L; ++k) {
        twiddles_of(k, w);
        one(q, k, w);
      }
    }
  } else {
    for (int q = 0; q < S; ++q) one(q, 0, nullptr);
    for (int k = 1; k < L; ++k) {
      twiddles_of(k, w);
      for (int q = 0; q < S; ++q) one(q, k, w);
    }
  }
}

template <bool kInverse, bool kSwapIn, bool kSwapOut, class T>
TURBOTSNE_INLINE void run_stage(int radix, const T* src, T* dst, const Complex* twiddles, int L, int S) {
  switch (radix) {
    case 2: stage<2, kInverse, kSwapIn, kSwapOut>(src, dst, twiddles, L, S); break;
    case 3: stage<3, kInverse, kSwapIn, kSwapOut>(src, dst, twiddles, L, S); break;
    case 4: stage<4, kInverse, kSwapIn, kSwapOut>(src, dst, twiddles, L, S); break;
    default: stage<5, kInverse, kSwapIn, kSwapOut>(src, dst, twiddles, L, S); break;
  }
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
// T: Complex (one transform) or Complex4 (four); kSwapIn / kSwapOut: the input / output is in
// the interleaved layout (the first stage converts on loading, the last on storing).
template <class T, bool kSwapIn, bool kSwapOut>
TURBOTSNE_INLINE void FftPlan::run_as(const T* in, T* out, T* work, bool inverse) const {
  if (stages_.empty()) {  // n == 1
    out[0] = relayout<kSwapIn != kSwapOut>(in[0]);
    return;
  }
  // Ping-pong between out and work so that the last stage writes into out: with an odd
  // number of stages the first one writes out, which must then not be the input.
  const T* src = in;
  const bool odd = stages_.size() % 2 == 1;
  T* bufs[2] = {odd ? out : work, odd ? work : out};
  if (odd && in == out) {
    std::copy(in, in + n_, work);
    src = work;
  }
  const size_t last = stages_.size() - 1;
  for (size_t i = 0; i <= last; ++i) {
    const Stage& st = stages_[i];
    T* dst = bufs[i % 2];
    auto go = [&](auto swap_in, auto swap_out) TURBOTSNE_LAMBDA_INLINE {
      if (inverse) {
        run_stage<true, swap_in(), swap_out()>(st.radix, src, dst, st.twiddles.data(), st.length, st.stride);
      } else {
        run_stage<false, swap_in(), swap_out()>(st.radix, src, dst, st.twiddles.data(), st.length, st.stride);
      }
    };
    using Yes = std::bool_constant<true>;
    using No = std::bool_constant<false>;
    const bool first_swaps = kSwapIn && i == 0, last_swaps = kSwapOut && i == last;
    if (first_swaps && last_swaps) {
      go(Yes(), Yes());
    } else if (first_swaps) {
      go(Yes(), No());
    } else if (last_swaps) {
      go(No(), Yes());
    } else {
      go(No(), No());
    }
    src = dst;
  }
}

TURBOTSNE_TARGET_CLONES void FftPlan::run(const Complex* in, Complex* out, Complex* work, bool inverse) const {
  run_as<Complex, false, false>(in, out, work, inverse);
}

TURBOTSNE_TARGET_CLONES void FftPlan::run4(const Complex* in, Complex* out, Complex* work, bool inverse) const {
#if defined(TURBOTSNE_COMPLEX4)
  static_assert(sizeof(Complex4) == 4 * sizeof(Complex), "Complex4 is four Complex values");
  run_as<Complex4, true, true>(reinterpret_cast<const Complex4*>(in), reinterpret_cast<Complex4*>(out),
                               reinterpret_cast<Complex4*>(work), inverse);
#else
  // One at a time: work[0, n) holds a column, work[n, 2n) the transform's own work.
  for (int b = 0; b < 4; ++b) {
    for (int t = 0; t < n_; ++t) work[t] = in[4 * static_cast<size_t>(t) + b];
    run_as<Complex, false, false>(work, work, work + n_, inverse);
    for (int t = 0; t < n_; ++t) out[4 * static_cast<size_t>(t) + b] = work[t];
  }
#endif
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
    const Complex ok = 0.5 * rotate<false>(zk - std::conj(zm));  // (zk − conj zm) / 2i
    const Complex em = 0.5 * (zm + std::conj(zk));
    const Complex om = 0.5 * rotate<false>(zm - std::conj(zk));
    out[k] = ek + cmul(twiddles_[k], ok);
    out[h - k] = em + cmul(twiddles_[h - k], om);
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
    const Complex o = 0.5 * cmul(xk - xm, std::conj(twiddles_[k]));
    Z[k] = e + Complex(-o.imag(), o.real());
  }
  half_.inverse(Z, Z, work + h);
  const double scale = 1.0 / h;
  for (int m = 0; m < h; ++m) {
    out[2 * m] = Z[m].real() * scale;
    out[2 * m + 1] = Z[m].imag() * scale;
  }
}

// forward() of four rows at once: their packed halves go through one FftPlan::forward4 and
// the unpacking works on the four side by side, with the same operations per value.
TURBOTSNE_TARGET_CLONES void RealFftPlan::forward4(const double* const in[4], Complex* const out[4],
                                                   Complex* work) const {
#if defined(TURBOTSNE_COMPLEX4)
  const int h = n_ / 2;
  // work: the packed rows, their transform, the transform's own work (out-of-place, so that
  // an odd number of stages needs no copy of the input).
  Complex4* packed = reinterpret_cast<Complex4*>(work);
  for (int m = 0; m < h; ++m) {  // split layout, lanes (0, 2, 1, 3)
    packed[m] = {Vec4{in[0][2 * m], in[2][2 * m], in[1][2 * m], in[3][2 * m]},
                 Vec4{in[0][2 * m + 1], in[2][2 * m + 1], in[1][2 * m + 1], in[3][2 * m + 1]}};
  }
  half_.run_as<Complex4, false, false>(packed, packed + h, packed + 2 * h, false);
  const Complex4* z = packed + h;
  for (int b = 0; b < 4; ++b) {
    const Complex z0 = lane(z[0], b);
    out[b][h] = Complex(z0.real() - z0.imag(), 0.0);
    out[b][0] = Complex(z0.real() + z0.imag(), 0.0);
  }
  for (int k = 1; k <= h - k; ++k) {
    const Complex4 zk = z[k], zm = z[h - k];
    const Complex4 ek = 0.5 * (zk + conj(zm));
    const Complex4 ok = 0.5 * rotate<false>(zk - conj(zm));
    const Complex4 em = 0.5 * (zm + conj(zk));
    const Complex4 om = 0.5 * rotate<false>(zm - conj(zk));
    scatter4(ek + cmul(twiddles_[k], ok), out, k);
    scatter4(em + cmul(twiddles_[h - k], om), out, h - k);
  }
#else
  for (int b = 0; b < 4; ++b) forward(in[b], out[b], work);
#endif
}

TURBOTSNE_TARGET_CLONES void RealFftPlan::inverse4(const Complex* const in[4], double* const out[4], int count,
                                                   Complex* work) const {
  const int h = n_ / 2;
  count = std::clamp(count, 0, n_);
#if defined(TURBOTSNE_COMPLEX4)
  Complex4* packed = reinterpret_cast<Complex4*>(work);  // as in forward4
  for (int k = 0; k < h; ++k) {
    const Complex4 xk = gather4(in, k), xm = conj(gather4(in, h - k));
    const Complex4 e = 0.5 * (xk + xm);
    const Complex4 o = 0.5 * cmul(std::conj(twiddles_[k]), xk - xm);
    packed[k] = e + rotate<true>(o);
  }
  half_.run_as<Complex4, false, false>(packed, packed + h, packed + 2 * h, true);
  const Complex4* Z = packed + h;
  const double scale = 1.0 / h;
  for (int b = 0; b < 4; ++b) {
    for (int m = 0; 2 * m < count; ++m) {
      const Complex v = lane(Z[m], b);
      out[b][2 * m] = v.real() * scale;
      if (2 * m + 1 < count) out[b][2 * m + 1] = v.imag() * scale;
    }
  }
#else
  std::vector<double> row(static_cast<size_t>(n_));
  for (int b = 0; b < 4; ++b) {
    inverse(in[b], row.data(), work);
    std::copy(row.begin(), row.begin() + count, out[b]);
  }
#endif
}

}  // namespace turbotsne
