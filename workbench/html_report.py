"""``report.html``: one self-contained page per run — summary, paired comparison, figures,
notes, failed cells with their errors, the full results table, the study and the environment.

Everything is inside the file (figures as embedded PNG, styles inline, no script, no network),
so the page can be mailed, archived or opened from a cluster's shared directory as it is.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from . import atomic
from .run_view import RunView

MAX_RESULT_ROWS = 20_000
"""Rows of the results table shown in the page; the CSV holds them all."""

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.meta { color: #555; } .status-finished { color: #1a7f37; } .status-failed, .status-interrupted { color: #b35900; }
table { border-collapse: collapse; font-size: 0.88em; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; } th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; } figcaption { color: #555; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.note { background: #fff8e1; padding: 0.4em 0.8em; margin: 0.3em 0; } .error { background: #fdecea; padding: 0.4em 0.8em; }
details { margin: 0.5em 0; } summary { cursor: pointer; }
"""


def _table(frame: pd.DataFrame, table_id: str) -> str:
    return frame.to_html(index=False, border=0, table_id=table_id, na_rep="", escape=True)


def _read(path: Path, limit: int = 200_000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[:limit]
    except OSError:
        return ""


def _summary_wide(summary: pd.DataFrame, group_by: list[str]) -> pd.DataFrame:
    from .report import format_mean_std

    if summary.empty:
        return summary
    keys = [g for g in group_by if g in summary.columns] + ["evaluation"]
    cells = summary.assign(value=[format_mean_std(m, s, n) for m, s, n in zip(summary["mean"], summary["std"], summary["n"])])
    wide = cells.pivot_table(index=keys, columns="metric", values="value", aggfunc="first", sort=False).reset_index()
    counts = summary.groupby(keys, sort=False, dropna=False)["n"].max().reset_index()
    return wide.merge(counts, on=keys, how="left")


def write_html_report(view: RunView, summary: pd.DataFrame, group_by: list[str], figures: list[Path]) -> Path:
    """Write ``report.html`` into the run directory and return its path."""
    from .report import caption

    manifest = view.manifest
    run_dir = view.dir
    name = manifest.get("study_name", run_dir.parent.name)
    status = manifest.get("status", "?")
    cells = manifest.get("cells") or []
    finished = view.cells
    summary_json: dict[str, Any] = {}
    try:
        summary_json = json.loads(_read(run_dir / "summary.json"))
    except ValueError:
        pass
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(name)} — workbench run</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(name)}</h1>",
             f"<p class='meta'>run <code>{html.escape(run_dir.name)}</code> · status "
             f"<strong class='status-{html.escape(status)}' id='status'>{html.escape(status)}</strong> · "
             f"{len(finished)} of {len(cells)} cells finished · updated {html.escape(str(manifest.get('updated', '')))}</p>"]
    study = manifest.get("study") or {}
    if study.get("description"):
        parts.append(f"<p>{html.escape(study['description'])}</p>")
    if manifest.get("overrides"):
        parts.append("<p class='meta'>overrides: <code>" + html.escape(" ".join(manifest["overrides"])) + "</code></p>")
    for line in summary_json.get("data") or []:
        parts.append(f"<p class='meta'>data: {html.escape(str(line))}</p>")

    parts.append("<h2>Summary</h2>")
    parts.append(f"<p class='meta'>{html.escape(caption(view.axes, group_by))}; n = values per row</p>")
    parts.append(_table(_summary_wide(summary, group_by), "summary") if not summary.empty else "<p>No finished cells yet.</p>")
    comparison = summary_json.get("comparison")
    if comparison and comparison.get("rows"):
        parts.append(f"<h2>Paired differences ({html.escape(str(comparison['axis']))})</h2>")
        parts.append("<p class='meta'>mean difference against the first value, with its 95% confidence interval over paired cells</p>")
        parts.append(_table(pd.DataFrame(comparison["rows"]), "comparison"))

    notes = summary_json.get("notes") or {}
    if notes:
        parts.append("<h2>Notes about the data</h2>")
        for note, note_cells in notes.items():
            parts.append(f"<div class='note'>{html.escape(note)} <span class='meta'>({len(note_cells)} cells)</span></div>")

    if figures:
        parts.append("<h2>Figures</h2>")
        for figure in figures:
            data = base64.b64encode(figure.read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(figure.stem)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(figure.name)}</figcaption></figure>")

    failed = [c for c in cells if (run_dir / "cells" / str(c["id"]) / "error.txt").exists()
              and not (run_dir / "cells" / str(c["id"]) / "result.json").exists()]
    if failed:
        parts.append(f"<h2>Failed cells ({len(failed)})</h2>")
        for cell in failed:
            where = ", ".join(f"{k}={v}" for k, v in cell.get("coordinates", {}).items())
            error = _read(run_dir / "cells" / str(cell["id"]) / "error.txt", 20_000)
            parts.append(f"<details class='error'><summary><code>{html.escape(str(cell['id']))}</code> {html.escape(where)}</summary>"
                         f"<pre>{html.escape(error)}</pre></details>")

    results = view.results
    parts.append(f"<h2>Results table</h2><p class='meta'>{len(results)} rows (results.csv)"
                 + (f"; the first {MAX_RESULT_ROWS:,} are shown" if len(results) > MAX_RESULT_ROWS else "") + "</p>")
    parts.append("<details><summary>show the rows</summary>" + _table(results.head(MAX_RESULT_ROWS), "results") + "</details>")

    parts.append("<h2>Study</h2><pre id='study'>" + html.escape(_read(run_dir / "study.yaml")) + "</pre>")
    parts.append("<details><summary>cell plans (resolved.yaml)</summary><pre>" + html.escape(_read(run_dir / "resolved.yaml")) + "</pre></details>")
    parts.append("<h2>Environment</h2><pre id='environment'>" + html.escape(_read(run_dir / "environment.json")) + "</pre>")
    parts.append("</body></html>")
    path = run_dir / "report.html"
    atomic.write_text(path, "\n".join(parts))
    return path
