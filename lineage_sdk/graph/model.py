"""The vocabulary of the read side: vertex kinds, external nodes, versions, the unknown-id error."""

from __future__ import annotations

import datetime as _dt
from typing import Literal

import attrs

from ..records import DataSource, Feature, Transformation

__all__ = [
    "ColumnRow",
    "ExternalNode",
    "GraphNode",
    "NodeKind",
    "UnknownNodeError",
    "VersionInfo",
    "aware",
]

NodeKind = Literal["DataSource", "Feature", "Transformation", "External"]
#: (source, column, transformation, output, kind): ``output`` was derived from ``source.column``.
ColumnRow = tuple[str, str, str, str, str | None]


@attrs.frozen(slots=True)
class ExternalNode:
    """An id used as an input or output whose declaration never reached this store."""

    kind = "External"
    id: str


GraphNode = DataSource | Feature | Transformation | ExternalNode


@attrs.frozen(slots=True)
class VersionInfo:
    """One distinct code version of a transformation, as seen in its runs."""

    version: str | None
    source_sha256: str | None
    commit: str | None
    tag: str | None
    first_run: _dt.datetime
    last_run: _dt.datetime
    runs: int


class UnknownNodeError(KeyError):
    """No node or transformation has this id; ``suggestions`` holds close matches."""

    def __init__(self, node_id: str, suggestions: list[str]) -> None:
        super().__init__(node_id)
        self.node_id = node_id
        self.suggestions = suggestions

    def __str__(self) -> str:
        hint = (
            f"; did you mean {', '.join(map(repr, self.suggestions))}?" if self.suggestions else ""
        )
        return f"no node or transformation {self.node_id!r} in the lineage graph{hint}"


def aware(when: _dt.datetime) -> _dt.datetime:
    """``when`` with a time zone: naive times are taken as UTC, like every recorded time."""
    return when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)
