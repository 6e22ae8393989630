"""Registers the ``dask`` executor through the same hook a third-party executor uses."""

from workbench import hookimpl

from .executor import DaskExecutor


@hookimpl
def register_executors(register):
    register(DaskExecutor)
