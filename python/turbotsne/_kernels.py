"""Input-affinity kernels on the kNN graph: t-SNE's perplexity calibration, and the kinds that
openTSNE offers besides it (its Multiscale, Uniform and FixedSigmaNN affinities).

Every kernel gives each point's conditional distribution p_j|i over its k nearest neighbours
(rows summing to 1); the joint P is then ``(C + Cᵀ) / (2 n)``, as for t-SNE's own kernel:

* "perplexity": p_j|i ∝ exp(-β_i d_ij²), β_i calibrated to the perplexity (k = floor(3 p)).
* "multiscale" (perplexity a list): the equal mixture of those calibrated kernels, one per
  perplexity, over the same k = floor(3 · largest perplexity) neighbours (openTSNE's
  Multiscale; de Bodt et al. 2018, Kobak & Berens 2019).
* "uniform": p_j|i = 1 / k over the k = n_neighbors nearest (openTSNE's Uniform).
* "gaussian" (sigma given): p_j|i ∝ exp(-d_ij² / (2 σ²)), one bandwidth for every point
  (openTSNE's FixedSigmaNN), k = n_neighbors.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple, Optional

import numpy as np

from . import _core
from ._validation import check_int, check_real

#: The kernels named by ``affinities=`` (besides a matrix): only "uniform"; the others follow
#: from perplexity (a number or a list) and sigma.
KERNEL_WORDS = ("uniform",)


class Kernel(NamedTuple):
    kind: str  # "perplexity", "multiscale", "uniform" or "gaussian"
    perplexities: tuple  # floats (one for "perplexity"; the default's for the others)
    n_neighbors: Optional[int] = None  # "uniform" and "gaussian"; None: floor(3 perplexity)
    sigma: Optional[float] = None  # "gaussian"

    @property
    def standard(self) -> bool:
        """t-SNE's own kernel, which the core computes from the data itself."""
        return self.kind == "perplexity"

    @property
    def perplexity(self) -> float:
        """The largest perplexity, which sets the number of neighbours."""
        return max(self.perplexities)

    def neighbor_count(self, n_candidates: int) -> int:
        """Neighbours per point among ``n_candidates`` points (the point itself included)."""
        if self.n_neighbors is not None:
            return self.n_neighbors
        return _core.neighbor_count(n_candidates, self.perplexity)

    def describe(self) -> str:
        if self.kind == "perplexity":
            return f"perplexity={self.perplexity:g}"
        if self.kind == "multiscale":
            return "perplexity=[" + ", ".join(f"{p:g}" for p in self.perplexities) + "]"
        if self.kind == "uniform":
            return f"affinities=uniform, n_neighbors={self.n_neighbors}"
        return f"sigma={self.sigma:g}, n_neighbors={self.n_neighbors}"

    def conditional(self, distances: np.ndarray) -> np.ndarray:
        """The rows p_·|i (each summing to 1) of points whose neighbours are at ``distances``
        (an (m, k) array, the metric's units)."""
        distances = np.asarray(distances, dtype=np.float64)
        if self.kind == "uniform":
            return np.full(distances.shape, 1.0 / distances.shape[1])
        sq = np.ascontiguousarray(distances ** 2)
        if self.kind == "gaussian":
            # Shifted by each row's nearest: the same row after normalisation, and no row
            # underflows to all zeros when its neighbours lie many σ away.
            w = np.exp(-(sq - sq.min(axis=1, keepdims=True)) / (2.0 * self.sigma ** 2))
            return w / w.sum(axis=1, keepdims=True)
        rows = _core.calibrate_rows(sq, self.perplexities[0])[0]
        for p in self.perplexities[1:]:
            rows += _core.calibrate_rows(sq, p)[0]
        if len(self.perplexities) > 1:
            rows /= len(self.perplexities)
        return rows

    def joint(self, indices, distances, threads: int, on_progress=None,
              conditional: bool = False):
        """The joint P (CSR arrays) of the kNN graph ``(indices, distances)``; with
        ``conditional``, the conditional P instead (row i holds p_j|i over i's neighbours,
        summing to 1: what SNE's objective takes)."""
        if conditional:
            n, k = indices.shape
            return (np.arange(0, n * k + 1, k, dtype=np.int64),
                    np.ascontiguousarray(indices, dtype=np.int32).ravel(),
                    np.ascontiguousarray(self.conditional(distances)).ravel())
        if self.standard:
            return _core.affinities_from_neighbors(indices, distances, self.perplexity, threads,
                                                   on_progress)
        return _core.joint_from_conditional(indices, np.ascontiguousarray(
            self.conditional(distances)), threads)


def _perplexities(perplexity, owner: str) -> tuple:
    """A perplexity (a positive float) or a non-empty list of them, as a tuple of floats."""
    if isinstance(perplexity, (list, tuple, np.ndarray)):
        values = list(np.asarray(perplexity, dtype=object).ravel()) \
            if isinstance(perplexity, np.ndarray) else list(perplexity)
        if not values:
            raise ValueError(f"The 'perplexity' parameter of {owner} must be a positive float "
                             f"or a non-empty list of them (multiscale affinities); got an "
                             f"empty {type(perplexity).__name__}.")
        return tuple(check_real(p, "perplexity", min_value=0.0, min_open=True, owner=owner)
                     for p in values)
    if isinstance(perplexity, numbers.Real) and not isinstance(perplexity, (bool, np.bool_)):
        return (check_real(perplexity, "perplexity", min_value=0.0, min_open=True,
                           owner=owner),)
    raise TypeError(f"The 'perplexity' parameter of {owner} must be a positive float or a "
                    f"list of them (multiscale affinities). Got {perplexity!r} of type "
                    f"{type(perplexity).__name__} instead.")


def resolve_kernel(perplexity, kind, n_neighbors, sigma, owner: str) -> Kernel:
    """The Kernel of ``perplexity`` (a float, or a list: multiscale), ``kind`` (None or
    "uniform", from ``affinities=``), ``n_neighbors`` and ``sigma`` (None or positive), each
    checked, with the errors naming the parameters that do not go together. The neighbour
    count against n_samples: :func:`check_kernel`."""
    perplexities = _perplexities(perplexity, owner)
    if n_neighbors is not None:
        n_neighbors = check_int(n_neighbors, "n_neighbors", min_value=1, owner=owner)
    if sigma is not None:
        sigma = check_real(sigma, "sigma", min_value=0.0, min_open=True, owner=owner)
    if kind == "uniform":
        if sigma is not None:
            raise ValueError(f"{owner}: sigma (a Gaussian bandwidth) has no effect with "
                             f"affinities='uniform'; pass one of them.")
        return Kernel("uniform", perplexities, n_neighbors, None)
    if sigma is not None:
        if len(perplexities) > 1:
            raise ValueError(f"{owner}: sigma (one fixed Gaussian bandwidth) and a list of "
                             f"perplexities (multiscale) exclude each other; pass one of them.")
        return Kernel("gaussian", perplexities, n_neighbors, sigma)
    if n_neighbors is not None:
        raise ValueError(
            f"{owner}: n_neighbors is the neighbour count of affinities='uniform' and of a "
            f"fixed sigma; with perplexity-calibrated affinities each point uses "
            f"floor(3 * perplexity) neighbours (pass the perplexity instead).")
    return Kernel("multiscale" if len(perplexities) > 1 else "perplexity", perplexities)


def check_kernel(kernel: Kernel, n_samples: int, check_perplexity) -> Kernel:
    """``kernel`` against ``n_samples``: perplexities by ``check_perplexity(p, n)`` (the rule
    of t-SNE's kernel; for the others the default neighbour count follows from it), an
    explicit n_neighbors at most n_samples - 1."""
    if kernel.kind in ("uniform", "gaussian") and kernel.n_neighbors is None:
        # floor(3 * perplexity) neighbours (at most n_samples - 1); the perplexity is not used.
        kernel = kernel._replace(n_neighbors=_core.neighbor_count(n_samples, kernel.perplexity))
    elif kernel.n_neighbors is None:
        kernel = kernel._replace(perplexities=tuple(check_perplexity(p, n_samples)
                                                    for p in kernel.perplexities))
    elif kernel.n_neighbors > n_samples - 1:
        raise ValueError(f"n_neighbors ({kernel.n_neighbors}) must be less than n_samples "
                         f"({n_samples}): each point has {n_samples - 1} other points.")
    return kernel
