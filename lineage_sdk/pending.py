"""Runs as the hot path captures them: a few clock readings and references, built into a Run later.

A decorated call records what changes from one call to the next (its clock readings, its parent,
its outcome) and points at what does not (the decorated function's revision, the configuration,
the process). The full :class:`~lineage_sdk.records.Run` (23 fields, two datetimes, a UUID string)
is built only where it is needed: by a sink that serialises it, by the background thread of
batched delivery, by a reader of the memory sink. The caller of a decorated function so pays for
a small object, not for a record.

:class:`PendingRun` is what the write path (delivery, the built-in sinks) may receive in place of
a Run. Sinks that do not declare :attr:`~lineage_sdk.sinks.base.BaseSink.accepts_pending` (every
plug-in sink) are given built Runs; a pending run builds its Run once and keeps it, so several
sinks share one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .records import Record, Run

__all__ = ["RUN_TYPES", "PendingRun", "built", "is_run"]


class PendingRun:
    """A run captured on the hot path; :meth:`to_run` builds (once) the Run it stands for."""

    __slots__ = ()

    @property
    def run_id(self) -> str:
        """The run's id (rendered on first use)."""
        raise NotImplementedError

    @property
    def status(self) -> str:
        """``completed``, ``failed`` (or ``running`` for a long run's interim record)."""
        raise NotImplementedError

    def to_run(self) -> Run:
        """The full Run; the same object on every call."""
        raise NotImplementedError


#: For ``isinstance``: a run, built or pending.
RUN_TYPES = (Run, PendingRun)


def is_run(record: object) -> bool:
    """Whether ``record`` is a run, built or pending (declarations are not)."""
    return isinstance(record, RUN_TYPES)


def built(records: Sequence[Any]) -> list[Record]:
    """``records`` with every pending run replaced by its Run."""
    return [r.to_run() if isinstance(r, PendingRun) else r for r in records]
