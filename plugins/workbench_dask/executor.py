"""Running cells on a Dask cluster.

Three ways to get workers, one executor:

* ``--executor dask`` starts a ``LocalCluster`` of ``jobs`` worker processes on this machine
  (loopback only, no dashboard unless asked);
* ``--scheduler tcp://host:port`` connects to a running scheduler (``dask scheduler`` on one
  node, ``dask worker tcp://host:port --nthreads 1`` on others);
* ``cluster: slurm`` (or ``pbs``, ``sge``, ``lsf``, ``htcondor``, ``moab``, ``oar``) submits
  worker jobs to a batch system through dask-jobqueue, with ``cluster_options`` passed to its
  cluster class (``cores``, ``memory``, ``walltime``, ``queue``, ``account``, ...).

Each task (one cell, or sibling cells fitted together) is one Dask task running
:func:`workbench.cell.run_task` on a worker; the worker writes the cell's results into the run
directory itself, so the run, cache and data directories must be on a filesystem every worker
sees at the same path. Progress events travel back through Dask's event topics; a worker that
dies has its task rescheduled by Dask on another worker, and a task whose workers keep dying is
reported as failed (``--resume`` retries it) while the other cells go on.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

import workbench
from workbench import Executor, WorkbenchError
from workbench.cell import CellOutcome, CellTask, hash_seed_pinned, run_task
from workbench.executors import pin_hash_seed

TOPIC = "workbench-progress"
JOBQUEUE_CLUSTERS = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
    "moab": "MoabCluster",
    "oar": "OARCluster",
}
INSTALL = "pip install 'deml-workbench[dask]'"
log = logging.getLogger("workbench.dask")


class DaskExecutor(Executor):
    name = "dask"
    summary = "Runs cells on a Dask cluster: a local one (default), a running scheduler (--scheduler), or an HPC batch system via dask-jobqueue."

    class Params(workbench.Params):
        scheduler: str | None = Field(default=None, description="address of a running scheduler, e.g. tcp://head:8786 "
                                                                "(null: start a cluster as `cluster` says)")
        cluster: Literal["local", "slurm", "pbs", "sge", "lsf", "htcondor", "moab", "oar"] = Field(
            default="local", description="the cluster to start when no scheduler is given: local processes, or a batch system")
        jobs: int = Field(default=2, ge=1, le=100_000, description="workers to start (local processes, or batch-system workers)")
        threads_per_cell: int = Field(default=1, ge=1, le=1024, description="CPU threads each cell's numerical libraries may use")
        cluster_options: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the dask-jobqueue cluster "
                                                                                  "class (cores, memory, walltime, queue, account, ...)")
        dashboard: bool = Field(default=False, description="serve the Dask dashboard of a cluster started here (on a free port)")
        connect_timeout: float = Field(default=30.0, gt=0, description="seconds to wait for the scheduler")

    @classmethod
    def contract_params(cls) -> list[dict[str, Any]]:
        return [{}, {"cluster": "slurm", "cluster_options": {"cores": 4, "memory": "8GB"}, "jobs": 8}]

    def runs_cells_here(self) -> bool:
        return False

    def threads_per_cell(self) -> int:
        return self.params.threads_per_cell

    def run(self, tasks: Sequence[CellTask], sink: Any, on_outcome: Any) -> None:
        if not tasks:
            return
        try:
            import distributed
        except ImportError:
            raise WorkbenchError(f"the dask executor needs Dask's distributed scheduler: {INSTALL}") from None
        pin_hash_seed()  # workers of a cluster started here inherit it
        client, cluster = self._connect(distributed)
        submitted: dict[Any, CellTask] = {}
        try:
            client.subscribe_topic(TOPIC, lambda event: _replay(event, sink))
            for task in tasks:
                key = f"workbench-{task.cell_ids[0]}-{uuid.uuid4().hex[:8]}"
                submitted[client.submit(run_on_worker, task, key=key, pure=False)] = task
            for future in distributed.as_completed(list(submitted)):
                task = submitted[future]
                try:
                    outcomes = future.result()
                except distributed.KilledWorker:
                    outcomes = [CellOutcome(cell_id, False, error="the Dask workers running this cell kept dying (KilledWorker: out of "
                                                                  "memory, or killed); run again with --resume to retry it")
                                for cell_id in task.cell_ids]
                except (distributed.CancelledError, OSError, TimeoutError) as error:
                    outcomes = [CellOutcome(cell_id, False, error=f"the Dask cluster lost this cell ({type(error).__name__}: {error}); "
                                                                  "run again with --resume to retry it") for cell_id in task.cell_ids]
                for outcome in outcomes:
                    on_outcome(outcome)
        except BaseException:
            client.cancel(list(submitted), force=True)
            raise
        finally:
            try:
                client.unsubscribe_topic(TOPIC)
            except Exception:
                pass
            client.close()
            if cluster is not None:
                cluster.close()

    def _connect(self, distributed: Any) -> tuple[Any, Any]:
        p = self.params
        if p.scheduler is not None:
            try:
                return distributed.Client(p.scheduler, timeout=p.connect_timeout), None
            except (OSError, TimeoutError) as error:
                raise WorkbenchError(f"cannot reach the Dask scheduler at {p.scheduler} within {p.connect_timeout:g} s ({error}). "
                                     "Start it with `dask scheduler` and workers with `dask worker ADDRESS --nthreads 1`, "
                                     "or drop --scheduler to start a local cluster.") from None
        if p.cluster == "local":
            cluster = distributed.LocalCluster(n_workers=p.jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                                               dashboard_address=":0" if p.dashboard else None, silence_logs=logging.ERROR)
        else:
            cluster = self._jobqueue_cluster()
        try:
            client = distributed.Client(cluster, timeout=p.connect_timeout)
        except BaseException:
            cluster.close()
            raise
        if p.dashboard:
            log.info("Dask dashboard: %s", client.dashboard_link)
        return client, cluster

    def _jobqueue_cluster(self, scale: bool = True) -> Any:
        p = self.params
        try:
            import dask_jobqueue
        except ImportError:
            raise WorkbenchError(f"cluster: {p.cluster} needs dask-jobqueue: {INSTALL}") from None
        options = dict(p.cluster_options)
        # Every worker job pins string hashing, as local workers do.
        prologue = list(options.pop("job_script_prologue", []) or [])
        options["job_script_prologue"] = ["export PYTHONHASHSEED=0", *prologue]
        try:
            cluster = getattr(dask_jobqueue, JOBQUEUE_CLUSTERS[p.cluster])(**options)
        except (TypeError, ValueError) as error:
            raise WorkbenchError(f"dask-jobqueue's {JOBQUEUE_CLUSTERS[p.cluster]} refused cluster_options: {error}") from None
        if scale:
            cluster.scale(p.jobs)
        return cluster


class WorkerSink:
    """Progress events from a Dask worker to the client, through the scheduler's event topic."""

    def _send(self, event: tuple) -> None:
        try:
            import distributed

            distributed.get_worker().log_event(TOPIC, list(event))
        except ValueError:  # not on a worker (a task run locally): progress is dropped
            pass

    def start(self, key: str, description: str, total: float | None) -> None:
        self._send(("start", key, description, total))

    def advance(self, key: str, amount: float, fields: dict[str, Any]) -> None:
        self._send(("advance", key, amount, {k: v for k, v in fields.items() if isinstance(v, (int, float, str))}))

    def finish(self, key: str) -> None:
        self._send(("finish", key, None, None))


def run_on_worker(task: CellTask) -> list[CellOutcome]:
    """What a Dask worker runs for one task."""
    if not hash_seed_pinned():
        logging.getLogger("workbench").warning(
            "Dask worker %s runs without PYTHONHASHSEED=0: a component iterating a set of strings may give other numbers "
            "than local runs; start workers with PYTHONHASHSEED=0", os.getpid())
    return run_task(task, WorkerSink())


def _replay(event: Any, sink: Any) -> None:
    from workbench.progress import replay

    _, message = event
    replay(tuple(message), sink)
