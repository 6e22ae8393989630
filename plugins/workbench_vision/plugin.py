"""Registers the vision components through the kernel's hooks."""

from workbench import hookimpl

from .datasets import Cifar100
from .models import HierarchicalCnnModel


@hookimpl
def register_datasets(register):
    register(Cifar100)


@hookimpl
def register_models(register):
    register(HierarchicalCnnModel)
