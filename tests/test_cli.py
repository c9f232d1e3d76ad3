"""The command line (turbotsne._cli): inputs, outputs, pictures, and one-line errors."""

import csv
import subprocess
import sys
from importlib.metadata import entry_points

import numpy as np
import pytest

import turbotsne
from turbotsne._cli import CROWDING_SAMPLES, _read_table, main

# Small and quick: the exact method, few iterations.
FAST = ["--perplexity", "5", "--method", "exact", "--n-iter", "60", "--seed", "3", "--threads", "2"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _reference(X):
    return turbotsne.tsne(X, perplexity=5, method="exact", n_iter=60, random_state=3, n_jobs=2)


@pytest.fixture
def data():
    X, labels = turbotsne.make_blobs(60, 4, 3, random_state=7)
    return X, labels


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_error_line(code, out, err, *words):
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("turbotsne: error: ")
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])


def _write_csv(path, rows, delimiter=","):
    with open(path, "w", newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)


def _assert_png(path):
    content = path.read_bytes()
    assert len(content) > 1000 and content.startswith(PNG_SIGNATURE)


def test_console_script_is_registered():
    scripts = entry_points(group="console_scripts")
    (script,) = [ep for ep in scripts if ep.name == "turbotsne"]
    assert script.value == "turbotsne._cli:main"
    assert script.load() is main


def test_embed_npy_to_npy_matches_the_api(tmp_path, data, capsys):
    X, _ = data
    np.save(tmp_path / "x.npy", X)
    code, out, err = _run(capsys, ["embed", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"), *FAST])
    assert code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), _reference(X))
    assert "embedded 60 x 4" in out and "y.npy" in out
    assert "iteration    50/60" in err and "ETA" in err


def test_metric_and_init_reach_tsne(tmp_path, data, capsys):
    X, _ = data
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "d.npy", D)
    options = dict(perplexity=5, method="exact", n_iter=60, random_state=3, n_jobs=2)
    cases = [("x.npy", ["--metric", "cosine"], turbotsne.tsne(X, metric="cosine", **options)),
             ("x.npy", ["--metric", "chebyshev"], turbotsne.tsne(X, metric="chebyshev", **options)),
             ("x.npy", ["--init", "random"], turbotsne.tsne(X, init="random", **options)),
             ("d.npy", ["--metric", "precomputed"],
              turbotsne.tsne(D, metric="precomputed", init="random", **options))]
    for name, extra, expected in cases:
        code, _, err = _run(capsys, ["embed", str(tmp_path / name), "-o", str(tmp_path / "y.npy"), "-q",
                                     *FAST, *extra])
        assert code == 0, err
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)


def test_quiet_prints_nothing(tmp_path, data, capsys):
    np.save(tmp_path / "x.npy", data[0])
    code, out, err = _run(capsys, ["embed", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"), "-q", *FAST])
    assert code == 0 and out == "" and err == ""
    assert np.load(tmp_path / "y.npy").shape == (60, 2)


def test_embed_npz_with_labels_and_plot(tmp_path, data, capsys):
    X, labels = data
    np.savez(tmp_path / "d.npz", labels=labels, other=np.zeros((3, 3)), X=X)
    png = tmp_path / "y.png"
    code, _, err = _run(capsys, ["embed", str(tmp_path / "d.npz"), "--array", "X", "--labels", "labels",
                                 "-o", str(tmp_path / "y.csv"), "--plot", str(png), "-q", *FAST])
    assert code == 0, err
    _assert_png(png)
    with open(tmp_path / "y.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["tsne_1", "tsne_2", "labels"]
    np.testing.assert_array_equal(np.array([r[:2] for r in rows[1:]], dtype=float), _reference(X))
    assert [int(r[2]) for r in rows[1:]] == labels.tolist()


def test_embed_npz_takes_the_first_2d_array(tmp_path, data, capsys):
    X, _ = data
    np.savez(tmp_path / "d.npz", ids=np.arange(60), X=X, Z=X + 1)
    code, _, _ = _run(capsys, ["embed", str(tmp_path / "d.npz"), "-o", str(tmp_path / "y.npy"), "-q", *FAST])
    assert code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), _reference(X))


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("suffix,delimiter", [(".csv", ","), (".tsv", "\t")])
def test_embed_table_with_a_label_column(tmp_path, data, capsys, header, suffix, delimiter):
    X, labels = data
    names = np.array(["alpha", "beta", "gamma"])[labels]
    rows = [[repr(v) for v in x[:2]] + [name] + [repr(v) for v in x[2:]] for x, name in zip(X.tolist(), names)]
    if header:
        rows.insert(0, ["f1", "f2", "kind", "f3", "f4"])
    path = tmp_path / f"x{suffix}"
    _write_csv(path, rows, delimiter)
    out_csv = tmp_path / f"y{suffix}"
    png = tmp_path / "y.png"
    code, _, err = _run(capsys, ["embed", str(path), "--labels", "kind" if header else "2",
                                 "-o", str(out_csv), "--plot", str(png), "-q", *FAST])
    assert code == 0, err
    _assert_png(png)
    with open(out_csv, newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    assert rows[0] == ["tsne_1", "tsne_2", "kind" if header else "label"]
    np.testing.assert_array_equal(np.array([r[:2] for r in rows[1:]], dtype=float), _reference(X))
    assert [r[2] for r in rows[1:]] == names.tolist()


def test_embed_csv_without_labels_and_with_a_labels_file(tmp_path, data, capsys):
    X, labels = data
    _write_csv(tmp_path / "x.csv", [["a", "b", "c", "d"]] + X.tolist())
    code, _, _ = _run(capsys, ["embed", str(tmp_path / "x.csv"), "-o", str(tmp_path / "y.npy"), "-q", *FAST])
    assert code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), _reference(X))

    (tmp_path / "labels.txt").write_text("cluster\n" + "\n".join(map(str, labels)) + "\n")
    np.save(tmp_path / "labels.npy", labels)
    for labels_file in ("labels.txt", "labels.npy"):
        code, _, err = _run(capsys, ["embed", str(tmp_path / "x.csv"), "--labels", str(tmp_path / labels_file),
                                     "-o", str(tmp_path / "y.csv"), "--plot", str(tmp_path / "y.png"), "-q", *FAST])
        assert code == 0, err
        _assert_png(tmp_path / "y.png")
        with open(tmp_path / "y.csv", newline="") as f:
            assert [int(r[2]) for r in list(csv.reader(f))[1:]] == labels.tolist()


@pytest.mark.parametrize("text,header,n_rows", [
    ("x,y\n1,2\n3,4\n", ["x", "y"], 2),
    ("1,2\n3,4\n", None, 2),
    ("1,a\n2,b\n", None, 2),
    ("n,kind\n1,a\n2,b\n", ["n", "kind"], 2),
    ("\n1,2\n\n3,4\n\n", None, 2),
    ("1,2\n", None, 1),
])
def test_read_table_detects_the_header(tmp_path, text, header, n_rows):
    (tmp_path / "t.csv").write_text(text)
    found, lines, rows = _read_table(tmp_path / "t.csv", ",")
    assert found == header
    assert len(rows) == len(lines) == n_rows


def _bad_inputs(tmp_path, X):
    """(argv tail, words the error line must contain) for inputs that must fail cleanly."""
    np.save(tmp_path / "one_d.npy", X[:, 0])
    np.save(tmp_path / "three_d.npy", X.reshape(60, 2, 2))
    np.save(tmp_path / "strings.npy", np.array([["a", "b"], ["c", "d"]]))
    (tmp_path / "text.npy").write_text("this is not an array\n")
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    np.savez(tmp_path / "flat.npz", a=np.arange(5))
    _write_csv(tmp_path / "words.csv", [["a", "kind"]] + [[str(v), "x"] for v in X[:, 0]])
    _write_csv(tmp_path / "ragged.csv", [["1", "2"], ["3"], ["4", "5"]])
    _write_csv(tmp_path / "hole.csv", [["a", "b"], ["1", "2"], ["3", ""], ["5", "6"]])
    (tmp_path / "empty.csv").write_text("\n\n")
    _write_csv(tmp_path / "x.csv", [["a", "b", "c", "d"]] + X.tolist())
    _write_csv(tmp_path / "nan_label.csv", [["a", "score"]] + [[str(v), "nan" if i == 5 else "1.5"]
                                                                for i, v in enumerate(X[:, 0])])
    (tmp_path / "short_labels.txt").write_text("1\n2\n3\n")
    (tmp_path / "data.json").write_text("[]")
    ok = ["-o", str(tmp_path / "y.npy")]
    return [
        ([str(tmp_path / "missing.npy"), *ok], ["missing.npy", "no such file"]),
        ([str(tmp_path / "data.json"), *ok], ["unsupported input type", ".json"]),
        ([str(tmp_path / "one_d.npy"), *ok], ["2-D", "(60,)"]),
        ([str(tmp_path / "three_d.npy"), *ok], ["2-D", "(60, 2, 2)"]),
        ([str(tmp_path / "strings.npy"), *ok], ["not real numbers"]),
        ([str(tmp_path / "text.npy"), *ok], ["text.npy", "not a readable"]),
        ([str(tmp_path / "empty.npy"), *ok], ["empty.npy", "not a readable"]),
        ([str(tmp_path / "broken.npz"), *ok], ["broken.npz", "not a readable"]),
        ([str(tmp_path / "flat.npz"), *ok], ["no 2-D array"]),
        ([str(tmp_path / "flat.npz"), "--array", "b", *ok], ["--array b", "holds a"]),
        ([str(tmp_path / "words.csv"), *ok], ["line 2", "'kind'", "'x' is not a number", "--labels kind"]),
        ([str(tmp_path / "ragged.csv"), *ok], ["line 2", "1 columns", "has 2"]),
        ([str(tmp_path / "hole.csv"), *ok], ["line 3", "'b'", "empty cell"]),
        ([str(tmp_path / "empty.csv"), *ok], ["no rows"]),
        ([str(tmp_path / "x.csv"), "--labels", "kind", *ok], ["--labels kind", "no column", "'a', 'b'"]),
        ([str(tmp_path / "x.csv"), "--labels", "7", *ok], ["--labels 7", "4 columns"]),
        ([str(tmp_path / "x.csv"), "--labels", str(tmp_path / "short_labels.txt"), *ok], ["3 labels for 60 rows"]),
        ([str(tmp_path / "x.csv"), "--perplexity", "60", *ok], ["--perplexity 60", "60 samples"]),
        ([str(tmp_path / "x.csv"), "--perplexity", "5", "--threads", "0", *ok], ["--threads"]),
        ([str(tmp_path / "x.csv"), "--array", "X", *ok], ["--array X", "only a .npz"]),
        ([str(tmp_path / "nan_label.csv"), "--labels", "score", *ok, "--plot", str(tmp_path / "y.png")],
         ["labels must be finite", "index 5"]),
        ([str(tmp_path / "x.csv"), "-o", str(tmp_path / "y.json")], ["unsupported output type"]),
        ([str(tmp_path / "x.csv"), "-o", str(tmp_path / "nowhere" / "y.npy")], ["does not exist"]),
        ([str(tmp_path / "x.csv"), *ok, "--plot", str(tmp_path / "y.xyz")], ["unsupported picture type"]),
        ([str(tmp_path / "x.csv"), *ok, "--plot", str(tmp_path / "y.png"), "--n-components", "3"], ["2-D"]),
    ]


def test_a_header_without_rows_is_an_error(tmp_path, capsys):
    (tmp_path / "h.csv").write_text("a,b\n")
    code, out, err = _run(capsys, ["embed", str(tmp_path / "h.csv"), "-o", str(tmp_path / "y.npy")])
    _assert_one_error_line(code, out, err, "h.csv", "a header row and no data rows")


def test_bad_input_gives_one_error_line_and_status_2(tmp_path, data, capsys):
    for argv, words in _bad_inputs(tmp_path, data[0]):
        code, out, err = _run(capsys, ["embed", *argv, "-q"])
        _assert_one_error_line(code, out, err, *words)
        assert not (tmp_path / "y.npy").exists() and not (tmp_path / "y.png").exists()


def test_no_traceback_from_the_module_entry_point(tmp_path):
    (tmp_path / "bad.npy").write_text("not numpy")
    result = subprocess.run([sys.executable, "-m", "turbotsne", "embed", str(tmp_path / "bad.npy"),
                             "-o", str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("turbotsne: error: ")


def test_usage_errors_are_argparse_s(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["embed", "x.npy"])  # -o missing
    assert exc.value.code == 2
    assert "required: -o/--output" in capsys.readouterr().err


def test_demo_writes_a_picture_and_the_embedding(tmp_path, capsys):
    png, emb = tmp_path / "demo.png", tmp_path / "demo.csv"
    code, out, _ = _run(capsys, ["demo", "-o", str(png), "--save-embedding", str(emb), "-n", "300",
                                 "--n-iter", "60", "--threads", "2"])
    assert code == 0
    _assert_png(png)
    X, labels = turbotsne.make_blobs(300, random_state=0)
    Y = turbotsne.tsne(X, n_iter=60, random_state=0, n_jobs=2)
    with open(emb, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["tsne_1", "tsne_2", "cluster"]
    np.testing.assert_array_equal(np.array([r[:2] for r in rows[1:]], dtype=float), Y)
    assert [int(r[2]) for r in rows[1:]] == labels.tolist()
    assert "demo.png" in out and "demo.csv" in out


def test_demo_to_npy_needs_no_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    code, _, err = _run(capsys, ["demo", "-o", str(tmp_path / "e.npy"), "-n", "200", "--n-iter", "30", "-q"])
    assert code == 0, err
    assert np.load(tmp_path / "e.npy").shape == (200, 2)

    code, out, err = _run(capsys, ["demo", "-o", str(tmp_path / "d.png"), "-n", "200", "-q"])
    _assert_one_error_line(code, out, err, "matplotlib", 'pip install "turbotsne[plot]"')
    assert not (tmp_path / "d.png").exists()


#: Library parameter names that no error of the command line may show.
LIBRARY_NAMES = ("n_jobs", "n_iter", "random_state", "n_components", "The '", "parameter of", "of tsne", "X ")


@pytest.mark.parametrize("options,words", [
    (["--threads", "0"], ["--threads must be a non-zero int (-1 for all CPUs). Got 0 instead."]),
    (["--perplexity", "-1"], ["--perplexity must be a float in the range (0.0, inf). Got -1.0 instead."]),
    (["--perplexity", "nan"], ["--perplexity must be a float", "Got nan instead."]),
    (["--perplexity", "60"], ["--perplexity 60 is too large for 60 samples"]),
    (["--n-iter", "0"], ["--n-iter must be an int in the range [1, inf). Got 0 instead."]),
    (["--n-components", "0"], ["--n-components must be an int in the range [1, inf)"]),
    (["--seed", "-1"], ["--seed must be an int in the range [0, 2**64 - 1]. Got -1 instead."]),
    (["--method", "fft", "--n-components", "3"],
     ["--method fft supports --n-components in {1, 2}; got --n-components 3. Use --method barnes_hut"]),
    (["--metric", "precomputed"], ["x.npy with --metric precomputed must be a square"]),
])
def test_errors_name_the_command_line_options(tmp_path, data, capsys, options, words):
    np.save(tmp_path / "x.npy", data[0])
    code, out, err = _run(capsys, ["embed", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"), "-q",
                                   *FAST, *options])
    _assert_one_error_line(code, out, err, *words)
    message = err[len("turbotsne: error: "):].replace("x.npy", "")
    assert not [name for name in LIBRARY_NAMES if name in message], err


def test_warnings_name_the_command_line_options(tmp_path, data, capsys):
    np.save(tmp_path / "x.npy", data[0])
    argv = ["embed", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"), "--n-iter", "30", "--perplexity", "59.5"]
    code, out, err = _run(capsys, argv)
    assert code == 0, err
    warned = [line for line in err.splitlines() if "warning" in line.lower()]
    assert warned == ["turbotsne: warning: --perplexity 59.5 is above n_samples - 1 = 59, the largest that "
                      "60 samples can have: every point gives its 59 neighbours equal weights (perplexity 59)."]
    assert _run(capsys, [*argv, "-q"]) == (0, "", "")


def _help(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_the_demo_offers_no_precomputed_distances(capsys):
    assert "precomputed" not in _help(capsys, "demo")
    assert "precomputed" in _help(capsys, "embed")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--metric", "precomputed", "-o", "d.npy"])
    assert exc.value.code == 2
    assert "invalid choice: 'precomputed'" in capsys.readouterr().err


@pytest.mark.parametrize("options,words", [
    (["-n", "5"], ["--n-samples 5", "10 clusters", "at least 10 points"]),
    (["-n", "40", "--perplexity", "50"], ["--perplexity 50 is too large for 40 samples"]),
    (["-n", "40", "--seed", "-2"], ["--seed must be an int in the range [0, ", "Got -2 instead."]),
    (["-n", "40", "--threads", "0"], ["--threads must be a non-zero int"]),
])
def test_demo_errors_name_its_options(tmp_path, capsys, options, words):
    code, out, err = _run(capsys, ["demo", "-o", str(tmp_path / "d.npy"), "--n-iter", "30", "-q", *options])
    _assert_one_error_line(code, out, err, *words)
    assert not [name for name in LIBRARY_NAMES if name in err[len("turbotsne: error: "):]], err


def test_objective_reaches_tsne(tmp_path, data, capsys):
    X, _ = data
    np.save(tmp_path / "x.npy", X)
    for objective, extra in (("symmetric_sne", []), ("uni_sne", ["--background", "0.2"])):
        code, _, _ = _run(capsys, ["embed", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"),
                                   "-q", "--objective", objective, *extra, *FAST])
        assert code == 0
        expected = turbotsne.tsne(X, perplexity=5, method="exact", n_iter=60, random_state=3,
                                  n_jobs=2, objective=objective,
                                  background=0.2 if extra else None)
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)


@pytest.mark.parametrize("argv,words", [
    (["--objective", "sne", "--method", "fft"], ["--objective sne supports --method exact"]),
    (["--background", "0.1"], ["--background 0.1", "--objective uni_sne"]),
    (["--objective", "uni_sne", "--background", "1.5"], ["--background"]),
])
def test_objective_errors_name_the_options(tmp_path, data, capsys, argv, words):
    np.save(tmp_path / "x.npy", data[0])
    code, out, err = _run(capsys, ["embed", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"),
                                   "--perplexity", "5", *argv])
    _assert_one_error_line(code, out, err, *words)


def test_demo_crowding_draws_the_four_objectives(tmp_path, capsys):
    out_png = tmp_path / "crowding.png"
    code, out, err = _run(capsys, ["demo", "--crowding", "-o", str(out_png), "-n", "120",
                                   "--n-iter", "60", "--perplexity", "10", "--threads", "2",
                                   "-q"])
    assert code == 0 and out == "" and err == ""
    assert out_png.read_bytes()[:8] == PNG_SIGNATURE
    code, out, _ = _run(capsys, ["demo", "--crowding", "-o", str(out_png), "-n", "120",
                                 "--n-iter", "60", "--perplexity", "10", "--threads", "2"])
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:4]] == ["SNE", "symmetric SNE", "UNI-SNE",
                                                        "t-SNE"]
    assert all("10-NN accuracy" in line for line in lines[:4])


@pytest.mark.parametrize("argv,words", [
    (["-o", "y.npy"], ["--crowding draws a picture"]),
    (["--objective", "sne"], ["--crowding runs every objective"]),
    (["--save-embedding", "e.npy"], ["--save-embedding"]),
])
def test_demo_crowding_refuses_what_it_cannot_do(tmp_path, capsys, argv, words, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, ["demo", "--crowding", "-n", "50", *argv])
    _assert_one_error_line(code, out, err, *words)


def test_demo_with_an_sne_objective_defaults_to_fewer_points(tmp_path, capsys):
    out = tmp_path / "e.npy"
    code, _, _ = _run(capsys, ["demo", "-o", str(out), "--objective", "symmetric_sne",
                               "--n-iter", "30", "--threads", "2", "-q"])
    assert code == 0
    assert np.load(out).shape == (CROWDING_SAMPLES, 2)
