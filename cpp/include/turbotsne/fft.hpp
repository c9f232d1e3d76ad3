// The FFT of the core. No BSD-licensed FFT library is installable as a build dependency from
// PyPI (and FFTW is GPL), so the core carries its own: mixed-radix (2, 3, 4, 5) Stockham
// autosort complex transforms and real-input transforms by the half-length complex packing,
// one at a time or four interleaved. The FFT repulsion (repulsion_fft.cpp) arranges its 2-D
// transforms from these around the zero padding. Sizes are chosen among those it transforms
// fastest (next_fast_size); other sizes are rejected.
#pragma once

#include <complex>
#include <vector>

namespace turbotsne {

using Complex = std::complex<double>;

// Complex product without the NaN/inf recovery that std::complex's operator* adds (a libgcc
// call on every product unless -ffast-math, which the core does not use).
inline Complex complex_mul(const Complex& a, const Complex& b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

// Smallest n' >= n of the form 2^a 3^b 5^c (the sizes this FFT handles).
int next_fast_size(int n);
// Smallest even n' >= n whose half is of that form (the real transforms' sizes).
int next_fast_even_size(int n);
bool is_fast_size(int n);

// Unnormalised complex DFT of one length: forward X[k] = Σ x[t] e^{-2πi tk/n}, inverse with
// e^{+2πi tk/n} (no 1/n).
class FftPlan {
 public:
  explicit FftPlan(int n);
  int size() const { return n_; }
  // out may equal in; work must hold size() values.
  void forward(const Complex* in, Complex* out, Complex* work) const { run(in, out, work, false); }
  void inverse(const Complex* in, Complex* out, Complex* work) const { run(in, out, work, true); }
  // Four transforms at once, interleaved: element t of transform b at index 4t + b (out may
  // equal in; work must hold 4·size() values). Each result has the same bits as forward() or
  // inverse() of that transform alone.
  void forward4(const Complex* in, Complex* out, Complex* work) const { run4(in, out, work, false); }
  void inverse4(const Complex* in, Complex* out, Complex* work) const { run4(in, out, work, true); }

 private:
  struct Stage {
    int radix;
    int length;  // L: length of the transforms before this stage
    int stride;  // S': number of transforms after this stage
    std::vector<Complex> twiddles;  // ω_{L·r}^{p·k}, k < L, 1 <= p < r, forward sign
  };
  void run(const Complex* in, Complex* out, Complex* work, bool inverse) const;
  void run4(const Complex* in, Complex* out, Complex* work, bool inverse) const;
  // T: one transform (Complex) or four (fft.cpp's Complex4, split into real and imaginary
  // parts); kSwapIn / kSwapOut: the input / output is interleaved instead (as run4's).
  // RealFftPlan runs its four packed halves split, with neither.
  template <class T, bool kSwapIn, bool kSwapOut>
  void run_as(const T* in, T* out, T* work, bool inverse) const;
  friend class RealFftPlan;
  int n_;
  std::vector<Stage> stages_;
};

// Real-input DFT of an even length n: n/2 + 1 complex outputs (the rest follow by symmetry).
class RealFftPlan {
 public:
  explicit RealFftPlan(int n);
  int size() const { return n_; }
  int spectrum_size() const { return n_ / 2 + 1; }
  // work must hold n values (out may not alias it).
  void forward(const double* in, Complex* out, Complex* work) const;
  // Inverse of forward, scaled by 1/n so that inverse(forward(x)) = x.
  void inverse(const Complex* in, double* out, Complex* work) const;
  // Four rows at once, each with the same bits as forward() or inverse() alone; work must
  // hold 6·size() values. inverse4 writes only the first `count` values of each row.
  void forward4(const double* const in[4], Complex* const out[4], Complex* work) const;
  void inverse4(const Complex* const in[4], double* const out[4], int count, Complex* work) const;

 private:
  int n_;
  FftPlan half_;
  std::vector<Complex> twiddles_;  // e^{-2πik/n}, k <= n/2
};

}  // namespace turbotsne
