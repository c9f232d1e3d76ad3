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


def test_the_type_stub_parses_and_names_what_the_extension_exports():
    # _core.pyi is read by type checkers and editors only, so nothing else notices when it
    # stops parsing or drifts from the bindings.
    import ast

    stub = Path(turbotsne.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    declared = {node.name for node in tree.body
                if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    exported = {name for name in dir(_core) if not name.startswith("_")}
    assert declared == exported
