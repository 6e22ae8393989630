"""Every shipped study validates into plans whose file (a run's resolved.yaml) validates again
into the same cells; the contract checks catch a component that hides a framework."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import workbench
from conftest import REPO
from workbench.study import load_study
from workbench.testing import check_model, parametrize_with_checks

STUDIES = sorted((REPO / "studies").glob("*.yaml")) + sorted((REPO / "studies" / "quick").glob("*.yaml"))


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: str(p.relative_to(REPO / "studies")))
def test_every_shipped_study_round_trips_through_its_plans_file(path, tmp_path):
    study = load_study(path)
    plans_file = tmp_path / "runs" / study.name / "stamp" / "resolved.yaml"
    plans_file.parent.mkdir(parents=True)
    plans_file.write_text(yaml.safe_dump(study.resolved(), sort_keys=False, allow_unicode=True))
    again = load_study(plans_file)
    assert [p.id for p in again.plans] == [p.id for p in study.plans]
    assert [p.seed for p in again.plans] == [p.seed for p in study.plans]
    assert [p.coordinates for p in again.plans] == [p.coordinates for p in study.plans]
    assert again.report == study.report and again.study_dir == study.study_dir
    assert len({p.id for p in study.plans}) == len(study.plans)


class _HiddenTorch(workbench.Model):
    name = "hidden-torch"
    summary = "Draws from torch's global generator without declaring torch."
    tasks = frozenset({"regression"})

    def fit(self, train, context):
        import torch

        self.noise_ = float(torch.rand(1))

    def predict(self, table):
        return np.full(len(table), self.noise_)


class _DeclaredTorch(_HiddenTorch):
    name = "declared-torch"
    frameworks = ("torch",)


def test_a_model_using_torch_without_declaring_it_fails_the_contract(tmp_path):
    pytest.importorskip("torch")
    with pytest.raises(AssertionError, match=r"declare frameworks = \('torch',\)"):
        check_model(_HiddenTorch, work_dir=tmp_path)
    check_model(_DeclaredTorch, work_dir=tmp_path)  # the kernel seeds what is declared


class _ReadsUndeclared(workbench.Model):
    name = "reads-undeclared"
    summary = "Reads a parameter it never declared, with a silent default."
    tasks = frozenset({"regression"})

    def fit(self, train, context):
        self.shift_ = getattr(self.params, "shift", 0.0)  # a typo-prone, unvalidated knob

    def predict(self, table):
        return np.full(len(table), self.shift_)


def test_a_component_reading_an_undeclared_parameter_fails_the_contract(tmp_path):
    with pytest.raises(AssertionError, match="reads parameter\\(s\\) 'shift' that its Params does not declare"):
        check_model(_ReadsUndeclared, work_dir=tmp_path)
    from workbench.testing import check

    with pytest.raises(AssertionError, match="'shift'"):
        check(_ReadsUndeclared, work_dir=tmp_path)


def test_check_plugin_reports_a_forgotten_hookimpl(tmp_path, monkeypatch):
    from workbench.testing import check_plugin

    (tmp_path / "wb_forgot.py").write_text(
        "import workbench\n\nclass M(workbench.Model):\n    name = 'm'\n    summary = 's'\n    tasks = frozenset({'regression'})\n"
        "    def fit(self, train, context): pass\n    def predict(self, table): return None\n\n"
        "def register_models(register):\n    register(M)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AssertionError, match="register_models lack the @workbench.hookimpl decorator"):
        check_plugin("wb_forgot")
    (tmp_path / "wb_heavy.py").write_text(
        "import workbench\nimport sklearn.linear_model\n\nclass M(workbench.Model):\n    name = 'm'\n    summary = 's'\n"
        "    tasks = frozenset({'regression'})\n    def fit(self, train, context): pass\n    def predict(self, table): return None\n\n"
        "@workbench.hookimpl\ndef register_models(register):\n    register(M)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(AssertionError, match="importing plugin wb_heavy loads sklearn"):
        check_plugin("wb_heavy")


@parametrize_with_checks([_DeclaredTorch])
def test_parametrize_with_checks_gives_one_test_per_check(component, check, tmp_path):
    pytest.importorskip("torch")
    assert component is _DeclaredTorch
    check(tmp_path)
