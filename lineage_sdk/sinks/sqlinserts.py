"""Multi-row INSERT statements of the SQL stores, and their texts, built once.

A database pays per statement (a round trip, parsing), not per row, so a batch's rows of one
table go in as few statements as the dialect's parameter limit allows: one placeholder per value
(SQLite), or one array per column (PostgreSQL's ``unnest``: one text for any number of rows). A
statement text depends on the table, the dialect and the number of rows only; run rows come in a
few sizes (:func:`insert_runs`), so a driver caches a few prepared statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from .sqlschema import Dialect

__all__ = [
    "IGNORE",
    "INSERT_RUNS",
    "REPLACE_RUNNING",
    "RUN_COLUMNS",
    "Statement",
    "insert_rows",
    "insert_run_sql",
    "insert_runs",
    "values_sql",
]

# Columns that are not text, for typed arrays (PostgreSQL's unnest).
_COLUMN_TYPES = {"whole": "INTEGER"}


def _array_type(column: str) -> str:
    return "BIGINT" if column.endswith(("_us", "_ns")) else _COLUMN_TYPES.get(column, "TEXT")


#: The tail of an insert of rows other writers may insert too: the first one stays.
IGNORE = "ON CONFLICT DO NOTHING"

#: The runs table's columns as run_row fills them: the run's own, then SharedParts.columns.
RUN_COLUMNS = (
    "run_id, parent_run_id, status, started_us, ended_us, duration_ns, record, "
    "transformation_id, revision_id, process_id"
)
#: The insert of run rows (RUN_COLUMNS), to end with REPLACE_RUNNING.
INSERT_RUNS = f"INSERT INTO run_log ({RUN_COLUMNS})"
# A long run is written as 'running' first (and again as a heartbeat); its end record replaces
# that row. A stored end is never replaced, whatever arrives late.
REPLACE_RUNNING = (
    "ON CONFLICT (transformation_id, started_us, run_id) DO UPDATE SET "
    "status = excluded.status, ended_us = excluded.ended_us, "
    "duration_ns = excluded.duration_ns, record = excluded.record, "
    "revision_id = excluded.revision_id, process_id = excluded.process_id "
    "WHERE run_log.status = 'running'"
)


@attrs.frozen(slots=True)
class Statement:
    """One statement of a batch, in its dialect; ``shared`` when other writers touch its rows."""

    sql: str
    params: list[Any]
    shared: bool


_ROWS_PER_STATEMENT = 500  # the statement texts of rarer batches: at most 500 sizes


def insert_rows(
    plan: list[Statement],
    dialect: Dialect,
    head: str,
    rows: Sequence[Sequence[Any]],
    *,
    tail: str = "",
    shared: bool = True,
) -> None:
    """``head VALUES (...), (...) tail``: many rows per statement, one statement per table.

    A database pays per statement (a round trip, parsing), not per row. With ``array_rows`` the
    rows go as one array per column instead of one placeholder per value.
    """
    if dialect.array_rows:
        sql = _array_sql(dialect, head, tail)
        if len(rows) == 1:
            plan.append(Statement(sql, [[value] for value in rows[0]], shared))
        else:
            plan.append(
                Statement(sql, [list(column) for column in zip(*rows, strict=True)], shared)
            )
        return
    if len(rows) == 1:  # the common batch: one run
        plan.append(
            Statement(values_sql(dialect, head, tail, len(rows[0]), 1), list(rows[0]), shared)
        )
        return
    per_statement = max(1, min(_ROWS_PER_STATEMENT, dialect.max_parameters // len(rows[0])))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = values_sql(dialect, head, tail, len(chunk[0]), len(chunk))
        plan.append(Statement(sql, [value for row in chunk for value in row], shared))


# Statement texts depend on the table, the dialect and the number of rows only: built once.
# (Keyed by the dialect's name: hashing a whole Dialect per statement costs more than a lookup.)
_SQL_TEXTS: dict[tuple[str, str, str, int, int], str] = {}


def insert_runs(plan: list[Statement], dialect: Dialect, rows: Sequence[Sequence[Any]]) -> None:
    """Run rows (:func:`~lineage_sdk.sinks.sqlrows.run_row`): an async batch of runs (up to
    2,048) is one statement where the parameter limit allows, which SQLite runs as its own
    transaction (see ``sqlite._transaction``).

    The statement's rows are the next power of two, padded with rows of NULLs that it leaves
    out (a run id is never NULL): a few statement texts, so the driver's statement cache holds
    a few prepared statements (~1 MiB each at 1,024 rows), not one per batch size.
    """
    if dialect.array_rows:
        insert_rows(plan, dialect, INSERT_RUNS, rows, tail=REPLACE_RUNNING, shared=False)
        return
    width = len(rows[0])
    most = max(1, dialect.max_parameters // width)
    for start in range(0, len(rows), most):
        chunk = rows[start : start + most]
        size = min(1 << (len(chunk) - 1).bit_length(), most)
        params = [value for row in chunk for value in row]
        if size > len(chunk):
            params += [None] * (width * (size - len(chunk)))
        plan.append(Statement(_padded_runs_sql(dialect, width, size), params, False))


_PADDED_RUNS_SQL: dict[tuple[str, int, int], str] = {}


def _padded_runs_sql(dialect: Dialect, width: int, count: int) -> str:
    key = (dialect.name, width, count)
    sql = _PADDED_RUNS_SQL.get(key)
    if sql is None:
        group = "(" + ", ".join("?" * width) + ")"
        rows = ", ".join([group] * count)
        # SQLite names a VALUES list's columns column1, column2...; the WHERE also keeps the
        # upsert clause from parsing as part of the SELECT.
        sql = _PADDED_RUNS_SQL[key] = dialect.sql(
            f"{INSERT_RUNS} SELECT * FROM (VALUES {rows}) WHERE column1 IS NOT NULL "
            f"{REPLACE_RUNNING}"
        )
    return sql


def values_sql(dialect: Dialect, head: str, tail: str, width: int, count: int) -> str:
    """``head VALUES`` ``count`` groups of ``width`` placeholders ``tail``, in ``dialect``."""
    key = (dialect.name, head, tail, width, count)
    sql = _SQL_TEXTS.get(key)
    if sql is None:
        group = "(" + ", ".join("?" * width) + ")"
        sql = dialect.sql(f"{head} VALUES {', '.join([group] * count)} {tail}".rstrip())
        if len(_SQL_TEXTS) < 1024:  # a bounded cache: batch sizes vary
            _SQL_TEXTS[key] = sql
    return sql


def _array_sql(dialect: Dialect, head: str, tail: str) -> str:
    key = (dialect.name, head, tail, -1, -1)
    sql = _SQL_TEXTS.get(key)
    if sql is None:
        columns = head[head.index("(") + 1 : head.rindex(")")].split(",")
        arrays = ", ".join(f"?::{_array_type(c.strip())}[]" for c in columns)
        sql = _SQL_TEXTS[key] = dialect.sql(
            f"{head} SELECT * FROM unnest({arrays}) {tail}".rstrip()
        )
    return sql


def insert_run_sql(dialect: Dialect) -> str:
    """The statement that writes one run row (:func:`~lineage_sdk.sinks.sqlrows.run_row`), in
    ``dialect``."""
    if dialect.array_rows:
        return _array_sql(dialect, INSERT_RUNS, REPLACE_RUNNING)
    return values_sql(dialect, INSERT_RUNS, REPLACE_RUNNING, RUN_COLUMNS.count(",") + 1, 1)
