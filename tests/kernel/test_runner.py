"""Runs are reproducible, resumable after Ctrl-C or a crash, and keep going past a failed cell."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd

from conftest import REPO, run_cli, slow_study
from workbench.runner import RunOptions, Runner
from workbench.study import load_study

DATA = REPO / "plugins" / "workbench_common" / "data" / "esol_descriptors.csv"
QUICK = REPO / "studies" / "quick" / "tabular.yaml"


def run_study(path: Path, runs: Path, **options) -> "RunResult":  # noqa: F821
    return Runner(load_study(path), RunOptions(runs_root=runs, **options)).run()


def test_the_quick_study_runs_and_writes_a_complete_run_directory(tmp_path):
    result = run_study(QUICK, tmp_path / "runs")
    assert result.ok and result.done == result.total == 18
    run = result.run_dir
    for name in ("study.yaml", "resolved.yaml", "manifest.json", "environment.json", "run.log", "results.csv", "summary.csv", "summary.json"):
        assert (run / name).exists(), name
    assert sorted(p.name for p in (run / "figures").glob("*.png")) == ["r2-bars.png", "rmse-vs-size.png"]
    results = pd.read_csv(run / "results.csv", keep_default_na=False)
    assert list(results.columns) == ["cell", "model", "train_size", "replicate", "seed", "evaluation", "metric", "step_name", "step", "value", "n"]
    assert set(results["evaluation"]) == {"validation", "test"}
    # One fixed test set for every training-set size: n is the same in every test row.
    assert set(results.loc[results.evaluation == "test", "n"]) == {226}
    forest = results[(results.model == "forest") & (results.train_size == 700) & (results.metric == "r2") & (results.evaluation == "test")]
    assert len(forest) == 3 and forest["value"].min() > 0.6  # a forest explains most of logS from 6 descriptors
    environment = json.loads((run / "environment.json").read_text())
    assert environment["packages"]["numpy"] and environment["plugins"]


def test_two_runs_with_the_same_seed_give_identical_results_tables(tmp_path):
    first = run_study(QUICK, tmp_path / "a")
    second = run_study(QUICK, tmp_path / "b")
    assert (first.run_dir / "results.csv").read_bytes() == (second.run_dir / "results.csv").read_bytes()


def test_the_process_pool_gives_the_same_numbers_as_sequential(tmp_path):
    sequential = run_study(QUICK, tmp_path / "seq")
    pooled = run_study(QUICK, tmp_path / "pool", jobs=2)
    assert pooled.ok
    a = pd.read_csv(sequential.run_dir / "results.csv")
    b = pd.read_csv(pooled.run_dir / "results.csv")
    pd.testing.assert_frame_equal(a, b)


def test_resume_recomputes_only_unfinished_cells(tmp_path):
    first = run_study(QUICK, tmp_path / "runs")
    results = sorted((first.run_dir / "cells").glob("*/result.json"))
    stamps = {p: p.stat().st_mtime_ns for p in results}
    results[4].unlink()
    resumed = Runner(load_study(QUICK), RunOptions(runs_root=tmp_path / "runs", resume=True)).run()
    assert resumed.run_dir == first.run_dir
    assert resumed.skipped == 17 and resumed.done == 18
    for path, stamp in stamps.items():
        if path != results[4]:
            assert path.stat().st_mtime_ns == stamp
    assert (first.run_dir / "results.csv").exists()


def test_ctrl_c_keeps_finished_cells_and_resume_finishes_the_run(tmp_path, example_site, with_site):
    with_site(example_site)
    study = slow_study(tmp_path)
    runs = tmp_path / "runs"
    process = subprocess.Popen([sys.executable, "-m", "workbench", "run", str(study), "--runs-root", str(runs), "-q"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(runs.glob("*/*/cells/*/result.json"))) < 2:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Interrupted." in err and "--resume" in err
    finished = list(runs.glob("*/*/cells/*/result.json"))
    assert 2 <= len(finished) < 6
    stamps = {p: p.stat().st_mtime_ns for p in finished}
    run_dir = finished[0].parents[2]
    partial = pd.read_csv(run_dir / "results.csv")
    assert partial["cell"].nunique() == len(finished)

    resumed = run_cli("run", str(study), "--runs-root", str(runs), "--resume", "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(finished)} already finished" in resumed.stdout
    assert all(p.stat().st_mtime_ns == s for p, s in stamps.items())
    complete = pd.read_csv(run_dir / "results.csv")
    assert complete["cell"].nunique() == 6

    fresh = run_study(study, tmp_path / "fresh")
    pd.testing.assert_frame_equal(complete, pd.read_csv(fresh.run_dir / "results.csv"))


def test_a_cell_killed_mid_fit_resumes_from_its_checkpoint(tmp_path, example_site, with_site):
    with_site(example_site)
    study = slow_study(tmp_path, delay=0.5, epochs=6, repeats=1)
    runs = tmp_path / "runs"
    process = subprocess.Popen([sys.executable, "-m", "workbench", "run", str(study), "--runs-root", str(runs), "-q"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    checkpoint = None
    while time.time() < deadline and checkpoint is None:
        found = list(runs.glob("*/*/cells/*/checkpoint.npz"))
        checkpoint = found[0] if found else None
        time.sleep(0.05)
    time.sleep(0.6)
    process.kill()  # no clean-up at all, as in a crash
    process.wait()
    assert checkpoint is not None and checkpoint.exists()
    assert not (checkpoint.parent / "result.json").exists()

    resumed = Runner(load_study(study), RunOptions(runs_root=runs, resume=True)).run()
    assert resumed.ok
    rows = json.loads((checkpoint.parent / "result.json").read_text())["rows"]
    epochs = sorted(r["step"] for r in rows if r["metric"] == "epochs-run")
    assert epochs == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # each epoch exactly once across the crash
    assert not checkpoint.exists()


def test_epoch_tracking_scores_metrics_after_every_epoch(tmp_path, example_site, with_site):
    with_site(example_site)
    study = slow_study(tmp_path, delay=0, epochs=3, repeats=1, extra="track_epochs: true")
    result = run_study(study, tmp_path / "runs")
    results = pd.read_csv(result.run_dir / "results.csv")
    results["step_name"] = results["step_name"].fillna("")
    tracked = results[(results.step_name == "epoch") & (results.metric == "rmse")]
    assert sorted(tracked["step"].unique()) == [0.0, 1.0, 2.0]
    final = results[(results.step_name == "") & (results.metric == "rmse")].set_index("cell")["value"]
    last = tracked[tracked.step == 2].set_index("cell")["value"]
    pd.testing.assert_series_equal(final.sort_index(), last.sort_index(), check_names=False)


def test_a_failing_cell_is_reported_and_the_others_finish(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(textwrap.dedent(f"""\
        dataset:
          use: csv-table
          with: {{path: {DATA}, targets: {{measured_log_solubility: regression}}}}
        model: linear
        metrics: [rmse]
        grid:
          train_size: [100, 100000]
    """))
    result = run_study(path, tmp_path / "runs")
    assert result.done == 1 and len(result.failed) == 1
    [message] = result.failed.values()
    assert "train_size 100000 exceeds the" in message
    cli = run_cli("run", str(path), "--runs-root", str(tmp_path / "cli-runs"), "-q")
    assert cli.returncode == 1
    assert "train_size 100000 exceeds" in cli.stdout + cli.stderr


def test_the_dataset_knows_the_target_before_it_loads(tmp_path):
    """A dataset (or representation) may build features from every label except the predicted
    one, so the cell's target must be set before ``load`` and ``fit`` run."""
    import numpy as np

    from workbench import Bundle, Dataset, Representation, Table, TargetInfo, get_registry, registry

    seen: dict[str, object] = {}

    class TwoLabels(Dataset):
        name = "two-labels"
        summary = "Two regression labels."

        def describe_targets(self):
            return {"a": TargetInfo("regression"), "b": TargetInfo("regression")}

        def load(self, context):
            seen["load"] = (context.target, sorted(context.targets))
            rng = np.random.default_rng(0)
            x = rng.normal(size=(60, 2))
            table = Table(x, {"a": x[:, 0], "b": x[:, 1]})
            return Bundle(train=table.take(range(40)), evaluations={"test": table.take(range(40, 60))},
                          targets=self.describe_targets())

    class Recorder(Representation):
        name = "target-recorder"
        summary = "Passes inputs through, noting the target it was fitted for."

        def fit(self, train, context):
            seen["fit"] = context.target

        def transform(self, table, context):
            return np.asarray(table.inputs)

    registry.reset_registry()
    try:
        get_registry().add(TwoLabels, "dataset", "tests", "tests")
        get_registry().add(Recorder, "representation", "tests", "tests")
        assert not get_registry().failures
        path = tmp_path / "target.yaml"
        path.write_text("dataset: two-labels\ntarget: b\nrepresentation: target-recorder\nmodel: linear\nmetrics: [r2]\n")
        result = run_study(path, tmp_path / "runs")
    finally:
        registry.reset_registry()
    assert result.ok
    assert seen == {"load": ("b", ["a", "b"]), "fit": "b"}
