"""Registers the label-hierarchy components through the kernel's hooks."""

from workbench import hookimpl

from .curriculum import LabelHierarchy
from .featurizer import ElementFractions, HamidiehFeatures
from .mlp import HierarchicalMLP
from .supercon import SuperCon


@hookimpl
def register_curricula(register):
    register(LabelHierarchy)


@hookimpl
def register_datasets(register):
    register(SuperCon)


@hookimpl
def register_representations(register):
    register(HamidiehFeatures)
    register(ElementFractions)


@hookimpl
def register_models(register):
    register(HierarchicalMLP)
