"""Where cells run. An executor takes cell jobs and reports each outcome as it arrives.

Two ship with the kernel: :class:`SequentialExecutor` (the default, in this process) and
:class:`ProcessPoolExecutor` (``--jobs N``, local worker processes). Anything with the same
``run`` method can stand in (a cluster scheduler, say).
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from .cell import CellJob, CellOutcome, run_cell
from .progress import ProgressSink, QueueSink, replay

OnOutcome = Callable[[CellOutcome], None]


class Executor(Protocol):
    def run(self, jobs: Sequence[CellJob], sink: ProgressSink, on_outcome: OnOutcome) -> None:
        """Run every job, calling ``on_outcome`` in the calling thread as each finishes.
        ``KeyboardInterrupt`` must propagate after stopping all work."""


class SequentialExecutor:
    """Runs cells one after the other in this process."""

    def run(self, jobs: Sequence[CellJob], sink: ProgressSink, on_outcome: OnOutcome) -> None:
        for job in jobs:
            on_outcome(run_cell(job, sink))


_worker_sink: QueueSink | None = None


def _init_worker(queue: multiprocessing.Queue) -> None:
    # Ctrl-C is handled by the parent, which stops the workers itself; a worker that caught
    # it too would print a traceback for every cell in flight.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker_sink
    _worker_sink = QueueSink(queue)


def _run_in_worker(job: CellJob) -> CellOutcome:
    return run_cell(job, _worker_sink)


class ProcessPoolExecutor:
    """Runs up to ``workers`` cells at once in fresh (spawned) worker processes."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)

    def run(self, jobs: Sequence[CellJob], sink: ProgressSink, on_outcome: OnOutcome) -> None:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        stop = threading.Event()

        def forward() -> None:
            while not stop.is_set() or not queue.empty():
                try:
                    event = queue.get(timeout=0.1)
                except Exception:
                    continue
                replay(event, sink)

        listener = threading.Thread(target=forward, daemon=True)
        listener.start()
        pool = futures.ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker, initargs=(queue,))
        try:
            pending = {pool.submit(_run_in_worker, job): job for job in jobs}
            for future in futures.as_completed(pending):
                job = pending[future]
                try:
                    outcome = future.result()
                except futures.process.BrokenProcessPool:
                    outcome = CellOutcome(job.cell_id, False, error="the worker process running this cell died (out of memory or killed)")
                on_outcome(outcome)
        except BaseException:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        else:
            pool.shutdown(wait=True)
        finally:
            stop.set()
            listener.join(timeout=2)
