"""The functional API: ``tsne``, ``joint_probabilities`` and ``kl_divergence``."""

from __future__ import annotations

import time
import warnings
from typing import Callable, NamedTuple, Optional, Union

import numpy as np
import scipy.sparse

from . import _core, _kernels, _metrics, _spectral
from ._anndata_check import reject_anndata
from ._progress import Progress, run_observed
from ._validation import (
    CallableOrNone,
    Choice,
    ChoiceOrArray,
    Int,
    Jobs,
    NoneOr,
    Real,
    Seed,
    WordOr,
    check_affinities,
    check_affinity_matrix,
    check_bool,
    check_choice,
    check_cosine_rows,
    check_data,
    check_embedding,
    check_n_jobs,
    check_params,
    check_precomputed,
    check_real,
    in_safe_range,
)

__all__ = ["tsne", "joint_probabilities", "kl_divergence", "AUTO_EXACT_MAX_SAMPLES",
           "AUTO_FFT_MIN_SAMPLES", "AUTO_APPROX_MIN_SAMPLES", "AUTO_APPROX_MIN_SAMPLES_WIDE",
           "EXACT_SAMPLES_LIMIT"]

# The AUTO_ constants are where method="auto" and neighbors="auto" switch; EXACT_SAMPLES_LIMIT
# is a hard limit of method="exact".

#: method="auto" uses the exact O(n²) gradient up to this many samples and Barnes-Hut above
#: (measured with bench/choose_auto.py; see the README).
AUTO_EXACT_MAX_SAMPLES = 150
#: method="auto" uses the FFT-accelerated interpolation for 1-D and 2-D embeddings of this many
#: samples and more, Barnes-Hut below (and in 3-D). Quality first: at its defaults (FIt-SNE's and
#: openTSNE's scheme) the FFT's forces are a few percent off, which leaves the exact KL
#: measurably above Barnes-Hut's on smaller sets; from this size on it is within 0.5%, at the
#: same 10-NN accuracy and recall@10, and the FFT is faster (bench/choose_auto.py method; the
#: README's "How the defaults were chosen" has the table).
AUTO_FFT_MIN_SAMPLES = 25000
#: method="exact" (O(n²) time per iteration, O(n) memory) refuses more samples than this: at
#: 20,000 points a run of 750 iterations already takes minutes, and beyond it the approximate
#: methods are as accurate as needed at a small fraction of the cost.
EXACT_SAMPLES_LIMIT = 20000
#: neighbors="auto" uses approximate neighbours (random-projection forest + NN-descent) from
#: this many samples on (with at most 100 features; AUTO_APPROX_MIN_SAMPLES_WIDE with more) and the
#: exact search below, where the exact search (a blocked brute force from 24 dimensions) is as
#: fast or faster and finds every neighbour, also on well-separated clusters where the
#: approximate search misses some (bench/choose_auto.py neighbors; the README has the table).
AUTO_APPROX_MIN_SAMPLES = 100000
#: The same threshold for inputs of more than 100 features, where the exact search costs more
#: per pair than the approximate one saves (raw MNIST pixels: bench/choose_auto.py neighbors).
AUTO_APPROX_MIN_SAMPLES_WIDE = 60000

#: The thresholds' former names, still readable from the package with a DeprecationWarning.
DEPRECATED_NAMES = {
    "EXACT_MAX_SAMPLES": "AUTO_EXACT_MAX_SAMPLES",
    "FFT_MIN_SAMPLES": "AUTO_FFT_MIN_SAMPLES",
    "APPROX_MIN_SAMPLES": "AUTO_APPROX_MIN_SAMPLES",
    "APPROX_MIN_SAMPLES_WIDE": "AUTO_APPROX_MIN_SAMPLES_WIDE",
}
_NEIGHBORS = ("auto", "exact", "approx")

_METHODS = ("auto", "exact", "barnes_hut", "fft")


def _check_perplexity(perplexity: float, n_samples: int) -> float:
    """The perplexity (a positive float, checked by the caller's table) against n_samples.

    scikit-learn's rule: any perplexity below n_samples. Each point uses
    ``min(n_samples - 1, floor(3 * perplexity))`` neighbours, whose weights reach any
    perplexity up to their number (equal weights give exactly n_samples - 1); a perplexity
    between n_samples - 1 and n_samples gets those equal weights, the nearest it can, with a
    warning."""
    if not perplexity < n_samples:
        raise ValueError(
            f"perplexity ({perplexity:g}) is too large for {n_samples} samples: it must be less "
            f"than n_samples (each point has at most n_samples - 1 = {n_samples - 1} "
            f"neighbours, and their weights reach at most that perplexity)."
        )
    if perplexity > n_samples - 1:
        warnings.warn(
            f"perplexity ({perplexity:g}) is above n_samples - 1 = {n_samples - 1}, the largest "
            f"that {n_samples} samples can have: every point gives its {n_samples - 1} "
            f"neighbours equal weights (perplexity {n_samples - 1}).", UserWarning, stacklevel=4)
    return perplexity


#: Metrics for which the core reads float32 rows as they are (with the approximate search).
_FLOAT32_METRICS = ("euclidean", "manhattan")


def _uses_float32(X, metric: str, neighbors: str) -> bool:
    """Whether float32 ``X`` goes to the core as it is: for the approximate neighbour search
    (chosen, or picked by neighbors="auto") with the Euclidean or Manhattan metric, which with
    PCA read float32 rows without a float64 copy (a third of the bytes) and give the same
    result as the same values in float64. Otherwise X is converted to float64 once."""
    if not (isinstance(X, np.ndarray) and X.dtype == np.float32 and X.ndim == 2
            and metric in _FLOAT32_METRICS):
        return False
    return neighbors == "approx" or (
        neighbors == "auto" and X.shape[0] >= _approx_min_samples(X.shape[1]))


def _checked_data(X, metric: str, float32: bool = False) -> np.ndarray:
    """X validated for a metric on rows, in the safe range of magnitudes (see in_safe_range);
    float32 rows stay float32 when ``float32`` (see _uses_float32)."""
    if float32:
        return check_data(X, dtype=np.float32)  # float32 magnitudes are all in the safe range
    X = check_data(X)
    if metric == "cosine":
        check_cosine_rows(X)
    return in_safe_range(X, per_row=metric == "cosine")


def _resolve_method(method: str, n_samples: int, n_components: int) -> str:
    if method == "auto":
        if n_samples <= AUTO_EXACT_MAX_SAMPLES or n_components > 3:
            method = "exact"
        elif n_samples >= AUTO_FFT_MIN_SAMPLES and n_components <= 2:
            method = "fft"
        else:
            method = "barnes_hut"
    if method == "exact" and n_samples > EXACT_SAMPLES_LIMIT:
        hint = ("use method='barnes_hut' or 'fft'" if n_components <= 3 else
                "embed in at most 3 components with method='barnes_hut' (1-3) or 'fft' (1-2)")
        raise ValueError(
            f"method='exact' costs O(n²) per iteration and is limited to EXACT_SAMPLES_LIMIT = "
            f"{EXACT_SAMPLES_LIMIT} samples; got n_samples={n_samples} (n_components="
            f"{n_components}): {hint}."
        )
    if method == "barnes_hut" and n_components > 3:
        raise ValueError(
            f"method='barnes_hut' supports n_components in {{1, 2, 3}}; got n_components="
            f"{n_components}. Use method='exact' for higher-dimensional embeddings."
        )
    if method == "fft" and n_components > 2:
        raise ValueError(
            f"method='fft' supports n_components in {{1, 2}}; got n_components={n_components}. "
            f"Use method='barnes_hut' for 3-D embeddings."
        )
    return method


def _approx_min_samples(n_features: int) -> int:
    """Where neighbors="auto" switches to the approximate search, for this many features."""
    return AUTO_APPROX_MIN_SAMPLES if n_features <= 100 else AUTO_APPROX_MIN_SAMPLES_WIDE


def _neighbor_params(neighbors: str, n_samples: int, seed: int, n_features: int = 0):
    """The core's NeighborParams for ``neighbors`` (checked by _RUN_CONSTRAINTS) and the
    search it resolves to."""
    if neighbors == "auto":
        neighbors = "approx" if n_samples >= _approx_min_samples(n_features) else "exact"
    params = _core.NeighborParams()
    params.method = _core.NeighborMethod.approximate if neighbors == "approx" else _core.NeighborMethod.exact
    params.approximate.seed = seed
    return params, neighbors


def _distinct_off_diagonal_counts(D: scipy.sparse.csr_matrix) -> np.ndarray:
    """Per row of a CSR matrix, its distinct stored columns other than the row itself (the
    neighbour candidates of a sparse distance graph); O(nnz), without a sort of all pairs."""
    n = D.shape[0]
    S = D if D.has_sorted_indices else D.sorted_indices()
    idx, lengths = S.indices, np.diff(S.indptr)
    new = np.ones(idx.size, dtype=bool)  # a column unlike the one before it in its row
    if idx.size > 1:
        np.not_equal(idx[1:], idx[:-1], out=new[1:])
    nonempty = np.flatnonzero(lengths)
    new[S.indptr[nonempty]] = True
    new &= idx != np.repeat(np.arange(n, dtype=idx.dtype), lengths)
    counts = np.zeros(n, dtype=np.int64)
    if nonempty.size:
        counts[nonempty] = np.add.reduceat(new, S.indptr[nonempty])
    return counts


def _stage_done(progress: Optional[Progress], timings: Optional[dict], name: str,
                since: float) -> None:
    """A stage run here (not in the core) is done: its seconds since ``since`` go to
    ``progress`` (a Progress, or None) and to ``timings`` (a dict, or None) under ``name``."""
    seconds = time.perf_counter() - since
    if progress is not None:
        progress.stage(name, seconds)
    if timings is not None:
        timings[name] = seconds


def _precomputed_affinities(D, kernel, owner: str):
    """``(n, affinities, kernel)`` for a precomputed distance matrix, validated as
    check_precomputed (``kernel`` checked against n): ``affinities(threads, progress,
    timings)`` computes the joint P (CSR arrays), reports its two stages, neighbours and
    affinities, to ``progress`` (a Progress, or None) and stores their seconds in ``timings``
    (a dict, or None) under "neighbors" and "affinities"."""
    kind, D = check_precomputed(D)
    n = D.shape[0]
    kernel = _kernels.check_kernel(kernel, n, _check_perplexity)
    k = kernel.neighbor_count(n)
    if kind == "sparse":
        counts = _distinct_off_diagonal_counts(D)
        if counts.min() < k:
            row = int(np.argmin(counts))
            if counts[row] == 0:
                fix = "Add neighbours to the graph."
            elif kernel.kind in ("uniform", "gaussian"):
                fix = f"Pass n_neighbors <= {counts[row]} or add neighbours to the graph."
            else:
                fix = (f"Pass perplexity < {(counts[row] + 1) / 3:g} (each point uses "
                       f"floor(3 * perplexity) neighbours) or add neighbours to the graph.")
            need = "floor(3 * perplexity)" if kernel.n_neighbors is None else "n_neighbors"
            raise ValueError(
                f"X (a sparse kNN distance graph with metric='precomputed') must give every "
                f"point at least {need} = {k} neighbours besides itself; row "
                f"{row} has {counts[row]} (the fewest). {fix}"
            )
        csr = (np.ascontiguousarray(D.indptr, dtype=np.int64),
               np.ascontiguousarray(D.indices, dtype=np.int32), D.data)

    def affinities(threads: int, progress: Optional[Progress] = None,
                   timings: Optional[dict] = None, conditional: bool = False):
        on_progress = progress.on_progress() if progress is not None else None
        start = time.perf_counter()
        if kind == "dense":
            graph = _core.neighbors_from_distance_matrix(D, k, threads, on_progress)
        else:
            graph = _core.neighbors_from_sparse_distances(*csr, k, threads, on_progress)
        _stage_done(progress, timings, "neighbors", start)
        lap = time.perf_counter()
        P = kernel.joint(*graph, threads, on_progress, conditional)
        _stage_done(progress, timings, "affinities", lap)
        return P

    return n, affinities, kernel


def tsne(
    X,
    n_components: int = 2,
    *,
    perplexity: float = 30.0,
    method: str = "auto",
    neighbors: str = "auto",
    metric: Union[str, Callable] = "euclidean",
    metric_params: Optional[dict] = None,
    affinities=None,
    init: Union[str, np.ndarray] = "pca",
    learning_rate: Union[str, float] = "auto",
    n_iter: int = 750,
    early_exaggeration: float = 12.0,
    early_exaggeration_iter: int = 200,
    exaggeration: float = 1.0,
    max_step_norm: Optional[float] = 5.0,
    dof: float = 1.0,
    theta: float = 0.5,
    n_interpolation_points: int = 3,
    min_num_intervals: int = 50,
    ints_in_interval: float = 1.0,
    random_state=None,
    n_jobs: int = -1,
    verbose: bool = False,
    callback: Optional[Callable[[int, float, np.ndarray], bool]] = None,
    callback_every: int = 50,
    n_iter_without_progress: Optional[int] = None,
    min_grad_norm: Optional[float] = None,
    n_neighbors: Optional[int] = None,
    sigma: Optional[float] = None,
    objective: str = "tsne",
    background: Optional[float] = None,
    return_info: bool = False,
):
    """Embed the rows of ``X`` with t-SNE.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), (n_samples, n_samples) or None
        Real-valued data, finite, at least 2 rows. float64 C-contiguous arrays are used without
        a copy; other dtypes and layouts are converted once. float32 arrays are also used as
        they are (C-contiguous) with the approximate neighbour search (``neighbors="approx"``,
        or "auto" on large data) and the euclidean or manhattan metric: a third of a float64
        copy's memory, and the same embedding as the same values in float64. A scipy.sparse
        matrix (CSR, CSC or any format; e.g. a single-cell count matrix) is used without ever
        being densified: its neighbours come from an exact blocked search (sparse products
        for the euclidean and cosine metrics, O(nnz) memory besides a block of distances) and
        ``init="pca"`` from a truncated SVD of the implicitly centred matrix. With
        ``metric="precomputed"``: a
        distance matrix (see ``metric``). None only with ``affinities`` and an ``init`` other
        than "pca".
    n_components : int, default=2
        Dimension of the embedding: 1, 2 or 3 for Barnes-Hut, any for ``method="exact"``.
    perplexity : float, default=30.0
        Effective number of neighbours of each point. Each point looks at its
        ``min(n_samples - 1, floor(3 * perplexity))`` nearest neighbours (scikit-learn's
        rule), whose weights are calibrated to this perplexity, so ``perplexity < n_samples``
        is required (above ``n_samples - 1``, which equal weights give, with a warning).
        Larger values show more global structure and cost more; 30 suits most data from a
        few hundred points upwards. A list, e.g. ``[30, 300]``, gives multiscale affinities
        (openTSNE's ``Multiscale``): each point's p_·|i is the equal mixture of the Gaussian
        kernels calibrated to each perplexity, over the
        ``min(n_samples - 1, floor(3 * max(perplexity)))`` nearest neighbours.
    method : {"auto", "exact", "barnes_hut", "fft"}, default="auto"
        How repulsive forces are computed. "exact" sums over all pairs (O(n²) per iteration;
        the reference). "barnes_hut" approximates distant groups of points (O(n log n), 1-3
        components). "fft" interpolates the forces on a grid and convolves by FFT (O(n),
        FIt-SNE's method; 1 or 2 components); at its default grid its forces are as accurate
        as FIt-SNE's and openTSNE's (2-3% relative error on a finished embedding, which
        leaves the final KL 1-3% above Barnes-Hut's below 15,000 points and within 0.35% of
        it from 25,000); raise ``n_interpolation_points`` for more accuracy (4 already gives
        a lower KL than Barnes-Hut). "auto" picks exact up to ``AUTO_EXACT_MAX_SAMPLES`` points
        (or for more than 3 components), FFT for 1 or 2 components from ``AUTO_FFT_MIN_SAMPLES``
        points on, and Barnes-Hut otherwise; both thresholds were measured (see the README).
    neighbors : {"auto", "exact", "approx"}, default="auto"
        How the nearest neighbours of each point are found. "exact": a vantage-point tree
        below 24 dimensions, a blocked brute force from 24 (where a tree cannot prune; both
        give the same neighbours and distances, bit for bit).
        "approx": a random-projection forest refined by NN-descent, which finds over 99% of
        the exact neighbours (99.8% on MNIST) in a fraction of the time for large data, and
        depends on ``random_state``. "auto": approx from ``AUTO_APPROX_MIN_SAMPLES`` points on
        (``AUTO_APPROX_MIN_SAMPLES_WIDE`` for more than 100 features), exact below, where the
        exact search is the faster one (measured; see the README).
    metric : str or callable, default="euclidean"
        Distance between rows of X in the neighbour search. "euclidean", "cosine" (1 -
        cos(angle); rows of norm zero are an error) and "manhattan" (L1; aliases "l2", "l1",
        "cityblock") are computed natively (exact or approximate search). scipy's names
        "braycurtis", "canberra", "chebyshev", "correlation", "minkowski" (p from
        ``metric_params``, 2 by default: p=1 and p=2 are the native metrics), "seuclidean",
        "sqeuclidean", "mahalanobis", "hamming", "jensenshannon" and the boolean metrics
        "jaccard", "dice", "rogerstanimoto", "russellrao", "sokalsneath", "yule" (X read as
        X != 0), and a callable ``metric(u, v) -> float`` on two rows, are computed by an
        exact blocked search through scipy.spatial.distance.cdist: O(n² d) time, so slower
        than the native metrics (a callable, called once per pair, much slower), and
        ``neighbors="approx"`` is refused for them. For every metric the
        affinities are p_j|i ∝ exp(-β d_ij²) with d the metric's distance (scikit-learn
        squares only the Euclidean distance and uses the others unsquared). "precomputed": X
        is a distance matrix, either dense (n_samples, n_samples) (non-negative and finite
        off the diagonal; the diagonal is ignored; it need not be symmetric: row i holds the
        distances from point i) of which each row's ``floor(3 * perplexity)`` nearest are
        used (ties by index), or a scipy.sparse kNN graph (e.g. from an approximate
        nearest-neighbour index) whose stored entries in row i, less the diagonal, are the
        candidate neighbours of point i: each row keeps its ``floor(3 * perplexity)``
        nearest, so every row must store at least that many (the error says which row has
        too few and what perplexity would fit). init="pca" is then an error, since principal
        components cannot be computed from distances: pass init="random" or an array.
    metric_params : dict, optional
        Keyword arguments of the metric, as in scikit-learn: ``{"p": 3}`` for "minkowski",
        ``{"VI": inverse_covariance}`` for "mahalanobis" (default: the inverse covariance
        of X), ``{"V": variances}`` for "seuclidean" (default: the variances of X's
        columns), ``{"w": weights}`` for scipy's weighted metrics, or a callable metric's
        own keyword arguments. An error for the native metrics, which take none.
    affinities : sparse or dense matrix of shape (n_samples, n_samples), optional
        Input affinities to use instead of computing them from X (e.g. from your own kNN
        graph and kernel). Non-negative and finite; symmetrised as P + Pᵀ and normalised to
        sum 1 (a P that already is symmetric and sums to 1, like the output of
        :func:`joint_probabilities`, is used unchanged, so that ``tsne(X, affinities=
        joint_probabilities(X))`` gives the same embedding as ``tsne(X)``). ``perplexity``,
        ``neighbors`` and ``metric`` are then not used (a non-default metric is an error), and
        X is needed only for init="pca". Or the name of a kernel on the kNN graph instead of
        the perplexity-calibrated Gaussian: "uniform", p_j|i = 1 / k over each point's
        k = ``n_neighbors`` nearest (openTSNE's ``Uniform``).
    init : {"pca", "random", "spectral"} or ndarray of shape (n_samples, n_components), default="pca"
        Initial embedding. "pca": the leading principal components of X, scaled so that the
        first has standard deviation 1e-4 (keeps global structure; Kobak & Berens 2019).
        "spectral": the leading non-trivial eigenvectors of the normalised affinity graph
        (P v = λ D v, Laplacian eigenmaps; openTSNE's and UMAP's start), scaled the same way;
        the same for any n_jobs; also with given affinities and precomputed distances.
        "random": Gaussian with standard deviation 1e-4. An array is used as it is.
    learning_rate : "auto" or float, default="auto"
        Step size of gradient descent on the scale of openTSNE, FIt-SNE and bhtsne (4 times
        scikit-learn's). "auto" is n_samples divided by the exaggeration of each phase, at
        least 50: ``n_samples / early_exaggeration`` during early exaggeration (Belkina et al.
        2019) and ``n_samples / exaggeration`` after it, the rule of openTSNE >= 1.0; it
        reached a lower exact KL than openTSNE's default call on every dataset measured (see
        the README). A number is used in both phases; change it only if KL stalls.
    n_iter : int, default=750
        Total number of iterations, the early-exaggeration phase included.
    early_exaggeration : float, default=12.0
        Factor on the attractive forces during the first ``early_exaggeration_iter``
        iterations; it lets clusters form before they settle.
    early_exaggeration_iter : int, default=200
        Length of the early-exaggeration phase (momentum 0.8 in it and after). 200, not the
        250 of openTSNE, FIt-SNE and scikit-learn: the embedding's spread stops growing well
        before iteration 200 under exaggeration, and the 50 iterations moved after it lower
        the KL and raise recall@10 at the same total cost (README, "How the defaults were
        chosen"). Pass 250 to reproduce those peers' schedule.
    exaggeration : float, default=1.0
        Factor on the attractive forces after the early phase. Values above 1 give more
        compact clusters, towards UMAP-like embeddings (Böhm, Berens, Kobak 2022).
    max_step_norm : float or None, default=5.0
        Longest distance a point may move in one iteration; longer steps are shortened to
        it. Without it, a few weakly attached points can be thrown far from the rest by the
        large "auto" learning rate, which slows the FFT method (its grid spans all points) and
        leaves those points stranded. None: no limit. The default is openTSNE's.
    dof : float, default=1.0
        Degrees of freedom α of the Student-t kernel (1 + d²/α)^(-α). 1 is standard t-SNE;
        smaller values give heavier tails and finer clusters (Kobak et al. 2019).
    theta : float, default=0.5
        Barnes-Hut accuracy: a cell is summarised when its side is less than theta times its
        distance to the point. 0 is exact; larger is faster and coarser. Used only by
        "barnes_hut".
    n_interpolation_points : int, default=3
        FFT method: Lagrange interpolation nodes per grid box and dimension. More is more
        accurate and slower: on a finished embedding the relative force error is about 3e-2
        at 3, 2e-3 at 5 and below 1e-3 at 7. At most 10: interpolation on more equispaced
        nodes is unstable (the error grows again, to many times the forces at 12).
    min_num_intervals : int, default=50
        FFT method: the grid has at least this many boxes per dimension.
    ints_in_interval : float, default=1.0
        FFT method: boxes are at most this wide (in embedding units), so the grid grows with
        the embedding: boxes per dimension = max(min_num_intervals, range / ints_in_interval).
        These three parameters mean the same as in FIt-SNE and openTSNE.
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Seed of the random initialisation. The same seed gives bit-identical output for any
        ``n_jobs``. With ``init="pca"`` the result is deterministic anyway.
    n_jobs : int, default=-1
        Number of threads: -1 all CPUs, -2 all but one, and so on.
    verbose : bool, default=False
        Report progress on stderr: the settings, the progress of the neighbour search and of
        the affinities (points done, elapsed time and time left, at most every 2 s; for the
        approximate search the trees built and the share of entries each NN-descent round
        updated), stage timings, the start and end of early exaggeration, and every 50
        iterations the KL divergence (of the unexaggerated P), elapsed time and an estimate
        of the time left. On a terminal with tqdm installed (``pip install
        "turbotsne[progress]"``) the neighbour search and the iterations advance progress
        bars; otherwise they are plain lines. The same messages are records of
        ``logging.getLogger("turbotsne")`` whatever ``verbose`` says (see Notes).
    callback : callable, optional
        ``callback(iteration, kl_divergence, embedding)`` is called every ``callback_every``
        iterations with a copy of the current embedding; returning True stops the run early
        (the embedding at that point is returned). Exceptions it raises propagate.
    callback_every : int, default=50
        Period of the callback; the KL divergence is computed only on those iterations.
    n_iter_without_progress : int or None, default=None
        Stop when the KL divergence (checked every 50 iterations, as scikit-learn does) has
        not improved for more than this many iterations after early exaggeration. None:
        never (scikit-learn's default is 300; a run of the default length is then kept whole).
    min_grad_norm : float or None, default=None
        Stop when the norm of the gradient (checked every 50 iterations, on this function's
        scale, a quarter of scikit-learn's) is at most this. None: never.
    n_neighbors : int, optional
        Neighbours per point for ``affinities="uniform"`` and for ``sigma``; by default
        ``min(n_samples - 1, floor(3 * perplexity))``. Must be less than n_samples. Not used
        (an error) with the perplexity-calibrated kernels, whose count the perplexity sets.
    sigma : float, optional
        A fixed Gaussian bandwidth for every point instead of the perplexity calibration:
        p_j|i ∝ exp(-d_ij² / (2 sigma²)) over the ``n_neighbors`` nearest (openTSNE's
        ``FixedSigmaNN``), in the metric's units.
    objective : {"tsne", "sne", "symmetric_sne", "uni_sne"}, default="tsne"
        The cost minimised, t-SNE or one of the methods it grew from (the crowding problem:
        Gaussian Q kernels crush moderately distant points together; t-SNE's heavy-tailed Q
        leaves them room). "sne": SNE (Hinton & Roweis 2002), the sum over points of
        KL(P_i‖Q_i) between each point's conditional p_j|i and q_j|i ∝ exp(-‖y_i - y_j‖²).
        "symmetric_sne": KL(P‖Q) of the joint P and a Gaussian joint q_ij ∝ exp(-‖y_i -
        y_j‖²) (van der Maaten & Hinton 2008, §3.1). "uni_sne": UNI-SNE (Cook, Sutskever,
        Mnih & Hinton 2007), symmetric SNE's Q mixed with a uniform background of mass
        ``background``. All three have Gaussian kernels, which the Barnes-Hut and FFT
        repulsions (built for the Student-t kernel) do not sum: they use ``method="exact"``
        (which "auto" picks; "barnes_hut" and "fft" are refused) and so at most
        ``EXACT_SAMPLES_LIMIT`` samples, with ``dof`` left at 1. "sne" needs each point's
        conditional distribution, so not ``affinities=`` given as a matrix. The optimiser and
        its schedule are t-SNE's; the gradient descended is ∂C/∂Y / 4 (and ∂C/∂Y / (4 n) for
        SNE, whose cost adds up n divergences), so the same learning rates apply.
        ``info["kl_divergence"]`` is the objective's own cost at the end.
    background : float in [0, 1), optional
        UNI-SNE's mixing proportion ρ of the uniform background: q_ij = (1 - ρ) g_ij / Z + ρ /
        (n (n - 1)), so that no pair's q falls below ρ / (n (n - 1)). Default 0.1 with
        ``objective="uni_sne"`` (an error with the other objectives). As Cook et al. turn the
        background on only once the map has formed, it is 0 during early exaggeration, then
        rises linearly to ρ over half of the remaining iterations.
    return_info : bool, default=False
        Also return a dict describing the run (see Returns).

    Returns
    -------
    embedding : ndarray of shape (n_samples, n_components), float64
    info : dict, only with ``return_info=True``
        ``"kl_divergence"`` (exact KL(P‖Q) of the unexaggerated P at the end for
        method="exact", the repulsion's estimate of it otherwise), ``"n_iter"`` (iterations
        run), ``"stopped"`` (whether the callback stopped the run), ``"method"`` and
        ``"neighbors"`` (what "auto" resolved to) and ``"timings"``: seconds per stage
        (``"neighbors"``, ``"affinities"``, ``"init"``, ``"optimize"``, and within the
        optimisation ``"attraction"``, ``"repulsion"``, ``"update"``).

    Notes
    -----
    Press Ctrl-C to interrupt a run: ``KeyboardInterrupt`` is raised within one iteration.

    Logging: every message of ``verbose`` is also a record of the ``turbotsne`` logger,
    INFO for the settings, stage timings, exaggeration marks and the summary, DEBUG for the
    periodic lines (iterations, neighbour-search progress). The logger has only a
    NullHandler, so nothing appears unless the application configures logging (e.g.
    ``logging.basicConfig(level=logging.INFO)``). ``verbose=True`` writes to stderr itself,
    not through logging: use one or the other, or a handler that does not write to stderr,
    to see each message once. Progress costs nothing when neither wants it.
    """
    reject_anndata(X, "turbotsne.tsne")
    check_bool(return_info, "return_info", owner="tsne")
    Y, info = _tsne(
        X, n_components, perplexity=perplexity, method=method, neighbors=neighbors,
        metric=metric, metric_params=metric_params, affinities=affinities, init=init,
        learning_rate=learning_rate, n_iter=n_iter, early_exaggeration=early_exaggeration,
        early_exaggeration_iter=early_exaggeration_iter, exaggeration=exaggeration,
        max_step_norm=max_step_norm, dof=dof, theta=theta,
        n_interpolation_points=n_interpolation_points, min_num_intervals=min_num_intervals,
        ints_in_interval=ints_in_interval,
        random_state=random_state, n_jobs=n_jobs, verbose=verbose,
        callback=callback, callback_every=callback_every,
        n_iter_without_progress=n_iter_without_progress, min_grad_norm=min_grad_norm,
        n_neighbors=n_neighbors, sigma=sigma, objective=objective, background=background,
    )
    return (Y, info) if return_info else Y


class _Input(NamedTuple):
    """What a run starts from, after the checks of :func:`_resolve_input`."""

    X: Optional[np.ndarray]  # the data, or None (precomputed distances, affinities without X)
    n: int
    # None: the core computes P from X; a tuple: given affinities' CSR arrays; a function
    # (threads, progress) -> CSR arrays: P from precomputed distances, computed at the start.
    P: Union[None, tuple, Callable]
    perplexity: float
    source: str  # in words, for the progress message
    metric: str = "euclidean"  # the core's metric when it computes P (P None)
    neighbors: Optional[str] = None  # the search used when it is fixed here ("exact")
    kernel: Optional[_kernels.Kernel] = None  # how P weights the neighbours (not given P)


def _resolve_input(X, *, kernel, metric, affinities, init, owner: str,
                   float32: bool = False, metric_params=None, neighbors: str = "auto",
                   seed: int = 0) -> _Input:
    """The data, the affinities or the distances a run of ``owner`` starts from, checked;
    ``float32``: X of float32 rows stays float32 (see _uses_float32). ``metric`` is a name or
    a callable (checked by _RUN_CONSTRAINTS), resolved here with ``metric_params``; metrics
    the core does not compute natively and sparse X take the exact blocked search of
    _metrics, run when the run starts (P then is a function, as for precomputed distances).
    ``kernel`` (a _kernels.Kernel) weights the neighbours; the core computes P from X itself
    only for t-SNE's own kernel, the others are computed here on the kNN graph of the run's
    search (``neighbors``, ``seed``)."""
    pca = isinstance(init, str) and init == "pca"
    perplexity = kernel.perplexity
    spec = _metrics.resolve_metric(metric, metric_params, owner)
    if affinities is not None:
        if not kernel.standard:
            raise ValueError(
                f"{kernel.describe()} has no effect when affinities are given (a matrix): the "
                f"matrix replaces the kernel.")
        if spec != _metrics.MetricSpec("euclidean", True, {}, None) or metric_params:
            raise ValueError(
                f"metric={metric!r} has no effect when affinities are given; leave metric at its "
                f"default (the affinities replace the neighbour search)."
            )
        if scipy.sparse.issparse(X):
            X = _metrics.check_sparse_data(X)  # for init="pca" (a truncated SVD)
        elif X is not None:
            X = in_safe_range(check_data(X))
        *P, n = check_affinities(affinities, None if X is None else X.shape[0])
        result = _Input(X, n, tuple(P), perplexity, "given affinities")
    elif X is None:
        raise ValueError(f"X is None: {owner} needs the data (or a distance matrix with "
                         f"metric='precomputed'), or give affinities=.")
    elif spec == "precomputed":
        if pca:
            raise ValueError(
                "init='pca' cannot be used with metric='precomputed': principal components "
                "need the data, not distances. Pass init='random' or an initial embedding array."
            )
        n, compute, kernel = _precomputed_affinities(X, kernel, owner)
        result = _Input(None, n, compute, kernel.perplexity, "precomputed distances",
                        kernel=kernel)
    elif spec.native and not scipy.sparse.issparse(X) and kernel.standard:
        X = _checked_data(X, spec.name, float32)
        perplexity = _check_perplexity(perplexity, X.shape[0])
        result = _Input(X, X.shape[0], None, perplexity, f"{X.shape[1]} features",
                        metric=spec.name, kernel=kernel._replace(perplexities=(perplexity,)))
    elif spec.native and not scipy.sparse.issparse(X):
        result = _native_graph_input(X, spec, kernel, neighbors, seed)
    else:
        return _blocked_input(X, spec, kernel=kernel, init=init, owner=owner,
                              neighbors=neighbors)
    if result.X is None and pca:
        raise ValueError(
            "init='pca' needs X: pass X along with affinities, or init='random' or an initial "
            "embedding array."
        )
    return result


def _native_graph_input(X, spec, kernel, neighbors: str, seed: int) -> _Input:
    """The _Input of a run with a native metric and a kernel other than t-SNE's: the core's
    search (exact or approximate, as ``neighbors`` resolves) gives the kNN graph, the kernel
    P (both when the run starts)."""
    X = _checked_data(X, spec.name)
    n = X.shape[0]
    kernel = _kernels.check_kernel(kernel, n, _check_perplexity)
    k = kernel.neighbor_count(n)
    params, resolved = _neighbor_params(neighbors, n, seed, X.shape[1])
    params.metric = getattr(_core.Metric, spec.name)

    def affinities(threads: int, progress: Optional[Progress] = None,
                   timings: Optional[dict] = None, conditional: bool = False):
        on_progress = progress.on_progress() if progress is not None else None
        start = time.perf_counter()
        graph = _core.neighbors(X, k, params, threads, on_progress)
        _stage_done(progress, timings, "neighbors", start)
        lap = time.perf_counter()
        P = kernel.joint(*graph, threads, on_progress, conditional)
        _stage_done(progress, timings, "affinities", lap)
        return P

    return _Input(X, n, affinities, kernel.perplexity, f"{X.shape[1]} features",
                  metric=spec.name, neighbors=resolved, kernel=kernel)


def _blocked_input(X, spec, *, kernel, init, owner: str, neighbors: str) -> _Input:
    """The _Input of a run whose neighbours come from _metrics' exact blocked search: sparse
    X (never densified; init="pca" by a truncated SVD) or a metric the core lacks."""
    sparse = scipy.sparse.issparse(X)
    what = ("sparse X" if sparse else spec.describe())
    if neighbors == "approx":
        raise ValueError(
            f"neighbors='approx' is not available for {what}: its neighbours are found by an "
            f"exact blocked search. Pass neighbors='exact' or 'auto'"
            + (", or reduce X first (e.g. scikit-learn's TruncatedSVD to 50 components) for the "
               "approximate search of dense rows." if sparse else "."))
    if sparse:
        X = _metrics.check_sparse_data(X)
    else:
        X = check_data(X)
        if spec.func is None:
            X = in_safe_range(X)  # scipy's metrics are scale-free or homogeneous
    n = X.shape[0]
    kernel = _kernels.check_kernel(kernel, n, _check_perplexity)
    search_X, spec = _metrics.prepare_data(X, spec, owner)
    k = kernel.neighbor_count(n)

    def affinities(threads: int, progress: Optional[Progress] = None,
                   timings: Optional[dict] = None, conditional: bool = False):
        on_progress = progress.on_progress() if progress is not None else None
        start = time.perf_counter()
        graph = _metrics.blocked_neighbors(
            search_X, k, spec, threads, owner=owner,
            on_block=(lambda done, total: on_progress("neighbors", "points", done, total))
            if on_progress is not None else None)
        _stage_done(progress, timings, "neighbors", start)
        lap = time.perf_counter()
        P = kernel.joint(*graph, threads, on_progress, conditional)
        _stage_done(progress, timings, "affinities", lap)
        return P

    features = f"{X.shape[1]} features" + (f" (sparse, {X.nnz} stored)" if sparse else "")
    source = f"{features}, {spec.describe()}"
    # Sparse X is kept only for init="pca" (see _initial_embedding), dense X for the core's PCA.
    keep = X if not sparse or (isinstance(init, str) and init == "pca") else None
    return _Input(keep, n, affinities, kernel.perplexity, source, neighbors="exact",
                  metric=spec.name, kernel=kernel)


def _initial_embedding(init, n: int, n_components: int, X=None, seed: int = 0):
    """(the array the core writes the embedding into, the core's Init) for ``init`` (a word
    checked by _RUN_CONSTRAINTS, or an array checked here). For sparse X and init="pca" the
    principal components are computed here (_metrics.sparse_pca_init) and given to the core."""
    if isinstance(init, str) and init == "spectral":
        raise ValueError("The 'init' parameter 'spectral' is available in tsne and TSNE only "
                         "(it needs t-SNE's P); pass init='pca', 'random' or an array.")
    if isinstance(init, str) and init == "pca" and scipy.sparse.issparse(X):
        return _metrics.sparse_pca_init(X, n_components, seed), _core.Init.given
    if isinstance(init, str):
        return np.empty((n, n_components), dtype=np.float64), getattr(_core.Init, init)
    return check_embedding(init, n, n_components, name="init"), _core.Init.given


#: What the parameters every embedding function takes must be (tsne, contrastive_embedding,
#: spectrum; joint_probabilities takes the first five), checked before anything else; the
#: messages come from _validation's checks. Perplexity against n_samples: _check_perplexity,
#: once the input is known.
_RUN_CONSTRAINTS = {
    "metric": _metrics.MetricRule(),
    "neighbors": Choice(_NEIGHBORS),
    "n_jobs": Jobs(),
    "random_state": Seed(),
    "perplexity": Real(0.0, lo_open=True),
    "n_components": Int(1),
    "init": ChoiceOrArray(("pca", "random", "spectral")),
    "callback_every": Int(1),
    "callback": CallableOrNone(),
}


def _kernel_of(perplexity, affinities, n_neighbors, sigma, owner: str):
    """(the Kernel, the affinity matrix or None) of the parameters perplexity, affinities (a
    matrix, None or a kernel's name), n_neighbors and sigma of ``owner``, checked."""
    kind = None
    if isinstance(affinities, str):
        kind = check_choice(affinities, "affinities", _kernels.KERNEL_WORDS, owner=owner)
        affinities = None
    return _kernels.resolve_kernel(perplexity, kind, n_neighbors, sigma, owner), affinities


def _check_run(owner: str, **values) -> dict:
    """``values`` (parameters named in _RUN_CONSTRAINTS) checked by that table."""
    return check_params(values, {name: rule for name, rule in _RUN_CONSTRAINTS.items()
                                 if name in values}, owner=owner)


#: What tsne's own parameters must be, checked in this order (the signature's).
_REPULSION_CONSTRAINTS = {
    "theta": Real(0.0),
    "n_interpolation_points": Int(1, 10),
    "min_num_intervals": Int(1, 1000),
    "ints_in_interval": Real(0.0, lo_open=True),
}
_OPTIMIZER_CONSTRAINTS = {
    "n_iter": Int(1),
    "early_exaggeration": Real(0.0, lo_open=True),
    "early_exaggeration_iter": Int(0),
    "exaggeration": Real(0.0, lo_open=True),
    "dof": Real(0.0, lo_open=True),
    "max_step_norm": NoneOr(Real(0.0, lo_open=True)),
    "learning_rate": WordOr(("auto",), Real(0.0, lo_open=True)),  # "auto": None in the core
}


def _fill_optimizer(params, values: dict) -> None:
    """Fills ``params.optimizer`` and the kernel's ``params.dof`` (of a ``_core.TsneParams``)
    from the values of _OPTIMIZER_CONSTRAINTS, checked."""
    checked = check_params(values, _OPTIMIZER_CONSTRAINTS, owner="tsne")
    params.dof = checked.pop("dof")
    for name, value in checked.items():
        setattr(params.optimizer, name, value)


def _fill_repulsion(rep, values: dict) -> None:
    """Fills ``rep`` (a ``_core.RepulsionParams``) from the values of _REPULSION_CONSTRAINTS,
    checked."""
    checked = check_params(values, _REPULSION_CONSTRAINTS, owner="tsne")
    rep.theta = checked.pop("theta")
    for name, value in checked.items():
        setattr(rep.interpolation, name, value)


#: Period of the checks of n_iter_without_progress and min_grad_norm (scikit-learn's
#: n_iter_check).
_STOP_CHECK_EVERY = 50
_STOP_CONSTRAINTS = {
    "n_iter_without_progress": NoneOr(Int(-(2**62))),
    "min_grad_norm": NoneOr(Real(-np.inf)),
}


def _stopping_rule(n_iter_without_progress, min_grad_norm, early_exaggeration_iter: int,
                   grad_scale: float = 1.0):
    """scikit-learn's stopping rules as a ``stop(iteration, kl, grad_norm)`` for run_observed,
    or None when both are None: the KL has not improved for more than
    ``n_iter_without_progress`` iterations after early exaggeration, or ``grad_scale`` times
    the gradient norm is at most ``min_grad_norm``."""
    checked = check_params(dict(n_iter_without_progress=n_iter_without_progress,
                                min_grad_norm=min_grad_norm), _STOP_CONSTRAINTS, owner="tsne")
    patience, min_norm = checked["n_iter_without_progress"], checked["min_grad_norm"]
    if patience is None and min_norm is None:
        return None
    best = [np.inf, 0]  # the lowest KL after early exaggeration and its iteration

    def stop(iteration: int, kl: float, grad_norm: float) -> bool:
        if min_norm is not None and grad_scale * grad_norm <= min_norm:
            return True
        if patience is not None and iteration > early_exaggeration_iter:
            if kl < best[0]:
                best[0], best[1] = kl, iteration
            elif iteration - best[1] > patience:
                return True
        return False

    return stop


def _tsne(X, n_components=2, *, perplexity=30.0, method="auto", neighbors="auto",
          metric="euclidean", metric_params=None, affinities=None, init="pca",
          learning_rate="auto", n_iter=750, early_exaggeration=12.0,
          early_exaggeration_iter=200, exaggeration=1.0, max_step_norm=5.0, dof=1.0, theta=0.5,
          n_interpolation_points=3, min_num_intervals=50, ints_in_interval=1.0,
          random_state=None, n_jobs=-1, verbose=False, callback=None, callback_every=50,
          n_iter_without_progress=None, min_grad_norm=None, n_neighbors=None, sigma=None,
          objective="tsne", background=None, _grad_scale=1.0, _optimizer=None, _keep=None,
          _params=None):
    """``tsne`` returning ``(embedding, info)``, info holding kl_divergence, n_iter, timings.

    ``_optimizer`` (for bench/choose_auto.py): a dict of ``_core.OptimizerParams`` fields
    set as they are after the checks, e.g. ``late_learning_rate`` or ``momentum_early``;
    ``_params`` the same for ``_core.TsneParams`` (the tests' ``locality_min_samples``).
    ``_grad_scale``: the factor on the gradient norm that ``min_grad_norm`` is compared with
    (4 for the estimator's scikit-learn scale). ``_keep``: a ``_core.TsneState`` that receives P
    and the optimizer's state for a continuation (TSNE.optimize)."""
    # Every parameter first, then the input (which may take a copy of X).
    checked = _check_run("tsne", metric=metric, neighbors=neighbors, n_jobs=n_jobs,
                         random_state=random_state, n_components=n_components, init=init,
                         callback_every=callback_every, callback=callback)
    kernel, affinities = _kernel_of(perplexity, affinities, n_neighbors, sigma, "tsne")
    metric, n_jobs, n_components = checked["metric"], checked["n_jobs"], checked["n_components"]
    method = check_choice(method, "method", _METHODS)
    objective, background = _check_objective(objective, background, method=method, dof=dof,
                                             affinities=affinities, init=init, keep=_keep)
    family = objective != "tsne"  # the SNE family's exact Gaussian objectives
    params = _core.TsneParams()
    _fill_repulsion(params.repulsion, dict(theta=theta, n_interpolation_points=n_interpolation_points,
                                           min_num_intervals=min_num_intervals,
                                           ints_in_interval=ints_in_interval))
    opt = params.optimizer
    _fill_optimizer(params, dict(n_iter=n_iter, early_exaggeration=early_exaggeration,
                                 early_exaggeration_iter=early_exaggeration_iter,
                                 exaggeration=exaggeration, dof=dof, max_step_norm=max_step_norm,
                                 learning_rate=learning_rate))
    for field, value in (_optimizer or {}).items():
        setattr(opt, field, value)
    for field, value in (_params or {}).items():
        setattr(params, field, value)
    stop = _stopping_rule(n_iter_without_progress, min_grad_norm, opt.early_exaggeration_iter,
                          _grad_scale)
    spectral = isinstance(init, str) and init == "spectral"
    inp = _resolve_input(X, kernel=kernel, metric=metric, affinities=affinities,
                         init=init, owner="tsne",
                         float32=affinities is None and metric_params is None and kernel.standard
                         and not spectral and not family
                         and _uses_float32(X, metric, neighbors),
                         metric_params=metric_params, neighbors=neighbors,
                         seed=checked["random_state"])
    X, n, perplexity = inp.X, inp.n, inp.perplexity
    from_data = inp.P is None  # the core computes P from X
    method = _family_method(objective, n) if family else _resolve_method(method, n, n_components)
    params.n_components = n_components
    params.perplexity = perplexity
    params.method = getattr(_core.Method, method)
    params.seed = checked["random_state"]
    params.neighbors, neighbors = _neighbor_params(neighbors, n, params.seed,
                                                   X.shape[1] if from_data else 0)
    neighbors = inp.neighbors or neighbors
    params.neighbors.metric = getattr(_core.Metric, inp.metric if from_data else "euclidean")
    params.n_threads = n_jobs
    stage_seconds = {}  # the stages that run here rather than in the core
    lap = time.perf_counter()
    if spectral:  # computed in run(), from P
        Y, params.init = np.empty((n, n_components), dtype=np.float64), _core.Init.given
    else:
        Y, params.init = _initial_embedding(init, n, n_components, X, params.seed)
    if scipy.sparse.issparse(X):
        stage_seconds["init"] = time.perf_counter() - lap  # the truncated SVD, here
        X = None  # used for the initialisation only

    progress = Progress.create(opt.n_iter, verbose, early_exaggeration=opt.early_exaggeration,
                               early_exaggeration_iter=opt.early_exaggeration_iter,
                               exaggeration=opt.exaggeration)
    if progress is not None:
        lr = opt.resolved_learning_rate(n, True), opt.resolved_learning_rate(n, False)
        lr = f"{lr[0]:g}" if lr[0] == lr[1] else f"{lr[0]:g} then {lr[1]:g}"
        shown = f", metric={metric}" if isinstance(metric, str) and from_data else ""
        shown_objective = f"objective={objective}, " if family else ""
        progress.message(f"{n} samples x {inp.source} -> {n_components}-D, {shown_objective}"
                         f"method={method}, "
                         f"neighbors={neighbors}{shown}, "
                         f"{inp.kernel.describe() if inp.kernel else 'given affinities'}, "
                         f"learning_rate={lr}, threads={params.n_threads}")

    def run(*observer):
        if family:
            return _run_family(objective, background, inp, X, Y, params, progress,
                               stage_seconds, *observer)
        if from_data and not spectral:
            return _core.tsne(X, Y, params, *observer, keep=_keep)
        if from_data:  # init="spectral" needs P first: the core computes it from the data
            joint = _core.affinities(X, perplexity, params.neighbors, n_jobs, True,
                                     *observer[2:])
        else:
            joint = inp.P(n_jobs, progress, stage_seconds) if callable(inp.P) else inp.P
        if spectral:
            start = time.perf_counter()
            Y[:] = _spectral.spectral_init(*joint, n, n_components)
            _stage_done(progress, stage_seconds, "init", start)
        X_init = X if X is not None else np.empty((0, 1))
        return _core.tsne_from_affinities(*joint, X_init, Y, params, *observer, keep=_keep)

    info = run_observed(run, progress, callback, checked["callback_every"],
                        lambda info: f"KL {info['kl_divergence']:.4f} after {info['n_iter']} iterations",
                        stop=stop, stop_every=_STOP_CHECK_EVERY)
    info["timings"].update(stage_seconds)
    info["method"] = method
    info["neighbors"] = neighbors
    info["kernel"] = inp.kernel
    return Y, info


#: The objectives of tsne's ``objective`` parameter; all but "tsne" are the SNE family's
#: (sne.hpp), exact only.
_OBJECTIVES = ("tsne", "sne", "symmetric_sne", "uni_sne")
#: UNI-SNE's default mixing proportion of the uniform background.
DEFAULT_BACKGROUND = 0.1


def _check_objective(objective, background, *, method: str, dof, affinities, init, keep):
    """(objective, background) of tsne checked, with what the SNE family cannot do refused:
    the Barnes-Hut and FFT methods, another dof, SNE with a given affinity matrix, a
    continuation (TSNE.optimize) and init="spectral"."""
    objective = check_choice(objective, "objective", _OBJECTIVES, owner="tsne")
    if objective != "uni_sne":
        if background is not None:
            raise ValueError(
                f"background={background!r} is UNI-SNE's uniform background: it needs "
                f"objective='uni_sne' (got objective={objective!r}); leave background=None.")
    else:
        background = DEFAULT_BACKGROUND if background is None else background
        background = check_params(dict(background=background),
                                  {"background": Real(0.0, 1.0, hi_open=True)},
                                  owner="tsne")["background"]
    if objective == "tsne":
        return objective, background
    if method in ("barnes_hut", "fft"):
        raise ValueError(
            f"objective={objective!r} supports method='exact' (or 'auto') only: its Gaussian "
            f"kernel is summed over all pairs, and the Barnes-Hut and FFT repulsions are "
            f"t-SNE's (Student-t kernel). Pass method='exact', or objective='tsne' for "
            f"method={method!r}.")
    if dof != 1.0:
        raise ValueError(
            f"dof={dof!r} is the degrees of freedom of t-SNE's Student-t kernel; "
            f"objective={objective!r} has a Gaussian kernel. Leave dof=1.")
    if objective == "sne" and affinities is not None:  # a matrix: a kernel's name is None here
        raise ValueError(
            "objective='sne' needs each point's conditional distribution p_j|i, which a given "
            "affinity matrix (a joint P) does not hold: pass the data (or distances), or use "
            "objective='symmetric_sne' with affinities.")
    if isinstance(init, str) and init == "spectral":
        raise ValueError(f"init='spectral' is available with objective='tsne' only; pass "
                         f"init='pca', 'random' or an array with objective={objective!r}.")
    if keep is not None:
        raise ValueError(f"TSNE.optimize continues t-SNE runs only (objective={objective!r}).")
    return objective, background


def _family_method(objective: str, n: int) -> str:
    """"exact", the SNE family's only method, within EXACT_SAMPLES_LIMIT."""
    if n > EXACT_SAMPLES_LIMIT:
        raise ValueError(
            f"objective={objective!r} sums its Gaussian kernel over all pairs (O(n²) per "
            f"iteration) and is limited to EXACT_SAMPLES_LIMIT = {EXACT_SAMPLES_LIMIT} samples; "
            f"got n_samples={n}. Use objective='tsne' (Barnes-Hut or FFT) for more, or a "
            f"subsample.")
    return "exact"


def _run_family(objective: str, background, inp: _Input, X, Y, params, progress,
                timings: dict, report, report_every, on_stage, on_progress) -> dict:
    """A run of an SNE-family objective: P (conditional for "sne", joint otherwise) from
    ``inp``, the initial embedding, then the core's exact optimiser (``_core.sne``). The
    stages run here go to ``timings`` (which _tsne adds to the run's)."""
    n_jobs, conditional = params.n_threads, objective == "sne"
    start = time.perf_counter()
    if inp.P is None:  # the core computes P from the data (neighbours included)
        P = _core.affinities(X, inp.perplexity, params.neighbors, n_jobs, not conditional,
                             on_stage, on_progress)
        _stage_done(None, timings, "affinities", start)
    elif callable(inp.P):
        P = inp.P(n_jobs, progress, timings, conditional=conditional)
    else:
        P = inp.P
    if params.init != _core.Init.given:
        start = time.perf_counter()
        X_init = X if X is not None else np.empty((inp.n, 1))
        Y[:] = _core.initial_embedding(X_init, Y.shape[1], params.init, params.seed, n_jobs)
        _stage_done(progress, timings, "init", start)
    return _core.sne(getattr(_core.Objective, objective), *P, Y, params.optimizer,
                     background or 0.0, n_jobs, report, report_every)


def joint_probabilities(X, perplexity: float = 30.0, n_jobs: int = -1, *, neighbors: str = "auto",
                        random_state=None, metric: Union[str, Callable] = "euclidean",
                        metric_params: Optional[dict] = None, affinities: Optional[str] = None,
                        n_neighbors: Optional[int] = None,
                        sigma: Optional[float] = None) -> scipy.sparse.csr_matrix:
    """The symmetric input affinities P of t-SNE, as a sparse matrix summing to 1.

    Each point's ``min(n_samples - 1, floor(3 * perplexity))`` nearest neighbours (by
    ``metric``) get weights p_j|i ∝ exp(-β d_ij²) whose bandwidth is calibrated so that the
    point's conditional distribution has the given perplexity; then ``P = (P_cond + P_condᵀ) /
    (2 n)``. This is the P that :func:`tsne` optimises for (given the same ``neighbors``,
    ``metric`` and ``random_state``).

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features), or a distance matrix
        A distance matrix (dense or sparse, as in :func:`tsne`) with ``metric="precomputed"``.
    perplexity : float, default=30.0
        Must be less than ``n_samples``.
    n_jobs : int, default=-1
    neighbors : {"auto", "exact", "approx"}, default="auto"
        As in :func:`tsne`.
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Seed of the approximate neighbour search (unused when it is exact).
    metric : str or callable, default="euclidean"
        As in :func:`tsne`.
    metric_params : dict, optional
        As in :func:`tsne`.

    Returns
    -------
    P : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
    """
    owner = "joint_probabilities"
    reject_anndata(X, "turbotsne.joint_probabilities")
    run = _check_run(owner, metric=metric, neighbors=neighbors, n_jobs=n_jobs,
                     random_state=random_state)
    threads, seed = run["n_jobs"], run["random_state"]
    if affinities is not None and not isinstance(affinities, str):
        raise TypeError(f"The 'affinities' parameter of {owner} must be None or one of "
                        f"{list(_kernels.KERNEL_WORDS)} (a kernel); got {type(affinities).__name__}.")
    kernel, _ = _kernel_of(perplexity, affinities, n_neighbors, sigma, owner)
    inp = _resolve_input(X, kernel=kernel, metric=run["metric"], affinities=None,
                         init="random", owner=owner, metric_params=metric_params,
                         neighbors=neighbors, seed=seed)
    n = inp.n
    if inp.P is not None:
        indptr, indices, data = inp.P(threads)
    else:
        params, _ = _neighbor_params(neighbors, n, seed, inp.X.shape[1])
        params.metric = getattr(_core.Metric, inp.metric)
        indptr, indices, data = _core.affinities(inp.X, inp.perplexity, params, threads, True)
    return scipy.sparse.csr_matrix((data, indices, indptr), shape=(n, n))


def kl_divergence(P, Y, dof: float = 1.0) -> float:
    """Exact KL(P‖Q) of an embedding, Q the Student-t affinities of ``Y`` over all pairs.

    Parameters
    ----------
    P : sparse or dense matrix of shape (n_samples, n_samples)
        Joint input affinities, non-negative and summing to 1 (e.g. from
        :func:`joint_probabilities`).
    Y : array-like of shape (n_samples, n_components)
    dof : float, default=1.0
        Degrees of freedom of the kernel, as in :func:`tsne`.

    Returns
    -------
    float
        Σ p_ij log(p_ij / q_ij), costing O(n²) time for the normalisation of Q.
    """
    Y = check_data(Y, name="Y")
    dof = check_real(dof, "dof", min_value=0.0, min_open=True, owner="kl_divergence")
    indptr, indices, data = check_affinity_matrix(P, Y.shape[0])
    return float(_core.kl_divergence(indptr, indices, data, Y, dof, check_n_jobs(-1)))
