"""The hooks a plugin implements: one per kind of component.

A plugin is a module (or object) named by an entry point in the group ``workbench.plugins``::

    [project.entry-points."workbench.plugins"]
    my-plugin = "my_package.plugin"

It implements any of the hooks below with ``@workbench.hookimpl``. Each hook receives a
``register`` callback; call it once per component class::

    from workbench import hookimpl

    @hookimpl
    def register_models(register):
        register(MyModel)

Built-in plugins are found through the same entry-point group, exactly like third-party ones.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT = "workbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[type], None]


@hookspec
def register_datasets(register: Register) -> None:
    """Register :class:`workbench.Dataset` subclasses: loaders that turn files (or a
    simulator) into a :class:`workbench.Bundle` of training, validation and evaluation tables."""


@hookspec
def register_representations(register: Register) -> None:
    """Register :class:`workbench.Representation` subclasses: transforms from a table's inputs
    to model inputs, fitted on the training table, declaring any labels they have seen."""


@hookspec
def register_models(register: Register) -> None:
    """Register :class:`workbench.Model` subclasses: ``fit``/``predict`` learners declaring
    the target tasks they fit and the curriculum interfaces they understand."""


@hookspec
def register_curricula(register: Register) -> None:
    """Register :class:`workbench.Curriculum` subclasses: schedules that decide what a model
    sees when (weights, subsets, masked inputs, sampling budgets), each under an interface
    name that models opt into."""


@hookspec
def register_simulators(register: Register) -> None:
    """Register :class:`workbench.Simulator` subclasses: batched generators of ground truth
    for scenarios described by their ``Scenario`` parameter model."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register :class:`workbench.Metric` subclasses: scores declaring their tasks, whether
    higher is better, and the name of their steps when they score per step."""


@hookspec
def register_figures(register: Register) -> None:
    """Register :class:`workbench.Figure` subclasses: figures drawn from a run's results
    table and saved artifacts, requested in a study's ``report.figures``."""


HOOK_FOR_KIND: dict[str, str] = {
    "dataset": "register_datasets",
    "representation": "register_representations",
    "model": "register_models",
    "curriculum": "register_curricula",
    "simulator": "register_simulators",
    "metric": "register_metrics",
    "figure": "register_figures",
}
