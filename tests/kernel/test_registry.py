"""Plugins are found through entry points; broken ones are reported and skipped."""

from __future__ import annotations

import importlib.metadata as metadata
import textwrap

import pytest

from conftest import make_distribution
from workbench import registry as registry_module
from workbench.components import KINDS
from workbench.registry import UnknownComponentError, load_registry


def entry_points_in(site):
    return [ep for dist in metadata.distributions(path=[str(site)]) for ep in dist.entry_points if ep.group == "workbench.plugins"]


def write_module(site, name, source):
    (site / f"{name}.py").write_text(textwrap.dedent(source))


def test_builtins_register_through_entry_points_with_their_source():
    registry = load_registry()
    assert not registry.failures
    assert {"linear", "random-forest", "gradient-boosting"} <= set(registry.names("model"))
    assert {"accuracy", "top-k-accuracy", "roc-auc", "mae", "rmse", "r2"} <= set(registry.names("metric"))
    entry = registry.entry("model", "linear")
    assert entry.plugin == "common"
    assert entry.distribution.startswith("deml-workbench ")
    assert set(registry.components) == set(KINDS)


def test_lookup_suggests_close_names_and_lists_the_registered_ones():
    registry = load_registry()
    with pytest.raises(UnknownComponentError) as caught:
        registry.get("model", "random-forrest")
    message = str(caught.value)
    assert "did you mean 'random-forest'" in message.lower()
    assert "linear" in message and "gradient-boosting" in message


def test_broken_plugins_are_reported_and_the_rest_still_load(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    write_module(site, "wb_broken_import", "raise ImportError('needs a missing library')\n")
    write_module(site, "wb_clashing", """
        import workbench
        from workbench_common.models import Linear

        class Impostor(Linear):
            name = "linear"          # taken by the built-in
            summary = "clashes"

        @workbench.hookimpl
        def register_models(register):
            register(Impostor)
    """)
    write_module(site, "wb_bad_hook", """
        import workbench

        @workbench.hookimpl
        def register_model(register):   # typo: the hook is register_models
            pass
    """)
    write_module(site, "wb_raising", """
        import workbench

        @workbench.hookimpl
        def register_metrics(register):
            raise RuntimeError("boom")
    """)
    write_module(site, "wb_malformed", """
        import workbench

        class NoName(workbench.Metric):
            summary = "no name"
            tasks = frozenset({"regression"})
            def score(self, truth, prediction, info):
                return 0.0

        class Good(workbench.Metric):
            name = "always-zero"
            summary = "fine"
            tasks = frozenset({"regression"})
            def score(self, truth, prediction, info):
                return 0.0

        @workbench.hookimpl
        def register_metrics(register):
            register(NoName)
            register(Good)
    """)
    make_distribution(site, "broken-plugins", "1.0", {
        "broken-import": "wb_broken_import", "clashing": "wb_clashing", "bad-hook": "wb_bad_hook",
        "raising": "wb_raising", "malformed": "wb_malformed",
    })
    monkeypatch.syspath_prepend(str(site))
    builtins = [ep for ep in metadata.entry_points(group="workbench.plugins") if ep.dist.metadata["Name"] == "deml-workbench"]
    registry = load_registry(builtins + entry_points_in(site))

    failures = {f.plugin: f.error for f in registry.failures}
    assert "needs a missing library" in failures["broken-import"]
    assert "already registered by plugin 'common'" in failures["clashing"]
    assert "register_model" in failures["bad-hook"]
    assert "boom" in failures["raising"]
    assert "kebab-case" in failures["malformed"]
    assert all(f.distribution == "broken-plugins 1.0" for f in registry.failures)
    # the built-in keeps its name, the good component of a partly broken plugin is kept
    assert registry.entry("model", "linear").plugin == "common"
    assert registry.entry("metric", "always-zero").plugin == "malformed"
    assert "roc-auc" in registry.names("metric")


def registry_of_one_plugin(tmp_path, monkeypatch, module: str, source: str):
    """The registry loaded from a single plugin module ``module`` installed with ``source``."""
    site = tmp_path / "site"
    site.mkdir()
    write_module(site, module, source)
    make_distribution(site, f"{module}-plugin", "1.0", {module.removeprefix("wb_"): module})
    monkeypatch.syspath_prepend(str(site))
    return load_registry(entry_points_in(site))


def test_an_abstract_component_is_refused_with_what_it_lacks(tmp_path, monkeypatch):
    registry = registry_of_one_plugin(tmp_path, monkeypatch, "wb_abstract", """
        import workbench

        class Half(workbench.Model):
            name = "half"
            summary = "no predict"
            tasks = frozenset({"regression"})
            def fit(self, train, context):
                pass

        @workbench.hookimpl
        def register_models(register):
            register(Half)
    """)
    assert "does not implement predict" in registry.failures[0].error
    assert "half" not in registry.names("model")


def test_a_model_declaring_fit_together_without_fit_group_is_refused(tmp_path, monkeypatch):
    registry = registry_of_one_plugin(tmp_path, monkeypatch, "wb_together", """
        import numpy as np
        import workbench

        class Alone(workbench.Model):
            name = "alone"
            summary = "declares sibling groups but fits one cell at a time"
            tasks = frozenset({"regression"})
            fit_together = ("curriculum",)
            def fit(self, train, context):
                pass
            def predict(self, table):
                return np.zeros(len(table))

        @workbench.hookimpl
        def register_models(register):
            register(Alone)
    """)
    assert "alone" not in registry.names("model")
    assert "declares fit_together ('curriculum',) but does not implement fit_group" in registry.failures[0].error


def test_the_process_registry_is_cached_and_resettable():
    first = registry_module.get_registry()
    assert registry_module.get_registry() is first
    registry_module.reset_registry()
    assert registry_module.get_registry() is not first
