"""A sink that keeps records in the process: for tests, notebooks and ``lineage_sdk.testing``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..records import Declaration, Record, Run
from .base import BaseSink
from .declarations import take_declarations

__all__ = ["MemorySink"]


class MemorySink(BaseSink):
    """Keeps every record in a list, readable back with :meth:`read` or :attr:`records`.

    Example::

        sink = MemorySink()
        lineage_sdk.configure(sinks=[sink])
        ...
        runs = lineage_sdk.load_graph(sink).runs()
    """

    def __init__(self, name: str = "memory") -> None:
        super().__init__(name)
        self._records: list[Record] = []
        self._running: dict[str, int] = {}  # run id -> index of its running record
        self._declared: dict[str, Declaration] = {}  # merged, to log what a declaration changes

    def _emit(self, records: Sequence[Record]) -> None:
        # Declarations are kept as given (readers merge them); a change is logged once, here.
        take_declarations(self._declared, records)
        if not self._running and not any(_is_running(r) for r in records):
            self._records.extend(records)
            return
        # Like a store: a long run's running record (and its heartbeats) is replaced by the
        # next record of that run, so each run appears once.
        for record in records:
            if isinstance(record, Run) and record.run_id in self._running:
                self._records[self._running[record.run_id]] = record
                if record.status != "running":
                    del self._running[record.run_id]
                continue
            if _is_running(record):
                self._running[record.run_id] = len(self._records)  # type: ignore[union-attr]
            self._records.append(record)

    @property
    def records(self) -> tuple[Record, ...]:
        """A snapshot of everything emitted so far, oldest first."""
        with self._lock:
            return tuple(self._records)

    def read(self) -> Iterator[Record]:
        """Every record emitted so far, oldest first."""
        return iter(self.records)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()
            self._running.clear()
            self._declared.clear()


def _is_running(record: Record) -> bool:
    return isinstance(record, Run) and record.status == "running"
