"""The vocabulary of the read side: vertex kinds, external nodes, versions, the unknown-id error."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Literal

import attrs

from ..records import DataSource, Declaration, Feature, Transformation, declaration_changes
from ..serde import to_dict

__all__ = [
    "ColumnRow",
    "DeclarationRevision",
    "ExternalNode",
    "GraphNode",
    "NodeKind",
    "UnknownNodeError",
    "VersionInfo",
    "aware",
    "declaration_revisions",
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
class DeclarationRevision:
    """One distinct (merged) declaration of a node or transformation, oldest first.

    ``recorded_at`` is when a store first held it (None where the store keeps no time for
    declarations: memory and JSON Lines); ``changed`` names the fields it changed.
    """

    record: Declaration
    recorded_at: _dt.datetime | None
    changed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """``{"recorded_at", "changed", "declaration"}`` in plain JSON values."""
        data = to_dict(self.record)
        data.pop("record_type", None)
        data.pop("schema_version", None)
        return {
            "recorded_at": self.recorded_at.isoformat() if self.recorded_at else None,
            "changed": list(self.changed),
            "declaration": data,
        }


def declaration_revisions(
    merged: Sequence[tuple[Declaration, _dt.datetime | None]],
) -> list[DeclarationRevision]:
    """Revisions from a node's merged declarations in the order a store took them: a state
    identical to the one before is no revision."""
    out: list[DeclarationRevision] = []
    for record, when in merged:
        before = out[-1].record if out else None
        if before is None or before != record:
            out.append(DeclarationRevision(record, when, declaration_changes(before, record)))
    return out


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
