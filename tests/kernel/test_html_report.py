"""Every run writes a self-contained report.html; checked in a real headless browser (Debian's
Chromium driven by Playwright): it loads without console errors or network requests, every figure
renders, and its tables hold the numbers of summary.csv and results.csv."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from workbench.runner import RunOptions, Runner
from workbench.study import load_study

QUICK = REPO / "studies" / "quick" / "tabular.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    result = Runner(load_study(QUICK), RunOptions(runs_root=tmp_path_factory.mktemp("runs"))).run()
    assert result.ok
    return result.run_dir


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium for the browser test (apt-get install chromium; .ci/run does it)")
        pytest.skip("needs Chromium (apt-get install chromium); runs wherever it is installed, and always in CI")
    if os.environ.get("CI"):
        import playwright.sync_api as playwright  # CI installs the test extras: a missing one is a failure there
    else:
        playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[test]')")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


def test_the_report_is_self_contained_and_renders_in_a_browser(run_dir, browser):
    html = (run_dir / "report.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    page = browser.new_page()
    messages, requests = [], []
    page.on("console", lambda m: messages.append((m.type, m.text)))
    page.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((run_dir / "report.html").as_uri())
    page.wait_for_load_state("load")
    assert not [m for m in messages if m[0] in ("error", "pageerror")], messages
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert page.inner_text("#status") == "finished"
    widths = page.eval_on_selector_all("figure img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 2 and min(widths) > 100

    # The summary table shows summary.csv's means.
    summary = pd.read_csv(run_dir / "summary.csv")
    shown = page.eval_on_selector_all("#summary tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.innerText))")
    header = page.eval_on_selector_all("#summary thead th", "cells => cells.map(c => c.innerText)")
    assert len(shown) == len(summary.groupby(["model", "evaluation"]))
    for row in shown:
        record = dict(zip(header, row))
        for metric in ("rmse", "r2", "mae"):
            expected = summary[(summary.model == record["model"]) & (summary.evaluation == record["evaluation"]) & (summary.metric == metric)]
            assert float(record[metric].split("±")[0]) == pytest.approx(float(expected["mean"].iloc[0]), abs=5e-5)

    # The results table holds every row of results.csv, value for value.
    results = pd.read_csv(run_dir / "results.csv", keep_default_na=False, na_values=[""])
    cells = page.eval_on_selector_all("#results tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))")
    columns = page.eval_on_selector_all("#results thead th", "cells => cells.map(c => c.textContent.trim())")
    assert columns == list(results.columns) and len(cells) == len(results)
    values = [float(row[columns.index("value")]) for row in cells]
    assert values == pytest.approx(results["value"].tolist(), rel=1e-6)
    page.close()


def test_workbench_report_regenerates_the_page(run_dir):
    from typer.testing import CliRunner

    from workbench import cli

    (run_dir / "report.html").unlink()
    result = CliRunner().invoke(cli.app, ["report", str(run_dir), "--no-figures"])
    assert result.exit_code == 0, result.output
    text = (run_dir / "report.html").read_text()
    assert "data:image/png;base64," in text and "tabular" in text
