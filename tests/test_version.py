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


def test_import_loads_no_optional_extra():
    # The optional extras (README, Set-up) are imported on first use only: `import turbotsne`
    # must not cost scikit-learn's (and through it pandas') import time and ~100 MB.
    import subprocess

    extras = ("sklearn", "pandas", "matplotlib", "anndata", "tqdm")
    code = ("import sys, turbotsne; "
            f"print(' '.join(m for m in {extras!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    code = "import sys, turbotsne; turbotsne.TSNE(); print('turbotsne._estimator' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
