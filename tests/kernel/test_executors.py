"""Where cells run: the local executor (in-process and worker processes) and the Dask executor
give the same numbers; a crashing cell or worker loses only its own cell; hashing is pinned;
the kernel runs without torch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, make_distribution, run_cli, slow_study, start_run
from workbench.runner import RunOptions, Runner, sibling_groups
from workbench.study import load_study

DATA = REPO / "plugins" / "workbench_common" / "data" / "esol_descriptors.csv"
QUICK = REPO / "studies" / "quick" / "tabular.yaml"

FAULTY_PLUGIN = '''
import os
import sys

import numpy as np
from pydantic import Field

import workbench


class Faulty(workbench.Model):
    name = "faulty"
    summary = "A mean predictor that can crash its process, call sys.exit, or depend on set order."
    tasks = frozenset({"regression"})

    class Params(workbench.Params):
        fault: str = Field(default="none", description="none, kill (os._exit), exit (sys.exit) or set-order")

    def fit(self, train, context):
        y = np.asarray(train.targets[context.target], dtype=float)
        self.value_ = float(y.mean())
        if self.params.fault == "kill":
            os._exit(3)
        if self.params.fault == "exit":
            sys.exit(2)
        if self.params.fault == "set-order":
            # Iterating a set of strings: its order follows the process's string hashing.
            order = list({"alpha", "beta", "gamma", "delta", "epsilon", "zeta"})
            self.value_ += 0.001 * order.index("alpha")

    def predict(self, table):
        return np.full(len(table), self.value_)


class InThreads(workbench.Executor):
    name = "in-threads"
    summary = "Runs cells in threads of this process (as CONTRIBUTING's example executor)."

    class Params(workbench.Params):
        jobs: int = 2

    def run(self, tasks, sink, on_outcome):
        from concurrent.futures import ThreadPoolExecutor

        from workbench.cell import run_task

        with ThreadPoolExecutor(self.params.jobs) as pool:
            for outcomes in pool.map(lambda task: run_task(task, sink), tasks):
                for outcome in outcomes:
                    on_outcome(outcome)


@workbench.hookimpl
def register_models(register):
    register(Faulty)


@workbench.hookimpl
def register_executors(register):
    register(InThreads)
'''


@pytest.fixture
def faulty_site(tmp_path_factory, with_site):
    site = tmp_path_factory.mktemp("faulty-site")
    package = site / "src" / "wb_faulty"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FAULTY_PLUGIN)
    make_distribution(site / "lib", "wb-faulty", "0.1", {"faulty": "wb_faulty"}, [package])
    with_site(site / "lib")
    return site / "lib"


def faulty_study(tmp_path: Path, faults: list[str], repeats: int = 2) -> Path:
    path = tmp_path / "faulty.yaml"
    path.write_text(textwrap.dedent(f"""\
        seed: 3
        repeats: {repeats}
        dataset:
          use: csv-table
          with: {{path: {DATA}, targets: {{measured_log_solubility: regression}}}}
        model: faulty
        metrics: [rmse]
        grid:
          model.with.fault: {faults}
    """))
    return path


def test_a_worker_that_dies_fails_only_its_own_cells(tmp_path, faulty_site):
    study = faulty_study(tmp_path, ["none", "kill"], repeats=3)
    result = Runner(load_study(study), RunOptions(runs_root=tmp_path / "runs", jobs=2)).run()
    assert result.done == 3 and len(result.failed) == 3 and not result.interrupted
    plans = {p.id: p for p in load_study(study).plans}
    for cell_id, error in result.failed.items():
        assert plans[cell_id].coordinates["model.with.fault"] == "kill"
        assert "worker process running this cell died" in error
    results = pd.read_csv(result.run_dir / "results.csv")
    assert set(results["model.with.fault"]) == {"none"} and results["cell"].nunique() == 3


def test_a_component_calling_sys_exit_fails_its_cell_and_the_run_goes_on(tmp_path, faulty_site):
    study = faulty_study(tmp_path, ["exit", "none"])
    result = Runner(load_study(study), RunOptions(runs_root=tmp_path / "runs")).run()
    assert result.done == 2 and len(result.failed) == 2
    assert all("called sys.exit(2)" in error for error in result.failed.values())
    assert (result.run_dir / "results.csv").exists()


def test_string_hashing_is_pinned_in_the_cli_and_in_workers(tmp_path, faulty_site):
    study = faulty_study(tmp_path, ["set-order"], repeats=2)
    tables = []
    # "d": --jobs 2 skips the early re-execution, but this executor runs cells in the parent,
    # which therefore re-executes itself pinned once the executor is known.
    for name, extra, hash_seed in (("a", [], "123"), ("b", ["--jobs", "2"], "456"), ("c", [], "789"),
                                   ("d", ["--jobs", "2", "--executor", "in-threads"], "321")):
        run = run_cli("run", str(study), "--runs-root", str(tmp_path / name), "-q", *extra, env={"PYTHONHASHSEED": hash_seed})
        assert run.returncode == 0, run.stderr
        [run_dir] = list((tmp_path / name / "faulty").iterdir())
        tables.append((run_dir / "results.csv").read_bytes())
        assert '"hash_seed": "0"' in (run_dir / "environment.json").read_text()
    assert tables[0] == tables[1] == tables[2] == tables[3]


@pytest.mark.parametrize("args, jobs", [
    (["s.yaml"], 1), (["s.yaml", "--jobs", "2"], 2), (["s.yaml", "-j", "4", "-q"], 4), (["--jobs=3", "s.yaml"], 3),
    (["s.yaml", "--jobs"], 1), (["s.yaml", "--jobs", "two"], 1),
])
def test_the_cli_skips_its_hash_seed_reexecution_only_when_workers_run_the_cells(args, jobs):
    from workbench.cli import _jobs_requested

    assert _jobs_requested(args) == jobs


def test_sigterm_is_handled_like_ctrl_c(tmp_path, example_site, with_site):
    with_site(example_site)
    study = slow_study(tmp_path, delay=0.4, epochs=2, repeats=6, grid="")
    runs = tmp_path / "runs"
    process = start_run(study, runs)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(runs.glob("*/*/cells/*/result.json"))) < 1:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Interrupted." in err and "Traceback" not in err
    [run_dir] = list(runs.glob("*/*"))
    assert '"status": "interrupted"' in (run_dir / "manifest.json").read_text()
    assert (run_dir / "results.csv").exists()


def test_the_quick_tabular_study_runs_without_torch(tmp_path):
    """The kernel and the scikit-learn components need no torch: with torch made unimportable,
    the quick tabular study runs and every cell finishes."""
    script = textwrap.dedent(f"""\
        import sys

        class NoTorch:  # as if torch were not installed: any `import torch` raises ImportError
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError("No module named 'torch'")

        sys.meta_path.insert(0, NoTorch())
        sys.argv = ["workbench", "run", {str(QUICK)!r}, "--runs-root", {str(tmp_path / "runs")!r}, "-q"]
        from workbench.cli import main
        main()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONHASHSEED": "0", "COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "18/18 cells finished" in result.stdout


def test_sibling_cells_are_grouped_only_when_their_model_fits_them_together():
    study = load_study(REPO / "studies" / "quick" / "cifar100.yaml")
    groups = sibling_groups(study.plans)
    assert sorted(len(g) for g in groups) == [4, 4]  # per training size: two directions × two K
    for group in groups:
        assert len({p.seed for p in group}) == 1 and len({p.train_size for p in group}) == 1
    assert all(len(g) == 1 for g in sibling_groups(load_study(QUICK).plans))


def test_the_dask_executor_gives_the_sequential_numbers(tmp_path):
    pytest.importorskip("distributed")
    sequential = run_cli("run", str(QUICK), "--runs-root", str(tmp_path / "seq"), "-q")
    dask = run_cli("run", str(QUICK), "--runs-root", str(tmp_path / "dask"), "-q", "--executor", "dask", "--jobs", "2")
    assert sequential.returncode == 0 and dask.returncode == 0, dask.stdout + dask.stderr
    [a] = list((tmp_path / "seq" / "tabular").iterdir())
    [b] = list((tmp_path / "dask" / "tabular").iterdir())
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()
    assert '"use": "dask"' in (b / "environment.json").read_text()


def test_a_dask_worker_killed_mid_cell_loses_nothing_and_resume_finishes(tmp_path, example_site, with_site):
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("distributed")
    with_site(example_site)
    study = slow_study(tmp_path, delay=0.5, epochs=3, repeats=6, grid="")
    runs = tmp_path / "runs"
    process = start_run(study, runs, "--executor", "dask", "--jobs", "2")
    deadline = time.time() + 180
    killed = None
    while time.time() < deadline and killed is None:
        if list(runs.glob("*/*/cells/*/checkpoint.npz")):  # a cell is mid-fit on some worker
            # LocalCluster's workers are spawned children of the workbench process (not its
            # resource tracker).
            workers = [p for p in psutil.Process(process.pid).children(recursive=True)
                       if "spawn_main" in " ".join(p.cmdline()) and "resource_tracker" not in " ".join(p.cmdline())]
            if workers:
                killed = workers[0]
                killed.kill()
        time.sleep(0.05)
    out, err = process.communicate(timeout=300)
    assert killed is not None, err
    [run_dir] = list(runs.glob("*/*"))
    if process.returncode != 0:  # the cell was not rescheduled in time: resume finishes it
        resumed = run_cli("run", str(study), "--runs-root", str(runs), "--resume", "-q", "--executor", "dask", "--jobs", "2")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    results = pd.read_csv(run_dir / "results.csv")
    assert results["cell"].nunique() == 6
    fresh = run_cli("run", str(study), "--runs-root", str(tmp_path / "fresh"), "-q")
    assert fresh.returncode == 0
    [fresh_dir] = list((tmp_path / "fresh").glob("*/*"))
    pd.testing.assert_frame_equal(results, pd.read_csv(fresh_dir / "results.csv"))


def test_a_slurm_cluster_is_configured_with_pinned_hashing_and_the_users_options():
    pytest.importorskip("dask_jobqueue")
    from workbench_dask.executor import DaskExecutor

    executor = DaskExecutor({"cluster": "slurm", "jobs": 4, "cluster_options": {
        "cores": 4, "memory": "8GB", "walltime": "01:00:00", "queue": "short", "job_script_prologue": ["module load python"]}})
    cluster = executor._jobqueue_cluster(scale=False)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p short" in script and "#SBATCH -t 01:00:00" in script
    assert script.index("export PYTHONHASHSEED=0") < script.index("module load python")
