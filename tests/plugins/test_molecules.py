"""The molecules plugin (thesis ch. 2): property values of known molecules, the ESOL dataset's
cleaning and missing labels, the importance fingerprint against hand computations and its
plain-loop reference, the fragment VAE against chance, the PubChem client on recorded-format
answers, the leakage guard, and the quick study end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from conftest import run_cli
from workbench import CellContext, ComponentError, DataCorruptError, StudyError, Table
from workbench.registry import get_registry
from workbench.study import load_study
from workbench_molecules import pubchem
from workbench_molecules.datasets import HAZARDS, SOLUBILITY, Esol, read_esol
from workbench_molecules.descriptors import PROPERTY_NAMES, canonical_smiles, compute_properties, murcko_scaffolds, parse_smiles
from workbench_molecules.fragment_vae import FragmentVAE
from workbench_molecules.importance import ImportanceFingerprint, fingerprint, fingerprint_naive
from workbench_molecules.splits import scaffold_split

REPO = Path(__file__).resolve().parents[2]


def build(kind, name, **params):
    return get_registry().build(kind, name, params)


def props(smiles: str) -> dict[str, float]:
    return dict(zip(PROPERTY_NAMES, compute_properties(parse_smiles([smiles]))[0]))


# -- properties and the dataset ----------------------------------------------------------


def test_properties_of_known_molecules():
    benzene, ethanol, ammonium, acetic = props("c1ccccc1"), props("CCO"), props("[NH4+]"), props("CC(=O)O")
    assert benzene["molecular_weight"] == pytest.approx(78.114, abs=1e-3)
    assert (benzene["heavy_atoms"], benzene["rings"], benzene["aromatic_rings"], benzene["fraction_sp3"]) == (6, 1, 1, 0)
    assert (benzene["h_bond_donors"], benzene["tpsa"]) == (0, 0)
    assert (ethanol["h_bond_donors"], ethanol["h_bond_acceptors"], ethanol["fraction_sp3"]) == (1, 1, 1)
    assert ethanol["tpsa"] == pytest.approx(20.23)
    assert acetic["tpsa"] == pytest.approx(37.30)
    assert ammonium["formal_charge"] == 1
    # Crippen logP: benzene 1.6866 (six aromatic CH contributions)
    assert benzene["logp"] == pytest.approx(1.6866, abs=1e-3)
    assert props("CC(C)CC(N)C(=O)O")["stereocenters"] == 1  # leucine, unassigned centre counted


def test_esol_strips_names_and_drops_unparseable(tmp_path):
    frame = pd.read_csv(read_esol.__defaults__[0]).head(5)
    frame.loc[1, "smiles"] = "C1CC(  "  # broken ring and trailing spaces
    frame.loc[2, "Compound ID"] = "  padded name  "
    path = tmp_path / "esol.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataCorruptError, match=r"expected 2f46eb30.*found [0-9a-f]{64}"):
        read_esol(path)  # not the MoleculeNet file: refused with both checksums
    kept, mols, dropped = read_esol(path, sha256=None)
    assert len(kept) == len(mols) == 4
    assert len(dropped) == 1 and dropped[0].startswith("row 1 ")
    assert "padded name" in kept["Compound ID"].tolist()
    assert not kept["smiles"].str.endswith(" ").any()


def test_packaged_esol_is_complete_and_solubility_only_needs_no_data_dir(tmp_path):
    kept, _, dropped = read_esol()
    assert len(kept) == 1128 and dropped == []  # every ESOL SMILES parses with this RDKit
    bundle = Esol({"labels": "solubility"}).load(CellContext.standalone(0, cache_dir=tmp_path))
    assert set(bundle.targets) == {SOLUBILITY}
    assert len(bundle.train) + len(bundle.evaluations["test"]) == 1128
    assert list(bundle.train.inputs.columns) == list(PROPERTY_NAMES)
    assert bundle.train.samples["smiles"].notna().all()
    assert "split: random (seed 0) over 1117 distinct structures" in bundle.description


def esol_split(tmp_path, **params):
    bundle = Esol({"labels": "solubility", **params}).load(CellContext.standalone(0, cache_dir=tmp_path))
    return bundle, [bundle.train, *([bundle.validation] if bundle.validation is not None else []), bundle.evaluations["test"]]


def test_random_split_keeps_one_structure_together_and_is_deterministic_per_seed(tmp_path):
    structures = dict(zip(read_esol()[0]["smiles"], canonical_smiles(read_esol()[1])))
    tests = []
    for seed in (0, 1, 0):
        bundle, (train, test) = esol_split(tmp_path, split_seed=seed)
        assert len(train) + len(test) == 1128 and 0.19 < len(test) / 1128 < 0.21
        assert not {structures[s] for s in train.samples["smiles"]} & {structures[s] for s in test.samples["smiles"]}
        tests.append(sorted(test.samples["esol_row"]))
    assert tests[0] == tests[2] and tests[0] != tests[1]
    # One structure under two names (Amobarbital, 5-Ethyl-5-(3-methylbutyl)barbital) lands on one side.
    rows = {name: side for side, table in (("train", train), ("test", test)) for name in table.samples["compound"]}
    assert rows["Amobarbital"] == rows["5-Ethyl-5-(3-methylbutyl)barbital"] and rows["mannitol"] == rows["Sorbitol"]


def test_scaffold_split_keeps_scaffolds_disjoint_and_puts_the_largest_groups_in_train(tmp_path):
    bundle, (train, validation, test) = esol_split(tmp_path, split="scaffold", validation_fraction=0.1, test_fraction=0.1)
    scaffolds = dict(zip(read_esol()[0]["smiles"], murcko_scaffolds(read_esol()[1])))
    sides = [{scaffolds[s] for s in table.samples["smiles"]} for table in (train, validation, test)]
    assert not sides[0] & sides[1] and not sides[0] & sides[2] and not sides[1] & sides[2]
    assert "" in sides[0] and "c1ccccc1" in sides[0]  # acyclic molecules and benzene derivatives: the largest groups
    assert (len(train), len(validation), len(test)) == (902, 113, 113) and "scaffold" in bundle.description
    again, _ = esol_split(tmp_path, split="scaffold", validation_fraction=0.1, test_fraction=0.1, split_seed=7)
    np.testing.assert_array_equal(again.evaluations["test"].samples["esol_row"], test.samples["esol_row"])  # no seed involved


def test_scaffold_split_by_hand():
    scaffolds = ["a", "b", "a", "", "c", "", "", "b", "d", "a"]
    # Groups: "" ×3 (first at 3), "a" ×3 (first at 0), "b" ×2, "c", "d". Ties go to the later first index.
    train, validation, test = scaffold_split(scaffolds, test_fraction=0.3, validation_fraction=0.2)  # 5 / 2 / 3 molecules
    np.testing.assert_array_equal(train, [1, 3, 5, 6, 7])  # "" (3); "a" (3) no longer fits in 5, "b" (2) does
    np.testing.assert_array_equal(validation, [4, 8])  # "a" does not fit in 2 either; "d", then "c" do
    np.testing.assert_array_equal(test, [0, 2, 9])


def test_missing_hazard_labels_are_nan_and_excluded(data_dir, tmp_path):
    bundle = Esol().load(CellContext.standalone(0, cache_dir=tmp_path, data_dir=data_dir))
    labels = np.concatenate([bundle.train.targets["health_hazard"], bundle.evaluations["test"].targets["health_hazard"]])
    assert np.isnan(labels).sum() == 1128 - 443  # unknown stays unknown
    assert np.nansum(labels) == 318  # SOURCES.md §4: 318 Health Hazard positives among 443
    cleaned = bundle.drop_missing("health_hazard")
    kept = np.concatenate([cleaned.train.targets["health_hazard"], cleaned.evaluations["test"].targets["health_hazard"]])
    assert len(kept) == 443 and kept.sum() == 318 and set(np.unique(kept)) == {0, 1}
    assert list(bundle.targets)[:2] == [SOLUBILITY, "health_hazard"] and set(HAZARDS) <= set(bundle.targets)


# -- importance fingerprint --------------------------------------------------------------


def test_fingerprint_by_hand_on_a_product_model():
    # f(x) = x0 * x1, x = (2, 3), one relaxation row (1, 1):
    # relaxing x0 gives 1*3 = 3 (drop 3), relaxing x1 gives 2*1 = 2 (drop 4) -> x0 first, value 3;
    # then x1: f(1, 1) = 1, drop 3 - 1 = 2.
    product = lambda Z: Z[:, 0] * Z[:, 1]  # noqa: E731
    X, background = np.array([[2.0, 3.0]]), np.array([[1.0, 1.0]])
    out = fingerprint(product, X, background, np.array([[0]]))
    np.testing.assert_allclose(out, [[3.0, 2.0]])


def test_fingerprint_of_a_linear_model_is_weight_times_distance_to_the_relaxation_mean():
    rng = np.random.default_rng(1)
    w = np.array([1.0, -2.0, 0.5])
    X, background = rng.normal(size=(6, 3)), rng.normal(size=(20, 3))
    rows = rng.integers(0, 20, size=(6, 5))
    out = fingerprint(lambda Z: Z @ w + 0.3, X, background, rows)
    expected = w * (X - background[rows].mean(axis=1))
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_vectorised_fingerprint_equals_the_plain_loop_on_a_forest():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 5))
    y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    predict = lambda Z: forest.predict_proba(Z)[:, 1]  # noqa: E731
    rows = np.argsort(rng.random((12, 30)), axis=1)[:, :6]
    fast = fingerprint(predict, X[:12], X, rows, max_rows=50)  # tiny chunks: exercises chunking
    slow = fingerprint_naive(predict, X[:12], X, rows)
    np.testing.assert_allclose(fast, slow, atol=1e-12)
    # the drops add up to f(x) minus the mean prediction over the sample's relaxation rows
    np.testing.assert_allclose(fast.sum(1), predict(X[:12]) - predict(X[rows].reshape(-1, 5)).reshape(12, 6).mean(1), atol=1e-12)


def test_fingerprint_representation_skips_missing_source_labels_and_declares_its_label(tmp_path):
    bundle = ImportanceFingerprint.contract_bundle(np.random.default_rng(0))
    rep = ImportanceFingerprint({"source": "aux", "n_estimators": 10, "value_fraction": 0.5})
    assert rep.seen_labels() == frozenset({"aux"})
    context = CellContext.standalone(0, cache_dir=tmp_path, targets=bundle.targets)
    rep.fit(bundle.train, context)
    out = rep.transform(bundle.evaluations["test"], context)
    assert out.shape == (15, 4) and np.isfinite(out).all()
    # feature 0 drives the label, so it carries the largest mean absolute importance
    assert np.abs(out).mean(0).argmax() == 0
    np.testing.assert_array_equal(out, rep.transform(bundle.evaluations["test"], context))  # cached, identical


def test_leakage_guard_refuses_predicting_the_fingerprints_own_label(tmp_path):
    study = tmp_path / "leak.yaml"
    study.write_text(
        "dataset: esol\ntarget: irritant\nmodel: linear\nmetrics: [roc-auc]\n"
        "representation: {use: concat, with: {parts: [raw, {use: importance-fingerprint, with: {source: irritant}}]}}\n"
    )
    with pytest.raises(StudyError, match="irritant.*leak"):
        load_study(study)
    study.write_text(study.read_text().replace("target: irritant", "target: health_hazard"))
    assert len(load_study(study).plans) == 1


# -- fragment VAE ------------------------------------------------------------------------


def test_fragment_vae_reconstructs_better_than_chance_and_carries_logp(tmp_path):
    vae = FragmentVAE({"corpus": "esol", "corpus_size": 1128, "epochs": 25, "batch_size": 32, "hidden": 64,
                       "vocabulary_size": 150, "pair_bins": 64, "z_fragments": 8, "z_connectivity": 8, "beta": 0.1,
                       "add_targets": ["y"]})
    rng = np.random.default_rng(0)
    bundle = FragmentVAE.contract_bundle(rng)
    context = CellContext.standalone(0, cache_dir=tmp_path)
    vae.fit(bundle.train, context)
    report = vae.report_
    assert report["fragment_count_mae"] < 0.9 * report["fragment_count_mae_chance"]
    assert report["connectivity_count_mae"] < report["connectivity_count_mae_chance"]
    assert report["logp_probe_r2"] > 0.2
    out = vae.transform(bundle.evaluations["test"], context)
    assert out.shape == (10, 17)
    np.testing.assert_array_equal(out[:, -1], bundle.evaluations["test"].targets["y"])  # the appended label
    assert vae.seen_labels() == frozenset({"y"})
    assert {r["metric"] for r in context.records} == {"vae_logp_probe_r2", "vae_fragment_count_mae", "vae_fragment_count_mae_chance",
                                                      "vae_inactive_dimensions_esol"}
    history = report["loss_history"]
    assert len(history) == 25 and history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert history[-1]["held_out_loss"] < history[0]["held_out_loss"]
    assert report["latent_dimensions"] == 16 and 0 <= report["inactive_dimensions_esol"] <= 16
    assert len(report["kl_per_dimension_esol"]) == 16


# -- the peers' representations --------------------------------------------------------------


def smiles_table(smiles: list[str]) -> Table:
    return Table(np.zeros((len(smiles), 1)), {}, pd.DataFrame({"smiles": smiles}))


def test_rdkit_descriptors_values_and_non_finite_filling(tmp_path):
    context = CellContext.standalone(0, cache_dir=tmp_path)
    train = smiles_table(["c1ccccc1", "CCO", "CC(=O)O", "CCCCCC"])
    representation = build("representation", "rdkit-descriptors")
    representation.fit(train, context)
    names = representation.feature_names()
    values = dict(zip(names, representation.transform(smiles_table(["c1ccccc1"]), context)[0]))
    assert len(names) > 200 and values["MolWt"] == pytest.approx(78.114, abs=1e-3) and values["NumAromaticRings"] == 1
    assert values["Ipc"] == pytest.approx(np.log1p(34.40), abs=1e-3)  # log(1 + Ipc)
    raw = build("representation", "rdkit-descriptors", log_ipc=False)
    raw.fit(train, context)
    assert dict(zip(names, raw.transform(smiles_table(["c1ccccc1"]), context)[0]))["Ipc"] == pytest.approx(34.40, abs=0.01)
    # Methyl tellanide: RDKit has no Gasteiger parameters for Te, so the charge descriptors are
    # NaN; they become the training median, and the run is told.
    out = representation.transform(smiles_table(["C[Te]C", "CCO"]), context)
    assert np.isfinite(out).all()
    column = names.index("MaxPartialCharge")
    train_values = representation.transform(train, CellContext.standalone(0, cache_dir=tmp_path))[:, column]
    assert out[0, column] == pytest.approx(np.median(train_values))
    assert any("MaxPartialCharge" in note and "training median" in note for note in context.notes)


def test_morgan_counts_and_bits(tmp_path):
    context = CellContext.standalone(0, cache_dir=tmp_path)
    table = smiles_table(["CCO", "c1ccccc1O"])
    counts = build("representation", "morgan-fingerprint", radius=0, n_bits=1024)
    counts.fit(table, context)
    out = counts.transform(table, context)
    # Radius 0: one environment per heavy atom, so the counts add up to the heavy atoms.
    np.testing.assert_array_equal(out.sum(axis=1), [3, 7])
    bits = build("representation", "morgan-fingerprint", radius=2, n_bits=64, counts=False)
    bits.fit(table, context)
    assert set(np.unique(bits.transform(table, context))) <= {0.0, 1.0}
    assert bits.feature_names()[0] == "morgan-0" and counts.feature_names()[0] == "morgan-count-0"
    with pytest.raises(ComponentError, match="cannot parse"):
        counts.transform(smiles_table(["C1CC("]), context)


def test_gain_table_by_hand_in_the_grids_order_per_panel():
    from workbench_molecules.figures import gain_table

    rows = []
    for target, reps in (("a", ["raw", "peer"]), ("b", ["frag", "raw", "peer"])):
        for rep in reps:
            for model, values in (("linear", [0.6, 0.6]), ("forest", [0.7, 0.8])):
                rows += [{"target": target, "representation": rep, "model": model, "metric": "roc-auc", "evaluation": "test",
                          "step_name": "", "value": v} for v in values]
    order = [("a", "raw"), ("a", "peer"), ("b", "frag"), ("b", "raw"), ("b", "peer")]
    table = gain_table(pd.DataFrame(rows[::-1]), "roc-auc", "test", "representation", "model", "linear", "forest", "target", order)
    assert list(zip(table["target"], table["representation"])) == order  # grid order, not the results' order
    np.testing.assert_allclose(table["forest_gain"], 0.15)
    np.testing.assert_allclose(table["forest_std"], np.std([0.7, 0.8], ddof=1))
    assert (table["linear_n"] == 2).all()


# -- PubChem client ----------------------------------------------------------------------


def property_answer(cid: int, **fields) -> bytes:
    record = {"CID": cid, "MolecularWeight": "78.11", "ExactMass": "78.04695", "XLogP": 2.1, "TPSA": 0,
              "HBondDonorCount": 0, "HBondAcceptorCount": 0, "RotatableBondCount": 0, "HeavyAtomCount": 6,
              "Charge": 0, "Complexity": 15.5, "AtomStereoCount": 0, **fields}
    return json.dumps({"PropertyTable": {"Properties": [record]}}).encode()


def ghs_answer(cid: int, pictograms: list[str]) -> bytes:
    markup = [{"Start": 0, "Length": 1, "URL": f"https://pubchem.ncbi.nlm.nih.gov/images/ghs/GHS0{i}.svg", "Type": "Icon", "Extra": name}
              for i, name in enumerate(pictograms)]
    return json.dumps({"Record": {"RecordType": "CID", "RecordNumber": cid, "Section": [
        {"TOCHeading": "Safety and Hazards", "Section": [{"TOCHeading": "Hazards Identification", "Section": [
            {"TOCHeading": "GHS Classification", "Information": [
                {"ReferenceNumber": 1, "Name": "Pictogram(s)", "Value": {"StringWithMarkup": [{"String": "  ", "Markup": markup}]}},
                {"ReferenceNumber": 1, "Name": "Signal", "Value": {"StringWithMarkup": [{"String": "Danger"}]}},
            ]}]}]}]}}).encode()


class Recorder:
    """A fake transport replaying queued (status, body) answers and counting calls."""

    def __init__(self, answers):
        self.answers, self.urls = list(answers), []

    def __call__(self, url, timeout):
        self.urls.append(url)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(tmp_path, transport, sleeps=None):
    clock = [0.0]
    sleeps = sleeps if sleeps is not None else []

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += seconds

    return pubchem.PubChemClient(tmp_path, rate=4.0, retries=3, backoff=1.0, transport=transport, sleep=sleep, clock=lambda: clock[0])


def test_pubchem_parses_properties_and_pictograms(tmp_path):
    transport = Recorder([(200, property_answer(241)), (200, ghs_answer(241, ["Flammable", "Health Hazard", "Irritant"]))])
    c = client(tmp_path, transport)
    record = c.properties("c1ccccc1")
    assert record["CID"] == 241 and record["MolecularWeight"] == pytest.approx(78.11) and record["XLogP"] == 2.1
    assert c.ghs_pictograms(241) == {"Flammable", "Health Hazard", "Irritant"}
    assert "smiles=c1ccccc1" in transport.urls[0] and "pug_view/data/compound/241" in transport.urls[1]
    assert pubchem.parse_properties({"PropertyTable": {"Properties": [{"CID": 0}]}}) is None  # unknown structure
    assert pubchem.parse_pictograms({"Record": {"Section": []}}) is None  # no GHS section: unknown, not negative


def test_pubchem_retries_transient_failures_then_caches(tmp_path):
    sleeps: list[float] = []
    transport = Recorder([(503, b"busy"), OSError("reset"), (200, property_answer(7))])
    c = client(tmp_path, transport, sleeps)
    assert c.properties("CCO")["CID"] == 7
    assert len(transport.urls) == 3 and c.requests == 3
    assert 1.0 in sleeps and 2.0 in sleeps  # exponential back-off 1 s, 2 s
    again = client(tmp_path, Recorder([]))  # a new client on the same cache: no network at all
    assert again.properties("CCO")["CID"] == 7 and again.requests == 0


def test_pubchem_404_is_none_without_retry_and_persistent_failure_is_a_clear_error(tmp_path):
    transport = Recorder([(404, b"")])
    c = client(tmp_path / "a", transport)
    assert c.ghs_pictograms(99) is None and len(transport.urls) == 1
    c = client(tmp_path / "b", Recorder([(503, b"")] * 4))
    with pytest.raises(pubchem.PubChemError, match="after 4 attempts.*source: rdkit"):
        c.properties("CCO")
    with pytest.raises(pubchem.PubChemError, match="HTTP 400"):
        client(tmp_path / "c", Recorder([(400, b"bad smiles")])).properties("X")


def test_pubchem_rate_limit_spaces_requests(tmp_path):
    sleeps: list[float] = []
    c = client(tmp_path, Recorder([(200, property_answer(i + 1)) for i in range(3)]), sleeps)
    for smiles in ("C", "CC", "CCC"):
        c.properties(smiles)
    assert sleeps == [pytest.approx(0.25), pytest.approx(0.25)]  # 4 requests/s, first one immediate


def test_esol_from_pubchem_with_a_recorded_transport(tmp_path, monkeypatch):
    frame, _, _ = read_esol()
    cid_of: dict[str, int] = {}
    for i, s in enumerate(frame["smiles"]):
        cid_of.setdefault(s, i + 1)  # five ESOL structures appear twice (after stripping); PubChem has one CID

    def transport(url, timeout):
        if "/pug/compound/smiles/" in url:
            from urllib.parse import parse_qs, urlparse

            smiles = parse_qs(urlparse(url).query)["smiles"][0]
            cid = cid_of[smiles]
            if cid == 3:
                return 200, json.dumps({"PropertyTable": {"Properties": [{"CID": 0}]}}).encode()
            return 200, property_answer(cid, XLogP=cid / 100)
        cid = int(url.split("/compound/")[1].split("/")[0])
        if cid % 2:
            return 404, b""
        return 200, ghs_answer(cid, ["Health Hazard"] if cid % 4 == 0 else ["Corrosive", "Irritant"])

    monkeypatch.setattr(pubchem, "urllib_transport", transport)
    monkeypatch.setattr(pubchem.time, "sleep", lambda s: None)
    bundle = Esol({"source": "pubchem"}).load(CellContext.standalone(0, cache_dir=tmp_path))
    table = Table(pd.concat([bundle.train.inputs, bundle.evaluations["test"].inputs]),
                  {k: np.concatenate([bundle.train.targets[k], bundle.evaluations["test"].targets[k]]) for k in bundle.targets},
                  pd.concat([bundle.train.samples, bundle.evaluations["test"].samples]))
    rows = table.samples["esol_row"].to_numpy()
    assert len(table) == 1127 and 2 not in rows  # CID 0 (row 2): dropped
    cids = np.array([cid_of[s] for s in table.samples["smiles"]])
    np.testing.assert_allclose(table.inputs["logp"].to_numpy(), cids / 100)  # PubChem's XLogP replaced Crippen's
    hh, corr = table.targets["health_hazard"], table.targets["corrosive"]
    assert np.isnan(hh[cids % 2 == 1]).all()  # no GHS record: unknown
    np.testing.assert_array_equal(hh[cids % 4 == 0], 1)
    np.testing.assert_array_equal(hh[cids % 4 == 2], 0)
    np.testing.assert_array_equal(corr[cids % 4 == 2], 1)


# -- end to end --------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_study_end_to_end(tmp_path, data_dir):
    result = run_cli("run", str(REPO / "studies" / "quick" / "esol_representations.yaml"), "--runs-root", str(tmp_path),
                     "--data-dir", str(data_dir), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = next((tmp_path / "esol_representations").iterdir())
    results = pd.read_csv(run_dir / "results.csv")
    auc = results[(results["metric"] == "roc-auc") & (results["evaluation"] == "test")]
    assert len(auc) == 20 and auc["value"].between(0, 1).all()
    assert set(auc["representation"]) == {"raw+Irr", "frag+Irr", "fp(Irr)", "raw+frag+Irr", "fp(Irr)+frag"}
    # Health Hazard is predictable from these properties: the forests on raw features beat chance
    forest_raw = auc[(auc["model"] == "forest") & (auc["representation"] == "raw+Irr")]["value"]
    assert forest_raw.mean() > 0.55
    linear = auc[auc["model"] == "linear"].groupby("representation")["value"]
    assert (linear.std().fillna(0) < 1e-12).all()  # linear fits do not depend on the replicate seed
    assert (run_dir / "figures" / "fig2-3.png").stat().st_size > 10_000


def test_out_of_fold_fingerprints_of_training_molecules_come_from_models_that_did_not_see_them(tmp_path):
    bundle = ImportanceFingerprint.contract_bundle(np.random.default_rng(0))
    context = CellContext.standalone(0, cache_dir=tmp_path, targets=bundle.targets)
    in_sample = ImportanceFingerprint({"source": "aux", "n_estimators": 10, "value_fraction": 0.5})
    out_of_fold = ImportanceFingerprint({"source": "aux", "n_estimators": 10, "value_fraction": 0.5, "folds": 3})
    for rep in (in_sample, out_of_fold):
        rep.fit(bundle.train, context)
    train_in, train_oof = in_sample.transform(bundle.train, context), out_of_fold.transform(bundle.train, context)
    # test molecules: both use the model trained on all training labels
    np.testing.assert_array_equal(in_sample.transform(bundle.evaluations["test"], context), out_of_fold.transform(bundle.evaluations["test"], context))
    unlabelled = np.isnan(bundle.train.targets["aux"])
    np.testing.assert_array_equal(train_in[unlabelled], train_oof[unlabelled])  # never trained on: full model
    assert not np.allclose(train_in[~unlabelled], train_oof[~unlabelled])
    # a fold model predicting its held-out molecules is less sure than the in-sample forest:
    # the total drop |f(x) - mean f| shrinks on average
    assert np.abs(train_oof[~unlabelled].sum(1)).mean() < np.abs(train_in[~unlabelled].sum(1)).mean()
