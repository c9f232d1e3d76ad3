import sys
from importlib.metadata import version
from pathlib import Path

import turbotsne
from turbotsne import _core


def test_python_and_cpp_report_the_same_version():
    assert turbotsne.__version__ == version("turbotsne")
    assert _core.__version__ == turbotsne.__version__


def test_version_comes_from_pyproject():
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if sys.version_info >= (3, 11):
        import tomllib

        declared = tomllib.loads(pyproject.read_text())["project"]["version"]
    else:  # pragma: no cover
        line = next(l for l in pyproject.read_text().splitlines() if l.startswith("version = "))
        declared = line.split('"')[1]
    assert declared == turbotsne.__version__
