"""A run's rows in the SQL stores: its narrow row, and the revision and process rows it points to.

:class:`RunParts` splits runs into those parts once per revision and process, and remembers
which ones the store holds already, so that the common run (a decorated function called again)
costs its own row only: :func:`known_run_row`, built straight from a pending run without its
Run (:func:`pending_run_row`). Planning whole batches is :mod:`~lineage_sdk.sinks.sqlmodel`.
"""

from __future__ import annotations

import datetime
import json
import json.encoder
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, cast

from ..pending import PendingRun
from ..records import Record, Run, Transformation
from ..revisions import Process, Revision, split_run
from ..serde import _encode, converter, line_safe
from .sqlschema import NARROW_RECORD_TAIL

__all__ = [
    "RunParts",
    "SharedParts",
    "known_run_row",
    "micros",
    "pending_run_row",
    "process_row",
    "revision_row",
    "run_row",
]

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICROSECOND = datetime.timedelta(microseconds=1)


def micros(record_time: datetime.datetime) -> int:
    """Microseconds since the epoch, exactly (a float timestamp can be one off)."""
    return (record_time - _EPOCH) // _MICROSECOND


class RunParts:
    """Splits runs into narrow rows plus their revisions and processes, written once per store.

    One per sink. ``known_*`` hold what this process committed to the store (revision and
    process ids, and the (revision, completed) pairs whose graph rows are written); ``pending_*``
    what the batch being planned writes, promoted by :meth:`committed` once its transaction
    commits. A run whose revision, process and graph rows are all known costs its row only.
    """

    _CACHE_LIMIT = 4096

    def __init__(self) -> None:
        self.declarations: dict[str, Transformation] = {}
        self.known_revisions: set[str] = set()
        self.known_processes: set[str] = set()
        self.known_graph: set[tuple[str, bool]] = set()
        self.pending_revisions: set[str] = set()
        self.pending_processes: set[str] = set()
        self.pending_graph: set[tuple[str, bool]] = set()
        # A run's shared fields -> its revision, process and the run row's shared columns:
        # split once, not per run.
        self._cache: dict[tuple[Any, ...], SharedParts] = {}
        self._last: tuple[tuple[Any, ...], SharedParts | None] = ((), None)
        # Pending runs: id()s of a revision key -> _PendingParts (which keeps the key alive,
        # so no id is reused while it is cached).
        self._pending: dict[tuple[int, ...], _PendingParts] = {}
        self._last_pending: _PendingParts | None = None

    def parts(self, run: Run) -> SharedParts:
        """The revision and process of ``run`` (with its declaration's descriptive fields)."""
        declaration = self.declarations.get(run.transformation)
        key = (
            run.transformation, run.version, run.inputs, run.outputs, run.derivation,
            run.column_derivation, run.code, run.git, run.code_reference, run.host, run.pid,
            run.python_version, run.sdk_version, run.namespace, declaration,
        )  # fmt: skip
        last_key, found = self._last
        # The decorator passes the same objects from one call to the next: compare identities
        # first, and hash the key only when they differ.
        if found is not None and all(map(operator.is_, key, last_key)):
            return found
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= self._CACHE_LIMIT:
                self._cache.clear()
            revision, process, _ = split_run(run, declaration)
            cached = self._cache[key] = SharedParts(revision, process)
        self._last = (key, cached)
        return cached

    def pending_parts(self, run: PendingRun) -> tuple[SharedParts, str]:
        """The revision and process of a pending run, and its narrow record's tail (see
        _record_tail); its Run is built for the first run of each revision key only."""
        last = self._last_pending
        if last is None or not last.matches(run, self.declarations):
            key = run.revision_key()
            ids = tuple(map(id, key))
            last = self._pending.get(ids)
            if last is None or not last.matches(run, self.declarations):
                built_run = run.to_run()
                if len(self._pending) >= self._CACHE_LIMIT:
                    self._pending.clear()
                last = self._pending[ids] = _PendingParts(
                    key,
                    self.declarations.get(built_run.transformation),
                    self.parts(built_run),
                    _record_tail(built_run),
                )
            self._last_pending = last
        return last.shared, last.tail

    def known_pending_row(self, run: PendingRun) -> tuple[Any, ...] | None:
        """:func:`known_run_row` of a pending run: the common call's path, where everything
        but the run's own fields was decided for an earlier run of the same revision key."""
        last = self._last_pending
        if last is None or not last.matches(run, self.declarations):
            self.pending_parts(run)
            last = cast(_PendingParts, self._last_pending)
        completed = run.status == "completed"
        if completed not in last.stored:
            if not self.stored(last.shared, completed):
                return None
            last.stored.add(completed)
        return pending_run_row(run, last.shared.columns, last.tail)

    def known_pending_rows(self, records: Sequence[object]) -> list[tuple[Any, ...]] | None:
        """:meth:`known_pending_row` of every record of a batch (an async batch: many runs of
        a few revisions), or None unless each is a pending run of that kind, with its own id:
        such a batch is its run rows and nothing else. Runs of the revision key of the run
        before them (the common case) cost a key check and their row."""
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        last = self._last_pending
        if last is not None and not last.current(self.declarations):
            last = None
        for run in records:
            if not isinstance(run, PendingRun):
                return None
            if (
                last is None
                or not run.same_revision(last.key)
                or (run.status == "completed") not in last.stored
            ):
                row = self.known_pending_row(run)
                if row is None:
                    return None
                append(row)
                last = self._last_pending
                continue
            append(pending_run_row(run, last.shared.columns, last.tail))
        if len({row[0] for row in rows}) != len(rows):  # a run twice: the general path dedupes
            return None
        return rows

    def stored(self, shared: SharedParts, completed: bool) -> bool:
        """Whether this process committed the revision, the process and the graph rows that a
        run of ``shared`` (completed or not) needs: then the run costs its own row only."""
        revision_id = shared.revision.id
        return (
            revision_id in self.known_revisions
            and shared.process.id in self.known_processes
            and (revision_id, completed) in self.known_graph
        )

    def clear_pending(self) -> None:
        """Forget what an earlier plan meant to write (its transaction did not commit)."""
        if not (self.pending_revisions or self.pending_processes or self.pending_graph):
            return
        self.pending_revisions.clear()
        self.pending_processes.clear()
        self.pending_graph.clear()

    def committed(self) -> None:
        """The planned batch committed: its revisions, processes and graph rows are stored."""
        if self.pending_revisions or self.pending_processes or self.pending_graph:
            self.known_revisions |= self.pending_revisions
            self.known_processes |= self.pending_processes
            self.known_graph |= self.pending_graph
            self.clear_pending()


class _PendingParts:
    """A cached revision key of pending runs, with what the runs that share it share."""

    __slots__ = ("declaration", "key", "shared", "stored", "tail")

    def __init__(
        self,
        key: tuple[object, ...],
        declaration: Transformation | None,
        shared: SharedParts,
        tail: str,
    ) -> None:
        self.key = key
        self.declaration = declaration
        self.shared = shared
        self.tail = tail
        #: Statuses (completed?) whose revision, process and graph rows the store is known to
        #: hold; what RunParts knows only grows, so a status once here stays.
        self.stored: set[bool] = set()

    def matches(self, run: PendingRun, declarations: dict[str, Transformation]) -> bool:
        """Whether ``run`` shares these parts: its revision key is this one (the same objects),
        and the declaration the revision was built with is still the sink's latest."""
        return run.same_revision(self.key) and self.current(declarations)

    def current(self, declarations: dict[str, Transformation]) -> bool:
        """Whether the declaration the revision was built with is still the sink's latest."""
        return declarations.get(self.shared.revision.transformation) is self.declaration


class SharedParts:
    """What the runs of one revision in one process share: written once, referenced per run."""

    __slots__ = ("columns", "process", "revision")

    def __init__(self, revision: Revision, process: Process) -> None:
        self.revision = revision
        self.process = process
        #: The run row's columns that come from the revision and process (see _RUN_COLUMNS).
        self.columns: tuple[Any, ...] = (revision.transformation, revision.id, process.id)


def process_row(process: Process) -> tuple[str, str]:
    """A process's row: its id and its record."""
    return (process.id, _record_without_id(process))


def _record_without_id(record: Revision | Process) -> str:
    # The id is the row's key; null fields are left out (readers default them).
    data = converter().unstructure(record)
    return line_safe(_encode({k: v for k, v in data.items() if v is not None and k != "id"}))


def _own_record(duration_s: float, optional: tuple[str | None, ...], tail: str) -> str:
    """The record of a built Run's row: its duration (any float, so kept here, as ``repr``
    writes it, which json does too), then :func:`_extras_record`. The run_records view adds
    the id, status and (UTC: Run's rule) times from the row's columns, and the revision's and
    the process's fields."""
    duration = (
        float.__repr__(duration_s)
        if type(duration_s) is float and math.isfinite(duration_s)
        else _encode(duration_s)
    )
    return '{"duration_s":' + duration + "," + _extras_record(optional, tail)[1:]


def _record_tail(run: Run) -> str:
    """The end of a run's narrow record: its partitions (if any) and its schema version, made
    line-safe here (a record with nothing else to escape is used as it is)."""
    tail = f',"schema_version":{int(run.schema_version)},"record_type":"run"}}'
    if run.partitions:
        return line_safe(',"partitions":' + _encode(converter().unstructure(run.partitions)) + tail)
    return tail


# The json module's escaping of one string (its C version where present), as _encode does it.
_string: Callable[[str], str] = json.encoder.encode_basestring


_OPTIONAL_OWN_FIELDS = (
    "parent_run_id",
    "parent_transformation",
    "error_type",
    "error_message",
    "error_stack",
)


def known_run_row(record: Record, parts: RunParts) -> tuple[Any, ...] | None:
    """The row of the common batch's run, one (built or pending) whose revision, process and
    graph rows this process wrote before; None for anything else (a declaration, a new
    revision...). Its statement is :func:`~lineage_sdk.sinks.sqlinserts.insert_run_sql`
    alone: no other row to write."""
    if type(record) is not Run:
        if isinstance(record, PendingRun):
            return parts.known_pending_row(record)
        return None
    shared = parts.parts(record)
    if not parts.stored(shared, record.status == "completed"):
        return None
    return run_row(record, shared.columns)


def revision_row(v: Revision) -> tuple[str | None, ...]:
    """A revision's row: id, transformation, record, and the columns readers group and filter
    runs by (the runs view takes them from here)."""
    return (
        v.id,
        v.transformation,
        _record_without_id(v),
        v.version,
        v.code.source_sha256 if v.code else None,
        v.git.commit if v.git else None,
        v.git.tag if v.git else None,
    )


def run_row(r: Run, shared: tuple[Any, ...]) -> tuple[Any, ...]:
    """A run's row of run_log: its own fields, then ``shared`` (SharedParts.columns)."""
    started_us = micros(r.started_at)
    ended_us = micros(r.ended_at)
    optional = (r.parent_run_id, r.parent_transformation, r.error_type, r.error_message)
    text = _own_record(r.duration_s, (*optional, r.error_stack), _record_tail(r))
    # A built Run's duration is any float: it stays in the record, exactly.
    return (r.run_id, r.parent_run_id, r.status, started_us, ended_us, None, text, *shared)


def pending_run_row(r: PendingRun, shared: tuple[Any, ...], tail: str) -> tuple[Any, ...]:
    """:func:`run_row` of ``r.to_run()``, the same values, without building the Run: its own
    fields come from the pending run, everything else from its revision's ``shared`` columns
    and ``tail`` (see :meth:`RunParts.pending_parts`). The duration goes in its integer column
    (no float to format); a plain run's record is NULL (NARROW_RECORD_TAIL)."""
    started_ns = r.started_ns
    duration_ns = r.duration_ns
    parent_run_id, parent_transformation = r.parent_ids()
    errors = r.error_fields()
    text = None
    if parent_run_id is not None or parent_transformation is not None or errors != _NO_ERROR:
        text = _extras_record((parent_run_id, parent_transformation, *errors), tail)
    elif tail != NARROW_RECORD_TAIL:
        text = "{" + tail[1:]
    return (
        r.run_id,
        parent_run_id,
        r.status,
        started_ns // 1000,
        (started_ns + duration_ns) // 1000,
        duration_ns,
        text,
        *shared,
    )


def _extras_record(optional: tuple[str | None, ...], tail: str) -> str:
    """A run's own fields that no column holds, null ones left out: ``optional`` (the values
    of _OPTIONAL_OWN_FIELDS) and ``tail`` (:func:`_record_tail`), as JSON. Filled in as text,
    every value a JSON string escaped by the json module's own string encoder: several times
    faster than encoding a dict, and the same JSON value."""
    parts: list[str] = []
    for name, value in zip(_OPTIONAL_OWN_FIELDS, optional, strict=True):
        if value is not None:
            parts += (',"', name, '":', _string(value))
    parts.append(tail)
    return line_safe("{" + "".join(parts)[1:])


_NO_ERROR = (None, None, None)
