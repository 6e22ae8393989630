"""Registers the quantum-dynamics components (thesis §4.2) through the workbench hooks."""

from workbench import hookimpl

from .curricula import BarrierWeightedWindows, ErrorDrivenWindows, UniformWindows
from .dataset import WavepacketWindows
from .figures import CorrelationByFamily, CorrelationSweeps, CorrelationVsBudget, RolloutHeatmaps, RolloutSnapshots
from .metrics import NormalizedCorrelation, ScenarioCorrelation
from .model import GruEmulator
from .propagator import CoarsePropagator
from .simulator import SplitOperatorSimulator


@hookimpl
def register_simulators(register):
    register(SplitOperatorSimulator)


@hookimpl
def register_datasets(register):
    register(WavepacketWindows)


@hookimpl
def register_curricula(register):
    for curriculum in (UniformWindows, BarrierWeightedWindows, ErrorDrivenWindows):
        register(curriculum)


@hookimpl
def register_models(register):
    register(GruEmulator)
    register(CoarsePropagator)


@hookimpl
def register_metrics(register):
    register(NormalizedCorrelation)
    register(ScenarioCorrelation)


@hookimpl
def register_figures(register):
    for figure in (RolloutHeatmaps, RolloutSnapshots, CorrelationSweeps, CorrelationByFamily, CorrelationVsBudget):
        register(figure)


@hookimpl
def register_commands(app):
    from .commands import app as quantum  # typer only: the command imports the rest when it runs

    app.add_typer(quantum, name="quantum")
