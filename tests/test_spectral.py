"""init="spectral": the leading non-trivial eigenvectors of the normalised affinity graph."""

import numpy as np
import pytest
import scipy.sparse

import turbotsne
from turbotsne._spectral import spectral_init


def csr(P):
    P = scipy.sparse.csr_matrix(P)
    return P.indptr, P.indices, P.data


def ring(n):
    i = np.arange(n)
    return scipy.sparse.coo_matrix((np.ones(2 * n), (np.r_[i, i], np.r_[(i + 1) % n, (i - 1) % n])),
                                   shape=(n, n)).toarray() / (2 * n)


def test_a_ring_starts_on_a_circle():
    # The cycle graph's eigenvectors after the constant one are cos and sin of 2πi/n (one
    # eigenvalue, cos(2π/n), twice): its spectral embedding puts point i at angle 2πi/n + c.
    n = 30
    Y = spectral_init(*csr(ring(n)), n, 2)
    radius = np.hypot(Y[:, 0], Y[:, 1])
    np.testing.assert_allclose(radius, radius.mean(), rtol=1e-6)
    step = np.diff(np.unwrap(np.arctan2(Y[:, 1], Y[:, 0])))
    np.testing.assert_allclose(np.abs(step), 2 * np.pi / n, rtol=1e-6)
    assert Y[:, 0].std() == pytest.approx(1e-4)


def test_a_large_ring_in_one_dimension_is_a_cosine():
    # ARPACK's path (from 50 points): one eigenvector of the eigenvalue cos(2π/n), which is
    # R cos(2πi/n + c) for some R and c.
    n = 400
    y = spectral_init(*csr(ring(n)), n, 1)[:, 0]
    angle = 2 * np.pi * np.arange(n) / n
    basis = np.column_stack([np.cos(angle), np.sin(angle)])
    fit = basis @ np.linalg.lstsq(basis, y, rcond=None)[0]
    assert np.abs(y - fit).max() < 1e-6 * np.abs(y).max()


def test_the_eigenvectors_of_real_affinities_match_numpy(digits):
    X = digits[0][:500]
    P = turbotsne.joint_probabilities(X, neighbors="exact")
    Y = spectral_init(P.indptr, P.indices, P.data, 500, 3)
    # numpy: the dense symmetric normalised matrix, its eigenvectors 2-4, times D^(-1/2).
    dense = P.toarray()
    scale = 1 / np.sqrt(dense.sum(1))
    values, vectors = np.linalg.eigh(scale[:, None] * dense * scale[None])
    expected = vectors[:, np.argsort(-values)[1:4]] * scale[:, None]
    for c in range(3):
        corr = np.corrcoef(Y[:, c], expected[:, c])[0, 1]
        assert abs(corr) > 1 - 1e-8


def test_two_weakly_joined_clusters_split_on_the_first_axis():
    rng = np.random.default_rng(0)
    n = 120
    A = rng.random((n, n)) * (np.repeat([0, 1], 60)[:, None] == np.repeat([0, 1], 60)[None])
    A[0, 60] = A[60, 0] = 1e-3  # one weak link
    A = (A + A.T) / 2
    np.fill_diagonal(A, 0)
    Y = spectral_init(*csr(A / A.sum()), n, 2)
    signs = np.sign(Y[:, 0])
    assert abs(signs[:60].sum()) == 60 and abs(signs[60:].sum()) == 60
    assert signs[0] != signs[60]


def test_tsne_with_spectral_init(digits):
    X = digits[0][:600]
    P = turbotsne.joint_probabilities(X, neighbors="exact")
    Y0 = turbotsne.tsne(X, init="spectral", n_iter=1, early_exaggeration_iter=0,
                        learning_rate=1e-12, neighbors="exact", random_state=0)
    start = spectral_init(P.indptr, P.indices, P.data, 600, 2)
    np.testing.assert_allclose(Y0, start - start.mean(0), atol=1e-9)
    Y = turbotsne.tsne(X, init="spectral", n_iter=300, random_state=0, n_jobs=2)
    Y1 = turbotsne.tsne(X, init="spectral", n_iter=300, random_state=0, n_jobs=1)
    given = turbotsne.tsne(X, affinities=P, init="spectral", n_iter=300, random_state=0)
    assert np.array_equal(Y, Y1) and np.array_equal(Y, given)
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    pre = turbotsne.tsne(D, metric="precomputed", init="spectral", n_iter=300, random_state=0)
    assert np.isfinite(pre).all()
    with pytest.raises(ValueError, match="spectral"):
        turbotsne.contrastive_embedding(X, init="spectral")
    with pytest.raises(ValueError, match="spectral"):
        spectral_init(*csr(np.pad(ring(4), ((0, 1), (0, 1)))), 5, 2)  # point 4 isolated
