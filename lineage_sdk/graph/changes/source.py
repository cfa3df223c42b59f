"""The questions change analysis asks a store, and their answer over runs held in memory.

A store answers :class:`ChangeSource` with aggregates (one row per revision, per produced node,
per transformation), so an SQL store computes them in SQL and never hands over every run.
:class:`RunsChangeSource` answers them from run records, for the memory and JSON stores, and is
the oracle the SQL answers are tested against.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Protocol

from ...records import Run
from .model import Revision, RevisionBuilder, RunFacts

__all__ = ["MOMENT_FIELDS", "ChangeSource", "RunsChangeSource"]

#: What :meth:`ChangeSource.moment` can match runs by.
MOMENT_FIELDS = ("run_id", "commit", "commit_prefix", "tag", "branch")


class ChangeSource(Protocol):
    """Aggregates over the runs recorded up to ``until`` (every run when ``until`` is None).

    "Up to" means the run had ended by then: a run is recorded when it ends.
    """

    def revisions(
        self, until: _dt.datetime | None, transformation: str | None = None
    ) -> list[Revision]:
        """Every revision of every transformation (or of one), unchained (``changed`` empty)."""
        ...

    def code_changes_since(self, run: RunFacts, until: _dt.datetime | None) -> list[RunFacts]:
        """Per (version, source hash) of ``run``'s transformation other than ``run``'s own, the
        newest run with it that started after ``run``, oldest first."""
        ...

    def producers(self, until: _dt.datetime | None) -> dict[str, RunFacts]:
        """Per node, the newest (by start) completed run that wrote it."""
        ...

    def newest_runs(self, until: _dt.datetime | None) -> dict[str, RunFacts]:
        """Per transformation, its newest run (any status)."""
        ...

    def runs_producing(self, node_id: str, until: _dt.datetime | None) -> list[RunFacts]:
        """The runs that wrote ``node_id`` (any status), newest first."""
        ...

    def moment(self, field: str, value: str) -> _dt.datetime | None:
        """When the last run matching ``field == value`` ended (see :data:`MOMENT_FIELDS`)."""
        ...


def _newer(a: RunFacts, b: RunFacts | None) -> bool:
    return b is None or (a.started_at, a.run_id) > (b.started_at, b.run_id)


class RunsChangeSource:
    """:class:`ChangeSource` over run records in memory (one pass per question)."""

    def __init__(self, runs: Iterable[Run]) -> None:
        self._facts = [RunFacts.of(r) for r in runs]
        self._by_t: dict[str, list[RunFacts]] = {}
        for facts in self._facts:
            self._by_t.setdefault(facts.transformation, []).append(facts)

    def _upto(self, until: _dt.datetime | None) -> Iterable[RunFacts]:
        if until is None:
            return self._facts
        return (f for f in self._facts if f.ended_at <= until)

    def revisions(
        self, until: _dt.datetime | None, transformation: str | None = None
    ) -> list[Revision]:
        builder = RevisionBuilder()
        candidates = self._facts if transformation is None else self._by_t.get(transformation, [])
        for facts in candidates:
            if until is None or facts.ended_at <= until:
                builder.add(facts)
        return builder.revisions()

    def code_changes_since(self, run: RunFacts, until: _dt.datetime | None) -> list[RunFacts]:
        newest: dict[tuple[str | None, str | None], RunFacts] = {}
        for facts in self._by_t.get(run.transformation, ()):
            code = (facts.version, facts.source_sha256)
            if (
                (until is None or facts.ended_at <= until)
                and code != (run.version, run.source_sha256)
                and (facts.started_at, facts.run_id) > (run.started_at, run.run_id)
                and _newer(facts, newest.get(code))
            ):
                newest[code] = facts
        return sorted(newest.values(), key=lambda f: (f.started_at, f.run_id))

    def producers(self, until: _dt.datetime | None) -> dict[str, RunFacts]:
        out: dict[str, RunFacts] = {}
        for facts in self._upto(until):
            if facts.status != "completed":
                continue
            for node in facts.outputs:
                if _newer(facts, out.get(node)):
                    out[node] = facts
        return out

    def newest_runs(self, until: _dt.datetime | None) -> dict[str, RunFacts]:
        out: dict[str, RunFacts] = {}
        for facts in self._upto(until):
            if _newer(facts, out.get(facts.transformation)):
                out[facts.transformation] = facts
        return out

    def runs_producing(self, node_id: str, until: _dt.datetime | None) -> list[RunFacts]:
        found = [f for f in self._upto(until) if node_id in f.outputs]
        return sorted(found, key=lambda f: (f.started_at, f.run_id), reverse=True)

    def moment(self, field: str, value: str) -> _dt.datetime | None:
        def matches(f: RunFacts) -> bool:
            if field == "run_id":
                return f.run_id == value
            if field == "commit":
                return f.commit == value
            if field == "commit_prefix":
                return f.commit is not None and f.commit.startswith(value)
            if field == "tag":
                return f.tag == value
            if field == "branch":
                return f.branch == value
            raise ValueError(f"unknown moment field {field!r}; accepted: {MOMENT_FIELDS}")

        ends = [f.ended_at for f in self._facts if matches(f)]
        return max(ends) if ends else None
