"""The hierarchy plugin: label constructors and the label-hierarchy curriculum against hand
values, the Hamidieh featurizer against a hand computation, the SuperCon loader on the real
file, the hierarchical MLP's contract and curriculum behaviour, and the quick study end to end."""

from __future__ import annotations

import gzip
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO, run_cli

from workbench import Bundle, CellContext, ComponentError, DataCorruptError, DataNotFoundError, Table, TargetInfo
from workbench.registry import get_registry
from workbench.testing import check
from workbench_hierarchy.curriculum import LabelHierarchy, feed_scales
from workbench_common.datasets import split_indices
from workbench_hierarchy.elements import SYMBOLS, composition_keys, counts_from_formulas, filled_properties, property_table
from workbench_hierarchy.featurizer import FEATURE_NAMES, ElementFractions, HamidiehFeatures, hamidieh_features
from workbench_hierarchy.labels import DatasetHierarchy, FixedWidthBins, QuantileBins
from workbench_hierarchy._network import HierarchicalNet
from workbench_hierarchy.mlp import HierarchicalMLP
from workbench_hierarchy.supercon import SuperCon


# -- label constructors ---------------------------------------------------------------------


def test_quantile_bins_are_equal_count_and_fitted_on_the_given_values():
    values = np.arange(12.0)  # 0..11 → 4 classes of 3
    bins = QuantileBins.fit(values, 4)
    np.testing.assert_allclose(bins.edges, [2.75, 5.5, 8.25])
    np.testing.assert_array_equal(bins.assign(values), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    # Values outside the fitted range go to the end classes; NaN stays missing.
    out = bins.assign([-100.0, 5.5, 1e6, np.nan])
    np.testing.assert_array_equal(out[:3], [0, 2, 3])
    assert np.isnan(out[3])
    assert bins.n_classes == 4 and len(bins.class_names("K")) == 4
    with pytest.raises(ComponentError, match="coincide"):
        QuantileBins.fit(np.r_[np.zeros(50), np.arange(5.0)], 4)


def test_fixed_width_bins_with_overflow_and_the_thesis_numbering():
    plain = FixedWidthBins(2.0, 0.0, 110.0)
    assert plain.n_classes == 56
    np.testing.assert_array_equal(plain.assign([0.0, 1.99, 2.0, 108.5, 109.99, 110.0, 185.0]), [0, 0, 1, 54, 54, 55, 55])
    thesis = FixedWidthBins(2.0, 0.0, 110.0, underflow=True)  # np.digitize numbering, §3.3.2.2
    assert thesis.n_classes == 57
    # "[108K,110K) range as class 55 ... Tc > 110K belong to class 56"
    np.testing.assert_array_equal(thesis.assign([-1.0, 0.5, 108.0, 110.0, 185.0]), [0, 1, 55, 56, 56])
    np.testing.assert_array_equal(thesis.assign(np.array([0.3, 7.9])), np.digitize([0.3, 7.9], np.arange(0, 111, 2)))
    assert thesis.class_names()[0] == "< 0" and thesis.class_names()[-1] == ">= 110"
    assert np.isnan(thesis.assign([np.nan])[0])
    with pytest.raises(ComponentError, match="whole number"):
        FixedWidthBins(3.0, 0.0, 110.0)


def test_dataset_hierarchy_maps_fine_to_coarse_and_refuses_non_hierarchies():
    fine = np.array([0, 1, 2, 3, 4, 5, 0, 3])
    coarse = np.array([1, 1, 0, 2, 0, 2, 1, 2])
    h = DatasetHierarchy.from_pairs(fine, coarse)
    assert h.coarse_of == (1, 1, 0, 2, 0, 2)
    assert h.children(0) == (2, 4) and h.n_coarse == 3 and h.n_fine == 6
    np.testing.assert_array_equal(h.coarse([5, 2]), [2, 0])
    p = np.full((1, 6), 1 / 6)
    np.testing.assert_allclose(h.coarse_probabilities(p), [[2 / 6, 2 / 6, 2 / 6]])
    with pytest.raises(ComponentError, match="more than one coarse"):
        DatasetHierarchy.from_pairs([0, 0, 1], [0, 1, 1])


# -- the curriculum -------------------------------------------------------------------------


def test_mask_is_active_for_exactly_the_first_k_epochs():
    k3 = LabelHierarchy({"mask_epochs": 3})
    assert [k3.mask_active(e) for e in range(1, 7)] == [True, True, True, False, False, False]
    assert [k3.feeds(e) for e in range(1, 5)] == [False, False, False, True]
    assert not k3.feeds_after(3) and k3.feeds_after(4)
    never = LabelHierarchy({"mask_epochs": "all"})
    assert not any(never.feeds(e) for e in range(1, 200))
    always = LabelHierarchy()
    assert always.feeds(1) and always.feeds_after(1)
    np.testing.assert_array_equal(feed_scales([always, k3, never], 2), [1.0, 0.0, 0.0])
    with pytest.raises(ComponentError, match="from 1"):
        k3.mask_active(0)


def test_feed_gives_exact_zeros_and_no_gradient_while_masked():
    curriculum = LabelHierarchy({"mask_epochs": 1})
    source = torch.randn(4, 3, requires_grad=True)
    weights = torch.randn(3, 2, requires_grad=True)
    masked = curriculum.feed(torch.softmax(source, dim=1), 1)
    assert torch.equal(masked, torch.zeros(4, 3))
    (masked @ weights).sum().backward() if masked.requires_grad else None
    assert source.grad is None or torch.count_nonzero(source.grad) == 0
    fed = curriculum.feed(torch.softmax(source, dim=1), 2)
    (fed @ weights).sum().backward()
    assert torch.count_nonzero(weights.grad) > 0
    np.testing.assert_array_equal(curriculum.feed(np.ones((2, 2)), 1), np.zeros((2, 2)))
    assert curriculum.joint_loss(2.0, 3.0) == 5.0
    assert LabelHierarchy({"coarse_weight": 0.5, "fine_weight": 2.0}).joint_loss(2.0, 3.0) == 7.0


def test_direction_decides_which_head_feeds_which_from_the_parent_relation():
    targets = {"coarse": TargetInfo("classification", ("a", "b")), "fine": TargetInfo("classification", ("x", "y", "z"), parent="coarse")}
    assert LabelHierarchy().heads("coarse", "fine", targets) == ("fine", "coarse")
    assert LabelHierarchy({"direction": "coarse-to-fine"}).heads("fine", "coarse", targets) == ("coarse", "fine")
    assert LabelHierarchy({"direction": "coarse-to-fine"}).heads("coarse", "fine", targets) == ("coarse", "fine")
    unrelated = {"a": TargetInfo("classification", ("0", "1")), "b": TargetInfo("regression")}
    assert LabelHierarchy().heads("a", "b", unrelated) == ("b", "a")
    with pytest.raises(ComponentError, match="differ"):
        LabelHierarchy().heads("a", "a", unrelated)


def test_curriculum_contract():
    check(LabelHierarchy)
    assert get_registry().build("curriculum", "label-hierarchy", {"mask_epochs": 2}).interface == "label-hierarchy"


# -- the featurizer -------------------------------------------------------------------------

# UCI train.csv, first row (Ba0.2La1.8Cu1O4): mean, weighted mean and geometric mean of the
# atomic mass, as shared/data/supercon/README.md gives them from the published file. The other
# statistics are checked by hand on a two-element compound below.
PUBLISHED_ATOMIC_MASS = [88.9444675, 57.8626923, 66.3615924]


def test_featurizer_reproduces_hamidiehs_published_first_row():
    counts = counts_from_formulas(["Ba0.2La1.8Cu1O4"], ["Ba", "La", "Cu", "O"])
    properties = np.ones((4, 8))
    properties[:, 0] = [137.327, 138.90547, 63.546, 15.9994]  # the IUPAC weights Hamidieh used
    features = hamidieh_features(counts, properties)[0]
    assert features[0] == 4
    np.testing.assert_allclose(features[1:4], PUBLISHED_ATOMIC_MASS, rtol=1e-8)
    assert FEATURE_NAMES[:3] == ("number_of_elements", "mean_atomic_mass", "wtd_mean_atomic_mass")
    assert FEATURE_NAMES[-1] == "wtd_std_Valence" and len(FEATURE_NAMES) == 81


def test_featurizer_by_hand_on_a_two_element_compound_with_a_zero_property():
    # Nb3Sn: p = (3/4, 1/4); property t = (2, 8) and a second property with a zero.
    counts = counts_from_formulas(["Nb3Sn"], ["Nb", "Sn"])
    properties = np.zeros((2, 8))
    properties[:, 0] = [2.0, 8.0]
    properties[:, 1] = [0.0, 5.0]
    f = hamidieh_features(counts, properties)[0]
    w = np.array([0.2, 0.8])
    a = np.array([1.5, 2.0]) / 3.5
    expected = [5.0, 3.5, 4.0, 2.0 ** 0.75 * 8.0 ** 0.25, -(w * np.log(w)).sum(), -(a * np.log(a)).sum(), 6.0, 0.5, 3.0,
                np.sqrt(0.75 * 1.5 ** 2 + 0.25 * 4.5 ** 2)]
    np.testing.assert_allclose(f[1:11], expected, rtol=1e-12)
    # A zero property value makes both geometric means 0 and its entropy share 0 (0 ln 0 = 0).
    assert f[11 + 2] == 0.0 and f[11 + 3] == 0.0 and f[11 + 4] == 0.0
    assert f[0] == 2


def test_shipped_element_table_and_gap_filling():
    table = property_table()
    assert len(table) == 86 and tuple(table.index) == SYMBOLS
    assert table.loc["Cu", "atomic_mass"] == pytest.approx(63.546) and table.loc["O", "fie"] == pytest.approx(1313.94, rel=1e-4)
    filled = filled_properties(("He", "Ba", "Cu"))
    assert filled[0, 4] == 0.0  # He: negative electron affinity (unbound anion) → 0
    assert np.isfinite(filled).all() and (filled >= 0).all()
    assert filled[1, 6] == pytest.approx(18.0)  # Ba thermal conductivity, filled from pymatgen
    mean_mass = hamidieh_features(counts_from_formulas(["Ba0.2La1.8Cu1O4"]), filled_properties())[0, 1]
    assert mean_mass == pytest.approx(PUBLISHED_ATOMIC_MASS[0], rel=1e-4)


def test_formula_parsing_and_bad_formulas():
    counts = counts_from_formulas(["Tl2Ba2Ca1.9Cu0.1Cu3O10", "Y1Ba2Cu3O"], ["Tl", "Ba", "Ca", "Cu", "O", "Y"])
    np.testing.assert_allclose(counts, [[2, 2, 1.9, 3.1, 10, 0], [0, 2, 0, 3, 1, 1]])
    with pytest.raises(ComponentError, match="unknown element"):
        counts_from_formulas(["Xx2O3"])
    with pytest.raises(ComponentError, match="cannot read"):
        counts_from_formulas(["Ba(OH)2"])


def test_featurizer_component_from_counts_or_formulas(tmp_path):
    check(HamidiehFeatures, work_dir=tmp_path)
    formulas = ["Mg1B2", "Nb3Sn1"]
    table = Table(counts_from_formulas(formulas), {}, pd.DataFrame({"material": formulas}))
    context = CellContext.standalone(0, work_dir=tmp_path, feature_names=SYMBOLS)
    from_counts = HamidiehFeatures()
    from_counts.fit(table, context)
    from_formulas = HamidiehFeatures({"formula_column": "material"})
    from_formulas.fit(table, context)
    np.testing.assert_array_equal(from_counts.transform(table, context), from_formulas.transform(table, context))
    with pytest.raises(ComponentError, match="element symbol"):
        HamidiehFeatures().fit(table, CellContext.standalone(0, work_dir=tmp_path, feature_names=("a", "b")))


def test_element_fractions_by_hand(tmp_path):
    check(ElementFractions, work_dir=tmp_path)
    formulas = ["Mg1B2", "Y1Ba2Cu3O7"]
    context = CellContext.standalone(0, work_dir=tmp_path, feature_names=SYMBOLS)
    table = Table(counts_from_formulas(formulas), {}, pd.DataFrame({"material": formulas}))
    representation = ElementFractions()
    representation.fit(table, context)
    out = representation.transform(table, context)
    names = representation.feature_names()
    assert out.shape == (2, 87) and names[-1] == "atoms_per_formula"
    row = dict(zip(names, out[1]))
    assert row["x_Y"] == pytest.approx(1 / 13) and row["x_O"] == pytest.approx(7 / 13) and row["atoms_per_formula"] == 13
    assert dict(zip(names, out[0]))["x_B"] == pytest.approx(2 / 3)
    np.testing.assert_allclose(out[:, :-1].sum(axis=1), 1.0)
    # Columns follow H … Rn even when the dataset's element columns come in another order.
    reordered = CellContext.standalone(0, work_dir=tmp_path, feature_names=SYMBOLS[::-1])
    flipped = Table(counts_from_formulas(formulas)[:, ::-1], {})
    representation.fit(flipped, reordered)
    np.testing.assert_array_equal(representation.transform(flipped, reordered), out)
    no_total = ElementFractions({"atoms_per_formula": False, "formula_column": "material"})
    no_total.fit(table, context)
    np.testing.assert_array_equal(no_total.transform(table, context), out[:, :-1])


# -- the SuperCon dataset ---------------------------------------------------------------------


def supercon_bundle(data_dir, **params) -> Bundle:
    return SuperCon(params).load(CellContext.standalone(0, data_dir=data_dir))


def test_composition_keys_make_permuted_and_rescaled_spellings_one_composition():
    keys = composition_keys(counts_from_formulas(["Ir3La7", "La7Ir3", "La0.7Ir0.3", "Ir1La2", "Ba0.2La1.8Cu1O4", "La1.8Ba0.2CuO4"]))
    assert list(keys[:4]) == ["Ir0.3La0.7", "Ir0.3La0.7", "Ir0.3La0.7", "Ir0.3333La0.6667"]
    assert keys[4] == keys[5] == "Ba0.0286Cu0.1429La0.2571O0.5714"
    # Rounding decides what counts as the same: to 2 decimals a 0.1 % change of one amount vanishes.
    close = counts_from_formulas(["La1.85Sr0.15Cu1O4", "La1.851Sr0.149Cu1O4"])
    assert composition_keys(close)[0] != composition_keys(close)[1]
    assert composition_keys(close, decimals=2)[0] == composition_keys(close, decimals=2)[1]
    # A grouped split never separates one composition, however it is spelled.
    groups = np.repeat(keys, 20)
    for seed in range(5):
        train, _, test = split_indices(len(groups), np.random.default_rng(seed), 0.3, 0.0, groups=groups)
        assert not set(groups[train]) & set(groups[test])


def test_supercon_loads_the_real_data_with_fitted_labels(data_dir):
    bundle = supercon_bundle(data_dir, split="random")
    train, validation, test = bundle.train, bundle.validation, bundle.evaluations["test"]
    assert (len(train), len(validation), len(test)) == (14884, 2126, 4253)
    assert bundle.feature_names == SYMBOLS and train.inputs.shape == (14884, 86)
    assert "random rows" in bundle.description
    # 12 equal-count classes on the training split (ties in Tc make them nearly, not exactly, equal).
    counts = np.bincount(train.targets["tc_coarse"].astype(int), minlength=12)
    assert counts.min() >= 1150 and counts.max() <= 1330
    # Fine classes: the thesis numbering, class 0 empty, 56 = Tc ≥ 110 K.
    tc, fine = train.targets["critical_temp"], train.targets["tc_fine"]
    assert bundle.targets["tc_fine"].n_classes == 57 and not np.any(fine == 0)
    np.testing.assert_array_equal(fine == 56, tc >= 110)
    np.testing.assert_array_equal(fine[tc < 110], np.floor(tc[tc < 110] / 2) + 1)
    assert bundle.targets["tc_fine"].parent == "tc_coarse" and bundle.targets["critical_temp"].parent == "tc_coarse"
    whole = np.concatenate([train.samples["row"], validation.samples["row"], test.samples["row"]])
    np.testing.assert_array_equal(np.sort(whole), np.arange(21263))
    first = train.samples["row"].tolist().index(0) if 0 in train.samples["row"].tolist() else None
    if first is not None:
        assert train.samples["material"][first] == "Ba0.2La1.8Cu1O4" and tc[first] == 29
    # The random split puts a third of the test rows next to a training row of their composition.
    in_train = np.isin(test.samples["composition"], train.samples["composition"])
    assert 0.3 < in_train.mean() < 0.4


def test_supercon_default_split_keeps_every_composition_on_one_side(data_dir):
    bundle = supercon_bundle(data_dir)
    tables = [bundle.train, bundle.validation, bundle.evaluations["test"]]
    assert [len(t) for t in tables] == [14742, 2146, 4375] and "by composition" in bundle.description
    compositions = [set(t.samples["composition"]) for t in tables]
    assert not compositions[0] & compositions[2] and not compositions[0] & compositions[1] and not compositions[1] & compositions[2]
    # Ir3La7 (twice) and La7Ir3 are one composition and land together, as does every spelling.
    rows = {t: set(table.samples["row"]) for t, table in zip(("train", "validation", "test"), tables)}
    sides = {side for side, held in rows.items() for r in (11955, 11957, 17859) if r in held}
    assert len(sides) == 1
    # The same holds for compositions parsed from the formula strings themselves.
    def parsed(table):
        return set(composition_keys(counts_from_formulas(sorted(set(table.samples["material"])))))

    assert not parsed(bundle.train) & parsed(bundle.evaluations["test"])
    # Deterministic per seed; another seed, another split.
    again = supercon_bundle(data_dir)
    np.testing.assert_array_equal(again.evaluations["test"].samples["row"], bundle.evaluations["test"].samples["row"])
    other = supercon_bundle(data_dir, split_seed=1)
    assert not np.array_equal(np.sort(other.evaluations["test"].samples["row"])[:50], np.sort(bundle.evaluations["test"].samples["row"])[:50])


def test_supercon_missing_or_wrong_files_give_clear_messages(data_dir, tmp_path):
    with pytest.raises(DataNotFoundError, match="train.csv"):
        supercon_bundle(data_dir, features="uci")
    with pytest.raises(DataNotFoundError, match="supercon/"):
        supercon_bundle(tmp_path / "empty")
    raw = gzip.decompress((data_dir / "supercon" / "unique_m.csv.gz").read_bytes())
    good_zip, bad_zip = tmp_path / "good.zip", tmp_path / "bad.zip"
    with zipfile.ZipFile(good_zip, "w") as z:
        z.writestr("unique_m.csv", raw)
    with zipfile.ZipFile(bad_zip, "w") as z:
        z.writestr("unique_m.csv", raw.replace(b",29,", b",28,", 1))
    assert len(supercon_bundle(None, unique_m_path=str(good_zip)).train) == 14742  # pinned checksum holds
    with pytest.raises(DataCorruptError, match="SHA-256"):
        supercon_bundle(None, unique_m_path=str(bad_zip))
    # A damaged csv.gz in the data directory is refused with both checksums, not read.
    damaged = tmp_path / "damaged" / "supercon" / "unique_m.csv.gz"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(gzip.compress(raw.replace(b",29,", b",28,", 1)))
    with pytest.raises(DataCorruptError, match=r"expected 0b65422d.*found [0-9a-f]{64}"):
        supercon_bundle(tmp_path / "damaged")
    # A train.csv that does not belong to this unique_m.csv is refused row by row.
    frame = pd.read_csv(data_dir / "supercon" / "unique_m.csv.gz")
    features = hamidieh_features(frame[list(SYMBOLS)].to_numpy(float), filled_properties())
    uci = pd.DataFrame(features, columns=FEATURE_NAMES).assign(critical_temp=frame["critical_temp"])
    uci.to_csv(tmp_path / "train.csv", index=False)
    loaded = supercon_bundle(data_dir, features="uci", train_csv_path=str(tmp_path / "train.csv"))
    assert loaded.feature_names == FEATURE_NAMES and loaded.train.inputs.shape == (14742, 81)
    uci.assign(critical_temp=uci["critical_temp"] + 1).to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(DataCorruptError, match="row by row"):
        supercon_bundle(data_dir, features="uci", train_csv_path=str(tmp_path / "other.csv"))


# -- the hierarchical MLP -------------------------------------------------------------------


def mlp_setup(params, curriculum=None, seed=5):
    bundle, target = HierarchicalMLP.contract_bundle("classification", np.random.default_rng(0))
    context = CellContext.standalone(seed, target=target, targets=dict(bundle.targets), curriculum=curriculum)
    model = HierarchicalMLP(params)
    return model, bundle, context


def test_mlp_contract(tmp_path):
    check(HierarchicalMLP, work_dir=tmp_path)


def test_mlp_pipelines_have_the_thesis_shapes():
    shapes = {}
    for name, aux in (("baseline", None), ("regression", "value"), ("binned", "fine")):
        model, bundle, context = mlp_setup({"aux_target": aux, "epochs": 1})
        model.fit(bundle.train, context)
        shapes[name] = [layer.weight.shape[::-1] for layer in model.net_.main if isinstance(layer, torch.nn.Linear)]
        prediction = model.predict(bundle.evaluations["test"])
        assert prediction["coarse"].shape == (30, 3)
        if aux == "value":
            assert prediction["value"].shape == (30,)
        if aux == "fine":
            assert prediction["fine"].shape == (30, 5)
    assert shapes["baseline"] == [(64, 32), (32, 16), (16, 3)]
    assert shapes["regression"] == [(65, 32), (32, 16), (16, 3)]
    assert shapes["binned"] == [(69, 64), (64, 32), (32, 3)]


def fed_weights(model):
    first = model.net_.main[0] if model.net_.aux_feeds_main else model.net_.aux[0]
    return first.weight[:, model.params.embedding:].detach().clone()


def initial_fed_weights(model, context):
    torch.manual_seed(context.derive_seed("hierarchical-mlp-init"))
    net = HierarchicalNet(**model.net_args_)
    first = net.main[0] if net.aux_feeds_main else net.aux[0]
    return first.weight[:, model.params.embedding:].detach()


@pytest.mark.parametrize("direction", ["fine-to-coarse", "coarse-to-fine"])
def test_masked_epochs_feed_zeros_so_the_fed_columns_never_learn(direction):
    for mask, changed in ((2, False), (1, True), ("all", False), (0, True)):
        curriculum = LabelHierarchy({"mask_epochs": mask, "direction": direction})
        model, bundle, context = mlp_setup({"aux_target": "fine", "epochs": 2}, curriculum)
        model.fit(bundle.train, context)
        moved = not torch.equal(fed_weights(model), initial_fed_weights(model, context))
        assert moved == changed, f"K={mask}: fed-column weights {'moved' if moved else 'stayed'}"
    assert model.net_.aux_feeds_main == (direction == "fine-to-coarse")


def test_per_epoch_predictions_follow_the_mask_and_never_read_labels():
    seen = []
    curriculum = LabelHierarchy({"mask_epochs": 1})
    model, bundle, context = mlp_setup({"aux_target": "fine", "epochs": 3}, curriculum)
    test = bundle.evaluations["test"]

    def hook(epoch, predict):
        # In epoch 1 the coarse head must not depend on the fine head's output at all.
        with torch.no_grad():
            z = model.net_.encoder(model._tensors(test))
            zeros = model.net_.main(torch.cat([z, torch.zeros(len(test), 5)], 1))
            fed = model.net_.main(torch.cat([z, torch.softmax(model.net_.aux(z), 1)], 1))
        expected = torch.softmax(zeros if epoch == 1 else fed, 1).double().numpy()
        np.testing.assert_allclose(predict(test)["coarse"], expected, rtol=1e-6)
        seen.append(epoch)

    context.epoch_hook = hook
    model.fit(bundle.train, context)
    assert seen == [1, 2, 3]
    # Predictions come from the inputs alone: shuffled or absent labels change nothing.
    without_labels = Table(test.inputs, {})
    shuffled = Table(test.inputs, {k: np.random.default_rng(1).permutation(v) for k, v in test.targets.items()})
    np.testing.assert_array_equal(model.predict(without_labels)["coarse"], model.predict(test)["coarse"])
    np.testing.assert_array_equal(model.predict(shuffled)["fine"], model.predict(test)["fine"])


def test_mlp_refuses_unknown_auxiliary_targets_and_resumes_from_checkpoints(tmp_path):
    model, bundle, context = mlp_setup({"aux_target": "nope", "epochs": 1})
    with pytest.raises(ComponentError, match="nope"):
        model.fit(bundle.train, context)
    full, bundle, context = mlp_setup({"aux_target": "value", "epochs": 4, "checkpoint_every": 2})
    context.cell_dir = tmp_path / "cell"
    full.fit(bundle.train, context)
    # Interrupt after the epoch-2 checkpoint, then resume: the same weights as an uninterrupted fit.
    interrupted, _, context2 = mlp_setup({"aux_target": "value", "epochs": 4, "checkpoint_every": 2})
    context2.cell_dir = tmp_path / "cell2"

    def stop(epoch, predict):
        if epoch == 3:
            raise KeyboardInterrupt

    context2.epoch_hook = stop
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(bundle.train, context2)
    assert (tmp_path / "cell2" / "checkpoint.npz").exists()
    resumed, _, context3 = mlp_setup({"aux_target": "value", "epochs": 4, "checkpoint_every": 2})
    context3.cell_dir = tmp_path / "cell2"
    resumed.fit(bundle.train, context3)
    test = bundle.evaluations["test"]
    np.testing.assert_allclose(resumed.predict(test)["value"], full.predict(test)["value"], rtol=1e-5)


# -- the quick studies, end to end ------------------------------------------------------------


@pytest.mark.slow  # ~12 s alone, over 20 s on the shared machine
def test_quick_supercon_curriculum_study_runs_through_the_cli(tmp_path, data_dir):
    result = run_cli("run", str(REPO / "studies" / "quick" / "supercon_curriculum.yaml"), "--runs-root", str(tmp_path), "--quiet",
                     "--data-dir", str(data_dir), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = next((tmp_path / "supercon_curriculum").iterdir())
    rows = pd.read_csv(run_dir / "results.csv")
    final = rows[(rows["metric"] == "accuracy") & (rows["evaluation"] == "test") & rows["step"].isna()]
    assert sorted(final["model"].unique()) == ["baseline", "binned-head", "regression-head"] and len(final) == 6
    assert (final["value"] > 2.5 / 12).all()  # well above chance (1/12) after five epochs on 3,000 materials
    per_epoch = rows[(rows["metric"] == "accuracy") & (rows["step_name"] == "epoch") & (rows["evaluation"] == "test")]
    assert sorted(per_epoch["step"].unique()) == [1.0, 2.0, 3.0, 4.0, 5.0] and len(per_epoch) == 30
    last = per_epoch[per_epoch["step"] == 5].sort_values(["model", "replicate"])["value"].to_numpy()
    np.testing.assert_allclose(last, final.sort_values(["model", "replicate"])["value"].to_numpy())
    assert (run_dir / "figures" / "accuracy-per-epoch.png").exists()


def test_quick_supercon_baselines_study_runs_through_the_cli(tmp_path, data_dir):
    result = run_cli("run", str(REPO / "studies" / "quick" / "supercon_baselines.yaml"), "--runs-root", str(tmp_path), "--quiet",
                     "--data-dir", str(data_dir), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = pd.read_csv(next((tmp_path / "supercon_baselines").iterdir()) / "results.csv")
    test = rows[rows["evaluation"] == "test"].set_index(["model", "metric"])["value"]
    for model in ("gradient-boosting", "extra-trees"):
        assert 0.3 < test[model, "accuracy"] < 0.9 and 8.0 < test[model, "rmse"] < 25.0
    # Every cell is scored on all 4,375 test materials of the leak-free split and says so.
    assert (rows.loc[rows["evaluation"] == "test", "n"] == 4375).all()
    run_dir = next((tmp_path / "supercon_baselines").iterdir())
    for result in (run_dir / "cells").glob("*/result.json"):
        assert "split: by composition (seed 0" in json.loads(result.read_text())["data"]
