"""turbotsne.anndata.tsne: the AnnData entry point (scanpy's sc.tl.tsne conventions), and the
errors of the array entry points when they are given an AnnData object."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse
from scipy.spatial import cKDTree

import anndata as ad  # in the test extra: never skipped

import turbotsne
from turbotsne._anndata_check import is_anndata, reject_anndata

RUN = dict(n_iter=120, n_jobs=2)  # short runs: the tests compare embeddings, not quality


@pytest.fixture(scope="module")
def blobs():
    """200 points in 4 clusters in 60-D, and their first 20 principal components."""
    X, labels = turbotsne.make_blobs(200, 60, 4, random_state=1)
    Xc = X - X.mean(0)
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    return X, np.ascontiguousarray(Xc @ vt[:20].T), labels


def adata_of(X, pca=None):
    adata = ad.AnnData(X)
    if pca is not None:
        adata.obsm["X_pca"] = pca
    return adata


def knn_graph(X, k):
    """scanpy's obsp["distances"] for n_neighbors=k + 1: each row stores its k nearest other
    points (the cell itself, its first neighbour, is left out)."""
    dist, idx = cKDTree(X).query(X, k + 1)
    n = X.shape[0]
    return scipy.sparse.csr_matrix((dist[:, 1:].ravel(), idx[:, 1:].ravel(),
                                    np.arange(0, n * k + 1, k)), shape=(n, n))


# ------------------------------------------------------------------ which representation


def test_x_pca_is_embedded_when_x_has_more_than_50_variables(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    assert turbotsne.anndata.tsne(adata, **RUN) is None
    expected = turbotsne.tsne(pca, random_state=0, **RUN)
    np.testing.assert_array_equal(adata.obsm["X_tsne"], expected)  # bit-identical
    assert adata.obsm["X_tsne"].dtype == np.float64
    assert adata.uns["tsne"]["params"]["use_rep"] == "X_pca"


def test_small_x_is_embedded_directly_even_with_x_pca_as_in_scanpy(blobs):
    X, pca, _ = blobs
    adata = adata_of(X[:, :30].copy(), pca)  # 30 variables: at most scanpy's N_PCS = 50
    turbotsne.anndata.tsne(adata, **RUN)
    np.testing.assert_array_equal(adata.obsm["X_tsne"],
                                  turbotsne.tsne(X[:, :30], random_state=0, **RUN))
    assert adata.uns["tsne"]["params"]["use_rep"] == "X"


def test_many_variables_without_x_pca_ask_for_a_pca(blobs):
    X, _, _ = blobs
    adata = adata_of(X)
    with pytest.raises(ValueError, match=r"60 variables and no obsm\['X_pca'\].*sc\.pp\.pca"
                                         r".*use_rep='X'"):
        turbotsne.anndata.tsne(adata, **RUN)
    assert "X_tsne" not in adata.obsm


@pytest.mark.parametrize("fmt", [scipy.sparse.csr_matrix, scipy.sparse.csc_matrix,
                                 getattr(scipy.sparse, "csr_array", scipy.sparse.csr_matrix)])
def test_sparse_x_with_use_rep_x(blobs, fmt):
    X, pca, _ = blobs
    counts = np.where(X > 1.0, np.round(X), 0.0)  # sparse, non-negative "counts"
    adata = adata_of(fmt(counts), pca)
    turbotsne.anndata.tsne(adata, use_rep="X", **RUN)
    expected = turbotsne.tsne(scipy.sparse.csr_matrix(counts), random_state=0, **RUN)
    np.testing.assert_array_equal(adata.obsm["X_tsne"], expected)
    assert adata.uns["tsne"]["params"]["use_rep"] == "X"


def test_use_rep_names_an_obsm_key_including_a_dataframe(blobs):
    import pandas

    X, pca, _ = blobs
    adata = adata_of(X, pca)
    adata.obsm["X_other"] = pandas.DataFrame(pca[:, ::-1].copy(), index=adata.obs_names)
    turbotsne.anndata.tsne(adata, use_rep="X_other", n_pcs=5, **RUN)
    np.testing.assert_array_equal(
        adata.obsm["X_tsne"], turbotsne.tsne(pca[:, ::-1][:, :5], random_state=0, **RUN))
    assert adata.uns["tsne"]["params"]["use_rep"] == "X_other"
    assert adata.uns["tsne"]["params"]["n_pcs"] == 5


def test_n_pcs_uses_the_first_columns(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    turbotsne.anndata.tsne(adata, n_pcs=5, **RUN)
    np.testing.assert_array_equal(adata.obsm["X_tsne"],
                                  turbotsne.tsne(pca[:, :5], random_state=0, **RUN))
    assert adata.uns["tsne"]["params"]["n_pcs"] == 5


def test_n_pcs_zero_means_x_as_in_scanpy(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    turbotsne.anndata.tsne(adata, n_pcs=0, **RUN)
    np.testing.assert_array_equal(adata.obsm["X_tsne"], turbotsne.tsne(X, random_state=0, **RUN))


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(n_pcs=21), ValueError, r"'n_pcs'.*\[1, 20\].*adata\.obsm\['X_pca'\].*Got 21"),
    (dict(use_rep="X_pca", n_pcs=0), ValueError, r"'n_pcs'.*\[1, 20\].*Got 0"),
    (dict(n_pcs=-1), ValueError, r"'n_pcs'"),
    (dict(n_pcs=2.5), TypeError, r"'n_pcs'.*must be an int"),
    (dict(use_rep="X", n_pcs=5), ValueError, r"'n_pcs'.*no effect with use_rep='X'"),
    (dict(use_rep="X_umap"), ValueError,
     r"'use_rep'.*'X' or a key of adata\.obsm \(\['X_pca'\]\)\. Got 'X_umap'"),
    (dict(use_rep=3), TypeError, r"'use_rep'.*must be a str"),
    (dict(key_added=3), TypeError, r"'key_added'"),
    (dict(copy="yes"), TypeError, r"'copy'"),
    (dict(X=np.zeros((3, 3))), TypeError, r"unexpected keyword argument 'X'"),
    (dict(return_info=True), TypeError, r"unexpected keyword argument 'return_info'"),
])
def test_bad_parameters_are_named(blobs, kwargs, error, pattern):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    with pytest.raises(error, match=pattern):
        turbotsne.anndata.tsne(adata, **kwargs, **RUN)
    assert "X_tsne" not in adata.obsm


def test_n_pcs_with_a_small_x_is_an_error(blobs):
    X, pca, _ = blobs
    adata = adata_of(X[:, :30].copy(), pca)
    with pytest.raises(ValueError, match=r"'n_pcs'.*30 variables.*use_rep='X_pca'"):
        turbotsne.anndata.tsne(adata, n_pcs=5, **RUN)


def test_adata_must_be_an_anndata(blobs):
    X, _, _ = blobs
    with pytest.raises(TypeError, match=r"adata must be an anndata\.AnnData.*turbotsne\.tsne"):
        turbotsne.anndata.tsne(X)


# ------------------------------------------------------------------ what is written


def test_key_added_names_both_the_obsm_and_the_uns_entry(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    turbotsne.anndata.tsne(adata, key_added="X_tsne_p10", perplexity=10, **RUN)
    assert "X_tsne" not in adata.obsm and "tsne" not in adata.uns
    np.testing.assert_array_equal(adata.obsm["X_tsne_p10"],
                                  turbotsne.tsne(pca, perplexity=10, random_state=0, **RUN))
    assert adata.uns["X_tsne_p10"]["params"]["perplexity"] == 10


def test_uns_holds_scanpys_params_and_survives_h5ad(blobs, tmp_path):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    turbotsne.anndata.tsne(adata, n_components=3, early_exaggeration=8.0, init="random",
                           callback=lambda *a: False, **RUN)
    entry = adata.uns["tsne"]
    assert set(entry) == {"params", "kl_divergence", "n_iter"}
    assert entry["n_iter"] == RUN["n_iter"] and entry["kl_divergence"] > 0
    params = dict(entry["params"])
    assert params.pop("method") in ("exact", "barnes_hut")  # what "auto" resolved to
    assert params == dict(perplexity=30.0, early_exaggeration=8.0, learning_rate="auto",
                          n_jobs=2, metric="euclidean", use_rep="X_pca", random_state=0,
                          n_components=3, init="random", n_iter=RUN["n_iter"])
    # the callback is not data: left out
    assert adata.obsm["X_tsne"].shape == (200, 3)
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    np.testing.assert_array_equal(back.obsm["X_tsne"], adata.obsm["X_tsne"])
    assert back.uns["tsne"]["params"]["use_rep"] == "X_pca"


def test_random_state_defaults_to_0_as_in_scanpy(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    turbotsne.anndata.tsne(adata, init="random", **RUN)
    np.testing.assert_array_equal(adata.obsm["X_tsne"],
                                  turbotsne.tsne(pca, init="random", random_state=0, **RUN))
    turbotsne.anndata.tsne(adata, init="random", random_state=5, key_added="other", **RUN)
    assert not np.array_equal(adata.obsm["other"], adata.obsm["X_tsne"])


def test_copy_returns_a_new_object_and_leaves_adata_alone(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    out = turbotsne.anndata.tsne(adata, copy=True, **RUN)
    assert is_anndata(out) and out is not adata
    assert "X_tsne" not in adata.obsm and "tsne" not in adata.uns
    np.testing.assert_array_equal(out.obsm["X_tsne"], turbotsne.tsne(pca, random_state=0, **RUN))
    assert out.uns["tsne"]["params"]["use_rep"] == "X_pca"


# ------------------------------------------------------------------ neighbour graphs


def test_distances_from_scanpys_default_15_neighbours_are_too_few_for_perplexity_30(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    adata.obsp["distances"] = knn_graph(pca, 14)
    with pytest.raises(ValueError) as err:
        turbotsne.anndata.tsne(adata, use_graph="distances", **RUN)
    message = str(err.value)
    for part in ("adata.obsp['distances'] holds at least 14 neighbours", "perplexity=30.0",
                 "floor(3 * perplexity) = 90", "perplexity=4.67", "affinities='uniform'",
                 "sc.pp.neighbors(adata, n_neighbors=91)"):
        assert part in message, part
    assert "X_tsne" not in adata.obsm


def test_distances_with_the_perplexity_that_fits(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    G = knn_graph(pca, 14)
    adata.obsp["distances"] = G
    turbotsne.anndata.tsne(adata, use_graph="distances", perplexity=4.67, **RUN)
    expected = turbotsne.tsne(G, metric="precomputed", perplexity=4.67, init="spectral",
                              random_state=0, **RUN)
    np.testing.assert_array_equal(adata.obsm["X_tsne"], expected)
    params = adata.uns["tsne"]["params"]
    assert params["use_graph"] == "distances" and params["metric"] == "precomputed"
    assert "use_rep" not in params and params["init"] == "spectral"
    # one neighbour fewer in a row than floor(3 * 4.67) = 14: the error names that row
    G2 = G.tolil()
    G2[7, G2.rows[7][0]] = 0.0
    adata.obsp["distances"] = G2.tocsr()
    adata.obsp["distances"].eliminate_zeros()
    with pytest.raises(ValueError, match=r"at least 13 neighbours.*row 7.*perplexity=4\.33"):
        turbotsne.anndata.tsne(adata, use_graph="distances", perplexity=4.67, **RUN)


def test_distances_with_uniform_affinities_use_the_graphs_neighbours(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    G = knn_graph(pca, 14)
    adata.obsp["nn_distances"] = G  # sc.pp.neighbors(key_added="nn")
    turbotsne.anndata.tsne(adata, use_graph="nn_distances", affinities="uniform", **RUN)
    expected = turbotsne.tsne(G, metric="precomputed", affinities="uniform", n_neighbors=14,
                              init="spectral", random_state=0, **RUN)
    np.testing.assert_array_equal(adata.obsm["X_tsne"], expected)
    params = adata.uns["tsne"]["params"]
    assert params["affinities"] == "uniform" and params["n_neighbors"] == 14
    assert "perplexity" not in params
    with pytest.raises(ValueError, match=r"n_neighbors=15 is more than the graph has"):
        turbotsne.anndata.tsne(adata, use_graph="nn_distances", affinities="uniform",
                               n_neighbors=15, **RUN)


def test_connectivities_are_the_affinities(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    G = knn_graph(pca, 14)
    C = G.copy()
    C.data = np.exp(-C.data / C.data.mean())
    C = (C + C.T).tocsr()
    adata.obsp["connectivities"] = C
    turbotsne.anndata.tsne(adata, use_graph="connectivities", **RUN)
    expected = turbotsne.tsne(None, affinities=C, init="spectral", random_state=0, **RUN)
    np.testing.assert_array_equal(adata.obsm["X_tsne"], expected)
    params = adata.uns["tsne"]["params"]
    assert params["use_graph"] == "connectivities"
    assert "perplexity" not in params and "metric" not in params
    turbotsne.anndata.tsne(adata, use_graph="connectivities", init="random", key_added="r",
                           **RUN)
    np.testing.assert_array_equal(
        adata.obsm["r"], turbotsne.tsne(None, affinities=C, init="random", random_state=0, **RUN))


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(use_graph="knn"), ValueError,
     r"'use_graph'.*'connectivities' or 'distances'.*Got 'knn' instead \(obsp keys: "
     r"\['connectivities', 'distances'\]\)"),
    (dict(use_graph="nn_distances"), ValueError,
     r"adata\.obsp has no 'nn_distances' \(obsp keys: \['connectivities', 'distances'\]\)"
     r".*sc\.pp\.neighbors"),
    (dict(use_graph=1), TypeError, r"'use_graph'.*must be"),
    (dict(use_graph="distances", use_rep="X_pca"), ValueError, r"'use_rep'.*no effect"),
    (dict(use_graph="distances", n_pcs=5), ValueError, r"'n_pcs'.*no effect"),
    (dict(use_graph="connectivities", perplexity=10), ValueError,
     r"'perplexity'.*no effect with use_graph='connectivities'"),
    (dict(use_graph="distances", metric="cosine"), ValueError, r"'metric'.*no effect"),
    (dict(use_graph="distances", perplexity=4, init="pca"), ValueError,
     r"init='pca' needs the data"),
    (dict(use_graph="connectivities", init="pca"), ValueError, r"init='pca' needs the data"),
])
def test_bad_graph_parameters_are_named(blobs, kwargs, error, pattern):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    G = knn_graph(pca, 14)
    adata.obsp["connectivities"] = (G + G.T).tocsr()
    adata.obsp["distances"] = G
    with pytest.raises(error, match=pattern):
        turbotsne.anndata.tsne(adata, **kwargs, **RUN)
    assert "X_tsne" not in adata.obsm


# ------------------------------------------------------------------ AnnData where an array belongs


def test_reject_anndata_gives_one_line_pointing_at_the_entry_point(blobs):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    with pytest.raises(TypeError) as err:
        reject_anndata(adata, "turbotsne.tsne")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("turbotsne.tsne() got an AnnData object")
    assert "turbotsne.anndata.tsne(adata, use_rep='X_pca')" in message
    assert "adata.obsm['X_tsne']" in message
    with pytest.raises(TypeError, match="got an AnnData object"):
        reject_anndata(adata[:10], "turbotsne.tsne")  # a view is an AnnData too
    for other in (X, scipy.sparse.csr_matrix(X), None, [[1.0, 2.0]]):
        reject_anndata(other, "turbotsne.tsne")  # no error


def test_is_anndata_goes_by_the_class_not_the_name_alone():
    class AnnData:  # a class of that name from another package
        pass

    assert not is_anndata(AnnData())

    class Sub(ad.AnnData):
        pass

    assert is_anndata(Sub(np.zeros((3, 2))))


@pytest.mark.parametrize("call", ["fit", "fit_transform"])
def test_estimator_rejects_anndata(blobs, call):
    X, pca, _ = blobs
    adata = adata_of(X, pca)
    with pytest.raises(TypeError, match=rf"^TSNE\.{call}\(\) got an AnnData object; use "
                                        r"turbotsne\.anndata\.tsne"):
        getattr(turbotsne.TSNE(max_iter=50), call)(adata)


@pytest.mark.parametrize("name", ["tsne", "joint_probabilities", "contrastive_embedding",
                                  "spectrum"])
def test_array_functions_reject_anndata_with_one_line(blobs, name):
    X, pca, _ = blobs
    with pytest.raises(TypeError, match=rf"^turbotsne\.{name}\(\) got an AnnData object; use "
                                        r"turbotsne\.anndata\.tsne\(adata, use_rep='X_pca'\)"):
        getattr(turbotsne, name)(adata_of(X, pca))


def test_estimator_transform_rejects_anndata(blobs):
    X, pca, _ = blobs
    est = turbotsne.TSNE(max_iter=50, random_state=0).fit(pca)
    with pytest.raises(TypeError, match=r"^TSNE\.transform\(\) got an AnnData object"):
        est.transform(adata_of(X, pca))


def test_import_turbotsne_does_not_import_anndata():
    code = textwrap.dedent("""
        import sys, turbotsne, turbotsne.anndata
        assert callable(turbotsne.anndata.tsne)
        assert "anndata" not in sys.modules, "anndata was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
