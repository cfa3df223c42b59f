"""The change questions answered in SQL over the normalised store (runs, run_outputs).

Each question is one statement that aggregates in the database (window functions, which SQLite
and PostgreSQL share); only one row per revision, per produced node or per transformation comes
back, with the stored JSON of the few runs those rows name. Store-specific syntax (reading a
field of a run's JSON, the placeholder) comes from :class:`SQLFlavour`.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from ..records import Run
from ..serde import from_dict
from .model import Revision, RevisionKey, RunFacts, make_revision

__all__ = ["SQLITE_FLAVOUR", "SQLChangeSource", "SQLFlavour", "to_us"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def to_us(when: _dt.datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    return (when - _EPOCH) // _dt.timedelta(microseconds=1)


@attrs.frozen
class SQLFlavour:
    """What differs between SQL stores for these queries.

    ``json_text(column, path)``: SQL giving the JSON text at ``path`` (a tuple of keys) of a JSON
    column, so that equal values compare equal as text; ``json_scalar`` the same for a scalar
    (text or NULL); ``param``: the placeholder.
    """

    json_text: Callable[[str, tuple[str, ...]], str]
    json_scalar: Callable[[str, tuple[str, ...]], str]
    param: str = "?"


def _sqlite_path(path: tuple[str, ...]) -> str:
    # Keys are constants of this module (never user input); quoted for JSON path syntax.
    return "'$" + "".join(f'."{key}"' for key in path) + "'"


SQLITE_FLAVOUR = SQLFlavour(
    json_text=lambda column, path: f"json_extract({column}, {_sqlite_path(path)})",
    json_scalar=lambda column, path: f"json_extract({column}, {_sqlite_path(path)})",
)

Execute = Callable[[str, Sequence[Any]], Iterable[Sequence[Any]]]


def _facts(text: str | dict[str, Any]) -> RunFacts:
    data = json.loads(text) if isinstance(text, str) else text
    run = from_dict(data)
    assert isinstance(run, Run)
    return RunFacts.of(run)


def _newest(a: RunFacts, b: RunFacts) -> RunFacts:
    return a if (a.started_at, a.run_id) >= (b.started_at, b.run_id) else b


def _oldest(a: RunFacts, b: RunFacts) -> RunFacts:
    return a if (a.started_at, a.run_id) <= (b.started_at, b.run_id) else b


class SQLChangeSource:
    """:class:`~lineage_sdk.changes.source.ChangeSource` over an SQL store.

    ``execute(sql, params)`` runs one statement and returns its rows; ``flavour`` names the
    store's syntax.
    """

    def __init__(self, execute: Execute, flavour: SQLFlavour = SQLITE_FLAVOUR) -> None:
        self._execute = execute
        self._f = flavour

    def _until(self, until: _dt.datetime | None, column: str = "ended_us") -> tuple[str, list[Any]]:
        if until is None:
            return "", []
        return f" AND {column} <= {self._f.param}", [to_us(until)]

    def revisions(self, until: _dt.datetime | None) -> list[Revision]:
        f = self._f
        where, params = self._until(until)
        ins = f.json_text("record", ("inputs",))
        outs = f.json_text("record", ("outputs",))
        der = f.json_text("record", ("derivation",))
        group = "transformation_id, version, source_sha256, ins, outs, der"
        sql = f"""
            WITH r AS (
                SELECT run_id, transformation_id, version, source_sha256, started_us,
                       {ins} AS ins, {outs} AS outs, {der} AS der
                FROM runs WHERE 1 = 1{where}
            ),
            ranked AS (
                SELECT run_id, {group},
                       count(*) OVER (PARTITION BY {group}) AS n,
                       row_number() OVER (PARTITION BY {group}
                                          ORDER BY started_us, run_id) AS oldest,
                       row_number() OVER (PARTITION BY {group}
                                          ORDER BY started_us DESC, run_id DESC) AS newest
                FROM r
            )
            SELECT ranked.oldest, ranked.n, runs.record
            FROM ranked JOIN runs ON runs.run_id = ranked.run_id
            WHERE ranked.oldest = 1 OR ranked.newest = 1
        """
        # Groups are keyed by the stored JSON; runs that list the same inputs in another order
        # fall in separate SQL groups and are merged here by their order-free key.
        merged: dict[RevisionKey, tuple[RunFacts, RunFacts, int]] = {}
        for oldest, n, record in self._execute(sql, params):
            facts = _facts(record)
            key = facts.key()
            first, last, count = merged.get(key, (facts, facts, 0))
            first, last = _oldest(first, facts), _newest(last, facts)
            # A group's first and newest rows both carry its count: count each group once.
            if oldest == 1:
                count += int(n)
            merged[key] = (first, last, count)
        return [make_revision(key, a, b, n) for key, (a, b, n) in merged.items()]

    def _ranked_records(
        self, partition: str, source: str, where: str, params: list[Any]
    ) -> Iterable[Sequence[Any]]:
        sql = f"""
            SELECT k.key, runs.record FROM (
                SELECT {partition} AS key, r.run_id,
                       row_number() OVER (PARTITION BY {partition}
                                          ORDER BY r.started_us DESC, r.run_id DESC) AS rank
                FROM {source} WHERE 1 = 1{where}
            ) k JOIN runs ON runs.run_id = k.run_id
            WHERE k.rank = 1
        """
        return self._execute(sql, params)

    def producers(self, until: _dt.datetime | None) -> dict[str, RunFacts]:
        where, params = self._until(until, "r.ended_us")
        rows = self._ranked_records(
            "o.node_id",
            "run_outputs o JOIN runs r ON r.run_id = o.run_id",
            f" AND r.status = 'completed'{where}",
            params,
        )
        cache: dict[str, RunFacts] = {}
        out = {}
        for node, record in rows:
            text = str(record)
            out[str(node)] = cache.setdefault(text, _facts(text))
        return out

    def newest_runs(self, until: _dt.datetime | None) -> dict[str, RunFacts]:
        where, params = self._until(until, "r.ended_us")
        rows = self._ranked_records("r.transformation_id", "runs r", where, params)
        return {str(t): _facts(record) for t, record in rows}

    def runs_producing(self, node_id: str, until: _dt.datetime | None) -> list[RunFacts]:
        where, params = self._until(until, "r.ended_us")
        p = self._f.param
        sql = (
            f"SELECT r.record FROM run_outputs o JOIN runs r ON r.run_id = o.run_id "
            f"WHERE o.node_id = {p}{where} ORDER BY r.started_us DESC, r.run_id DESC"
        )
        return [_facts(record) for (record,) in self._execute(sql, [node_id, *params])]

    def moment(self, field: str, value: str) -> _dt.datetime | None:
        p = self._f.param
        conditions = {
            "run_id": f"run_id = {p}",
            "commit": f"git_commit = {p}",
            "commit_prefix": f"substr(git_commit, 1, {len(value)}) = {p}",
            "tag": f"git_tag = {p}",
            "branch": f"{self._f.json_scalar('record', ('git', 'branch'))} = {p}",
        }
        if field not in conditions:
            raise ValueError(f"unknown moment field {field!r}; accepted: {sorted(conditions)}")
        sql = (
            f"SELECT record FROM runs WHERE {conditions[field]} "
            "ORDER BY ended_us DESC, run_id DESC LIMIT 1"
        )
        for (record,) in self._execute(sql, [value]):
            return _facts(record).ended_at
        return None
