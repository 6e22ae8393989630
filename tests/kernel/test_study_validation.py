"""Study files are refused before anything runs, with file:line:column and what is allowed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import workbench
from workbench.errors import StudyError
from workbench.registry import load_registry
from conftest import ESOL_STUDY
from workbench.study import load_study

BASE = ESOL_STUDY


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path: Path, text: str, registry=None) -> list[str]:
    with pytest.raises(StudyError) as caught:
        load_study(write(tmp_path, text), registry)
    return [p.render() for p in caught.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in line)


def test_a_valid_study_expands_its_grid_into_seeded_cells(tmp_path):
    text = BASE + "repeats: 2\ngrid:\n  model: [linear, random-forest]\n  train_size: [50, 100]\n"
    study = load_study(write(tmp_path, text))
    assert len(study.plans) == 8
    assert study.axes == ["model", "train_size", "replicate"]
    assert study.plans[0].coordinates == {"model": "linear", "train_size": "50", "replicate": "0"}
    assert len({p.id for p in study.plans}) == 8
    # Paired by default: the model axis does not change the seed, training size and replicate do.
    assert len({p.seed for p in study.plans}) == 4
    by = {(p.coordinates["model"], p.coordinates["train_size"], p.coordinates["replicate"]): p.seed for p in study.plans}
    assert by[("linear", "50", "1")] == by[("random-forest", "50", "1")] != by[("linear", "100", "1")]
    again = load_study(write(tmp_path, text, "again.yaml"))
    assert [p.seed for p in again.plans] == [p.seed for p in study.plans]
    assert [p.id for p in again.plans] == [p.id for p in study.plans]


def test_seed_axes_pair_cells_that_differ_only_in_other_axes(tmp_path):
    text = BASE + "repeats: 2\nseed_axes: [replicate]\ngrid:\n  model: [linear, random-forest]\n"
    cells = load_study(write(tmp_path, text)).plans
    by = {(c.coordinates["model"], c.coordinates["replicate"]): c.seed for c in cells}
    assert by[("linear", "0")] == by[("random-forest", "0")]
    assert by[("linear", "0")] != by[("linear", "1")]


def test_the_study_seed_changes_every_cell_seed(tmp_path):
    a = load_study(write(tmp_path, BASE, "a.yaml")).plans[0].seed
    b = load_study(write(tmp_path, BASE.replace("seed: 1", "seed: 2"), "b.yaml")).plans[0].seed
    assert a != b


def test_a_typo_in_a_component_name_is_located_and_suggests_the_name(tmp_path):
    text = BASE.replace("model: linear", "model: {use: random-forrest}")
    [message] = problems(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'study.yaml'}:{line_of(text, 'random-forrest')}:")
    assert "model 'random-forrest' is not registered" in message
    assert "Did you mean 'random-forest'?" in message
    registered = message.split("Registered models: ")[1].split(".\n")[0].split(", ")
    assert {"gradient-boosting", "linear", "random-forest"} <= set(registered) and registered == sorted(registered)


def test_an_unknown_parameter_lists_the_allowed_ones_with_types_and_defaults(tmp_path):
    text = BASE.replace("model: linear", "model:\n  use: random-forest\n  with:\n    n_estimator: 10")
    [message] = problems(tmp_path, text)
    assert f":{line_of(text, 'n_estimator')}:5:" in message
    assert "has no parameter 'n_estimator'; did you mean 'n_estimators'?" in message
    assert "n_estimators: int = 100 — number of trees" in message
    assert "max_depth: int or null = None" in message


def test_a_wrong_type_names_the_value_and_the_expected_type(tmp_path):
    text = BASE.replace("model: linear", "model:\n  use: random-forest\n  with: {n_estimators: many}")
    [message] = problems(tmp_path, text)
    assert f":{line_of(text, 'many')}:" in message
    assert "n_estimators" in message and "valid integer" in message and "'many'" in message
    assert "n_estimators: int = 100" in message


def test_broken_yaml_is_a_located_syntax_error(tmp_path):
    [message] = problems(tmp_path, "seed: 1\ndataset: {use: csv-table\nmodel: linear\n")
    assert "YAML syntax error" in message and ":3:" in message


def test_duplicate_keys_are_refused(tmp_path):
    [message] = problems(tmp_path, BASE + "model: random-forest\n")
    assert "key 'model' is given twice" in message


def test_an_unknown_top_level_key_is_suggested(tmp_path):
    found = problems(tmp_path, BASE + "metircs: [r2]\n")
    assert any("unknown key 'metircs'; did you mean 'metrics'?" in m for m in found)


def test_every_problem_is_reported_at_once_in_line_order(tmp_path):
    text = BASE.replace("model: linear", "model: {use: lineer}").replace("metrics: [rmse]", "metrics: [rmsee]")
    found = problems(tmp_path, text)
    assert len(found) == 2
    assert "lineer" in found[0] and "rmsee" in found[1]


def test_a_bad_value_in_the_grid_points_at_the_grid(tmp_path):
    text = BASE + "grid:\n  model.with.C: [1.0, strong]\n"
    [message] = problems(tmp_path, text)
    assert f":{line_of(text, 'strong')}:" in message
    assert "'strong'" in message


@pytest.mark.parametrize(
    "grid, expected",
    [
        ("  modle.with.C: [1]\n", "'modle' is not a study key that can vary; did you mean 'model'?"),
        ("  model.C: [1]\n", "a component's parameters live under 'with' (e.g. model.with.C)"),
        ("  train_size: []\n", "needs a non-empty list of values"),
        ("  replicate: [0, 1]\n", "set `repeats: N` instead"),
        ("  zip:\n    - train_size: [10, 20]\n      model.with.C: [1.0]\n", "zipped axes must have equal lengths"),
    ],
)
def test_grid_mistakes_are_explained(tmp_path, grid, expected):
    found = problems(tmp_path, BASE + "grid:\n" + grid)
    assert any(expected in m for m in found), found


def test_zipped_axes_vary_together(tmp_path):
    text = BASE + "grid:\n  zip:\n    - train_size: [50, 100]\n      model.with.C: [0.5, 2.0]\n"
    cells = load_study(write(tmp_path, text)).plans
    assert [(c.coordinates["train_size"], c.coordinates["model.with.C"]) for c in cells] == [("50", "0.5"), ("100", "2.0")]


def test_zipped_axes_keep_repeated_values_as_labels_while_combinations_differ(tmp_path):
    text = BASE + ("grid:\n  zip:\n    - train_size: [50, 50, 100]\n      model.with.C: [0.5, 2.0, 2.0]\n"
                   "  metrics: [[rmse, {use: r2, label: R2}], [mae]]\n")
    cells = load_study(write(tmp_path, text)).plans
    coordinates = [(c.coordinates["train_size"], c.coordinates["model.with.C"], c.coordinates["metrics"]) for c in cells]
    assert coordinates == [(s, C, m) for s, C in (("50", "0.5"), ("50", "2.0"), ("100", "2.0")) for m in ("rmse+R2", "mae")]
    # Repeated combinations cannot be told apart by value, so they are numbered.
    text = BASE + "grid:\n  zip:\n    - train_size: [50, 50]\n      model.with.C: [2.0, 2.0]\n"
    cells = load_study(write(tmp_path, text)).plans
    assert [c.coordinates["train_size"] for c in cells] == ["50#0", "50#1"]


def test_a_target_the_dataset_lacks_lists_its_targets(tmp_path):
    [message] = problems(tmp_path, BASE.replace("target: measured_log_solubility", "target: solubility"))
    assert "target 'solubility' is not provided by dataset 'csv-table'" in message
    assert "measured_log_solubility (regression), soluble (classification)" in message


def test_a_metric_for_another_task_is_refused(tmp_path):
    [message] = problems(tmp_path, BASE.replace("metrics: [rmse]", "metrics: [accuracy]"))
    assert "metric 'accuracy' does not apply to target 'measured_log_solubility', a 'regression' target" in message


def test_a_metric_may_score_another_target_of_a_multi_head_model(tmp_path):
    text = BASE.replace("metrics: [rmse]", "metrics: [rmse, {use: accuracy, target: soluble}]")
    study = load_study(write(tmp_path, text))
    assert study.study.metrics[1].display() == "soluble:accuracy"


def test_a_representation_that_saw_the_target_is_refused_as_leakage(tmp_path):
    text = BASE.replace("target: measured_log_solubility", "target: soluble").replace("metrics: [rmse]", "metrics: [roc-auc]")
    text += "representation: {use: raw, with: {add_targets: [soluble]}}\n"
    [message] = problems(tmp_path, text)
    assert "was built from label(s) 'soluble', so it cannot be used to predict them" in message
    fine = text.replace("add_targets: [soluble]", "add_targets: [measured_log_solubility]")
    assert load_study(write(tmp_path, fine, "fine.yaml")).plans


def test_leakage_through_a_nested_representation_is_caught_per_cell(tmp_path):
    text = BASE.replace("metrics: [rmse]", "metrics: [rmse]\nrepresentation: raw")
    text += "grid:\n  representation:\n    - raw\n    - {use: concat, with: {parts: [raw, {use: raw, with: {add_targets: [measured_log_solubility]}}]}}\n"
    [message] = problems(tmp_path, text)
    assert "leak" in message and "measured_log_solubility" in message


class _Schedule(workbench.Curriculum):
    name = "test-schedule"
    summary = "a curriculum no common model understands"
    interface = "test-interface"


class _NeedsSimulator(workbench.Dataset):
    name = "needs-simulator"
    summary = "a dataset that asks for a simulator"
    requires = ("simulator",)

    def describe_targets(self):
        return {"y": workbench.TargetInfo("regression")}

    def load(self, context):
        table = workbench.Table(np.zeros((4, 1)), {"y": np.zeros(4)})
        return workbench.Bundle(table, {"test": table}, {"y": workbench.TargetInfo("regression")})


@pytest.fixture
def extended_registry():
    registry = load_registry()
    registry.add(_Schedule, "curriculum", "tests", "tests")
    registry.add(_NeedsSimulator, "dataset", "tests", "tests")
    return registry


def test_a_curriculum_the_model_does_not_understand_is_refused(tmp_path, extended_registry):
    [message] = problems(tmp_path, BASE + "curriculum: test-schedule\n", extended_registry)
    assert "model 'linear' does not understand curriculum 'test-schedule' (interface 'test-interface')" in message


def test_a_component_that_needs_a_simulator_says_so(tmp_path, extended_registry):
    text = "dataset: needs-simulator\nmodel: linear\nmetrics: [rmse]\n"
    [message] = problems(tmp_path, text, extended_registry)
    assert "dataset 'needs-simulator' needs a simulator: add `simulator: {use: NAME}`" in message


def test_a_missing_study_file_is_a_clear_error(tmp_path):
    with pytest.raises(StudyError, match="does not exist"):
        load_study(tmp_path / "nope.yaml")


def test_resolved_study_fills_in_defaults(tmp_path):
    study = load_study(write(tmp_path, BASE))
    [plan] = study.resolved()["plans"]
    assert plan["model"] == {"use": "linear", "with": {"C": 1.0, "alpha": 0.0, "standardize": True, "max_iter": 2000}}
    assert plan["dataset"]["with"]["test_fraction"] == 0.2
    assert plan["target"] == "measured_log_solubility" and plan["id"] == study.plans[0].id


SWAP = "grid:\n  model: [{use: random-forest, with: {n_estimators: 10}, label: forest}, linear]\n"


def test_a_grid_that_swaps_components_resolves_each_cell_from_its_own_component(tmp_path):
    study = load_study(write(tmp_path, BASE + SWAP))
    forest, linear = study.plans
    assert forest.model.use == "random-forest" and forest.model.with_["n_estimators"] == 10
    assert forest.model.with_["min_samples_leaf"] == 1 and forest.model.label == "forest"
    assert linear.model.use == "linear" and "n_estimators" not in linear.model.with_
    assert linear.model.with_ == {"C": 1.0, "alpha": 0.0, "standardize": True, "max_iter": 2000}


def test_the_resolved_plans_file_validates_and_gives_the_same_cells(tmp_path):
    import yaml

    study = load_study(write(tmp_path, BASE + "repeats: 2\n" + SWAP))
    plans_file = tmp_path / "run" / "resolved.yaml"
    plans_file.parent.mkdir()
    plans_file.write_text(yaml.safe_dump(study.resolved(), sort_keys=False))
    again = load_study(plans_file)
    assert [p.id for p in again.plans] == [p.id for p in study.plans]
    assert [p.seed for p in again.plans] == [p.seed for p in study.plans]
    assert again.axes == study.axes and again.study_dir == study.study_dir
    # An edited plan no longer matches its id, and is refused with its location.
    edited = plans_file.read_text().replace("n_estimators: 10", "n_estimators: 11", 1)
    plans_file.write_text(edited)
    with pytest.raises(StudyError) as caught:
        load_study(plans_file)
    [problem] = caught.value.problems
    assert "does not match the plan's content" in problem.message and problem.location.line is not None


def test_the_cell_id_is_a_digest_of_everything_in_the_plan(tmp_path):
    base = load_study(write(tmp_path, BASE, "a.yaml")).plans[0]
    changes = [
        BASE.replace("metrics: [rmse]", "metrics: [rmse, mae]"),
        BASE.replace("model: linear", "model: {use: linear, with: {C: 2.0}}"),
        BASE + "train_size: 300\n",
        BASE + "track_epochs: true\n",
        BASE.replace("seed: 1", "seed: 5"),
    ]
    ids = {load_study(write(tmp_path, text, f"c{i}.yaml")).plans[0].id for i, text in enumerate(changes)}
    assert base.id not in ids and len(ids) == len(changes)
    # What does not change the numbers leaves the id alone: the name, description, figures.
    same = BASE + "name: renamed\ndescription: other words\nreport: {figures: [{use: metric-bars, with: {metric: rmse}}]}\n"
    assert load_study(write(tmp_path, same, "same.yaml")).plans[0].id == base.id


def test_a_parameter_typo_inside_grid_entries_is_located_at_each_entry(tmp_path):
    text = BASE + ("grid:\n  model:\n    - {use: random-forest, with: {n_trees: 5}}\n"
                   "    - {use: random-forest, with: {n_trees: 9}}\n")
    found = problems(tmp_path, text)
    assert len(found) == 2
    lines = {line_of(text, "n_trees: 5"), line_of(text, "n_trees: 9")}
    assert {int(m.split(":")[1]) for m in found} == lines
    assert all("model 'random-forest' has no parameter 'n_trees'" in m and "n_estimators: int = 100" in m for m in found)


def test_a_grid_too_large_is_refused_before_any_cell_is_made(tmp_path):
    import time

    text = BASE + "repeats: 1000\ngrid:\n  train_size: [" + ", ".join(map(str, range(1, 1001))) + "]\n"
    started = time.perf_counter()
    found = problems(tmp_path, text)
    assert time.perf_counter() - started < 5
    assert any("the grid makes 1,000,000 cells, more than the limit of 10,000" in m and "--max-cells" in m for m in found)
