"""Gradients of KL(P‖Q): exact vs finite differences and the numpy formula; Barnes-Hut vs exact."""

import numpy as np
import pytest
import scipy.sparse
from _reference import joint_probabilities, kl_divergence, kl_gradient

import turbotsne
from turbotsne import _core
from turbotsne._validation import check_affinity_matrix


def _float32(P):
    return P.astype(np.float32).astype(np.float64)


def _problem(rng, n=60, dims=2, spread=1.0):
    X = rng.normal(size=(n, 6))
    X[: n // 2] += 4.0
    P = _float32(joint_probabilities(X, 8.0))  # the values the core keeps
    Y = rng.normal(size=(n, dims)) * spread
    return P, Y


def _gradient(P, Y, method="exact", theta=0.5, dof=1.0, exaggeration=1.0):
    indptr, indices, data = check_affinity_matrix(scipy.sparse.csr_matrix(P), len(Y))
    params = _core.RepulsionParams()
    params.theta = theta
    m = getattr(_core.Method, method)
    return _core._testing.gradient(
        indptr, indices, data, np.ascontiguousarray(Y), m, params, dof, exaggeration, 2
    )


@pytest.mark.parametrize("dims", [1, 2, 3, 5])
@pytest.mark.parametrize("dof", [1.0, 0.6, 3.0])
def test_exact_gradient_matches_finite_differences(rng, dims, dof):
    P, Y = _problem(rng, n=40, dims=dims)
    grad, kl, _ = _gradient(P, Y, dof=dof)
    np.testing.assert_allclose(kl, kl_divergence(P, Y, dof), rtol=1e-12)
    h = 1e-6
    fd = np.empty_like(Y)
    for idx in np.ndindex(*Y.shape):
        Yp, Ym = Y.copy(), Y.copy()
        Yp[idx] += h
        Ym[idx] -= h
        fd[idx] = (kl_divergence(P, Yp, dof) - kl_divergence(P, Ym, dof)) / (2 * h)
    err = np.linalg.norm(grad - fd) / np.linalg.norm(fd)
    assert err < 1e-6, err


@pytest.mark.parametrize("dof", [1.0, 0.5])
def test_exact_gradient_matches_the_closed_form(rng, dof):
    P, Y = _problem(rng, n=120, dims=2)
    grad, _, z = _gradient(P, Y, dof=dof)
    np.testing.assert_allclose(grad, kl_gradient(P, Y, dof), rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("dof", [1.0, 0.5])
def test_p_is_rounded_to_float32_and_summed_in_double(rng, dims, dof):
    # The core keeps P's values in float32 (8 bytes per entry with its column): given float64
    # values, the gradient and the KL are those of the rounded P, to double precision.
    X = rng.normal(size=(150, 6))
    P = joint_probabilities(X, 8.0)
    assert not np.array_equal(_float32(P), P)
    Y = rng.normal(size=(150, dims)) * 3.0
    grad, kl, _ = _gradient(P, Y, dof=dof, exaggeration=12.0)
    P32 = _float32(P)
    np.testing.assert_allclose(grad, kl_gradient(12.0 * P32, Y, dof), rtol=1e-9, atol=1e-15)
    assert kl == pytest.approx(kl_divergence(P32, Y, dof), rel=1e-12)
    assert abs(kl - kl_divergence(P, Y, dof)) < 1e-6 * abs(kl)  # the rounding is all that changes


def _attraction(P, Y, dof, with_kl, simd, prefetch=False):
    indptr, indices, data = check_affinity_matrix(scipy.sparse.csr_matrix(P), len(Y))
    return _core._testing.attraction(indptr, indices, data, np.ascontiguousarray(Y), dof, with_kl,
                                     simd, prefetch, 2)


@pytest.mark.parametrize("dof", [1.0, 0.5])
@pytest.mark.parametrize("with_kl", [False, True])
def test_2d_attraction_loops_give_the_same_bits(rng, dof, with_kl):
    # The SSE2 loop (four entries in two registers) and the AVX2 one (four in one, with or
    # without prefetches) add each entry to the same lane in the same order: the same bits,
    # so a run does not depend on the processor it ran on. Rows of every length modulo 4 (the
    # loops' tails) and a few empty rows.
    n = 301
    rows = []
    for i in range(n):
        m = 0 if i % 50 == 0 else int(rng.integers(1, 23))
        cols = rng.choice(np.delete(np.arange(n), i), size=m, replace=False)
        rows += [(i, j) for j in cols]
    r, c = np.array(rows).T
    P = scipy.sparse.csr_matrix((rng.random(len(r)), (r, c)), shape=(n, n))
    P = _float32((P / P.sum()).toarray())
    Y = rng.normal(size=(n, 2)) * 5.0
    levels = [lvl for lvl in _core._testing.simd_levels() if lvl != _core.SimdLevel.avx512]
    runs = {(lvl, pf): _attraction(P, Y, dof, with_kl, lvl, pf) for lvl in levels for pf in (False, True)}
    base = runs[(_core.SimdLevel.baseline, False)]
    for key, (forces, kl, mass) in runs.items():
        assert np.array_equal(forces, base[0]), key
        assert (kl, mass) == (base[1], base[2]), key
    # and they are the attraction: Σ_j p_ij w_ij^(1/α) (y_i − y_j)
    diff = Y[:, None, :] - Y[None, :, :]
    w = 1.0 / (1.0 + (diff ** 2).sum(-1) / dof)
    np.testing.assert_allclose(base[0], ((P * w)[:, :, None] * diff).sum(1), rtol=1e-12, atol=1e-18)
    if with_kl:
        nz = P > 0
        assert base[1] == pytest.approx(float((P[nz] * (np.log(P[nz]) - dof * np.log(w[nz]))).sum()), rel=1e-12)
        assert base[2] == pytest.approx(P.sum(), rel=1e-12)


@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
@pytest.mark.parametrize("exaggeration", [4.0, 12.0])
def test_exaggeration_scales_only_the_attraction(rng, method, exaggeration):
    # The gradient with exaggeration a is the numpy gradient of a·P against the same Q: the
    # attraction scaled, the repulsion (and so Z) untouched. theta = 0 makes Barnes-Hut exact;
    # the FFT's interpolation error bounds its tolerance.
    P, Y = _problem(rng, n=80)
    grad, kl, _ = _gradient(P, Y, method=method, theta=0.0, exaggeration=exaggeration)
    want = kl_gradient(exaggeration * P, Y)
    tol = 1e-9 if method != "fft" else 1e-3
    assert np.linalg.norm(grad - want) / np.linalg.norm(want) < tol
    assert np.linalg.norm(grad - kl_gradient(P, Y)) > 0.1 * np.linalg.norm(want)  # it did change
    assert kl == pytest.approx(kl_divergence(P, Y), rel=1e-12 if method != "fft" else 1e-3)  # plain P


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_barnes_hut_converges_to_exact(rng, dims):
    P, Y = _problem(rng, n=400, dims=dims, spread=10.0)
    exact, kl_exact, z_exact = _gradient(P, Y)
    errors = {}
    for theta in (0.0, 0.1, 0.5):
        approx, kl, z = _gradient(P, Y, method="barnes_hut", theta=theta)
        errors[theta] = np.linalg.norm(approx - exact) / np.linalg.norm(exact)
        assert abs(z - z_exact) / z_exact < (1e-12 if theta == 0 else 0.02)
    assert errors[0.0] < 1e-12
    assert errors[0.1] < errors[0.5]
    assert errors[0.1] < 2e-3
    assert errors[0.5] < 3e-2


def test_barnes_hut_heavy_tails(rng):
    P, Y = _problem(rng, n=300, dims=2, spread=10.0)
    exact, _, _ = _gradient(P, Y, dof=0.5)
    approx, _, _ = _gradient(P, Y, method="barnes_hut", theta=0.3, dof=0.5)
    assert np.linalg.norm(approx - exact) / np.linalg.norm(exact) < 1e-2


def test_barnes_hut_with_coincident_points(rng):
    P, Y = _problem(rng, n=100, dims=2)
    Y[10:40] = Y[10]  # 30 points at one location
    exact, _, z_exact = _gradient(P, Y)
    approx, _, z = _gradient(P, Y, method="barnes_hut", theta=0.0)
    np.testing.assert_allclose(approx, exact, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(z, z_exact, rtol=1e-12)


def test_kl_divergence_matches_the_reference(rng):
    P, Y = _problem(rng, n=90, dims=2)
    for dof in (1.0, 2.0):
        assert turbotsne.kl_divergence(scipy.sparse.csr_matrix(P), Y, dof=dof) == pytest.approx(
            kl_divergence(P, Y, dof), rel=1e-12)
    assert turbotsne.kl_divergence(P, Y) == pytest.approx(kl_divergence(P, Y), rel=1e-12)


def test_kl_divergence_rejects_bad_p(rng):
    P, Y = _problem(rng, n=30)
    with pytest.raises(ValueError, match="sum to 1"):
        turbotsne.kl_divergence(2 * P, Y)
    with pytest.raises(ValueError, match="non-negative"):
        turbotsne.kl_divergence(P - P.max() / 2, Y)
    with pytest.raises(ValueError, match="shape"):
        turbotsne.kl_divergence(P[:10, :10], Y)
