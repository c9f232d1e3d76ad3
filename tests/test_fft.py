"""The core's FFT against numpy.fft, on every size class the interpolation grids use."""

import numpy as np
import pytest

from turbotsne import _core


def _fast_sizes(limit):
    return [n for n in range(1, limit + 1) if _core._testing.next_fast_size(n) == n]


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# Every 2^a 3^b 5^c up to 512 (all radix combinations: 4s, a trailing 2, 3s, 5s, mixed),
# plus large sizes of the kind big embeddings need.
COMPLEX_SIZES = _fast_sizes(512) + [600, 750, 1000, 1024, 1080, 1536, 2000, 3000, 3125]


def test_next_fast_size():
    assert [_core._testing.next_fast_size(n) for n in (1, 7, 11, 13, 17, 97, 301, 1001)] == [1, 8, 12, 15, 18, 100, 320, 1024]


@pytest.mark.parametrize("n", COMPLEX_SIZES)
def test_complex_forward_and_inverse(rng, n):
    x = rng.normal(size=n) + 1j * rng.normal(size=n)
    assert _rel(_core._testing.fft(x, False), np.fft.fft(x)) < 1e-12
    assert _rel(_core._testing.fft(x, True), n * np.fft.ifft(x)) < 1e-12


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 12, 30, 60, 150, 300, 900, 3750])
def test_four_at_once_gives_the_same_bits(rng, n):
    x = np.ascontiguousarray(rng.normal(size=(n, 4)) + 1j * rng.normal(size=(n, 4)))
    for inverse in (False, True):
        one_by_one = np.stack([_core._testing.fft(np.ascontiguousarray(x[:, b]), inverse) for b in range(4)], axis=1)
        np.testing.assert_array_equal(_core._testing.fft4(x, inverse), one_by_one)


@pytest.mark.parametrize("n", [2, 4, 6, 10, 16, 30, 100, 300, 600, 900, 1800])
def test_four_real_rows_at_once_give_the_same_bits(rng, n):
    x = rng.normal(size=(4, n))
    one_by_one = np.stack([_core._testing.rfft(np.ascontiguousarray(x[b])) for b in range(4)])
    np.testing.assert_array_equal(_core._testing.rfft4(x), one_by_one)
    X = np.ascontiguousarray(np.fft.rfft(x, axis=1))
    back = np.stack([_core._testing.irfft(np.ascontiguousarray(X[b]), n) for b in range(4)])
    for count in sorted({0, 1, n // 2 + 1, n}):
        np.testing.assert_array_equal(_core._testing.irfft4(X, n, count), back[:, :count])


def test_non_fast_size_is_rejected():
    with pytest.raises(ValueError, match="2\\^a 3\\^b 5\\^c"):
        _core._testing.fft(np.zeros(7, dtype=complex), False)


@pytest.mark.parametrize("n", [2, 4, 6, 10, 16, 30, 100, 300, 320, 360, 600, 768, 1000, 2048, 3000])
def test_real_forward_and_inverse(rng, n):
    x = rng.normal(size=n)
    X = _core._testing.rfft(x)
    assert _rel(X, np.fft.rfft(x)) < 1e-12
    np.testing.assert_allclose(_core._testing.irfft(np.fft.rfft(x), n), x, rtol=0, atol=1e-12 * np.abs(x).max())
