"""The component contract: what every plugin component provides, kind by kind.

A component is a class. The kernel reads its class attributes to list, validate and document
it, and builds one instance per cell from the study's parameters::

    class Ridge(Model):
        name = "ridge"                       # registry name, kebab-case, unique in its kind
        summary = "Ridge regression."        # one line for `workbench plugins`
        tasks = frozenset({"regression"})

        class Params(workbench.Params):      # pydantic; unknown keys are refused
            alpha: float = 1.0

        def fit(self, train, context): ...
        def predict(self, table): ...

``self.params`` is the validated ``Params`` instance. Components must be picklable (cells may
run in worker processes) and deterministic given ``context.seed``. ``workbench.testing``
checks all of this; run it on your own components.

Keep the module that defines a component light: import heavy libraries (torch, scikit-learn,
matplotlib, RDKit) inside the methods that need them, so that listing and validating
components never loads them. A component that uses torch says so with
``frameworks = ("torch",)``; the kernel then seeds torch and sets its thread count before the
cell runs.

The kinds themselves are declared once, in :data:`KIND_TABLE` at the end of this module; the
hooks, spec classes, study sections and registries are derived from it.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from .bundle import Bundle, Table, TargetInfo

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure as MplFigure

    from .cell import CellOutcome, CellTask
    from .context import CellContext
    from .progress import ProgressSink
    from .run_view import RunView

NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class Params(BaseModel):
    """Base of every parameter model: unknown keys are refused and values are immutable.

    Document each field with ``Field(description=...)``; the description and default are shown
    by ``workbench show`` and in validation errors.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """For components that take no parameters."""


class Component(ABC):
    """Base of all components. Subclass one of the kind bases below, not this."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = NoParams
    requires: ClassVar[tuple[str, ...]] = ()
    """Other study sections this component needs built and passed in ``context.components``
    (for example a dataset that needs a ``"simulator"``)."""
    frameworks: ClassVar[tuple[str, ...]] = ()
    """Numerical frameworks besides numpy this component draws random numbers from or runs
    threads in (``"torch"``); the kernel imports, seeds and pins them before the cell runs."""

    def __init__(self, params: Params | Mapping[str, Any] | None = None):
        if params is None:
            params = self.Params()
        elif not isinstance(params, self.Params):
            params = self.Params.model_validate(dict(params))
        self.params = params

    @classmethod
    def contract_params(cls) -> list[dict[str, Any]]:
        """Parameter sets that ``workbench.testing`` exercises; keep them small and fast."""
        return [{}]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


class Dataset(Component):
    """Loads data into a :class:`~workbench.Bundle`.

    Find files with ``context.data.find(...)`` so that an explicit path, the data directory,
    the cache and a checksummed download are tried in order, and a missing file becomes a
    clear message. Cache expensive preparation with ``context.cache``.
    """

    kind = "dataset"

    @abstractmethod
    def describe_targets(self) -> dict[str, TargetInfo]:
        """The targets this dataset provides, known from the parameters alone (no loading),
        so that a study can be validated before anything runs."""

    @abstractmethod
    def load(self, context: CellContext) -> Bundle:
        """Load (or build) the data for one cell."""


class Representation(Component):
    """Turns a table's inputs into model inputs, fitted on the training table only."""

    kind = "representation"

    def seen_labels(self) -> frozenset[str]:
        """Targets whose values this representation has used. A study predicting one of them
        with this representation is refused at validation (label leakage)."""
        return frozenset()

    def fit(self, train: Table, context: CellContext) -> None:
        """Learn whatever the representation needs from the training table (default: none)."""

    @abstractmethod
    def transform(self, table: Table, context: CellContext) -> np.ndarray:
        """Model inputs for ``table``: a float array with one row per sample."""

    def feature_names(self) -> tuple[str, ...] | None:
        """Names of the output columns, when they have names (after ``fit``)."""
        return None

    @classmethod
    def contract_bundle(cls, rng: np.random.Generator) -> Bundle | None:
        """A small bundle whose inputs suit this representation, for ``workbench.testing``;
        ``None`` lets the testing module use a generic numeric one."""
        return None


class Model(Component):
    """Fits on a training table and predicts for any table with the same kind of inputs.

    ``predict`` returns an array (for classification: class probabilities ``(n, n_classes)``;
    for regression: ``(n,)``) or, for models with several heads, a dict from target name to
    such arrays.
    """

    kind = "model"
    tasks: ClassVar[frozenset[str]] = frozenset()
    """Target tasks this model can fit."""
    curricula: ClassVar[frozenset[str]] = frozenset()
    """Curriculum interfaces this model understands (see :class:`Curriculum`)."""

    fit_together: ClassVar[tuple[str, ...]] = ()
    """Cell-plan sections (``"curriculum"``, ``"metrics"``, ...) in which sibling cells may
    differ and still be fitted in one call of :meth:`fit_group` (an ensemble trained in one
    batched pass). Cells whose plans agree on everything else (data, seed, model) form a group;
    the kernel loads their data once and records each member's results as its own cell."""

    def required_targets(self) -> frozenset[str]:
        """Targets besides the study's target that this model trains on (auxiliary heads)."""
        return frozenset()

    def fit_group(self, train: Table, contexts: Sequence[CellContext]) -> Sequence[Model]:
        """Fit one model per sibling cell, together; ``contexts[i]`` is member ``i``'s context
        (its own curriculum in ``context.curriculum``, its own records, epoch hook and
        checkpoints). Return the fitted models in the same order. Only called when the class
        declares :attr:`fit_together` and more than one sibling is pending (the registry refuses
        a model that declares it without overriding this)."""
        raise NotImplementedError(f"model {self.name!r} declares fit_together but does not implement fit_group")

    @abstractmethod
    def fit(self, train: Table, context: CellContext) -> None:
        """Train on ``train``; ``context.target`` names the target to predict."""

    @abstractmethod
    def predict(self, table: Table) -> np.ndarray | dict[str, np.ndarray]:
        """Predictions for every sample of ``table``."""

    @classmethod
    def contract_bundle(cls, task: str, rng: np.random.Generator) -> tuple[Bundle, str] | None:
        """A small bundle and target to exercise this model in ``workbench.testing``; ``None``
        lets the testing module build a generic one for the standard tasks."""
        return None


class Curriculum(Component):
    """Decides what a model sees when: sample weights, subsets, masked inputs, budgets.

    The kernel knows only the ``interface`` string; the protocol behind it is defined by the
    plugin that defines the interface, and a model lists the interfaces it understands in
    ``Model.curricula``. A study pairing a model with a curriculum it does not understand is
    refused at validation.
    """

    kind = "curriculum"
    interface: ClassVar[str] = ""


class Simulator(Component):
    """Produces ground truth on demand for a batch of scenarios.

    ``Scenario`` is the parameter model of one scenario; ``simulate`` advances all scenarios
    together and returns an array (or dict of arrays) whose first axis is the scenario.
    """

    kind = "simulator"
    Scenario: ClassVar[type[Params]] = NoParams

    @abstractmethod
    def simulate(self, scenarios: Sequence[Params], context: CellContext | None = None) -> Any:
        """Ground truth for every scenario, stacked along the first axis."""

    @classmethod
    def contract_scenarios(cls) -> list[dict[str, Any]]:
        """Scenarios (as dicts) for ``workbench.testing``; keep them cheap."""
        return [{}]


@dataclass(frozen=True)
class MetricValue:
    """A metric's result: the summary ``value`` and, for per-step metrics, one value per step
    (frame, epoch, ...), named by the metric's ``step_name``."""

    value: float
    steps: np.ndarray | None = None


class Metric(Component):
    """Scores predictions against truth."""

    kind = "metric"
    tasks: ClassVar[frozenset[str]] = frozenset()
    higher_is_better: ClassVar[bool] = True
    step_name: ClassVar[str | None] = None
    """Set when ``score`` also returns per-step values (e.g. ``"frame"``)."""

    @abstractmethod
    def score(self, truth: np.ndarray, prediction: np.ndarray, info: TargetInfo) -> float | MetricValue:
        """Score ``prediction`` against ``truth`` (both with the sample on the first axis)."""

    @classmethod
    def contract_cases(cls, task: str, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, TargetInfo]] | None:
        """``(truth, good_prediction, bad_prediction, info)`` cases for ``workbench.testing``;
        ``None`` lets the testing module build them for the standard tasks."""
        return None


class Figure(Component):
    """Draws one figure from a finished (or partly finished) run."""

    kind = "figure"
    # Figures are matplotlib figures: the runner imports it in the background while cells run,
    # so that drawing at the end does not wait for the import.
    frameworks: ClassVar[tuple[str, ...]] = ("matplotlib",)

    @abstractmethod
    def draw(self, run: RunView) -> MplFigure | None:
        """Return a matplotlib figure, or ``None`` when the run holds nothing to draw."""


OnOutcome = Callable[["CellOutcome"], None]


class Executor(Component):
    """Decides where cells run: in this process, in local worker processes, on a cluster.

    ``run`` receives tasks (each one cell, or a group of sibling cells fitted together),
    must call ``on_outcome`` in the calling thread for every cell as it finishes, and must let
    ``KeyboardInterrupt`` propagate after stopping its work. A task is run by
    :func:`workbench.cell.run_task`, a plain function of picklable arguments, wherever the
    executor chooses; it writes each cell's result into the run directory itself, so the run and
    cache directories must be reachable (a shared filesystem) from every worker.
    """

    kind = "executor"

    def threads_per_cell(self) -> int:
        """CPU threads each cell may use (numerical libraries are pinned to this)."""
        return 1

    def runs_cells_here(self) -> bool:
        """Whether cells run in this process (then ``workbench run`` pins its own string hashing,
        re-executing itself if needed). Default ``True``; an executor whose cells all run in
        other processes returns ``False``."""
        return True

    def prepare(self, plans: Sequence[Mapping[str, Any]]) -> None:
        """Called as soon as the plans of the cells to run are known, before the runner writes the
        run's files: start what is slow to start (worker processes, a cluster) so that it overlaps
        with that work. ``run`` must work whether or not ``prepare`` was called. Default: nothing."""

    @abstractmethod
    def run(self, tasks: Sequence[CellTask], sink: ProgressSink, on_outcome: OnOutcome) -> None:
        """Run every task, reporting each cell's outcome as it arrives."""


@dataclass(frozen=True)
class Kind:
    """One kind of component: everything the kernel derives its hooks, registries, spec
    classes and study sections from."""

    name: str
    plural: str
    base: type[Component]
    section: str | None
    """The study key that holds components of this kind (``None``: only nested elsewhere)."""
    cardinality: Literal["one", "optional", "many"]
    in_plan: bool
    """Whether the section belongs to each cell's plan (it changes the cell's numbers)."""
    description: str

    @property
    def hook(self) -> str:
        return f"register_{self.plural}"


KIND_TABLE: tuple[Kind, ...] = (
    Kind("dataset", "datasets", Dataset, "dataset", "one", True,
         "loaders that turn files (or a simulator) into a Bundle of training, validation and evaluation tables"),
    Kind("representation", "representations", Representation, "representation", "optional", True,
         "transforms from a table's inputs to model inputs, fitted on the training table, declaring labels they have seen"),
    Kind("model", "models", Model, "model", "one", True,
         "fit/predict learners declaring the target tasks they fit and the curriculum interfaces they understand"),
    Kind("curriculum", "curricula", Curriculum, "curriculum", "optional", True,
         "schedules that decide what a model sees when, each under an interface name that models opt into"),
    Kind("simulator", "simulators", Simulator, "simulator", "optional", True,
         "batched generators of ground truth for scenarios described by their Scenario parameter model"),
    Kind("metric", "metrics", Metric, "metrics", "many", True,
         "scores declaring their tasks, whether higher is better, and the name of their steps"),
    Kind("figure", "figures", Figure, None, "many", False,
         "figures drawn from a run's results table and artifacts, requested in a study's report.figures"),
    Kind("executor", "executors", Executor, "execution", "optional", False,
         "places where cells run (this process, local workers, a cluster), chosen with --executor or execution:"),
)
"""Every kind of component, in the order the kernel lists them. The single place kinds are declared."""

KIND_BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KIND_TABLE}
KINDS: tuple[str, ...] = tuple(kind.name for kind in KIND_TABLE)
PLURALS: dict[str, str] = {kind.name: kind.plural for kind in KIND_TABLE}
KIND_BASES: dict[str, type[Component]] = {kind.name: kind.base for kind in KIND_TABLE}
PLAN_KINDS: tuple[Kind, ...] = tuple(kind for kind in KIND_TABLE if kind.in_plan)
