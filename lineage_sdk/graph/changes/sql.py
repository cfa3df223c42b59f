"""The change questions answered in SQL over the normalised store (runs, the run_io view).

Each question is one statement that aggregates in the database (window functions, which SQLite
and PostgreSQL share); only one row per revision, per produced node or per transformation comes
back, with the stored JSON of the few runs those rows name. Store-specific syntax (reading a
field of a run's JSON) comes from the store's dialect (:class:`JsonAccess`); statements use
``:name`` placeholders, which the dialect turns into its driver's.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from .model import Revision, RevisionKey, RunFacts, make_revision, revision_key

__all__ = ["Execute", "JsonAccess", "SQLChangeSource", "to_us"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def to_us(when: _dt.datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    return (when - _EPOCH) // _dt.timedelta(microseconds=1)


class JsonAccess(Protocol):
    """How a database reads a field of a JSON column (the SQL dialect provides it).

    ``path`` is a tuple of keys, constants of this module only (never user input).
    """

    def json_text(self, column: str, path: tuple[str, ...]) -> str:
        """SQL giving the value at ``path`` as JSON text (equal values compare equal)."""
        ...

    def json_scalar(self, column: str, path: tuple[str, ...]) -> str:
        """SQL giving the scalar at ``path`` as text (numbers too), NULL when absent."""
        ...


#: Runs one statement written with ``:name`` placeholders; returns its rows.
Execute = Callable[[str, Mapping[str, Any]], Iterable[Sequence[Any]]]


def _facts_columns(f: JsonAccess, alias: str) -> str:
    """The select list :func:`_row_facts` reads: a run's facts from its columns and its JSON."""
    rec = f"{alias}.record"
    return ", ".join(
        [
            f"{alias}.run_id",
            f"{alias}.transformation_id",
            f"{alias}.status",
            # The exact times: the integer columns are for ordering and cut-offs.
            f.json_scalar(rec, ("started_at",)),
            f.json_scalar(rec, ("ended_at",)),
            f"{alias}.version",
            f"{alias}.source_sha256",
            f.json_text(rec, ("inputs",)),
            f.json_text(rec, ("outputs",)),
            f.json_text(rec, ("derivation",)),
            f.json_scalar(rec, ("code", "file")),
            f.json_scalar(rec, ("code", "qualname")),
            f.json_scalar(rec, ("code", "line_start")),
            f.json_scalar(rec, ("code", "line_end")),
            f"{alias}.git_commit",
            f"{alias}.git_tag",
            f.json_scalar(rec, ("git", "branch")),
            f.json_scalar(rec, ("error_type",)),
        ]
    )


def _json_list(value: Any) -> Any:
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else value


def _row_facts(row: Sequence[Any]) -> RunFacts:
    """The facts of a run from the columns of :func:`_facts_columns` (in that order)."""
    (run_id, t, status, started, ended, version, sha, ins, outs, der, file, qualname,
     start, end, commit, tag, branch, error) = row  # fmt: skip
    return RunFacts(
        run_id=run_id,
        transformation=t,
        status=status,
        started_at=_dt.datetime.fromisoformat(started),
        ended_at=_dt.datetime.fromisoformat(ended),
        version=version,
        source_sha256=sha,
        inputs=tuple(_json_list(ins)),
        outputs=tuple(_json_list(outs)),
        derivation=tuple((o, tuple(i)) for o, i in _json_list(der)),
        file=file,
        qualname=qualname,
        line_start=None if start is None else int(start),
        line_end=None if end is None else int(end),
        commit=commit,
        tag=tag,
        branch=branch,
        error_type=error,
    )


def _newest(a: RunFacts, b: RunFacts) -> RunFacts:
    return a if (a.started_at, a.run_id) >= (b.started_at, b.run_id) else b


def _oldest(a: RunFacts, b: RunFacts) -> RunFacts:
    return a if (a.started_at, a.run_id) <= (b.started_at, b.run_id) else b


class SQLChangeSource:
    """:class:`~lineage_sdk.graph.changes.source.ChangeSource` over an SQL store.

    ``execute(sql, params)`` runs one statement (``:name`` placeholders) and returns its rows;
    ``json`` reads fields of the runs' JSON column in the store's syntax.
    """

    def __init__(self, execute: Execute, json: JsonAccess) -> None:
        self._execute = execute
        self._f = json

    @staticmethod
    def _until(until: _dt.datetime | None, column: str = "ended_us") -> tuple[str, dict[str, Any]]:
        if until is None:
            return "", {}
        return f" AND {column} <= :until_us", {"until_us": to_us(until)}

    def revisions(
        self, until: _dt.datetime | None, transformation: str | None = None
    ) -> list[Revision]:
        f = self._f
        where, params = self._until(until)
        r_where, _ = self._until(until, "r.ended_us")
        if transformation is not None:  # through the (transformation_id, started_us) index
            where += " AND transformation_id = :t"
            r_where += " AND r.transformation_id = :t"
            params["t"] = transformation
        ins = f.json_text("record", ("inputs",))
        outs = f.json_text("record", ("outputs",))
        der = f.json_text("record", ("derivation",))
        # One row per revision (grouped in the database), then the facts of the group's first
        # and newest run, found through the (transformation_id, started_us) index.
        sql = f"""
            WITH g AS (
                SELECT transformation_id, version, source_sha256, {ins} AS ins, {outs} AS outs,
                       {der} AS der, min(started_us) AS first_us, max(started_us) AS last_us,
                       count(*) AS n
                FROM run_records WHERE 1 = 1{where}
                GROUP BY transformation_id, version, source_sha256, {ins}, {outs}, {der}
            )
            SELECT g.version, g.source_sha256, g.ins, g.outs, g.der, g.n,
                   {_facts_columns(f, "r")}
            FROM g JOIN run_records r ON r.transformation_id = g.transformation_id
                              AND r.started_us IN (g.first_us, g.last_us){r_where}
        """
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for version, sha, g_ins, g_outs, g_der, n, *columns in self._execute(sql, params):
            facts = _row_facts(columns)
            key = facts.key()
            # A run of another revision may start in the same microsecond: keep the group's own.
            group_key = revision_key(
                facts.transformation,
                version,
                sha,
                inputs=_json_list(g_ins),
                outputs=_json_list(g_outs),
                derivation=_json_list(g_der),
            )
            if key != group_key:
                continue
            slot = groups.setdefault((g_ins, g_outs, g_der, *key[:3]), [key, facts, facts, int(n)])
            slot[1], slot[2] = _oldest(slot[1], facts), _newest(slot[2], facts)
        # Groups are keyed by the stored JSON; runs that list the same inputs in another order
        # fall in separate SQL groups and are merged here by their order-free key.
        merged: dict[RevisionKey, tuple[RunFacts, RunFacts, int]] = {}
        for key, first, last, n in groups.values():
            if key in merged:
                a, b, m = merged[key]
                merged[key] = (_oldest(a, first), _newest(b, last), m + n)
            else:
                merged[key] = (first, last, n)
        return [make_revision(key, a, b, n) for key, (a, b, n) in merged.items()]

    def _newest_of_each(
        self, pairs: str, extra: str, until: _dt.datetime | None
    ) -> Iterable[Sequence[Any]]:
        """For each row of ``pairs`` (a query giving ``key`` and ``transformation_id``), the
        facts of that transformation's newest run satisfying ``extra`` (on ``x``), found by
        walking the (transformation_id, started_us) index backwards."""
        where, params = self._until(until, "x.ended_us")
        newest = f"""
                FROM runs x WHERE x.transformation_id = p.transformation_id{extra}{where}
                ORDER BY x.started_us DESC, x.run_id DESC LIMIT 1"""
        # The run is found by its whole key (run_log's order), never by its id alone.
        sql = f"""
            WITH n AS (
                SELECT p.key, p.transformation_id,
                       (SELECT x.started_us {newest}) AS started_us,
                       (SELECT x.run_id {newest}) AS run_id
                FROM ({pairs}) p
            )
            SELECT n.key, {_facts_columns(self._f, "r")}
            FROM n JOIN run_records r ON r.transformation_id = n.transformation_id
                                     AND r.started_us = n.started_us AND r.run_id = n.run_id
        """
        return self._execute(sql, params)

    def producers(self, until: _dt.datetime | None) -> dict[str, RunFacts]:
        rows = self._newest_of_each(
            "SELECT node_id AS key, transformation_id FROM transformation_io "
            "WHERE direction = 'out'",
            " AND x.status = 'completed' AND EXISTS (SELECT 1 FROM run_io o "
            "WHERE o.transformation_id = x.transformation_id AND o.started_us = x.started_us "
            "AND o.run_id = x.run_id AND o.direction = 'out' AND o.node_id = p.key)",
            until,
        )
        out: dict[str, RunFacts] = {}
        for node, *columns in rows:  # a node several transformations write: the newest run
            facts = _row_facts(columns)
            have = out.get(node)
            out[node] = facts if have is None else _newest(have, facts)
        return out

    def newest_runs(self, until: _dt.datetime | None) -> dict[str, RunFacts]:
        rows = self._newest_of_each(
            "SELECT DISTINCT transformation_id AS key, transformation_id FROM runs", "", until
        )
        return {str(t): _row_facts(columns) for t, *columns in rows}

    def code_changes_since(self, run: RunFacts, until: _dt.datetime | None) -> list[RunFacts]:
        where, params = self._until(until)
        r_where, _ = self._until(until, "r.ended_us")
        sql = f"""
            WITH g AS (
                SELECT version, source_sha256, max(started_us) AS last_us FROM runs
                WHERE transformation_id = :t AND started_us >= :start_us{where}
                GROUP BY version, source_sha256
            )
            SELECT {_facts_columns(self._f, "r")} FROM g
            JOIN run_records r ON r.transformation_id = :t AND r.started_us = g.last_us{r_where}
        """
        # The stored column may round down by a microsecond: start one earlier.
        params |= {"t": run.transformation, "start_us": to_us(run.started_at) - 1}
        newest: dict[tuple[str | None, str | None], RunFacts] = {}
        for row in self._execute(sql, params):
            facts = _row_facts(row)
            code = (facts.version, facts.source_sha256)
            if code != (run.version, run.source_sha256) and (facts.started_at, facts.run_id) > (
                run.started_at,
                run.run_id,
            ):
                have = newest.get(code)
                newest[code] = facts if have is None else _newest(have, facts)
        return sorted(newest.values(), key=lambda f: (f.started_at, f.run_id))

    def runs_producing(self, node_id: str, until: _dt.datetime | None) -> list[RunFacts]:
        where, params = self._until(until, "r.ended_us")
        sql = (
            f"SELECT {_facts_columns(self._f, 'r')} FROM run_io o JOIN run_records r "
            "ON r.transformation_id = o.transformation_id AND r.started_us = o.started_us "
            "AND r.run_id = o.run_id "
            f"WHERE o.direction = 'out' AND o.node_id = :node{where} "
            "ORDER BY r.started_us DESC, r.run_id DESC"
        )
        return [_row_facts(row) for row in self._execute(sql, params | {"node": node_id})]

    def moment(self, field: str, value: str) -> _dt.datetime | None:
        conditions = {
            "run_id": "run_id = :value",
            "commit": "git_commit = :value",
            "commit_prefix": f"substr(git_commit, 1, {len(value)}) = :value",
            "tag": "git_tag = :value",
            "branch": f"{self._f.json_scalar('record', ('git', 'branch'))} = :value",
        }
        if field not in conditions:
            raise ValueError(f"unknown moment field {field!r}; accepted: {sorted(conditions)}")
        sql = (
            f"SELECT {self._f.json_scalar('record', ('ended_at',))} FROM run_records "
            f"WHERE {conditions[field]} ORDER BY ended_us DESC, run_id DESC LIMIT 1"
        )
        for (ended,) in self._execute(sql, {"value": value}):
            return _dt.datetime.fromisoformat(ended)
        return None
