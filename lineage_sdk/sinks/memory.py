"""A sink that keeps records in the process: for tests, notebooks and ``lineage_sdk.testing``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..records import Record
from .base import BaseSink

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

    def _emit(self, records: Sequence[Record]) -> None:
        self._records.extend(records)

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
