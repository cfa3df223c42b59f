"""What a graph backend answers: the few primitive questions the facade builds everything on.

:class:`~lineage_sdk.graph.LineageGraph` implements each public method once, over this protocol,
so a method added to the facade works on every backend. A backend only knows its storage: the
in-memory one keeps adjacency dicts, the SQL one (:mod:`.sql`) asks tables through a dialect.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator
from typing import Literal, Protocol

import attrs

from ..records import DataSource, Feature, Record, Run, Transformation
from .changes.source import ChangeSource
from .model import ColumnRow, DeclarationRevision, NodeKind, VersionInfo

__all__ = ["Direction", "GraphBackend", "RunQuery"]

#: Which side of a transformation: the nodes it reads ("in") or writes ("out").
Direction = Literal["in", "out"]


@attrs.frozen(slots=True)
class RunQuery:
    """Which runs to return, newest first: filters that are None do not apply."""

    transformation: str | None = None
    status: str | None = None
    since: _dt.datetime | None = None  # aware (the facade makes it so)
    limit: int | None = None

    def matches(self, run: Run) -> bool:
        """Whether ``run`` passes the filters (the limit aside)."""
        return (
            (self.transformation is None or run.transformation == self.transformation)
            and (self.status is None or run.status == self.status)
            and (self.since is None or run.started_at >= self.since)
        )


class GraphBackend(Protocol):
    """The storage side of a lineage graph; lists it returns are sorted unless said otherwise."""

    def kind(self, ident: str) -> NodeKind | None:
        """The kind of ``ident`` (declared nodes first, then transformations, then External)."""

    def declaration(self, ident: str) -> DataSource | Feature | Transformation | None:
        """The latest declaration stored for a node or transformation id, if any."""

    def declaration_revisions(self, ident: str) -> list[DeclarationRevision]:
        """Every distinct merged declaration of an id, oldest first."""

    def declared_node_ids(self, kind: NodeKind | None = None) -> set[str]:
        """Ids of every declared DataSource and Feature (only those of ``kind`` if given)."""

    def referenced_node_ids(self) -> set[str]:
        """Ids of every node some run read or wrote."""

    def transformation_ids(self) -> set[str]:
        """Every transformation id, declared or seen in a run."""

    def edges(self) -> Iterable[tuple[str, str, str]]:
        """Derivation triples ``(input, transformation, output)``, in any order."""

    def io(self, transformation: str, direction: Direction) -> list[str]:
        """The nodes a transformation has read ("in") or written ("out"), sorted."""

    def column_edges(self) -> Iterable[ColumnRow]:
        """Every source column some run named in a derivation, in any order."""

    def whole_edges(self) -> Iterable[tuple[str, str, str]]:
        """Derivation triples some run made from the whole input (every column counts)."""

    def columns_of(self, source: str) -> set[str]:
        """The columns of ``source`` that runs named."""

    def columns_into(self, targets: list[str]) -> Iterable[tuple[str, str]]:
        """``(source, column)`` pairs named in the derivation of any of ``targets``."""

    def column_dependents(self, source: str, column: str) -> set[str]:
        """Nodes derived directly from ``source.column``: by the column or by the whole source."""

    def walk(self, start: str, kind: NodeKind, depth: int | None, forward: bool) -> dict[str, int]:
        """Everything reachable from ``start`` (itself excluded): id -> distance in vertices.

        Unbounded walks (``depth=None``) may report any distance; the facade sorts them by id.
        """

    def impact(self, start: str, kind: NodeKind) -> set[str]:
        """Declared features reachable downstream of ``start`` (of ``kind``), itself excluded."""

    def steps(self, ids: list[str], forward: bool) -> Iterable[tuple[str, str]]:
        """``(node, neighbour)`` derivation steps from ``ids``, neighbours sorted per node."""

    def step_label(self, src: str, dst: str) -> str:
        """The transformation of the derivation step src -> dst (the first by id if several)."""

    def path(self, starts: list[str], ends: list[str]) -> list[str] | None:
        """One shortest path from any of ``starts`` to any of ``ends`` (node ids), or None:
        node and transformation ids alternating, as
        :func:`~lineage_sdk.graph.algorithms.labelled_path` finds it over :meth:`steps` and
        :meth:`step_label` (a backend may search its own way, but must find that same path)."""

    def runs(self, query: RunQuery) -> list[Run]:
        """Runs matching ``query``, newest first (ties by run id, descending)."""

    def run(self, run_id: str) -> Run | None:
        """The run with this id, failed or completed, if stored."""

    def versions(self, transformation: str) -> list[VersionInfo]:
        """Distinct code versions among the transformation's runs, oldest first."""

    def records(self) -> Iterator[Record]:
        """Every record: nodes, transformations, then runs oldest first."""

    def changes(self) -> ChangeSource:
        """The history questions (revisions, producers, moments) answered by this store."""

    def as_of(self, until: _dt.datetime) -> GraphBackend:
        """A backend seeing only the runs that had ended by ``until`` (and what they reached)."""

    def close(self) -> None:
        """Release what the backend holds open (a database connection)."""
