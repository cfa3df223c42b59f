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

import datetime as _dt
import operator
from collections.abc import Sequence
from typing import Any

from .records import Record, Run

__all__ = [
    "RUN_TYPES",
    "PendingRun",
    "built",
    "is_run",
    "utc_datetime",
    "utc_isoformat",
]


class PendingRun:
    """A run captured on the hot path; :meth:`to_run` builds (once) the Run it stands for.

    Besides :meth:`to_run`, a pending run answers what a sink writes per run without building
    the Run: its own fields (id, status, times, parent, error) and :meth:`revision_key`, the
    objects that determine every other field (the revision and process it ran as).
    """

    __slots__ = ()

    @property
    def run_id(self) -> str:
        """The run's id (rendered on first use): a UUID, so hex digits and dashes only."""
        raise NotImplementedError

    @property
    def status(self) -> str:
        """``completed`` or ``failed``."""
        raise NotImplementedError

    @property
    def started_ns(self) -> int:
        """When the run started, in ns since the epoch (``started_at``: :func:`utc_datetime`)."""
        raise NotImplementedError

    @property
    def duration_ns(self) -> int:
        """How long it ran, in ns (``ended_at`` is ``started_ns + duration_ns``)."""
        raise NotImplementedError

    def parent_ids(self) -> tuple[str | None, str | None]:
        """``(parent_run_id, parent_transformation)``."""
        raise NotImplementedError

    def error_fields(self) -> tuple[str | None, str | None, str | None]:
        """``(error_type, error_message, error_stack)``; all None for a success."""
        raise NotImplementedError

    def revision_key(self) -> tuple[object, ...]:
        """Objects whose identities fix every field of the Run but the ones above: two pending
        runs with identical keys (``is``, item by item) share those fields."""
        raise NotImplementedError

    def same_revision(self, key: tuple[object, ...]) -> bool:
        """Whether :meth:`revision_key` is ``key`` item by item (``is``): then this run shares
        every field but its own with the runs of ``key``. Subclasses answer it without
        building their key, for a writer that checks it once per run of a batch."""
        mine = self.revision_key()
        return len(mine) == len(key) and all(map(operator.is_, mine, key))

    def to_run(self) -> Run:
        """The full Run; the same object on every call."""
        raise NotImplementedError


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
# The second utc_isoformat rendered last: its first ns, the first ns after it, and its text.
_second: tuple[int, int, str] = (0, 0, "")


def utc_datetime(ns: int) -> _dt.datetime:
    """The UTC datetime of ``ns`` since the epoch, truncated to the microsecond.

    The one rule for a pending run's times: its Run's ``started_at`` and ``ended_at`` and the
    text :func:`utc_isoformat` writes without building them agree to the microsecond.
    """
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


def utc_isoformat(ns: int) -> str:
    """``utc_datetime(ns).isoformat()``, for a fraction of its cost.

    The text of the second is kept from one call to the next (runs come many to a second), so
    a call costs a comparison, small divisions and a concatenation.
    """
    global _second
    first, after, text = _second
    if not first <= ns < after:
        seconds = ns // 1_000_000_000
        first = seconds * 1_000_000_000
        after = first + 1_000_000_000
        text = (_EPOCH + _dt.timedelta(seconds=seconds)).isoformat()[:-6]  # without "+00:00"
        _second = (first, after, text)  # one assignment: threads see the old or the new
    micros = (ns - first) // 1000
    if not micros:  # isoformat() leaves a zero fraction out
        return f"{text}+00:00"
    return f"{text}.{_DIGITS[micros // 1000]}{_DIGITS[micros % 1000]}+00:00"


_DIGITS = tuple(f"{i:03d}" for i in range(1000))  # cheaper than a format spec per call


#: For ``isinstance``: a run, built or pending.
RUN_TYPES = (Run, PendingRun)


def is_run(record: object) -> bool:
    """Whether ``record`` is a run, built or pending (declarations are not)."""
    return isinstance(record, RUN_TYPES)


def built(records: Sequence[Any]) -> list[Record]:
    """``records`` with every pending run replaced by its Run."""
    return [r.to_run() if isinstance(r, PendingRun) else r for r in records]
