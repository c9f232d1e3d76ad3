"""FFT-accelerated interpolation of the repulsive forces against the exact sums."""

import numpy as np
import pytest

from turbotsne import _core


def _layout(kind, dims, rng, n=2000):
    if kind == "random":
        return rng.uniform(-40, 40, size=(n, dims))
    # clustered like a real embedding: 10 blobs of different sizes spread over ~80 units
    centres = rng.uniform(-35, 35, size=(10, dims))
    labels = rng.integers(0, 10, size=n)
    return centres[labels] + rng.normal(size=(n, dims)) * rng.uniform(0.5, 4, size=10)[labels, None]


def _repulsion(Y, method, dof=1.0, p=3, intervals=50, ints=1.0, threads=2):
    params = _core.RepulsionParams()
    params.interpolation.n_interpolation_points = p
    params.interpolation.min_num_intervals = intervals
    params.interpolation.ints_in_interval = ints
    return _core._testing.repulsion(np.ascontiguousarray(Y), getattr(_core.Method, method), params, dof, threads)


def _errors(Y, **kw):
    F, Z = _repulsion(Y, "exact", dof=kw.get("dof", 1.0))
    G, W = _repulsion(Y, "fft", **kw)
    return np.linalg.norm(G - F) / np.linalg.norm(F), abs(W - Z) / Z


@pytest.mark.parametrize("kind", ["random", "clustered"])
@pytest.mark.parametrize("dims", [1, 2])
def test_forces_and_z_against_exact(rng, kind, dims):
    Y = _layout(kind, dims, rng)
    # At the defaults (those of FIt-SNE and openTSNE) the scheme's own error is a few
    # percent on a layout this wide; with 7 nodes per box it is below 1e-3.
    force_err, z_err = _errors(Y)
    assert force_err < 6e-2 and z_err < 1e-2
    force_err, z_err = _errors(Y, p=7)
    assert force_err < 1e-3 and z_err < 1e-4


@pytest.mark.parametrize("kind", ["random", "clustered"])
@pytest.mark.parametrize("dims", [1, 2])
def test_error_decreases_with_more_interpolation_points(rng, kind, dims):
    Y = _layout(kind, dims, rng)
    errors = [_errors(Y, p=p)[0] for p in (2, 3, 4, 5, 7, 9)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors


def _node_sums_by_numpy_fft(N, h, kernel):
    """The node-node sums of a 2-D grid, K @ q for charges q of shape (N*N, c), as a linear
    convolution done with numpy's FFT (zero-padded, so exact up to rounding): the same sums
    as the dense product, without an (N²)² matrix."""
    offsets = np.arange(-(N - 1), N) * h
    gy, gx = np.meshgrid(offsets, offsets, indexing="ij")
    K = kernel(gx**2 + gy**2)
    size = 3 * N - 2
    K_hat = np.fft.rfft2(K, s=(size, size))

    def apply(q):
        out = np.empty_like(q)
        for c in range(q.shape[1]):
            conv = np.fft.irfft2(np.fft.rfft2(q[:, c].reshape(N, N), s=(size, size)) * K_hat, s=(size, size))
            out[:, c] = conv[N - 1:2 * N - 1, N - 1:2 * N - 1].ravel()
        return out

    return apply


def _scheme_reference(Y, p, boxes, dof=1.0, dense=True):
    """The interpolation scheme written in numpy: nodes at the midpoints of p equal
    sub-intervals of each box, Lagrange weights, all node pairs summed directly (dense=False,
    2-D: the same sums by numpy's FFT). Returns the forces and Z, each point's Σ_j w_ij
    interpolated (dof = 1: through the squared kernel as w = w² (1 + |y_i − y_j|²); otherwise
    through w itself), minus the n self-terms."""
    n, D = Y.shape
    lo, hi = Y.min(), Y.max()
    h = (hi - lo) / (boxes * p)
    N = boxes * p
    W = []
    for d in range(D):
        u = (Y[:, d] - lo) / h
        b = np.clip((u / p).astype(int), 0, boxes - 1)
        t = u - b * p
        Wd = np.zeros((n, N))
        for j in range(p):
            v = np.ones(n)
            for m in range(p):
                if m != j:
                    v *= (t - m - 0.5) / (j - m)
            Wd[np.arange(n), b * p + j] = v
        W.append(Wd)
    nodes = (np.arange(N) + 0.5) * h
    def repulsive(d2):
        return (1 + d2 / dof) ** (-(dof + 1))

    def kernel(d2):
        return (1 + d2 / dof) ** (-dof)

    if D == 1:
        S = W[0]
        diff2 = (nodes[:, None] - nodes[None, :]) ** 2
    else:
        S = np.einsum("ia,ib->iab", W[1], W[0]).reshape(n, N * N)  # node (row=y, col=x)
        if dense:
            gy, gx = np.meshgrid(nodes, nodes, indexing="ij")
            g = np.c_[gx.ravel(), gy.ravel()]
            diff2 = ((g[:, None, :] - g[None, :, :]) ** 2).sum(-1)
    if D == 1 or dense:
        K2, Kw = repulsive(diff2), kernel(diff2)
        def apply(q):
            return K2 @ q

        def apply_w(q):
            return Kw @ q
    else:
        apply, apply_w = _node_sums_by_numpy_fft(N, h, repulsive), _node_sums_by_numpy_fft(N, h, kernel)
    r2 = (Y**2).sum(axis=1)
    charges = np.c_[S.sum(axis=0), S.T @ Y, S.T @ r2]  # 1, y_1 .. y_D, |y|²
    phi = S @ apply(charges)
    F = Y * phi[:, :1] - phi[:, 1:1 + D]
    cross = (Y * phi[:, 1:1 + D]).sum(axis=1)
    if dof == 1.0:
        z = (1 + r2) * phi[:, 0] - 2 * cross + phi[:, 1 + D]
    else:
        z = S @ apply_w(charges[:, :1])[:, 0]
    return F, z.sum() - n


@pytest.mark.parametrize("dims,dof", [(1, 1.0), (2, 1.0), (2, 0.7)])
def test_implements_the_interpolation_scheme_exactly(rng, dims, dof):
    # a compact layout, so that the grid keeps min_num_intervals = 10 boxes
    Y = rng.normal(size=(300, dims)) * 1.5
    G, Z = _repulsion(Y, "fft", dof=dof, p=3, intervals=10)
    ref, z_ref = _scheme_reference(Y, 3, 10, dof)
    np.testing.assert_allclose(G, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(Z, z_ref, rtol=1e-9)


@pytest.mark.parametrize("kind", ["random", "clustered"])
@pytest.mark.parametrize("dims", [1, 2])
def test_error_at_the_defaults_is_no_larger_than_the_peers_scheme(rng, kind, dims):
    # The defaults are the scheme of FIt-SNE and openTSNE (3 nodes per box, at least 50 boxes,
    # boxes at most 1 wide). Written independently in numpy on the same layout, its forces and
    # Z are off from the exact sums by as much as ours, not less: our transforms, grid sizes
    # and caps add no error of their own.
    Y = _layout(kind, dims, rng)
    F, Z = _repulsion(Y, "exact")
    G, W = _repulsion(Y, "fft")
    boxes = _core._testing.next_fast_size(max(50, int(np.ceil(Y.max() - Y.min()))))
    R, z_ref = _scheme_reference(Y, 3, boxes, dense=False)
    ours, peers = np.linalg.norm(G - F) / np.linalg.norm(F), np.linalg.norm(R - F) / np.linalg.norm(F)
    assert ours <= peers * (1 + 1e-6), (ours, peers)
    assert abs(W - Z) <= abs(z_ref - Z) * (1 + 1e-6) + 1e-9 * Z
    assert 1e-3 < ours < 6e-2  # the scheme's error at these layouts' spans (and not zero)


def test_dense_and_fft_references_agree(rng):
    Y = rng.normal(size=(300, 2)) * 1.5
    dense = _scheme_reference(Y, 3, 10)
    by_fft = _scheme_reference(Y, 3, 10, dense=False)
    np.testing.assert_allclose(by_fft[0], dense[0], rtol=1e-9, atol=1e-12 * np.abs(dense[0]).max())
    np.testing.assert_allclose(by_fft[1], dense[1], rtol=1e-9)


@pytest.mark.parametrize("dof", [0.5, 0.8, 2.0])
@pytest.mark.parametrize("dims", [1, 2])
def test_heavy_tails(rng, dof, dims):
    Y = _layout("clustered", dims, rng)
    errors = [_errors(Y, dof=dof, p=p) for p in (3, 7)]
    assert errors[0][0] < 6e-2 and errors[0][1] < 1e-2
    assert errors[1][0] < 1e-3 and errors[1][1] < 1e-4


def test_small_and_degenerate_layouts(rng):
    for Y in (rng.normal(size=(5, 2)) * 1e-4, np.zeros((20, 2)), np.r_[np.zeros((10, 2)), np.ones((10, 2))]):
        F, Z = _repulsion(Y, "exact")
        G, W = _repulsion(Y, "fft")
        assert np.isfinite(G).all() and np.isfinite(W)
        np.testing.assert_allclose(W, Z, rtol=1e-3)
        assert np.abs(G - F).max() <= 1e-3 * max(np.abs(F).max(), 1e-12) + 1e-12


def test_independent_of_thread_count(rng):
    Y = _layout("clustered", 2, rng, n=5000)
    a = _repulsion(Y, "fft", threads=1)
    b = _repulsion(Y, "fft", threads=2)
    c = _repulsion(Y, "fft", threads=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[0], c[0])
    assert a[1] == b[1] == c[1]


@pytest.mark.parametrize("p,intervals,ints", [(0, 50, 1.0), (3, 0, 1.0), (3, 50, 0.0), (33, 50, 1.0)])
def test_invalid_grid_parameters(rng, p, intervals, ints):
    with pytest.raises(ValueError):
        _repulsion(rng.normal(size=(10, 2)), "fft", p=p, intervals=intervals, ints=ints)


def test_three_dimensions_are_refused(rng):
    with pytest.raises(ValueError, match="1 or 2"):
        _repulsion(rng.normal(size=(10, 3)), "fft")


@pytest.mark.parametrize("dims,dof", [(1, 1.0), (2, 1.0), (2, 0.7)])
def test_one_repulsion_over_many_layouts_gives_the_same_bits_as_fresh_ones(rng, dims, dof):
    # The optimiser calls one FFT repulsion every iteration; it keeps its plans and buffers
    # between calls. Layouts that keep the grid, change its spacing only, change it and come
    # back, or have other points must give the same bits as a fresh repulsion for each.
    Y = _layout("clustered", dims, rng)
    layouts = [Y, Y * 1.001, Y * 1.03, Y * 1.001, Y[:1500] * 1.001, Y * 1.0005, Y * 0.2, Y]
    params = _core.RepulsionParams()
    kept = _core._testing.repulsion_sequence([np.ascontiguousarray(L) for L in layouts],
                                             _core.Method.fft, params, dof, 2)
    for layout, (forces, z) in zip(layouts, kept):
        fresh_forces, fresh_z = _repulsion(layout, "fft", dof=dof)
        np.testing.assert_array_equal(forces, fresh_forces)
        assert z == fresh_z
