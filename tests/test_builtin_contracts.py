"""Every built-in component, found through the entry points, honours the component contract,
check by check (one failure does not hide the others); every built-in plugin module registers
something and imports no heavy library.

A new built-in plugin is checked here as soon as it registers: nothing to add.
"""

from __future__ import annotations

from importlib import metadata

import pytest

from workbench import DISTRIBUTION, DataNotFoundError
from workbench.testing import check_plugin, parametrize_with_checks, registered

BUILTINS = registered(distribution=DISTRIBUTION)
PLUGIN_MODULES = sorted(ep.value for ep in metadata.entry_points(group="workbench.plugins")
                        if ep.dist is not None and ep.dist.metadata["Name"] == DISTRIBUTION)


def test_every_kind_of_builtin_is_present():
    kinds = {entry.kind for entry in BUILTINS}
    assert {"dataset", "representation", "model", "metric", "figure", "executor"} <= kinds


@parametrize_with_checks([entry.cls for entry in BUILTINS])
def test_builtin_honours_the_contract(component, check, tmp_path):
    try:
        check(tmp_path)
    except DataNotFoundError as error:
        pytest.skip(f"data not present: {error}")


@pytest.mark.parametrize("module", PLUGIN_MODULES)
def test_builtin_plugin_registers_components_and_imports_light(module):
    check_plugin(module)


def test_validating_every_shipped_study_imports_no_heavy_library():
    """`workbench validate` checks parameters (estimator paths included) without importing the
    libraries that cells use, so that it answers in well under a second."""
    import subprocess
    import sys
    from pathlib import Path

    from workbench.testing import HEAVY_MODULES

    repo = Path(__file__).resolve().parents[1]
    studies = sorted(str(p) for p in [*repo.glob("studies/*.yaml"), *repo.glob("studies/quick/*.yaml")])
    code = ("import sys\nfrom workbench.cli import main\nsys.argv = ['workbench', 'validate', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
            f"print('LOADED=' + ','.join(m for m in {tuple(HEAVY_MODULES)!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, *studies], capture_output=True, text=True, timeout=300, cwd=repo)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "LOADED=\n" in done.stdout, done.stdout[-500:]
