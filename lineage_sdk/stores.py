"""Moving and trimming whole stores: ``lineage copy`` and ``lineage prune``.

Example::

    summary = copy_store(parse_store("json:ci-run.jsonl"), parse_store("postgresql://db/lineage"))
    print(summary.copied, summary.present, summary.skipped)

Copying is idempotent by id: a run (by run id) or a declaration (by node or transformation id)
the target holds already is counted as present and not written again, so the same local store
can be copied into the shared one after every CI run. Records the source cannot read (a torn
JSON line, a record from a newer release) are skipped and counted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import attrs

from .config import SinkTarget, parse_sinks
from .records import DataSource, Feature, Record, Run, Transformation
from .serde import UnsupportedRecord, from_dict
from .sinks import build_sink
from .sinks.sqlretention import Pruned, prune
from .sinks.sqlschema import POSTGRES, RECORD_TABLES, SQLITE

__all__ = ["CopySummary", "copy_store", "parse_store", "prune_store", "read_store"]

_STORES = ("json", "sqlite", "postgresql")
_BATCH = 500
Progress = Callable[[int, "int | None"], None]


@attrs.frozen(slots=True)
class CopySummary:
    """How many records were copied, found present already, or skipped as unreadable."""

    copied: int
    present: int
    skipped: int


def parse_store(text: str, argument: str = "store") -> SinkTarget:
    """One store (``json:PATH``, ``sqlite:PATH`` or a PostgreSQL DSN); ValueError otherwise."""
    targets = parse_sinks(text, Path.cwd(), argument)
    if len(targets) != 1 or targets[0].scheme not in _STORES:
        raise ValueError(
            f"{argument}: {str(targets[0]) if len(targets) == 1 else text!r} is not one store; "
            "use json:PATH, sqlite:PATH or postgresql://USER@HOST/DB"
        )
    return targets[0]


def _settings() -> Any:
    from .project_file import load_settings  # the project file counts, as for the SDK

    return load_settings({}, os.environ, Path.cwd())


def _connect(target: SinkTarget, create: bool) -> Any:
    """A DB-API connection to an SQL store (autocommit) and its model dialect."""
    if target.scheme == "sqlite":
        from .sinks.sqlite import connect

        return connect(target.value or "", create=create)
    from .sinks.postgres import connect as pg_connect
    from .sinks.postgres import connect_reader, parse_dsn

    settings = _settings()
    dsn = parse_dsn(target.value or "", settings.pg_schema)
    if not create:
        return connect_reader(dsn, settings.pg_connect_timeout_s)
    try:
        return pg_connect(dsn, connect_timeout_s=settings.pg_connect_timeout_s)
    except Exception as exc:  # psycopg's errors may quote the server; never the password
        from .sinks.postgres import describe_failure

        raise ConnectionError(describe_failure(dsn, exc)) from None


def read_store(target: SinkTarget, on_skip: Callable[[], None] | None = None) -> Iterator[Record]:
    """Every record of a store, streamed; ``on_skip`` is called for each unreadable one."""
    skip = on_skip or (lambda: None)
    if target.scheme == "json":
        from .sinks.jsonfile import read_json_lines

        yield from read_json_lines(target.value or "", skip)
        return
    if target.scheme == "sqlite" and not Path(target.value or "").exists():
        raise FileNotFoundError(f"no lineage store at {target.value}")
    with closing(_connect(target, create=False)) as conn:
        for table, order in RECORD_TABLES:
            for (text,) in conn.execute(f"SELECT record FROM {table} ORDER BY {order}"):
                try:
                    yield from_dict(json.loads(text))
                except (ValueError, UnsupportedRecord):
                    skip()


def _count(target: SinkTarget) -> int | None:
    if target.scheme == "json":
        return None
    with closing(_connect(target, create=False)) as conn:
        total = 0
        for table, _ in RECORD_TABLES:
            total += int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return total


def _present(target: SinkTarget) -> tuple[set[str], set[str]]:
    """The run ids and declaration ids the target holds."""
    runs: set[str] = set()
    declared: set[str] = set()
    if target.scheme == "json":
        for record in read_store(target):
            if isinstance(record, Run):
                runs.add(record.run_id)
            else:
                declared.add(record.id)
        return runs, declared
    if target.scheme == "sqlite" and not Path(target.value or "").exists():
        return runs, declared
    with closing(_connect(target, create=True)) as conn:
        runs.update(row[0] for row in conn.execute("SELECT run_id FROM runs"))
        for table in ("nodes", "transformations"):
            declared.update(row[0] for row in conn.execute(f"SELECT id FROM {table}"))
    return runs, declared


def copy_store(
    source: SinkTarget, target: SinkTarget, progress: Progress | None = None
) -> CopySummary:
    """Copy every record of ``source`` that ``target`` lacks; raise if either cannot be used."""
    skipped = 0

    def skip() -> None:
        nonlocal skipped
        skipped += 1

    total = _count(source)
    runs, declared = _present(target)
    sink = build_sink(target, _settings())
    copied = present = done = 0
    batch: list[Record] = []
    try:
        for record in read_store(source, skip):
            done += 1
            key = record.run_id if isinstance(record, Run) else _declared_id(record)
            if key in (runs if isinstance(record, Run) else declared):
                present += 1
            else:
                (runs if isinstance(record, Run) else declared).add(key)
                batch.append(record)
            if len(batch) >= _BATCH:
                sink.emit(batch)
                copied += len(batch)
                batch = []
            if progress is not None and done % _BATCH == 0:
                progress(done, total)
        if batch:
            sink.emit(batch)
            copied += len(batch)
        sink.flush()
    finally:
        sink.close()
    if progress is not None:
        progress(done, total)
    return CopySummary(copied, present, skipped)


def _declared_id(record: Record) -> str:
    assert isinstance(record, (DataSource, Feature, Transformation))
    return record.id


def prune_store(target: SinkTarget, older_than: dt.timedelta, *, dry_run: bool) -> Pruned:
    """Remove runs older than ``older_than`` from an SQL store (see :func:`.sqlretention.prune`)."""
    if target.scheme not in ("sqlite", "postgresql"):
        raise ValueError(f"prune works on SQL stores (sqlite:PATH, postgresql://...), not {target}")
    if target.scheme == "sqlite" and not Path(target.value or "").exists():
        raise FileNotFoundError(f"no lineage store at {target.value}")
    cutoff = dt.datetime.now(dt.timezone.utc) - older_than
    cutoff_us = int(cutoff.timestamp() * 1_000_000)
    with closing(_connect(target, create=False)) as conn:
        if target.scheme == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = prune(conn, SQLITE, cutoff_us, dry_run=dry_run)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return result
        with conn.transaction():
            return prune(conn, POSTGRES, cutoff_us, dry_run=dry_run)
