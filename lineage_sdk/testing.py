"""Helpers for users' own tests: assert on lineage without a store.

Example::

    from lineage_sdk.testing import capture_records

    def test_ctr_job_records_its_lineage():
        with capture_records() as records:
            calculate_user_ctr(clicks, impressions)
        [run] = records.runs()
        assert run.outputs == ("user_ctr_7d",)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from . import _runtime
from .records import Record, Run
from .sinks.memory import MemorySink

__all__ = ["CapturedRecords", "capture_records"]


class CapturedRecords:
    """What was recorded inside :func:`capture_records`."""

    def __init__(self, sink: MemorySink) -> None:
        self.sink = sink

    def all(self) -> tuple[Record, ...]:
        """Every record, oldest first."""
        return self.sink.records

    def runs(self) -> list[Run]:
        """Only the runs, oldest first."""
        return [r for r in self.sink.records if isinstance(r, Run)]

    def __len__(self) -> int:
        return len(self.sink.records)


@contextmanager
def capture_records(*, on_error: str = "raise") -> Iterator[CapturedRecords]:
    """Send lineage to a fresh in-memory sink (synchronously) for the duration of the block.

    The configuration in force before the block is restored afterwards.
    """
    sink = MemorySink()
    runtime = _runtime.build_runtime(
        [sink],
        function="capture_records",
        enabled=True,
        async_delivery=False,
        on_error=on_error,
    )
    with _runtime.installed(runtime):
        yield CapturedRecords(sink)
