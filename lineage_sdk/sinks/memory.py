"""A sink that keeps records in the process: for tests, notebooks and ``lineage_sdk.testing``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from ..pending import RUN_TYPES, PendingRun
from ..records import Declaration, Record
from .base import BaseSink
from .declarations import take_declarations

__all__ = ["MemorySink"]


class MemorySink(BaseSink):
    """Keeps every record in a list, readable back with :meth:`read` or :attr:`records`.

    Runs are kept as the decorator captured them and built into :class:`~lineage_sdk.Run`
    objects when first read, so a process that records many runs and reads few pays little.

    Example::

        sink = MemorySink()
        lineage_sdk.configure(sinks=[sink])
        ...
        runs = lineage_sdk.load_graph(sink).runs()
    """

    accepts_pending: ClassVar[bool] = True

    def __init__(self, name: str = "memory") -> None:
        super().__init__(name)
        self._records: list[Record | PendingRun] = []
        self._running: dict[str, int] = {}  # run id -> index of its running record
        self._declared: dict[str, Declaration] = {}  # merged, to log what a declaration changes

    def emit_run(self, run: PendingRun) -> None:
        if not self._running and not self._closed:  # ended: a pending run is never "running"
            # No long run to replace: list.append is atomic, no lock is needed (readers copy
            # the list under the lock and build what they find).
            self._records.append(run)
            return
        super().emit((run,))  # type: ignore[arg-type]  # accepts_pending: emit takes it

    def emit(self, records: Sequence[Record]) -> None:
        if len(records) == 1 and isinstance(records[0], PendingRun):
            self.emit_run(records[0])
            return
        super().emit(records)

    def _emit(self, records: Sequence[Any]) -> None:
        # Declarations are kept as given (readers merge them); a change is logged once, here.
        if len(records) != 1 or not isinstance(records[0], RUN_TYPES):
            take_declarations(self._declared, records)
        if not self._running and not any(_is_running(r) for r in records):
            self._records.extend(records)
            return
        # Like a store: a long run's running record (and its heartbeats) is replaced by the
        # next record of that run, so each run appears once.
        for record in records:
            if isinstance(record, RUN_TYPES) and record.run_id in self._running:
                self._records[self._running[record.run_id]] = record
                if record.status != "running":
                    del self._running[record.run_id]
                continue
            if _is_running(record):
                self._running[record.run_id] = len(self._records)
            self._records.append(record)

    @property
    def records(self) -> tuple[Record, ...]:
        """A snapshot of everything emitted so far, oldest first."""
        with self._lock:
            stored = self._records
            snapshot = stored[:]  # emit() may append meanwhile, without the lock
            for index, record in enumerate(snapshot):
                if isinstance(record, PendingRun):  # built once, then kept in its place
                    snapshot[index] = stored[index] = record.to_run()
            return tuple(snapshot)  # type: ignore[arg-type]  # no pending run is left

    def read(self) -> Iterator[Record]:
        """Every record emitted so far, oldest first."""
        return iter(self.records)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()
            self._running.clear()
            self._declared.clear()


def _is_running(record: Any) -> bool:
    return isinstance(record, RUN_TYPES) and record.status == "running"
