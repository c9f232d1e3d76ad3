import faulthandler
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings

# Hypothesis profiles (tests/test_properties.py). Examples are sized per test relative to the
# profile's max_examples of 100; "thorough" tries 20 times as many. Deadlines are off: run
# times vary with the machine's load, and the hang_guard fixture below catches hangs instead.
settings.register_profile(
    "dev", max_examples=100, deadline=None, print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# CI: derandomized, so that every run tries the same examples and a failure is reproducible.
settings.register_profile("ci", settings.get_profile("dev"), derandomize=True)
settings.register_profile("thorough", settings.get_profile("dev"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

#: Seconds a test using hang_guard may run before the process is stopped with a traceback.
HANG_TIMEOUT_S = float(os.environ.get("TURBOTSNE_HANG_TIMEOUT", "300"))


@pytest.fixture
def hang_guard():
    """Stops the whole run, printing every thread's traceback, if the test hangs: a hang
    inside the C++ core cannot be interrupted from Python, so this is the way to make it a
    failure instead of a CI job that never ends."""
    faulthandler.dump_traceback_later(HANG_TIMEOUT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits (1,797 x 64), shipped inside scikit-learn (no download)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return np.ascontiguousarray(data.data, dtype=np.float64), data.target.astype(np.int64)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
