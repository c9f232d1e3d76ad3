""".csv/.tsv inputs of the command line (turbotsne._cli): the row index column that pandas
writes, and the two readers (numpy's loadtxt, and the csv module for what loadtxt would read
otherwise or refuses), which must give the same data, labels and errors."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from test_cli import FAST, _assert_one_error_line, _reference, _run

import turbotsne
from turbotsne import _cli
from turbotsne._cli import CliError, main


@pytest.fixture
def data():
    X, labels = turbotsne.make_blobs(60, 4, 3, random_state=7)
    return X, labels


@pytest.fixture
def readers_used(monkeypatch):
    """The readers that read each table, in order: "numpy" (numpy.loadtxt) and "csv" (the csv
    module's, which also gives the words of every error)."""
    used = []
    loadtxt, csv_table = np.loadtxt, _cli._CsvTable
    monkeypatch.setattr(np, "loadtxt", lambda *a, **k: used.append("numpy") or loadtxt(*a, **k))

    class Spy(csv_table):
        def __init__(self, *args):
            used.append("csv")
            super().__init__(*args)

    monkeypatch.setattr(_cli, "_CsvTable", Spy)
    return used


def _old_numpy(monkeypatch):
    """numpy < 1.23, whose loadtxt (in Python) takes no quotechar: the csv module reads."""

    def loadtxt(*args, quotechar=None, **kwargs):
        raise TypeError("loadtxt() got an unexpected keyword argument 'quotechar'")

    monkeypatch.setattr(np, "loadtxt", loadtxt)


@pytest.fixture(params=["numpy", "csv"])
def reader(request, monkeypatch, readers_used):
    """Read tables with numpy's loadtxt, or as with numpy < 1.23 (the csv module). The value is
    the list of readers used (see readers_used) and the reader's name."""
    if request.param == "csv":
        _old_numpy(monkeypatch)
    return readers_used, request.param


def _frame(X, labels):
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["kind"] = np.array(["x", "y", "z"])[labels]
    return frame


def _read_embedding(path):
    return pd.read_csv(path, float_precision="round_trip")  # the numbers as written


def _notices(err):
    return [line for line in err.splitlines() if line.startswith("turbotsne: dropped")]


def test_the_index_column_of_to_csv_is_dropped_with_a_notice(tmp_path, data, capsys, reader):
    used, name = reader
    X, labels = data
    path = tmp_path / "x.csv"
    _frame(X, labels).to_csv(path)  # header ",a,b,c,d,kind", then "0,...", "1,...", ...
    code, _, err = _run(capsys, ["embed", str(path), "--labels", "kind", "-o", str(tmp_path / "y.npy"), *FAST])
    assert code == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), _reference(X))  # bit for bit
    assert _notices(err) == [f"turbotsne: dropped the first column of {path} as a row index "
                             f"(it has no name in the header); --no-index-col keeps it"]
    assert used == [name]  # numpy read it all: no second reading by the csv module

    code, _, err = _run(capsys, ["embed", str(path), "--labels", "kind", "--no-index-col",
                                 "-o", str(tmp_path / "y.npy"), "-q", *FAST])
    assert code == 0 and err == ""
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), _reference(np.column_stack([np.arange(60), X])))


@pytest.mark.parametrize("header,start,delimiter", [(None, 0, ","), ("id", 1, "\t"), ("id", 0, ",")])
def test_a_first_column_counting_the_rows_is_dropped(tmp_path, data, capsys, reader, header, start, delimiter):
    X, labels = data
    frame = _frame(X, labels)
    frame.index = pd.RangeIndex(start, start + 60, name=header)
    path = tmp_path / ("x.tsv" if delimiter == "\t" else "x.csv")
    frame.to_csv(path, sep=delimiter, header=header is not None)
    labels_option = "kind" if header else "5"  # column numbers count the file's columns as written
    code, _, err = _run(capsys, ["embed", str(path), "--labels", labels_option, "-o", str(tmp_path / "y.csv"), *FAST])
    assert code == 0, err
    named = f" '{header}'" if header else ""
    assert _notices(err) == [f"turbotsne: dropped the first column{named} of {path} as a row index (it "
                             f"counts the rows {start}, {start + 1}, ..., {start + 59}); --no-index-col keeps it"]
    written = _read_embedding(tmp_path / "y.csv")
    np.testing.assert_array_equal(written[["tsne_1", "tsne_2"]].to_numpy(), _reference(X))
    assert written.iloc[:, 2].tolist() == frame["kind"].tolist()


@pytest.mark.parametrize("first", [np.arange(60) * 2, np.arange(60)[::-1], np.arange(2, 62),
                                   np.r_[0, 1, 2, 4, np.arange(5, 61)], np.arange(60) + 0.5])
def test_other_first_columns_are_data(tmp_path, data, capsys, reader, first):
    X, _ = data
    XX = np.column_stack([first, X])
    path = tmp_path / "x.csv"
    pd.DataFrame(XX, columns=["n", "a", "b", "c", "d"]).to_csv(path, index=False)
    code, _, err = _run(capsys, ["embed", str(path), "-o", str(tmp_path / "y.npy"), *FAST])
    assert code == 0, err
    assert _notices(err) == []
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), _reference(XX))


def test_index_col_drops_a_named_column_of_text(tmp_path, data, capsys, reader):
    used, name = reader
    X, labels = data
    frame = _frame(X, labels)
    frame.index = pd.Index([f"AAC{i:03d}" for i in range(60)], name="cell")
    frame.to_csv(tmp_path / "x.csv")
    argv = ["embed", str(tmp_path / "x.csv"), "--labels", "kind", "-o", str(tmp_path / "y.npy"), *FAST]
    code, out, err = _run(capsys, [*argv, "-q"])
    _assert_one_error_line(code, out, err, "line 2", "'cell'", "'AAC000' is not a number",
                           "--labels cell", "--index-col")
    used.clear()
    code, _, err = _run(capsys, [*argv, "--index-col"])
    assert code == 0, err
    assert _notices(err) == []  # asked for: nothing to tell
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), _reference(X))
    assert used == [name]


def test_label_column_numbers_count_the_columns_as_written(tmp_path, data, capsys, reader):
    X, labels = data
    frame = _frame(X, labels)
    frame.to_csv(tmp_path / "x.csv")  # the index is column 0, kind column 5
    for spec in ("5", "-1"):
        code, _, err = _run(capsys, ["embed", str(tmp_path / "x.csv"), "--labels", spec,
                                     "-o", str(tmp_path / "y.csv"), "-q", *FAST])
        assert code == 0, err
        written = _read_embedding(tmp_path / "y.csv")
        assert written.columns[2] == "kind" and written["kind"].tolist() == frame["kind"].tolist()
        np.testing.assert_array_equal(written[["tsne_1", "tsne_2"]].to_numpy(), _reference(X))
    # the labels are the first column: it is no row index
    frame.set_index("kind").to_csv(tmp_path / "k.csv")
    code, _, err = _run(capsys, ["embed", str(tmp_path / "k.csv"), "--labels", "0", "-o", str(tmp_path / "y.npy"), *FAST])
    assert code == 0 and _notices(err) == []
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), _reference(X))
    code, out, err = _run(capsys, ["embed", str(tmp_path / "k.csv"), "--labels", "0", "--index-col",
                                   "-o", str(tmp_path / "y.npy"), "-q"])
    _assert_one_error_line(code, out, err, "--labels", "--index-col drops it", "as written", "second column is 1")


def test_index_options_exclude_each_other_and_need_a_table(tmp_path, data, capsys):
    np.save(tmp_path / "x.npy", data[0])
    with pytest.raises(SystemExit) as exc:
        main(["embed", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"), "--index-col", "--no-index-col"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    code, out, err = _run(capsys, ["embed", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"), "--index-col"])
    _assert_one_error_line(code, out, err, "--index-col", "only a .csv/.tsv input")
    help_text = _cli._parser()._subparsers._group_actions[0].choices["embed"].format_help()
    assert "--index-col" in help_text and "--no-index-col" in help_text and "as written" in help_text


#: Tables the two readers must read alike: (text, --labels, the readers that read it: numpy
#: alone, or numpy and then the csv module, which reads what numpy would read otherwise or
#: refuses and words the error, or the csv module alone when the first lines show that numpy
#: will not do).
NUMPY, BOTH, CSV = ["numpy"], ["numpy", "csv"], ["csv"]
TABLES = [
    ("a,b,c\n" + "".join(f"{i * 0.1!r},{1 / (i + 3)!r},{-i * 1e-300!r}\n" for i in range(6)), None, NUMPY),
    ("".join(f"{np.pi * i:.18e},{np.e / (i + 1):.18e}\n" for i in range(6)), None, NUMPY),  # np.savetxt
    (" x , y ,kind\n 1 , 2.5 , a \n3,4, b\n", "kind", NUMPY),
    ('"","x","y"\n"1",0.5,1e3\n"2",.5,5.\n', None, NUMPY),  # R's write.csv
    ("\ufeffx,y\r\n1,2\r\n3,4\r\n", None, NUMPY),  # a BOM, CRLF
    ("x,y,k\n1,2,True\n3,4,False\n", "k", NUMPY),
    ("x,y,k\n1,2,007\n3,4,1.50\n", "k", NUMPY),
    ("x,y\n1,inf\n3,-Infinity\n", None, NUMPY),
    ("\n\nx,y\n\n1,2\n   \n3,4\n\n", None, BOTH),  # loadtxt: "   " is a row
    ("x,y\n1,2\n,\n3,4\n", None, BOTH),
    ("x,y\n1,2\n3\n4,5\n", None, BOTH),
    ("x,y\n1,2\n3,4,5\n", None, BOTH),
    ("x,y\n1,2,3\n4,5,6\n", None, BOTH),  # rows wider than the header
    ("x,y,k\n1,2,a\n3,4\n", "k", BOTH),
    ("x,y,k\n1,2,a\n3,4,\n", "k", NUMPY),  # an empty label
    ("x,y\n1,nan\n3,4\n", None, NUMPY),
    ("x,y\n1,True\n3,4\n", None, BOTH),
    ("x,y\n1,True\n3,False\n", None, BOTH),
    ("x,y\n1,\uff12\n3,\u0664\n", None, BOTH),  # digits Python's float reads, loadtxt does not
    ('x,y,k\n1,2, "a"\n3,4,"b" \n5,6,"c""d"\n7,8,e"f\n', "k", NUMPY),  # quotes as the csv module reads them
    ('x,k\n1,"a\nb"\n2,c\n', "k", CSV),  # a quoted line break
    ("x,y\n1,1_000\n3,4\n", None, BOTH),
    ("x,y\n1,\n3,4\n", None, BOTH),
    ("x,y\n", None, BOTH),
    ("k\n", "k", BOTH),  # a header and no rows
    ("\n \n", None, CSV),
    ('"x\ny",z\n1,2\n3,4\n', None, CSV),
]


@pytest.mark.parametrize("text,labels,readers", TABLES)
def test_numpy_and_the_csv_module_read_alike(tmp_path, monkeypatch, readers_used, text, labels, readers):
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode())
    results = []
    for old_numpy in (False, True):
        with monkeypatch.context() as m:
            if old_numpy:
                _old_numpy(m)
            readers_used.clear()
            try:
                results.append(_cli._load_table(path, ",", labels, index_col=False))
            except CliError as exc:
                results.append(str(exc))
            if not old_numpy:
                assert readers_used == readers
    fast, csv_module = results
    assert type(fast) is type(csv_module), results
    if isinstance(csv_module, str):
        assert fast == csv_module
        return
    for a, b in zip(fast, csv_module):
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


def test_reading_a_table_imports_no_pandas(tmp_path, data):
    path = tmp_path / "x.csv"
    pd.DataFrame(data[0]).to_csv(path)
    script = ("import sys; from turbotsne import _cli; X, _, _ = _cli.load_input(%r); "
              "assert X.shape == (60, 4) and 'pandas' not in sys.modules" % str(path))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
