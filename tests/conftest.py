"""Shared test set-up: an isolated cache, no downloads, the real data directory when present,
and the example third-party plugin installed through a real entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGIN = REPO / "tests" / "example_plugin"
ESOL_DESCRIPTORS = REPO / "plugins" / "workbench_common" / "data" / "esol_descriptors.csv"

ESOL_STUDY = f"""\
seed: 1
dataset:
  use: csv-table
  with:
    path: {ESOL_DESCRIPTORS}
    targets: {{measured_log_solubility: regression, soluble: classification}}
target: measured_log_solubility
model: linear
metrics: [rmse]
"""
"""The small real study most kernel tests start from (line numbers matter to some of them)."""


def slow_study(tmp_path: Path, delay: float = 0.4, epochs: int = 3, repeats: int = 3, extra: str = "",
               grid: str = "grid:\n  train_size: [200, 400]\n") -> Path:
    """A study of the example plugin's mean-predictor that sleeps per epoch (to interrupt it)."""
    import textwrap

    path = tmp_path / "slow.yaml"
    path.write_text(textwrap.dedent(f"""\
        seed: 9
        repeats: {repeats}
        dataset:
          use: csv-table
          with: {{path: {ESOL_DESCRIPTORS}, targets: {{measured_log_solubility: regression}}}}
        model: {{use: mean-predictor, with: {{delay_seconds: {delay}, epochs: {epochs}}}}}
        metrics: [rmse, mae]
    """) + grid + extra + "\n")
    return path


def start_run(study: Path, runs: Path, *extra: str) -> subprocess.Popen:
    """``workbench run`` in the background, to interrupt or kill while it works."""
    return subprocess.Popen([sys.executable, "-m", "workbench", "run", str(study), "--runs-root", str(runs), "-q", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def shared_data_dir() -> Path | None:
    """The real data sets: $WORKBENCH_DATA_DIR, else ../shared/data beside the repository."""
    candidates = [os.environ.get("WORKBENCH_DATA_DIR"), REPO.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate).resolve()
    return None


DATA_DIR = shared_data_dir()


def pytest_configure(config):
    os.environ["WORKBENCH_OFFLINE"] = "1"  # tests never download
    os.environ.setdefault("MPLBACKEND", "Agg")
    if DATA_DIR is not None:
        os.environ["WORKBENCH_DATA_DIR"] = str(DATA_DIR)


def pytest_collection_modifyitems(config, items):
    reason = None
    if DATA_DIR is None:
        reason = "needs the real data sets: set WORKBENCH_DATA_DIR or put shared/data beside the repository"
    elif os.environ.get("WORKBENCH_SKIP_SLOW"):
        reason = "WORKBENCH_SKIP_SLOW is set"
    if reason:
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("workbench-cache")
    os.environ["WORKBENCH_CACHE_DIR"] = str(cache)
    return cache


@pytest.fixture
def data_dir() -> Path:
    if DATA_DIR is None:
        pytest.skip("needs the real data sets (WORKBENCH_DATA_DIR)")
    return DATA_DIR


def make_distribution(site: Path, name: str, version: str, entry_points: dict[str, str], packages: list[Path] = ()) -> Path:
    """Install a distribution the way pip leaves it on disk: its packages and a .dist-info with
    METADATA and entry_points.txt, so importlib.metadata finds its entry points."""
    site.mkdir(parents=True, exist_ok=True)
    for package in packages:
        shutil.copytree(package, site / package.name, dirs_exist_ok=True)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "\n".join(f"{ep} = {target}" for ep, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[workbench.plugins]\n{lines}\n")
    return site


@pytest.fixture(scope="session")
def example_site(tmp_path_factory) -> Path:
    """A site directory where the example plugin is installed (add it to sys.path/PYTHONPATH)."""
    site = tmp_path_factory.mktemp("example-site")
    return make_distribution(site, "workbench-example-plugin", "0.1.0", {"example": "workbench_example_plugin"},
                             [EXAMPLE_PLUGIN / "workbench_example_plugin"])


@pytest.fixture
def with_site(monkeypatch):
    """Put a site directory on sys.path for this test and reload the registry from it."""
    from workbench import registry

    def activate(site: Path) -> None:
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
        registry.reset_registry()

    yield activate
    registry.reset_registry()


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `workbench` command in a fresh process."""
    full_env = {**os.environ, **(env or {}), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
