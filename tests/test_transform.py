"""Placing new points into a fixed embedding: the core's reference repulsion and optimiser."""

import numpy as np
import pytest

from turbotsne import _core


def reference_forces(reference, queries, dof=1.0):
    """Σ_j w^((α+1)/α) (y_q − y_j) and Σ_j w over all reference points, in numpy."""
    diff = queries[:, None, :] - reference[None, :, :]
    b = 1.0 + (diff ** 2).sum(-1) / dof
    w = b ** -dof
    return ((w / b)[:, :, None] * diff).sum(1), w.sum(1)


def random_rows(rng, m, n, k):
    """A row-stochastic (m, n) CSR with k distinct columns per row, sorted, as arrays; the
    values are float32 ones (those the core keeps)."""
    cols = np.sort(np.stack([rng.choice(n, k, replace=False) for _ in range(m)]), axis=1)
    vals = rng.random((m, k)) + 0.1
    vals /= vals.sum(1, keepdims=True)
    indptr = np.arange(0, m * k + 1, k, dtype=np.int64)
    return indptr, cols.ravel().astype(np.int32), vals.ravel().astype(np.float32).astype(np.float64)


def per_point_kl(indptr, indices, data, reference, Y, dof=1.0):
    """Mean over new points of KL(p_·|q ‖ q_·|q), q_j|q = w_qj / Σ_k w_qk, in numpy."""
    total = 0.0
    for q in range(len(Y)):
        cols = indices[indptr[q]:indptr[q + 1]]
        p = data[indptr[q]:indptr[q + 1]]
        w = (1.0 + ((Y[q] - reference) ** 2).sum(1) / dof) ** -dof
        total += np.sum(p * np.log(p / (w[cols] / w.sum())))
    return total / len(Y)


@pytest.mark.parametrize("dims", [1, 2, 3, 4])
@pytest.mark.parametrize("dof", [1.0, 0.6])
def test_reference_repulsion_exact_sums_match_numpy(rng, dims, dof):
    reference = rng.normal(size=(300, dims)) * 5
    queries = rng.normal(size=(40, dims)) * 6
    forces, z = _core._testing.reference_repulsion(reference, queries, 0.0, dof, 2)
    want_f, want_z = reference_forces(reference, queries, dof)
    np.testing.assert_allclose(forces, want_f, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(z, want_z, rtol=1e-12)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_reference_repulsion_barnes_hut_is_close_and_tightens_with_theta(rng, dims):
    reference = rng.normal(size=(3000, dims)) * 10
    queries = rng.normal(size=(200, dims)) * 12
    want_f, want_z = reference_forces(reference, queries)
    z_errors, f_errors = [], []
    for theta in (0.8, 0.5, 0.2):
        forces, z = _core._testing.reference_repulsion(reference, queries, theta, 1.0, 2)
        z_errors.append(np.abs(z / want_z - 1).max())
        f_errors.append(np.linalg.norm(forces - want_f) / np.linalg.norm(want_f))
    assert z_errors[1] < 0.05 and f_errors[1] < 0.05
    assert z_errors[2] < 0.01 and f_errors[2] < 0.01
    assert z_errors[2] < z_errors[1] < z_errors[0] and f_errors[2] < f_errors[1] < f_errors[0]


def test_reference_repulsion_is_the_same_for_any_thread_count(rng):
    reference = rng.normal(size=(2000, 2)) * 10
    queries = rng.normal(size=(500, 2)) * 10
    one = _core._testing.reference_repulsion(reference, queries, 0.5, 1.0, 1)
    two = _core._testing.reference_repulsion(reference, queries, 0.5, 1.0, 2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


def run_transform(indptr, indices, data, reference, Y0, iterations, threads=2, theta=0.0, report=None,
                  every=(), **kw):
    params = _core.TransformParams()
    params.n_iter = iterations
    params.theta = theta
    for key, value in kw.items():
        setattr(params, key, value)
    Y = Y0.copy()
    info = _core.transform(indptr, indices, data, reference, Y, params, threads, report, list(every))
    return Y, info


def test_transform_reports_the_per_point_kl_and_lowers_it(rng):
    reference = rng.normal(size=(400, 2)) * 8
    indptr, indices, data = random_rows(rng, 30, len(reference), 12)
    Y0 = rng.normal(size=(30, 2)) * 8
    _, start = run_transform(indptr, indices, data, reference, Y0, 0)
    assert start["kl_divergence"] == pytest.approx(per_point_kl(indptr, indices, data, reference, Y0),
                                                   rel=1e-12)
    seen = []
    Y, end = run_transform(indptr, indices, data, reference, Y0, 200,
                           report=lambda it, kl, g, emb: seen.append(kl) or False, every=[20])
    assert end["n_iter"] == 200 and not end["stopped"]
    assert end["kl_divergence"] == pytest.approx(per_point_kl(indptr, indices, data, reference, Y),
                                                 rel=1e-12)
    assert end["kl_divergence"] < 0.9 * start["kl_divergence"]
    assert len(seen) == 10 and seen[-1] < seen[0]


def test_transform_moves_a_point_to_the_minimum_of_its_kl(rng):
    """After optimisation no small move of a point lowers its KL (a finite-difference check
    that the optimiser follows the true gradient of the per-point objective)."""
    reference = rng.normal(size=(200, 2)) * 6
    indptr, indices, data = random_rows(rng, 5, len(reference), 10)
    Y, _ = run_transform(indptr, indices, data, reference, rng.normal(size=(5, 2)), 1000,
                         learning_rate=0.5)
    for q in range(5):
        one = (indptr[q:q + 2] - indptr[q], indices[indptr[q]:indptr[q + 1]],
               data[indptr[q]:indptr[q + 1]])
        best = per_point_kl(*one, reference, Y[q:q + 1])
        for step in (np.array([1e-3, 0]), np.array([0, 1e-3]), np.array([-1e-3, 1e-3])):
            for sign in (1, -1):
                assert per_point_kl(*one, reference, Y[q:q + 1] + sign * step) >= best - 1e-9


def test_transform_is_the_same_for_any_thread_count_and_batch(rng):
    reference = rng.normal(size=(3000, 2)) * 10
    indptr, indices, data = random_rows(rng, 300, len(reference), 15)
    Y0 = rng.normal(size=(300, 2)) * 10
    one, _ = run_transform(indptr, indices, data, reference, Y0, 50, threads=1, theta=0.5)
    two, _ = run_transform(indptr, indices, data, reference, Y0, 50, threads=2, theta=0.5)
    np.testing.assert_array_equal(one, two)
    # A point's path does not depend on the other new points.
    part, _ = run_transform(indptr[:11], indices[:150], data[:150], reference, Y0[:10], 50,
                            theta=0.5)
    np.testing.assert_array_equal(part, one[:10])


def test_transform_callback_can_stop_it(rng):
    reference = rng.normal(size=(100, 2))
    indptr, indices, data = random_rows(rng, 4, 100, 5)
    _, info = run_transform(indptr, indices, data, reference, np.zeros((4, 2)), 100,
                            report=lambda it, kl, g, emb: it >= 30, every=[10])
    assert info["stopped"] and info["n_iter"] == 30


@pytest.mark.parametrize("field, value", [("n_iter", -1), ("learning_rate", 0.0),
                                          ("momentum", 1.0), ("theta", -0.5), ("dof", 0.0),
                                          ("max_step_norm", -1.0)])
def test_transform_rejects_bad_parameters(rng, field, value):
    reference = rng.normal(size=(50, 2))
    indptr, indices, data = random_rows(rng, 3, 50, 5)
    with pytest.raises(ValueError, match=field):
        run_transform(indptr, indices, data, reference, np.zeros((3, 2)), 10, **{field: value})


def test_transform_rejects_columns_outside_the_reference(rng):
    reference = rng.normal(size=(50, 2))
    indptr, indices, data = random_rows(rng, 3, 60, 5)
    indices[-1] = 55
    with pytest.raises(ValueError, match="outside the reference"):
        run_transform(indptr, indices, data, reference, np.zeros((3, 2)), 10)
