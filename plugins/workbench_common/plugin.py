"""Registers the common components through the same hooks a third-party plugin uses."""

from workbench import hookimpl

from .datasets import CsvTable
from .figures import MetricBars, MetricCurve, MetricVsAxis
from .metrics import Accuracy, MeanAbsoluteError, R2, RocAuc, RootMeanSquaredError, TopKAccuracy
from .models import GradientBoosting, Linear, MeanOf, RandomForest, SklearnEstimator, SupportVector
from .representations import Concat, Raw


@hookimpl
def register_datasets(register):
    register(CsvTable)


@hookimpl
def register_representations(register):
    register(Raw)
    register(Concat)


@hookimpl
def register_models(register):
    register(Linear)
    register(RandomForest)
    register(GradientBoosting)
    register(SupportVector)
    register(SklearnEstimator)
    register(MeanOf)


@hookimpl
def register_metrics(register):
    for metric in (Accuracy, TopKAccuracy, RocAuc, MeanAbsoluteError, RootMeanSquaredError, R2):
        register(metric)


@hookimpl
def register_figures(register):
    register(MetricCurve)
    register(MetricVsAxis)
    register(MetricBars)
