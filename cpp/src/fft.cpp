#include "turbotsne/fft.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "turbotsne/common.hpp"

// The transforms are compiled twice where GCC can dispatch at run time (ifunc on x86-64
// Linux): for the baseline x86-64 and for AVX2, the version taken on CPUs that have it. The
// stages are inlined into FftPlan::run so that both versions are vectorised for their
// target. Without -ffast-math and without FMA (not part of the "avx2" target) both give the
// same bits.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(TURBOTSNE_NO_CLONES)
#define TURBOTSNE_TARGET_CLONES __attribute__((target_clones("avx2", "default")))
#define TURBOTSNE_INLINE __attribute__((always_inline)) inline
#else
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

// Four complex values side by side, for four transforms run together (FftPlan::forward4):
// a = (re0, im0, re1, im1), b = (re2, im2, re3, im3). GCC's generic vectors, so that each
// clone of the transforms uses its target's widest registers (two 256-bit ones with AVX2).
// Every operation does per value what the Complex one does, in the same order, so the bits
// are the same: a − b is a + (−b), and multiplying by ±1 only sets the sign.
#if defined(__GNUC__) && !defined(TURBOTSNE_NO_COMPLEX4)
#define TURBOTSNE_COMPLEX4 1
// The helpers are always inlined into the transforms, so no Vec4 crosses a call: GCC's note
// that passing one by value depends on AVX (-Wpsabi) does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
typedef double Vec4 __attribute__((vector_size(32), aligned(8)));
typedef long long Vec4Index __attribute__((vector_size(32)));
struct Complex4 {
  Vec4 a, b;
};
TURBOTSNE_INLINE Complex4 operator+(const Complex4& x, const Complex4& y) { return {x.a + y.a, x.b + y.b}; }
TURBOTSNE_INLINE Complex4 operator-(const Complex4& x, const Complex4& y) { return {x.a - y.a, x.b - y.b}; }
TURBOTSNE_INLINE Complex4 operator*(double s, const Complex4& x) { return {s * x.a, s * x.b}; }
TURBOTSNE_INLINE Vec4 swap_parts(const Vec4& v) {
#if defined(__clang__)
  return __builtin_shufflevector(v, v, 1, 0, 3, 2);
#else
  return __builtin_shuffle(v, Vec4Index{1, 0, 3, 2});
#endif
}
template <bool kInverse>
TURBOTSNE_INLINE Complex4 rotate(const Complex4& z) {
  // forward (re, im) -> (im, -re); inverse -> (-im, re)
  const Vec4 sign = kInverse ? Vec4{-1.0, 1.0, -1.0, 1.0} : Vec4{1.0, -1.0, 1.0, -1.0};
  return {swap_parts(z.a) * sign, swap_parts(z.b) * sign};
}
// w · x per value: (wr·xr − wi·xi, wr·xi + wi·xr), as complex_mul(w, x).
TURBOTSNE_INLINE Complex4 cmul(const Complex& w, const Complex4& x) {
  const Vec4 wr = {w.real(), w.real(), w.real(), w.real()};
  const Vec4 wi = {-w.imag(), w.imag(), -w.imag(), w.imag()};
  return {x.a * wr + swap_parts(x.a) * wi, x.b * wr + swap_parts(x.b) * wi};
}
// Negates the imaginary parts, as std::conj does.
TURBOTSNE_INLINE Complex4 conj(const Complex4& z) {
  const Vec4 sign = {1.0, -1.0, 1.0, -1.0};
  return {z.a * sign, z.b * sign};
}
// Value b of four arrays' element k, side by side.
TURBOTSNE_INLINE Complex4 gather4(const Complex* const x[4], index_t k) {
  return {Vec4{x[0][k].real(), x[0][k].imag(), x[1][k].real(), x[1][k].imag()},
          Vec4{x[2][k].real(), x[2][k].imag(), x[3][k].real(), x[3][k].imag()}};
}
TURBOTSNE_INLINE Complex lane(const Complex4& z, int b) {
  return b < 2 ? Complex(z.a[2 * b], z.a[2 * b + 1]) : Complex(z.b[2 * b - 4], z.b[2 * b - 3]);
}
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

// One Stockham stage of radix R (see FftPlan::run). The loop over the longer of the two
// index ranges is the inner one, so that memory is walked contiguously.
template <int R, bool kInverse, class T>
TURBOTSNE_INLINE void stage(const T* src, T* dst, const Complex* twiddles, int L, int S) {
  const size_t stride = static_cast<size_t>(S) * L;
  auto one = [&](int q, int k, const Complex* w) {
    T a[R];
    const T* in = src + static_cast<size_t>(q) * L + k;
    a[0] = in[0];
    for (int p = 1; p < R; ++p) a[p] = cmul(w[p - 1], in[p * stride]);
    butterfly<R, kInverse, T>(a, dst + static_cast<size_t>(q) * R * L + k, L);
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
      for (int k = 0; k < L; ++k) {
        twiddles_of(k, w);
        one(q, k, w);
      }
    }
  } else {
    for (int k = 0; k < L; ++k) {
      twiddles_of(k, w);
      for (int q = 0; q < S; ++q) one(q, k, w);
    }
  }
}

template <bool kInverse, class T>
TURBOTSNE_INLINE void run_stage(int radix, const T* src, T* dst, const Complex* twiddles, int L, int S) {
  switch (radix) {
    case 2: stage<2, kInverse>(src, dst, twiddles, L, S); break;
    case 3: stage<3, kInverse>(src, dst, twiddles, L, S); break;
    case 4: stage<4, kInverse>(src, dst, twiddles, L, S); break;
    default: stage<5, kInverse>(src, dst, twiddles, L, S); break;
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
// T: Complex (one transform) or Complex4 (four, interleaved).
template <class T>
TURBOTSNE_INLINE void FftPlan::run_as(const T* in, T* out, T* work, bool inverse) const {
  if (stages_.empty()) {  // n == 1
    out[0] = in[0];
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
  int which = 0;
  for (const Stage& st : stages_) {
    T* dst = bufs[which];
    if (inverse) {
      run_stage<true>(st.radix, src, dst, st.twiddles.data(), st.length, st.stride);
    } else {
      run_stage<false>(st.radix, src, dst, st.twiddles.data(), st.length, st.stride);
    }
    src = dst;
    which ^= 1;
  }
}

TURBOTSNE_TARGET_CLONES void FftPlan::run(const Complex* in, Complex* out, Complex* work, bool inverse) const {
  run_as<Complex>(in, out, work, inverse);
}

TURBOTSNE_TARGET_CLONES void FftPlan::run4(const Complex* in, Complex* out, Complex* work, bool inverse) const {
#if defined(TURBOTSNE_COMPLEX4)
  static_assert(sizeof(Complex4) == 4 * sizeof(Complex), "Complex4 is four Complex values");
  run_as<Complex4>(reinterpret_cast<const Complex4*>(in), reinterpret_cast<Complex4*>(out),
                   reinterpret_cast<Complex4*>(work), inverse);
#else
  // One at a time: work[0, n) holds a column, work[n, 2n) the transform's own work.
  for (int b = 0; b < 4; ++b) {
    for (int t = 0; t < n_; ++t) work[t] = in[4 * static_cast<size_t>(t) + b];
    run_as<Complex>(work, work, work + n_, inverse);
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
  for (int m = 0; m < h; ++m) {
    packed[m] = {Vec4{in[0][2 * m], in[0][2 * m + 1], in[1][2 * m], in[1][2 * m + 1]},
                 Vec4{in[2][2 * m], in[2][2 * m + 1], in[3][2 * m], in[3][2 * m + 1]}};
  }
  half_.forward4(work, work + 2 * static_cast<size_t>(n_), work + 4 * static_cast<size_t>(n_));
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
  half_.inverse4(work, work + 2 * static_cast<size_t>(n_), work + 4 * static_cast<size_t>(n_));
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
