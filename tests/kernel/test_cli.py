"""The `workbench` command as a user meets it: exit codes, messages, listings, reports."""

from __future__ import annotations

import textwrap

import pandas as pd

from conftest import EXAMPLE_PLUGIN, REPO, make_distribution, run_cli
from workbench import __version__

QUICK = REPO / "studies" / "quick" / "tabular.yaml"
DATA = REPO / "plugins" / "workbench_common" / "data" / "esol_descriptors.csv"


def test_version_and_help():
    assert run_cli("--version").stdout.strip() == f"workbench {__version__}"
    top = run_cli("--help").stdout
    for command in ("run", "validate", "show", "plugins", "report"):
        assert command in top
    assert "--resume" in run_cli("run", "--help").stdout


def test_plugins_lists_every_kind_with_sources():
    out = run_cli("plugins").stdout
    for kind in ("datasets", "representations", "models", "curricula", "simulators", "metrics", "figures"):
        assert kind in out
    for name in ("csv-table", "raw", "concat", "linear", "random-forest", "gradient-boosting", "accuracy", "top-k-accuracy", "roc-auc", "mae", "rmse", "r2", "metric-curve"):
        assert name in out
    assert f"common (deml-workbench {__version__})" in out
    detailed = run_cli("plugins", "--params").stdout
    assert "n_estimators: int = 100" in detailed


def test_a_broken_plugin_is_listed_as_a_failure_and_the_cli_keeps_working(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "wb_needs_missing.py").write_text("import not_installed_library\n")
    make_distribution(site, "broken-thing", "2.0", {"broken": "wb_needs_missing"})
    result = run_cli("plugins", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0
    assert "failed to load" in result.stdout
    assert "broken (broken-thing 2.0): import failed: ModuleNotFoundError" in result.stdout
    assert "random-forest" in result.stdout
    assert run_cli("validate", str(QUICK), env={"PYTHONPATH": str(site)}).returncode == 0


def test_validate_accepts_good_studies_and_refuses_bad_ones_with_locations(tmp_path):
    good = run_cli("validate", str(QUICK))
    assert good.returncode == 0 and "18 cells" in good.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent(f"""\
        dataset:
          use: csv-table
          with: {{path: {DATA}, targets: {{measured_log_solubility: regression}}}}
        model: {{use: random-forest, with: {{n_trees: 3}}}}
        metrics: [rmse]
    """))
    result = run_cli("validate", str(QUICK), str(bad))
    assert result.returncode == 2
    column = "model: {use: random-forest, with: {n_trees: 3}}".index("n_trees") + 1
    assert f"{bad}:4:{column}: model 'random-forest' has no parameter 'n_trees'" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_refuses_an_invalid_study_before_running_anything(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: {use: csv-table\n")
    result = run_cli("run", str(bad), "--runs-root", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert "YAML syntax error" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_show_prints_the_resolved_study_and_its_cells():
    from workbench.study import load_study

    out = run_cli("show", str(QUICK), "--cells").stdout
    assert "standardize: true" in out and "test_fraction: 0.2" in out
    assert "18 cells" in out and "(varies with the grid)" in out and "model=forest:" in out
    plans = load_study(QUICK).plans
    assert all(plan.id in out for plan in plans)


def test_show_and_the_run_record_components_swapped_by_the_grid(tmp_path):
    study = tmp_path / "swap.yaml"
    study.write_text(textwrap.dedent(f"""        dataset:
          use: csv-table
          with: {{path: {DATA}, targets: {{measured_log_solubility: regression}}}}
        model: linear
        metrics: [rmse]
        grid:
          model: [{{use: random-forest, with: {{n_estimators: 10}}}}, linear]
    """))
    out = run_cli("show", str(study)).stdout
    forest = out[out.index("model=random-forest"):]
    assert "use: random-forest" in forest and "n_estimators: 10" in forest
    linear = out[out.index("model=linear:"):]
    assert "use: linear" in linear.split("model=random")[0] and "n_estimators" not in linear.split("metrics:")[0]
    run = run_cli("run", str(study), "--runs-root", str(tmp_path / "runs"), "-q")
    assert run.returncode == 0, run.stderr
    [run_dir] = list((tmp_path / "runs" / "swap").iterdir())
    checked = run_cli("validate", str(run_dir / "resolved.yaml"))
    assert checked.returncode == 0 and "2 cells" in checked.stdout, checked.stderr


def test_report_rerenders_a_finished_run(tmp_path):
    run = run_cli("run", str(QUICK), "--runs-root", str(tmp_path / "runs"), "-q")
    assert run.returncode == 0, run.stderr
    [run_dir] = list((tmp_path / "runs" / "tabular").iterdir())
    for figure in (run_dir / "figures").glob("*.png"):
        figure.unlink()
    report = run_cli("report", str(run_dir))
    assert report.returncode == 0, report.stderr
    assert "rmse" in report.stdout and "forest" in report.stdout
    assert len(list((run_dir / "figures").glob("*.png"))) == 2
    missing = run_cli("report", str(tmp_path))
    assert missing.returncode == 2 and "is not a run directory" in missing.stderr


def test_a_third_party_plugin_works_exactly_like_a_builtin(tmp_path, example_site):
    env = {"PYTHONPATH": str(example_site)}
    listing = run_cli("plugins", env=env).stdout
    assert "mean-predictor" in listing and "example (workbench-example-plugin 0.1.0)" in listing
    assert "max-error" in listing
    result = run_cli("run", str(EXAMPLE_PLUGIN / "study.yaml"), "--runs-root", str(tmp_path / "runs"), "-q", env=env)
    assert result.returncode == 0, result.stderr
    [run_dir] = list((tmp_path / "runs" / "study").iterdir())
    results = pd.read_csv(run_dir / "results.csv")
    rmse = results[results.metric == "rmse"].groupby("model")["value"].mean()
    # the mean baseline knows nothing about the molecules, so the linear model must beat it
    assert rmse["linear"] < rmse["mean-predictor"]
    assert (results[results.metric == "max-error"]["value"] > 0).all()
    missing_plugin = run_cli("validate", str(EXAMPLE_PLUGIN / "study.yaml"))
    assert missing_plugin.returncode == 2 and "model 'mean-predictor' is not registered" in missing_plugin.stderr


def test_missing_data_is_a_message_not_a_traceback(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text("dataset: {use: csv-table, with: {path: no/such.csv, targets: {y: regression}}}\nmodel: linear\nmetrics: [rmse]\n")
    result = run_cli("run", str(study), "--runs-root", str(tmp_path / "runs"), "-q")
    assert result.returncode == 1
    assert "no/such.csv does not exist" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
