"""Revisions and processes: what does not change from one run to the next, stored once.

A :class:`Revision` is one version of a transformation as it ran: its declaration (name, version,
description, framework, metadata), its code (reference, source hash, git state) and its lineage
(inputs, outputs, per-output derivation). Its id is a hash of that content, so the same code with
the same declaration in the same git state is the same revision in every process and every store.
A :class:`Process` is where runs came from (host, pid, Python, SDK version, namespace), with an id
made the same way. A stored run is then narrow: its own id, status, times, parent and error, plus
the ids of its revision and process; :func:`split_run` and :func:`join_run` go between the full
:class:`~lineage_sdk.records.Run` and these three parts, and ``join_run(*split_run(run)) == run``.

Example::

    >>> from lineage_sdk.records import Run
    >>> import datetime as dt
    >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    >>> run = Run("r1", "ctr_job", "completed", t, t, 0.0, inputs=["clicks"])
    >>> revision, process, narrow = split_run(run)
    >>> revision.inputs, len(revision.id)
    (('clicks',), 32)
    >>> join_run(revision, process, narrow) == run
    True
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

import attrs

from .records import (
    CodeRef,
    ColumnEdge,
    GitInfo,
    Run,
    Transformation,
    _column_edge_tuple,
    _derivation,
    _str_tuple,
    _validate_id,
    _validate_metadata,
    _validate_optional_text,
    trusted_run,
)

__all__ = [
    "NARROW_RUN_FIELDS",
    "PROCESS_FIELDS",
    "REVISION_RUN_FIELDS",
    "Process",
    "Revision",
    "join_run",
    "split_run",
]

#: Fields of a Run that belong to the run itself: the narrow row.
NARROW_RUN_FIELDS = (
    "run_id",
    "status",
    "started_at",
    "ended_at",
    "duration_s",
    "parent_run_id",
    "parent_transformation",
    "error_type",
    "error_message",
    "error_stack",
    "partitions",
    "schema_version",
)
#: Fields of a Run that its revision holds (a Revision has fields of the same names).
REVISION_RUN_FIELDS = (
    "transformation",
    "version",
    "inputs",
    "outputs",
    "derivation",
    "column_derivation",
    "code",
    "git",
    "code_reference",
)
#: Fields of a Run that its process holds.
PROCESS_FIELDS = ("host", "pid", "python_version", "sdk_version", "namespace")

_ID_LENGTH = 32  # hex digits of SHA-256: 128 bits, ample for content addressing


def _content_id(kind: str, content: dict[str, Any]) -> str:
    canonical = json.dumps(
        [kind, content], sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:_ID_LENGTH]


def _plain(value: Any) -> Any:
    # Nested records (CodeRef, GitInfo) and tuples as plain JSON values, as the serde writes them.
    from .serde import converter

    return converter().unstructure(value)


@attrs.frozen(slots=True)
class Revision:
    """One version of a transformation as it ran; ``id`` is a hash of everything else.

    Build it with :meth:`of` (which computes the id); the constructor checks a given id only for
    shape, as a store reading one back passes the id it stored.
    """

    kind: ClassVar[str] = "Revision"

    id: str = attrs.field(validator=_validate_id)
    transformation: str = attrs.field(validator=_validate_id)
    version: str | None = attrs.field(default=None, validator=_validate_optional_text)
    description: str | None = attrs.field(default=None, validator=_validate_optional_text)
    compute_framework: str | None = attrs.field(default=None, validator=_validate_optional_text)
    metadata: dict[str, Any] = attrs.field(factory=dict, validator=_validate_metadata, hash=False)
    code: CodeRef | None = None
    git: GitInfo | None = None
    code_reference: str | None = attrs.field(default=None, validator=_validate_optional_text)
    inputs: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    outputs: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    derivation: tuple[tuple[str, tuple[str, ...]], ...] = attrs.field(
        default=(), converter=_derivation
    )
    column_derivation: tuple[ColumnEdge, ...] = attrs.field(
        default=(), converter=_column_edge_tuple
    )

    @classmethod
    def of(cls, run: Run, declaration: Transformation | None = None) -> Revision:
        """The revision ``run`` ran, with the descriptive fields of its ``declaration``."""
        values: dict[str, Any] = {name: getattr(run, name) for name in REVISION_RUN_FIELDS}
        if declaration is not None and declaration.id == run.transformation:
            values["description"] = declaration.description
            values["compute_framework"] = declaration.compute_framework
            values["metadata"] = declaration.metadata
        return cls(id=cls.content_id(values), **values)

    @staticmethod
    def content_id(values: dict[str, Any]) -> str:
        """The id of a revision with these field values (every field but ``id``)."""
        # Empty values are left out, so a field a later release adds keeps earlier ids.
        content = {k: _plain(v) for k, v in values.items() if v not in (None, {}, ())}
        return _content_id("revision", content)


@attrs.frozen(slots=True)
class Process:
    """The process runs came from; ``id`` is a hash of the other fields."""

    kind: ClassVar[str] = "Process"

    id: str = attrs.field(validator=_validate_id)
    host: str | None = None
    pid: int | None = None
    python_version: str | None = None
    sdk_version: str | None = None
    namespace: str = "default"

    @classmethod
    def of(cls, run: Run) -> Process:
        """The process ``run`` records."""
        values = {name: getattr(run, name) for name in PROCESS_FIELDS}
        return cls(id=_content_id("process", values), **values)


def split_run(
    run: Run, declaration: Transformation | None = None
) -> tuple[Revision, Process, dict[str, Any]]:
    """``run`` as its revision, its process and its own fields (a dict, None values left out)."""
    narrow = {name: getattr(run, name) for name in NARROW_RUN_FIELDS}
    narrow = {k: v for k, v in narrow.items() if v is not None}
    return Revision.of(run, declaration), Process.of(run), narrow


def join_run(revision: Revision, process: Process, narrow: dict[str, Any]) -> Run:
    """The full Run of a narrow run's fields, its revision and its process.

    The parts were validated when they were built or read, so the Run is assembled without
    validating again (it equals the one the validating constructor builds; tested).
    """
    values = {name: getattr(revision, name) for name in REVISION_RUN_FIELDS}
    values.update((name, getattr(process, name)) for name in PROCESS_FIELDS)
    values.update(narrow)
    run: Run = trusted_run(**values)
    return run
