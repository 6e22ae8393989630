"""The ``local`` executor: cells in this process, or in local worker processes (``--jobs N``).

It is registered through the ``workbench.plugins`` entry point like any other component, and
other executors (``dask``, or a third party's) follow the contract of
:class:`workbench.Executor`: run tasks with :func:`workbench.cell.run_task` wherever they like,
report each cell's outcome in the calling thread, and let Ctrl-C through after stopping.

Worker processes are forked from a clean server process (POSIX's forkserver; spawned
elsewhere) that imported the kernel, the cells' plugins and their declared frameworks once, and
start with ``PYTHONHASHSEED=0``, so a component that iterates a set of strings gives the same
numbers in every worker and every run. A worker
that dies (killed, out of memory) takes its pool down with it; then the cells that had not
started go to a fresh pool, and each cell that was running when it died is retried alone, so
that only a cell that kills its worker again is reported as failed.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import queue as queue_module
import signal
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from .cell import CellOutcome, CellTask, run_task
from .components import Executor, OnOutcome, Params
from .hookspecs import hookimpl
from .progress import ProgressSink, QueueSink, replay

HASH_SEED = "0"
DIED = "the worker process running this cell died (killed, or out of memory); run again with --resume to retry it"


def pin_hash_seed() -> None:
    """Make worker processes started from now on hash strings identically."""
    os.environ["PYTHONHASHSEED"] = HASH_SEED


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class LocalExecutor(Executor):
    name = "local"
    summary = "Runs cells in this process (jobs: 1) or in N local worker processes (--jobs N)."

    class Params(Params):
        jobs: int = Field(default=1, ge=1, le=4096, description="cells run at once; above 1 each runs in a worker process")
        threads_per_cell: int | None = Field(default=None, ge=1, le=4096,
                                             description="CPU threads per cell (default: the machine's CPUs divided by jobs)")

    @classmethod
    def contract_params(cls) -> list[dict[str, Any]]:
        return [{}, {"jobs": 2}]

    def threads_per_cell(self) -> int:
        return self.params.threads_per_cell or max(1, available_cpus() // self.params.jobs)

    def runs_cells_here(self) -> bool:
        return self.params.jobs == 1

    def prepare(self, plans: Sequence[Mapping[str, Any]]) -> None:
        # The server process that forks the workers takes most of a second to import the
        # kernel, the plugins and their frameworks; started now, it does so while the runner
        # writes the run's files.
        if self.params.jobs > 1 and plans:
            pin_hash_seed()
            if _pool_context(preload_modules(plans)).get_start_method() == "forkserver":
                from multiprocessing import forkserver

                forkserver.ensure_running()

    def run(self, tasks: Sequence[CellTask], sink: ProgressSink, on_outcome: OnOutcome) -> None:
        if self.params.jobs == 1:
            for task in tasks:
                for outcome in run_task(task, sink):
                    on_outcome(outcome)
            return
        pending = list(tasks)
        while pending:
            pending, suspects = _run_pool(pending, self.params.jobs, sink, on_outcome)
            for task in suspects:
                _, died = _run_pool([task], 1, sink, on_outcome)
                for dead in died:
                    for cell_id in dead.cell_ids:
                        on_outcome(CellOutcome(cell_id, False, error=DIED))


_worker_sink: QueueSink | None = None


def _init_worker(events: Any) -> None:
    # Ctrl-C is handled by the parent, which stops the workers itself; a worker that caught
    # it too would print a traceback for every cell in flight.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker_sink
    _worker_sink = QueueSink(events)


def preload_modules(plans: Sequence[Mapping[str, Any]]) -> list[str]:
    """Modules worth importing once, before worker processes are forked: the kernel, the
    plugin modules of the plans' components and the frameworks they declare."""
    from .cell import framework_modules
    from .registry import get_registry
    from .schema import PLAN_SECTIONS, SECTION_KINDS

    registry = get_registry()
    modules: dict[str, None] = {"workbench.cell": None}
    for plan in plans:
        for section in PLAN_SECTIONS:
            value = plan.get(section)
            specs = value if isinstance(value, list) else [value] if value else []
            for spec in specs:
                try:
                    cls = registry.get(SECTION_KINDS[section].name, spec["use"])
                except Exception:
                    continue
                modules[cls.__module__] = None
                modules.update(dict.fromkeys(framework_modules(cls.frameworks)))
    return list(modules)


def _pool_context(preload: list[str]) -> Any:
    """Worker processes forked from a clean server process that has imported ``preload`` once
    (POSIX's forkserver), so each worker starts in milliseconds with scikit-learn or torch
    already loaded; spawned ones where there is no forkserver."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(preload)
        return context
    return multiprocessing.get_context("spawn")


def _run_in_worker(index: int, task: CellTask) -> list[CellOutcome]:
    assert _worker_sink is not None
    _worker_sink.queue.put(("task-started", str(index), None, None))
    return run_task(task, _worker_sink)


def _run_pool(tasks: list[CellTask], workers: int, sink: ProgressSink, on_outcome: OnOutcome) -> tuple[list[CellTask], list[CellTask]]:
    """Run ``tasks`` in a pool. If a worker dies, return the tasks that never started and
    those that were running when the pool broke (one of which killed it)."""
    pin_hash_seed()
    context = _pool_context(preload_modules([plan for task in tasks for plan in task.plans]))
    events = context.Queue()
    pool = futures.ProcessPoolExecutor(min(workers, len(tasks)), mp_context=context, initializer=_init_worker, initargs=(events,))
    started: set[int] = set()
    stop = threading.Event()

    def forward() -> None:
        while not stop.is_set() or not events.empty():
            try:
                # A short poll rather than a wake-up message: a worker killed while writing to
                # the queue leaves its lock held, and a put from here would then never return.
                event = events.get(timeout=0.02)
            except (queue_module.Empty, EOFError, OSError):
                continue
            if event[0] == "task-started":
                started.add(int(event[1]))
            else:
                replay(event, sink)

    listener = threading.Thread(target=forward, daemon=True)
    listener.start()
    never_started: list[CellTask] = []
    interrupted: list[CellTask] = []
    try:
        submitted = {}
        try:
            for i, task in enumerate(tasks):
                submitted[pool.submit(_run_in_worker, i, task)] = (i, task)
        except futures.process.BrokenProcessPool:  # a worker died before the work was handed out
            never_started.extend(task for task in tasks if task not in [t for _, t in submitted.values()])
        broken = False
        for future in futures.as_completed(submitted):
            index, task = submitted[future]
            try:
                outcomes = future.result()
            except futures.process.BrokenProcessPool:
                broken = True
                stop.set()
                listener.join(timeout=2)  # drain the "started" events sent before the break
                (interrupted if index in started else never_started).append(task)
                continue
            for outcome in outcomes:
                on_outcome(outcome)
        if broken:
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            pool.shutdown(wait=True)
    except BaseException:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        stop.set()
        listener.join(timeout=2)
    return never_started, interrupted


@hookimpl
def register_executors(register):
    register(LocalExecutor)
