# Type stub of the private C++ extension (python/src/bindings.cpp and api.cpp). Use the
# public functions of the turbotsne package instead of these.
import types
from typing import Callable, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

# on_progress(stage, unit, done, total, changed): `done` of `total` units ("points", "trees",
# "rounds") of a stage's step; changed: NN-descent's fraction of entries replaced by a round.
OnProgress = Callable[[str, str, int, int, Optional[float]], None]

class Method:
    exact: "Method"
    barnes_hut: "Method"
    fft: "Method"

class Init:
    pca: "Init"
    random: "Init"
    given: "Init"

class OptimizerParams:
    n_iter: int
    early_exaggeration_iter: int
    early_exaggeration: float
    exaggeration: float
    learning_rate: Optional[float]
    late_learning_rate: Optional[float]
    momentum_early: float
    momentum_late: float
    min_gain: float
    max_step_norm: Optional[float]
    def __init__(self) -> None: ...
    def resolved_learning_rate(self, n: int, early: bool = True) -> float: ...

class InterpolationParams:
    n_interpolation_points: int
    min_num_intervals: int
    ints_in_interval: float
    def __init__(self) -> None: ...

class RepulsionParams:
    theta: float
    interpolation: InterpolationParams
    def __init__(self) -> None: ...

class ApproximateKnnParams:
    n_trees: int
    leaf_size: int
    max_candidates: int
    max_rounds: int
    delta: float
    seed: int
    def __init__(self) -> None: ...

class Metric:
    euclidean: "Metric"
    cosine: "Metric"
    manhattan: "Metric"

class NeighborMethod:
    exact: "NeighborMethod"
    approximate: "NeighborMethod"

class ExactKnnAlgorithm:
    auto: "ExactKnnAlgorithm"
    vptree: "ExactKnnAlgorithm"
    brute_force: "ExactKnnAlgorithm"

class SimdLevel:
    best: "SimdLevel"
    baseline: "SimdLevel"
    avx2: "SimdLevel"
    avx512: "SimdLevel"

class ExactKnnParams:
    algorithm: ExactKnnAlgorithm
    simd: SimdLevel
    def __init__(self) -> None: ...

class NeighborParams:
    method: NeighborMethod
    metric: Metric
    exact: ExactKnnParams
    approximate: ApproximateKnnParams
    def __init__(self) -> None: ...

class TsneParams:
    n_components: int
    perplexity: float
    method: Method
    repulsion: RepulsionParams
    dof: float
    init: Init
    neighbors: NeighborParams
    seed: int
    n_threads: int
    optimizer: OptimizerParams
    locality_min_samples: int
    def __init__(self) -> None: ...

class TsneState:
    n_samples: int
    nnz: int
    started: bool
    order: npt.NDArray[np.int32]
    def __init__(self) -> None: ...
    def set_affinities(
        self, indptr: npt.NDArray[np.int64], indices: npt.NDArray[np.int32], data: npt.NDArray[np.float64]
    ) -> None: ...

def tsne(
    X: Union[npt.NDArray[np.float64], npt.NDArray[np.float32]],
    Y: npt.NDArray[np.float64],
    params: TsneParams,
    report: Optional[Callable[[int, float, float, npt.NDArray[np.float64]], bool]],
    report_every: Sequence[int],
    on_stage: Optional[Callable[[str, float], None]],
    on_progress: Optional[OnProgress] = None,
    keep: Optional[TsneState] = None,
) -> dict: ...
def tsne_continue(
    state: TsneState,
    Y: npt.NDArray[np.float64],
    params: TsneParams,
    report: Optional[Callable[[int, float, float, npt.NDArray[np.float64]], bool]],
    report_every: Sequence[int],
    on_stage: Optional[Callable[[str, float], None]],
) -> dict: ...
def tsne_from_affinities(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    data: npt.NDArray[np.float64],
    X: npt.NDArray[np.float64],
    Y: npt.NDArray[np.float64],
    params: TsneParams,
    report: Optional[Callable[[int, float, float, npt.NDArray[np.float64]], bool]],
    report_every: Sequence[int],
    on_stage: Optional[Callable[[str, float], None]],
    on_progress: Optional[OnProgress] = None,
    keep: Optional[TsneState] = None,
) -> dict: ...
def query_neighbors(
    reference: npt.NDArray[np.float64], queries: npt.NDArray[np.float64], k: int, metric: Metric, n_threads: int,
    algorithm: ExactKnnAlgorithm = ..., simd: SimdLevel = ..., max_permuted_bytes: float = ...
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...
def neighbors_from_distance_matrix(
    D: npt.NDArray[np.float64], k: int, n_threads: int, on_progress: Optional[OnProgress] = None
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...
def nearest_in_rows(
    D: npt.NDArray[np.float64], k: int, self_offset: int, n_threads: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...
def neighbors_from_sparse_distances(
    indptr: npt.NDArray[np.int64], indices: npt.NDArray[np.int32], data: npt.NDArray[np.float64], k: int,
    n_threads: int, on_progress: Optional[OnProgress] = None
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...
def neighbors(
    X: Union[npt.NDArray[np.float64], npt.NDArray[np.float32]], k: int, params: NeighborParams,
    n_threads: int, on_progress: Optional[OnProgress] = None
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...
def neighbor_count(n_samples: int, perplexity: float) -> int: ...
def joint_from_conditional(
    indices: npt.NDArray[np.int32], values: npt.NDArray[np.float64], n_threads: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...
def affinities_from_neighbors(
    indices: npt.NDArray[np.int32], distances: npt.NDArray[np.float64], perplexity: float, n_threads: int,
    on_progress: Optional[OnProgress] = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...
def calibrate_rows(
    squared_distances: npt.NDArray[np.float64], perplexity: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.uint8]]: ...
def affinities(
    X: npt.NDArray[np.float64], perplexity: float, neighbors: NeighborParams, n_threads: int, symmetric: bool,
    on_stage: Optional[Callable[[str, float], None]] = None, on_progress: Optional[OnProgress] = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...

class TransformParams:
    n_iter: int
    learning_rate: float
    exaggeration: float
    momentum: float
    min_gain: float
    max_step_norm: Optional[float]
    dof: float
    theta: float
    def __init__(self) -> None: ...

def transform(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    data: npt.NDArray[np.float64],
    reference: npt.NDArray[np.float64],
    Y: npt.NDArray[np.float64],
    params: TransformParams,
    n_threads: int,
    report: Optional[Callable[[int, float, float, npt.NDArray[np.float64]], bool]],
    report_every: Sequence[int],
) -> dict: ...
def kl_divergence(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    data: npt.NDArray[np.float64],
    Y: npt.NDArray[np.float64],
    dof: float,
    n_threads: int,
) -> float: ...
def initial_embedding(
    X: npt.NDArray[np.float64], n_components: int, init: Init, seed: int, n_threads: int
) -> npt.NDArray[np.float64]: ...


# Contrastive embeddings (cpp/include/turbotsne/contrastive.hpp).
class ContrastiveLoss:
    neg: "ContrastiveLoss"
    nce: "ContrastiveLoss"
    infonce: "ContrastiveLoss"

class ContrastiveOptimizerParams:
    loss: ContrastiveLoss
    z_bar: Optional[float]
    n_negatives: int
    n_epochs: int
    positives_per_epoch: int
    learning_rate: float
    dof: float
    max_step_norm: Optional[float]
    def __init__(self) -> None: ...

class ContrastiveParams:
    n_components: int
    perplexity: float
    init: Init
    neighbors: NeighborParams
    seed: int
    n_threads: int
    optimizer: ContrastiveOptimizerParams
    def __init__(self) -> None: ...

def contrastive(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    data: npt.NDArray[np.float64],
    X: npt.NDArray[np.float64],
    Y: npt.NDArray[np.float64],
    params: ContrastiveParams,
    report: Optional[Callable[[int, float, float, npt.NDArray[np.float64]], bool]],
    report_every: Sequence[int],
    on_stage: Optional[Callable[[str, float], None]],
    on_progress: Optional[OnProgress] = None,
) -> dict: ...
def umap_z_bar(n_samples: int, n_negatives: int) -> float: ...

# The probes of the tests and bench/ (python/src/testing.cpp) live in the submodule
# _core._testing; they have no stable API and are not typed here.
_testing: types.ModuleType

# The SNE family (sne.hpp).
class Objective:
    tsne: "Objective"
    sne: "Objective"
    symmetric_sne: "Objective"
    uni_sne: "Objective"

def sne_gradient(
    objective: Objective,
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    data: npt.NDArray[np.float64],
    Y: npt.NDArray[np.float64],
    background: float,
    exaggeration: float,
    n_threads: int,
) -> Tuple[float, npt.NDArray[np.float64]]: ...
def sne(
    objective: Objective,
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    data: npt.NDArray[np.float64],
    Y: npt.NDArray[np.float64],
    params: OptimizerParams,
    background: float,
    n_threads: int,
    report: Optional[Callable[[int, float, float, npt.NDArray[np.float64]], bool]],
    report_every: Sequence[int],
) -> dict: ...
