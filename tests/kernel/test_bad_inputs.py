"""A corpus of bad inputs and faults, as a careless or hostile user would bring them.

Every case runs the real command line (in this process, for speed) and asserts: the exit code,
no traceback (no exception escaped the command), and a message naming where the problem is
(file:line, or file / line / column / value) and what is allowed or how to fix it. Cases that
damage a run or a cache also check that nothing finished was lost.
"""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ESOL_STUDY, REPO
from workbench import cli

DATA = REPO / "plugins" / "workbench_common" / "data" / "esol_descriptors.csv"
GOOD = ESOL_STUDY
SMALL_CSV = "x1,x2,y,label\n1.0,2.0,0.5,a\n2.0,1.0,1.5,b\n3.0,0.5,2.5,a\n4.0,3.0,3.5,b\n5.0,2.5,4.5,a\n6.0,1.5,5.5,b\n"


@dataclass
class Case:
    id: str
    study: str | bytes | None = None
    """The study file's content (None: no file is written)."""
    args: list[str] = field(default_factory=lambda: ["validate", "{study}"])
    code: int = 2
    expect: tuple[str, ...] = ()
    """Substrings the output must contain; ``{study}`` and ``{tmp}`` are filled in."""
    line: int | None = None
    """The study file line the message must point at."""
    csv: str | bytes | None = None
    """Content of ``{tmp}/data.csv``, referred to by the study as DATA_CSV."""


def study_with(*replacements: tuple[str, str], extra: str = "") -> str:
    text = GOOD
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text + extra


CSV_STUDY = textwrap.dedent("""\
    dataset:
      use: csv-table
      with: {path: DATA_CSV, targets: {y: regression}, test_fraction: 0.34}
    model: linear
    metrics: [rmse]
""")

CASES = [
    # -- the study file itself ----------------------------------------------------------------
    Case("missing-file", None, expect=("does not exist", "Check the path")),
    Case("directory", None, args=["validate", "{tmp}"], expect=("is a directory, not a study file",)),
    Case("empty-file", "", expect=("a study file is a mapping",)),
    Case("bad-indentation", "dataset:\n  use: csv-table\n with: {}\n", expect=("YAML syntax error", "Check indentation"), line=3),
    Case("unclosed-bracket", "metrics: [rmse\nmodel: linear\n", expect=("YAML syntax error",)),
    Case("duplicate-key", GOOD + "model: random-forest\n", expect=("key 'model' is given twice", "Keep one"), line=10),
    Case("top-level-list", "- dataset: x\n- model: y\n", expect=("a study file is a mapping",), line=1),
    Case("not-utf8", b"seed: 1\nname: caf\xe9\n", expect=("not UTF-8", "Save the file as UTF-8"), line=2),
    Case("alias-bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8)),
        expect=("expands to more than", "aliases")),
    Case("deep-nesting", "x: " + "[" * 300 + "]" * 300 + "\n", expect=("nested",)),
    Case("python-name-tag", GOOD + "evil: !!python/name:os.system\n", expect=("unsupported YAML", "no tags"), line=10),
    Case("python-object-tag", GOOD + "evil: !!python/object/apply:os.system [echo pwned]\n", expect=("unsupported YAML", "no tags")),
    Case("unknown-top-key", GOOD.replace("model: linear", "modle: linear"),
         expect=("unknown key 'modle'", "did you mean 'model'"), line=8),
    Case("unknown-dataset", study_with(("use: csv-table", "use: csv-tabel")),
         expect=("dataset 'csv-tabel' is not registered", "Did you mean 'csv-table'", "workbench plugins"), line=3),
    Case("unknown-model", study_with(("model: linear", "model: random-forrest")),
         expect=("model 'random-forrest' is not registered", "Did you mean 'random-forest'"), line=8),
    Case("unknown-metric", study_with(("metrics: [rmse]", "metrics: [rsme]")), expect=("metric 'rsme' is not registered",), line=9),
    Case("unknown-parameter", study_with(("model: linear", "model: {use: random-forest, with: {n_trees: 3}}")),
         expect=("model 'random-forest' has no parameter 'n_trees'", "n_estimators: int = 100"), line=8),
    Case("wrong-type", study_with(("model: linear", "model: {use: random-forest, with: {n_estimators: many}}")),
         expect=("n_estimators: Input should be a valid integer", "got 'many'"), line=8),
    Case("out-of-range", study_with(("model: linear", "model: {use: random-forest, with: {n_estimators: 0}}")),
         expect=("greater than or equal to 1",), line=8),
    Case("missing-model", GOOD.replace("model: linear\n", ""), expect=("model is required but missing",)),
    Case("missing-metrics", GOOD.replace("metrics: [rmse]\n", ""), expect=("metrics is required but missing",)),
    Case("empty-metrics", study_with(("metrics: [rmse]", "metrics: []")), expect=("metrics: List should have at least 1 item",), line=9),
    Case("repeats-zero", GOOD + "repeats: 0\n", expect=("repeats", "greater than or equal to 1"), line=10),
    Case("repeats-huge", GOOD + "repeats: 100000000000000000000\n", expect=("repeats", "less than or equal to 10000"), line=10),
    Case("repeats-float-text", GOOD + "repeats: 1e20\n", expect=("repeats", "valid integer", "got '1e20'"), line=10),
    Case("seed-negative", study_with(("seed: 1", "seed: -1")), expect=("seed", "greater than or equal to 0"), line=1),
    Case("seed-huge", study_with(("seed: 1", "seed: 1000000000000000000000000000000")), expect=("seed", "less than or equal to"), line=1),
    Case("train-size-zero", GOOD + "train_size: 0\n", expect=("train_size", "greater than or equal to 1"), line=10),
    Case("target-not-provided", study_with(("target: measured_log_solubility", "target: solubility")),
         expect=("target 'solubility' is not provided", "Its targets: measured_log_solubility (regression)"), line=7),
    Case("metric-wrong-task", study_with(("metrics: [rmse]", "metrics: [accuracy]")),
         expect=("metric 'accuracy' does not apply to target 'measured_log_solubility'", "It applies to: classification"), line=9),
    Case("model-wrong-task", study_with(("model: linear", "model: hierarchical-mlp")),
         expect=("model 'hierarchical-mlp' cannot fit target 'measured_log_solubility'", "It fits: classification"), line=8),
    Case("curriculum-not-understood", GOOD + "curriculum: uniform-windows\n",
         expect=("does not understand curriculum 'uniform-windows'", "Curriculum interfaces it understands"), line=10),
    Case("needs-simulator", "dataset: wavepacket-windows\nmodel: gru-emulator\nmetrics: [mae]\n",
         expect=("needs a simulator", "Registered simulators: ssm"), line=1),
    Case("label-leak", study_with(("target: measured_log_solubility", "target: soluble"), ("metrics: [rmse]", "metrics: [roc-auc]"),
                                  extra="representation: {use: raw, with: {add_targets: [soluble]}}\n"),
         expect=("was built from label(s) 'soluble'", "the label would leak"), line=10),
    Case("nested-unknown", GOOD + "representation: {use: concat, with: {parts: [raw, rwa]}}\n",
         expect=("representation 'rwa' is not registered", "Did you mean 'raw'"), line=10),
    # -- the grid --------------------------------------------------------------------------------
    Case("grid-unknown-head", GOOD + "grid:\n  modle.with.C: [1, 2]\n", expect=("'modle' is not a study key that can vary",), line=11),
    Case("grid-replicate", GOOD + "grid:\n  replicate: [0, 1]\n", expect=("set `repeats: N` instead",), line=11),
    Case("grid-without-with", GOOD + "grid:\n  model.C: [1, 2]\n", expect=("parameters live under 'with'", "model.with.C"), line=11),
    Case("grid-not-a-list", GOOD + "grid:\n  train_size: 100\n", expect=("needs a non-empty list",), line=11),
    Case("grid-empty-list", GOOD + "grid:\n  train_size: []\n", expect=("needs a non-empty list",), line=11),
    Case("grid-zip-lengths", GOOD + "grid:\n  zip:\n    - train_size: [10, 20]\n      model.with.C: [1.0]\n",
         expect=("zipped axes must have equal lengths",)),
    Case("grid-too-large", GOOD + "repeats: 1000\ngrid:\n  train_size: [" + ", ".join(map(str, range(1, 101))) + "]\n",
         expect=("the grid makes 100,000 cells", "--max-cells")),
    Case("grid-typo-in-entry", GOOD + "grid:\n  model:\n    - linear\n    - {use: random-forest, with: {n_trees: 9}}\n",
         expect=("has no parameter 'n_trees'",), line=13),
    Case("grid-bad-value-type", GOOD + "grid:\n  train_size: [100, lots]\n", expect=("train_size", "valid integer", "got 'lots'"), line=11),
    Case("seed-axes-unknown", GOOD + "seed_axes: [model]\n", expect=("seed_axes: 'model' is not a grid axis",), line=10),
    Case("group-by-unknown", GOOD + "report: {group_by: [model]}\n", expect=("report.group_by: 'model' is not a grid axis",), line=10),
    Case("compare-unknown", GOOD + "report: {compare: model}\n", expect=("report.compare: 'model' is not a grid axis",), line=10),
    Case("figure-unknown", GOOD + "report: {figures: [{use: metric-bar}]}\n", expect=("figure 'metric-bar' is not registered",), line=10),
    Case("figure-bad-parameter", GOOD + "report: {figures: [{use: metric-bars, with: {metrics: rmse}}]}\n",
         expect=("figure 'metric-bars' has no parameter 'metrics'",), line=10),
    Case("executor-unknown", GOOD + "execution: {use: slurm}\n", expect=("executor 'slurm' is not registered", "Registered executors"), line=10),
    Case("executor-bad-option", GOOD + "execution: {use: local, with: {workers: 2}}\n", expect=("executor 'local' has no parameter 'workers'",), line=10),
    # -- the command line ------------------------------------------------------------------------
    Case("name-with-slashes", study_with(extra="name: ../../escape\n"), args=["run", "{study}", "--runs-root", "{tmp}/runs", "-q"],
         expect=("cannot name a run directory", "no slashes")),
    Case("name-absolute", study_with(extra="name: /tmp/escape\n"), args=["run", "{study}", "--runs-root", "{tmp}/runs", "-q"],
         expect=("cannot name a run directory",)),
    Case("cli-executor-unknown", GOOD, args=["run", "{study}", "--executor", "slurmm", "--runs-root", "{tmp}/runs"],
         expect=("executor 'slurmm' is not registered", "Registered executors"), code=2),
    Case("cli-executor-option-syntax", GOOD, args=["run", "{study}", "-E", "jobs2", "--runs-root", "{tmp}/runs"],
         expect=("write KEY=VALUE",)),
    Case("cli-executor-option-unknown", GOOD, args=["run", "{study}", "-E", "workers=2", "--runs-root", "{tmp}/runs"],
         expect=("executor 'local'", "workers", "Its options", "jobs: int = 1")),
    Case("cli-scheduler-with-local", GOOD, args=["run", "{study}", "--executor", "local", "--scheduler", "tcp://x:1"],
         expect=("--scheduler is an option of the dask executor",)),
    Case("cli-jobs-zero", GOOD, args=["run", "{study}", "--jobs", "0"], expect=("--jobs",)),
    Case("cli-resume-nothing", GOOD, args=["run", "{study}", "--resume", "--runs-root", "{tmp}/runs"],
         expect=("--resume: there is no earlier run", "Run without --resume")),
    Case("cli-resume-run-dir-nothing", GOOD, args=["run", "{study}", "--resume", "--run-dir", "{tmp}/nothing"],
         expect=("holds no run to resume",)),
    Case("cli-max-cells", GOOD + "repeats: 20\n", args=["validate", "{study}", "--max-cells", "10"],
         expect=("the grid makes 20 cells, more than the limit of 10",)),
    Case("report-not-a-run", None, args=["report", "{tmp}"], expect=("is not a run directory",)),
    # -- data files --------------------------------------------------------------------------------
    Case("csv-missing", CSV_STUDY, args=["run", "{study}", "--runs-root", "{tmp}/runs", "-q"], code=1,
         expect=("csv-table:", "does not exist", "Fix `path`")),
    Case("csv-non-numeric-feature", CSV_STUDY, csv=SMALL_CSV.replace("3.0,0.5", "3.0,oops"), code=1,
         args=["run", "{study}", "--runs-root", "{tmp}/runs", "-q"], expect=("line 4, column 'x2'", "'oops' is not a number")),
    Case("csv-non-numeric-target", CSV_STUDY, csv=SMALL_CSV.replace("2.5,a", "n/a-ish,a"), code=1,
         args=["run", "{study}", "--runs-root", "{tmp}/runs", "-q"], expect=("column 'y'", "'n/a-ish' is not a number")),
    Case("csv-empty-feature", CSV_STUDY, csv=SMALL_CSV.replace("4.0,3.0", "4.0,"), code=1,
         args=["run", "{study}", "--runs-root", "{tmp}/runs", "-q"], expect=("'x2': 1 empty or infinite (lines 5)", "Fill them in")),
    Case("csv-garbage", CSV_STUDY, csv=b"\x00\x01\x02\xff\xfe binary \x00", code=1,
         args=["run", "{study}", "--runs-root", "{tmp}/runs", "-q"], expect=("csv-table:",)),
    Case("csv-wrong-checksum", CSV_STUDY.replace("test_fraction: 0.34}", "test_fraction: 0.34, sha256: " + "a" * 64 + "}"),
         csv=SMALL_CSV, code=1, args=["run", "{study}", "--runs-root", "{tmp}/runs", "-q"],
         expect=("does not have the expected sha256 checksum", "expected aaaaaa", "found ")),
    Case("csv-missing-column", CSV_STUDY.replace("targets: {y: regression}", "targets: {z: regression}"), csv=SMALL_CSV, code=1,
         args=["run", "{study}", "--runs-root", "{tmp}/runs", "-q"], expect=("has no column(s) ['z']", "its columns are")),
    Case("data-dir-missing-dataset", "dataset: esol\nmodel: linear\nmetrics: [rmse]\n", code=1,
         args=["run", "{study}", "--runs-root", "{tmp}/runs", "--data-dir", "{tmp}/empty-data", "-q"],
         expect=("dataset was not found", "Looked in")),
]


def run(args: list[str]):
    saved = dict(os.environ)  # --cache-dir / --data-dir set the environment for workers; keep tests apart
    try:
        result = CliRunner().invoke(cli.app, args)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    exception = result.exception
    if exception is not None and not isinstance(exception, SystemExit):
        raise AssertionError(f"an exception escaped the command: {exception!r}\n{result.output}") from exception
    return result


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_bad_input_is_refused_with_a_located_message(case: Case, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "empty-data").mkdir()
    study = tmp_path / "study.yaml"
    if case.csv is not None:
        data = tmp_path / "data.csv"
        data.write_bytes(case.csv if isinstance(case.csv, bytes) else case.csv.encode())
    if case.study is not None:
        content = case.study if isinstance(case.study, bytes) else case.study.replace("DATA_CSV", str(tmp_path / "data.csv")).encode()
        study.write_bytes(content)
    args = [a.replace("{study}", str(study)).replace("{tmp}", str(tmp_path)) for a in case.args]
    result = run(args)
    output = " ".join(result.output.split())  # rich wraps long lines
    assert result.exit_code == case.code, result.output
    assert "Traceback" not in result.output
    for expected in case.expect:
        assert " ".join(expected.split()) in output, f"{expected!r} not in:\n{result.output}"
    if case.line is not None:
        assert f"{study}:{case.line}:" in output, result.output


def test_the_corpus_has_at_least_sixty_cases():
    assert len(CASES) >= 60


# -- faults in run and cache directories: nothing finished is lost -------------------------------


QUICK_STUDY = GOOD + "repeats: 3\n"


def _run_quick(tmp_path: Path, *extra: str):
    study = tmp_path / "study.yaml"
    study.write_text(QUICK_STUDY)
    return run(["run", str(study), "--runs-root", str(tmp_path / "runs"), "-q", *extra]), study


def test_a_truncated_result_is_recomputed_and_the_others_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    first, _ = _run_quick(tmp_path)
    assert first.exit_code == 0
    results = sorted((tmp_path / "runs").glob("*/*/cells/*/result.json"))
    kept = {p: p.read_bytes() for p in results[1:]}
    results[0].write_text(results[0].read_text()[:40])  # truncated mid-write by a crash or a copy
    report = run(["report", str(results[0].parents[2])])
    assert report.exit_code == 0 and "Traceback" not in report.output
    resumed, _ = _run_quick(tmp_path, "--resume")
    assert resumed.exit_code == 0 and "2 already finished" in resumed.output
    assert json.loads(results[0].read_text())["rows"]
    assert all(p.read_bytes() == content for p, content in kept.items())
    assert (results[0].parent / "result.json.damaged").exists()


def test_a_planted_checkpoint_never_runs_code(tmp_path, monkeypatch):
    import pickle

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    study = tmp_path / "study.yaml"
    study.write_text(QUICK_STUDY)
    from workbench.study import load_study

    plans = load_study(study).plans
    run_dir = tmp_path / "runs" / "study" / "planted"
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for plan in plans:
        cell = run_dir / "cells" / plan.id
        cell.mkdir(parents=True)
        (cell / "checkpoint.npz").write_bytes(pickle.dumps(Exploit()))
        (cell / "checkpoint.pt").write_bytes(pickle.dumps(Exploit()))
    result = run(["run", str(study), "--run-dir", str(run_dir), "-q"])
    assert result.exit_code == 0, result.output
    assert not marker.exists()


def test_unwritable_runs_root_and_cache_are_refused_with_the_fix(tmp_path):
    # A read-only directory (as a user) or a file standing where a directory must be (any user,
    # root included) cannot hold runs or a cache.
    locked = tmp_path / "locked"
    if os.geteuid() == 0:
        locked.write_text("a file, not a directory\n")
    else:
        locked.mkdir()
        locked.chmod(0o500)
    try:
        study = tmp_path / "study.yaml"
        study.write_text(GOOD)
        runs = run(["run", str(study), "--runs-root", str(locked / "runs"), "-q"])
        text = " ".join(runs.output.split())
        assert runs.exit_code == 2 and "cannot create the run directory" in text and "--runs-root" in text
        cache = run(["run", str(study), "--runs-root", str(tmp_path / "runs"), "--cache-dir", str(locked / "cache"), "-q"])
        text = " ".join(cache.output.split())
        assert cache.exit_code == 2 and "is not writable" in text and "--cache-dir" in text
    finally:
        if locked.is_dir():
            locked.chmod(0o700)


def test_results_follow_the_umask(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    first, _ = _run_quick(tmp_path)
    assert first.exit_code == 0
    [result] = list((tmp_path / "runs").glob("*/*/cells/*/result.json"))[:1]
    from workbench.atomic import current_umask

    assert result.stat().st_mode & 0o777 == 0o666 & ~current_umask()
