"""Studies composed the way Hydra users expect: command-line overrides, --grid sweeps,
``extends:`` and YAML merge keys, each validated with the place the value came from."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from conftest import ESOL_STUDY, REPO
from workbench import cli
from workbench.errors import StudyError
from workbench.study import load_study

DATA = REPO / "plugins" / "workbench_common" / "data" / "esol_descriptors.csv"
BASE = ESOL_STUDY.replace("model: linear", "model: {use: random-forest, with: {n_estimators: 10}}")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_overrides_set_values_with_yaml_types(tmp_path):
    study = load_study(write(tmp_path, "s.yaml", BASE), overrides=["model.with.n_estimators=200", "repeats=3", "model.with.max_depth=null"])
    assert len(study.plans) == 3
    assert study.plans[0].model.with_["n_estimators"] == 200 and study.plans[0].model.with_["max_depth"] is None
    assert study.overrides == ["model.with.n_estimators=200", "repeats=3", "model.with.max_depth=null"]


def test_an_override_can_swap_a_component_and_index_a_list(tmp_path):
    study = load_study(write(tmp_path, "s.yaml", BASE.replace("metrics: [rmse]", "metrics: [rmse, mae]")),
                       overrides=["model=linear", "metrics.1={use: r2, label: R2}"])
    [plan] = study.plans
    assert plan.model.use == "linear" and "n_estimators" not in plan.model.with_
    assert [m.display() for m in plan.metrics] == ["rmse", "R2"]


def test_a_bad_override_is_located_at_the_override(tmp_path):
    with pytest.raises(StudyError) as caught:
        load_study(write(tmp_path, "s.yaml", BASE), overrides=["model.with.n_trees=5"])
    [problem] = caught.value.problems
    assert "override 'model.with.n_trees=5'" in str(problem.location) and "has no parameter 'n_trees'" in problem.message
    with pytest.raises(StudyError, match="is not KEY=VALUE"):
        load_study(write(tmp_path, "s.yaml", BASE), overrides=["=3"])


def test_grid_adds_an_ad_hoc_sweep(tmp_path):
    study = load_study(write(tmp_path, "s.yaml", BASE), grid=["model.with.max_depth=2,4,8"])
    assert [p.model.with_["max_depth"] for p in study.plans] == [2, 4, 8]
    assert study.axes == ["model.with.max_depth", "replicate"]
    assert len({p.seed for p in study.plans}) == 1  # a model parameter: paired by default


def test_extends_merges_a_base_study_and_the_study_wins(tmp_path):
    write(tmp_path, "base.yaml", BASE + "repeats: 2\nname: base-name\ndescription: from the base\n")
    child = write(tmp_path, "child.yaml", """\
        extends: base.yaml
        model: {with: {n_estimators: 25}}
        description: from the child
    """)
    study = load_study(child)
    assert study.name == "child" and study.description == "from the child"
    assert len(study.plans) == 2 and study.plans[0].model.use == "random-forest"
    assert study.plans[0].model.with_["n_estimators"] == 25
    assert study.bases == [(tmp_path / "base.yaml").resolve()]
    # Another component replaces the base's instead of merging parameters into it.
    other = write(tmp_path, "other.yaml", "extends: base.yaml\nmodel: {use: linear}\n")
    assert load_study(other).plans[0].model.with_ == {"C": 1.0, "alpha": 0.0, "standardize": True, "max_iter": 2000}


def test_a_mistake_in_a_base_study_points_at_the_base_file(tmp_path):
    base = write(tmp_path, "base.yaml", BASE.replace("n_estimators: 10", "n_trees: 10"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nrepeats: 2\n")
    with pytest.raises(StudyError) as caught:
        load_study(child)
    [problem] = caught.value.problems
    assert problem.location.file == base and problem.location.line == 8


def test_extends_cycles_and_missing_bases_are_refused(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(StudyError, match="a cycle"):
        load_study(tmp_path / "a.yaml")
    with pytest.raises(StudyError, match="extends: nope.yaml: study file .* does not exist"):
        load_study(write(tmp_path, "c.yaml", "extends: nope.yaml\n"))


def test_yaml_merge_keys_work_and_the_mappings_own_keys_win(tmp_path):
    anchors = textwrap.dedent("""\
        grid:
          model:
            - &forest {use: random-forest, with: {n_estimators: 7}, label: seven}
            - {<<: *forest, with: {n_estimators: 9}, label: nine}
    """)
    study = load_study(write(tmp_path, "m.yaml", BASE + anchors))
    assert [p.model.with_["n_estimators"] for p in study.plans] == [7, 9]
    assert [p.coordinates["model"] for p in study.plans] == ["seven", "nine"]
    with pytest.raises(StudyError, match="key 'label' is given twice"):
        load_study(write(tmp_path, "dup.yaml", BASE + anchors.replace("label: nine}", "label: nine, label: ten}")))


def test_overrides_from_the_command_line_are_recorded_in_the_run(tmp_path):
    study = write(tmp_path, "s.yaml", BASE)
    result = CliRunner().invoke(cli.app, ["run", str(study), "model.with.n_estimators=5", "--grid", "model.with.max_depth=2,3",
                                          "--runs-root", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    [run_dir] = list((tmp_path / "runs" / "s").iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["overrides"] == ["model.with.n_estimators=5", "--grid model.with.max_depth=2,3"]
    assert manifest["axes"] == ["model.with.max_depth"]


def test_runs_lists_and_compare_tabulates_differing_settings(tmp_path):
    study = write(tmp_path, "s.yaml", BASE)
    for n in (5, 20):
        done = CliRunner().invoke(cli.app, ["run", str(study), f"model.with.n_estimators={n}", "repeats=2",
                                            "--runs-root", str(tmp_path / "runs"), "-q"])
        assert done.exit_code == 0, done.output
    listing = CliRunner().invoke(cli.app, ["runs", "--runs-root", str(tmp_path / "runs")], env={"COLUMNS": "300"})
    assert listing.exit_code == 0 and listing.output.count("/runs/s/") == 2
    out = tmp_path / "cmp.csv"
    compared = CliRunner().invoke(cli.app, ["compare", "s", "--runs-root", str(tmp_path / "runs"), "--csv", str(out)], env={"COLUMNS": "300"})
    assert compared.exit_code == 0, compared.output
    import pandas as pd

    table = pd.read_csv(out)
    assert "model.with.n_estimators" in table.columns and sorted(table["model.with.n_estimators"].unique()) == [5, 20]
    assert set(table["metric"]) == {"rmse"} and (table["n"] == 2).all()
    assert "overrides" in table.columns and "dataset.with.path" not in table.columns  # only what differs
    lonely = CliRunner().invoke(cli.app, ["compare", str(next((tmp_path / "runs" / "s").iterdir()))])
    assert lonely.exit_code == 2 and "at least two runs" in " ".join(lonely.output.split())


def test_an_override_that_a_grid_axis_shadows_is_refused(tmp_path):
    study = write(tmp_path, "s.yaml", BASE + "grid:\n  model: [linear, random-forest]\n")
    with pytest.raises(StudyError, match="changes nothing: the grid axis 'model' sets model in every cell"):
        load_study(study, overrides=["model.with.n_estimators=5"])
    assert len(load_study(study, overrides=["grid.model=[linear]"]).plans) == 1
