"""Every built-in component, found through the entry points, honours the component contract.

A new built-in plugin is checked here as soon as it registers: nothing to add.
"""

from __future__ import annotations

import pytest

from workbench import DataNotFoundError
from workbench.testing import check, registered

BUILTINS = registered(distribution="deml-workbench")


def test_every_kind_of_builtin_is_present():
    kinds = {entry.kind for entry in BUILTINS}
    assert {"dataset", "representation", "model", "metric", "figure"} <= kinds


@pytest.mark.parametrize("entry", BUILTINS, ids=lambda e: f"{e.kind}:{e.name}")
def test_builtin_honours_the_contract(entry, tmp_path):
    try:
        check(entry.cls, work_dir=tmp_path)
    except DataNotFoundError as error:
        pytest.skip(f"data not present: {error}")
