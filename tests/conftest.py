import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits (1,797 x 64), shipped inside scikit-learn (no download)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return np.ascontiguousarray(data.data, dtype=np.float64), data.target.astype(np.int64)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
