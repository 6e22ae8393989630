"""workbench: a plugin-based workbench for data-effective machine learning in physics and
materials science.

The public API for plugin authors lives here; see CONTRIBUTING.md.
"""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "deml-workbench"
"""The name on the package index (``pip install deml-workbench``); ``workbench`` there is an
unrelated project. The import package and the command stay ``workbench``."""

from . import atomic, tensorfile
from .bundle import Bundle, Table, TargetInfo
from .cache import Cache
from .components import (
    KINDS,
    Component,
    Curriculum,
    Dataset,
    Executor,
    Figure,
    Metric,
    MetricValue,
    Model,
    NoParams,
    Params,
    Representation,
    Simulator,
)
from .context import CellContext, derive_seed
from .datafiles import DataLocator, Download
from .errors import ComponentError, DataCorruptError, DataNotFoundError, StudyError, WorkbenchError
from .hookspecs import hookimpl
from .registry import get_registry

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "KINDS",
    "atomic",
    "tensorfile",
    "Bundle",
    "Cache",
    "CellContext",
    "Component",
    "ComponentError",
    "Curriculum",
    "DataCorruptError",
    "DataLocator",
    "DataNotFoundError",
    "Dataset",
    "Download",
    "Executor",
    "Figure",
    "Metric",
    "MetricValue",
    "Model",
    "NoParams",
    "Params",
    "Representation",
    "Simulator",
    "StudyError",
    "Table",
    "TargetInfo",
    "WorkbenchError",
    "__version__",
    "derive_seed",
    "get_registry",
    "hookimpl",
]
