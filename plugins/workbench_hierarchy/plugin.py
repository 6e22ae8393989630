"""Registers the label-hierarchy components through the kernel's hooks."""

from workbench import hookimpl

from .curriculum import LabelHierarchy


@hookimpl
def register_curricula(register):
    register(LabelHierarchy)
