"""What the documentation shows must work as shown."""

from __future__ import annotations

import re

from conftest import REPO
from workbench.study import load_study


def yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, flags=re.S)


def test_the_readme_study_example_is_a_valid_study(tmp_path):
    [example] = yaml_blocks((REPO / "README.md").read_text())
    path = tmp_path / "example.yaml"
    path.write_text(example.replace("plugins/workbench_common", str(REPO / "plugins" / "workbench_common")))
    study = load_study(path)
    assert len(study.plans) == 2 * 3 * 5
    assert study.group_by == ["model"]


def test_the_readme_carries_exactly_two_setup_commands_and_ci_runs_the_test_one():
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"```bash\n(python3 -m venv[^\n]*)\n```", readme)
    assert len(commands) == 2
    assert commands[0].endswith("workbench run studies/emulator.yaml --jobs 2")
    assert commands[1].endswith("python -m pytest")
    assert commands[1] in (REPO / ".ci" / "run").read_text()


def test_the_contributing_example_component_passes_the_contract_checks(tmp_path, monkeypatch):
    from workbench.testing import check

    contributing = (REPO / "CONTRIBUTING.md").read_text()
    example = next(block for block in re.findall(r"```python\n(.*?)```", contributing, flags=re.S) if "class Ridge" in block)
    (tmp_path / "contributing_example.py").write_text(example)
    monkeypatch.syspath_prepend(str(tmp_path))
    import contributing_example

    check(contributing_example.Ridge, work_dir=tmp_path / "work")


MACHINE_PATTERNS = (r"/work/", r"/tmp/", r"/root/", r"/home/\w", r"cpu\.lock", r"flock /", r"worktree", r"\bwt/", r"scratch/",
                    r"\bissue-\w+")
"""Traces of the development machine a reader could not follow: its paths, lock files, worktree
and branch names."""


def test_docs_benchmarks_and_studies_hold_no_paths_of_the_development_machine():
    files = [REPO / "README.md", REPO / "CONTRIBUTING.md", *(REPO / "docs").rglob("*.md"), *(REPO / "benchmarks").rglob("*.py"),
             *(REPO / "studies").rglob("*.yaml")]
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(re.search(pattern, line) for pattern in MACHINE_PATTERNS):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)


def test_user_facing_messages_do_not_cite_files_outside_the_repository():
    sources = [p for p in (REPO / "plugins").rglob("*.py")] + [p for p in (REPO / "workbench").rglob("*.py")]
    cited = [f"{p.relative_to(REPO)}:{n}" for p in sources for n, line in enumerate(p.read_text().splitlines(), 1)
             if "SOURCES.md" in line and ('"' in line or "'" in line) and not line.strip().startswith("#")]
    assert not cited, cited
