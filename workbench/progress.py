"""Progress events from cells (which may run in worker processes) to the terminal.

Components call ``context.progress(description, total)``; the events travel through a
:class:`ProgressSink`. The CLI's sink draws rich progress bars; in a worker process the sink
forwards events through a queue to the main process.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any, Protocol


class ProgressSink(Protocol):
    def start(self, key: str, description: str, total: float | None) -> None: ...

    def advance(self, key: str, amount: float, fields: dict[str, Any]) -> None: ...

    def finish(self, key: str) -> None: ...


class NullSink:
    """Discards progress (tests, library use)."""

    def start(self, key: str, description: str, total: float | None) -> None:
        pass

    def advance(self, key: str, amount: float, fields: dict[str, Any]) -> None:
        pass

    def finish(self, key: str) -> None:
        pass


class QueueSink:
    """Forwards progress events through a multiprocessing queue (from worker processes)."""

    def __init__(self, queue: Any):
        self.queue = queue

    def start(self, key: str, description: str, total: float | None) -> None:
        self.queue.put(("start", key, description, total))

    def advance(self, key: str, amount: float, fields: dict[str, Any]) -> None:
        self.queue.put(("advance", key, amount, fields))

    def finish(self, key: str) -> None:
        self.queue.put(("finish", key, None, None))


def replay(event: tuple, sink: ProgressSink) -> None:
    """Apply one event produced by a :class:`QueueSink` to ``sink``."""
    action, key, a, b = event
    if action == "start":
        sink.start(key, a, b)
    elif action == "advance":
        sink.advance(key, a, b)
    else:
        sink.finish(key)


_counter = itertools.count()


class ProgressTask:
    """One progress bar; use as a context manager so it is removed when the work ends."""

    def __init__(self, sink: ProgressSink, description: str, total: float | None, on_advance: Callable[[], None] | None = None):
        self.sink = sink
        self.key = f"{os.getpid()}-{next(_counter)}"
        self._on_advance = on_advance
        sink.start(self.key, description, total)

    def advance(self, amount: float = 1, **fields: Any) -> None:
        """Move the bar by ``amount``; ``fields`` (e.g. ``loss=0.01``) are shown beside it."""
        self.sink.advance(self.key, amount, fields)
        if self._on_advance is not None:
            self._on_advance()

    def close(self) -> None:
        self.sink.finish(self.key)

    def __enter__(self) -> ProgressTask:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
