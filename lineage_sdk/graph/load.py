"""``load_graph()``: from a sink, a store string or the configuration to a :class:`LineageGraph`.

Stores that answer queries in place (SQL databases) get an SQL backend with their dialect; the
others (a memory sink, a JSON-lines file, any sink with ``read()``) are read into memory once.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path

from .. import _runtime
from ..config import SinkTarget, parse_sinks
from ..records import Record, Run
from ..sinks.base import ReadableSink, Sink
from .dialects import PostgresDialect, SQLDialect, SQLiteDialect
from .facade import LineageGraph
from .liveness import as_seen
from .sql import SQLBackend

__all__ = ["load_graph", "open_store", "parse_store", "store_records"]

_ACCEPTED = "use sqlite:PATH, json:PATH, postgresql://USER@HOST/DB or memory"


def _dialect_for(scheme: str) -> SQLDialect | None:
    """The SQL dialect of a store scheme, or None when the store is read into memory."""
    if scheme == "sqlite":
        return SQLiteDialect()
    if scheme == "postgresql":
        settings = _runtime.current().settings
        return PostgresDialect(settings.pg_schema, settings.pg_connect_timeout_s)
    return None


def _queryable(sink: Sink) -> SinkTarget | None:
    """The store behind a sink that can be queried in place (a database), else None."""
    from ..sinks.sqlite import SQLiteSink

    if isinstance(sink, SQLiteSink):
        return SinkTarget("sqlite", str(sink.path))
    from ..sinks.postgres import PostgresSink  # psycopg itself is imported on connecting

    if isinstance(sink, PostgresSink):
        return SinkTarget("postgresql", sink.dsn)
    return None


def parse_store(text: str) -> SinkTarget:
    """One readable store from a ``LINEAGE_SINK``-style string (``sqlite:PATH``, ``json:PATH``)."""
    parsed = parse_sinks(text, Path.cwd(), "store")
    if len(parsed) != 1:
        raise ValueError(f"load_graph takes one store, got {text!r}")
    if _dialect_for(parsed[0].scheme) is None and parsed[0].scheme != "json":
        raise ValueError(f"cannot read lineage back from {text!r}; {_ACCEPTED}")
    return parsed[0]


def open_store(store: SinkTarget, *, include_failed: bool = False) -> LineageGraph:
    """The graph of one parsed store target.

    FileNotFoundError when a file store is missing; ValueError for a store that cannot be read
    back (``openlineage``, ``none``, plug-ins).
    """
    dialect = _dialect_for(store.scheme)
    if dialect is None and store.scheme != "json":
        raise ValueError(f"cannot read lineage back from {str(store)!r}; {_ACCEPTED}")
    if dialect is not None:
        backend = SQLBackend(dialect, store.value or "", include_failed=include_failed)
        return LineageGraph(backend=backend)
    from ..sinks.jsonfile import check_json_store, read_json_lines

    check_json_store(Path(store.value or ""))
    return LineageGraph(read_json_lines(store.value or ""), include_failed=include_failed)


def store_records(store: SinkTarget) -> Iterator[Record]:
    """Every record of a file or SQL store, streamed: nodes, transformations, then runs.

    Memory stays constant whatever the store's size: nothing is collected but, for a JSON store,
    its declarations (read in a first pass so that they come before the runs). An SQL store's
    runs come oldest first; a JSON store's in the order they were written.
    """
    dialect = _dialect_for(store.scheme)
    if dialect is None and store.scheme != "json":
        raise ValueError(f"cannot read lineage back from {str(store)!r}; {_ACCEPTED}")
    location = store.value or ""
    if store.scheme != "postgresql" and not Path(location).exists():
        raise FileNotFoundError(f"no lineage store at {location}")
    if dialect is not None:
        backend = SQLBackend(dialect, location)
        try:
            yield from backend.records()
        finally:
            backend.close()
        return
    from ..sinks.jsonfile import check_json_store, read_json_lines

    check_json_store(Path(location))
    yield from (r for r in read_json_lines(location) if not isinstance(r, Run))
    yield from _json_runs(location)


def _json_runs(location: str) -> Iterator[Run]:
    """A JSON store's runs, one per run id: a long run's end replaces its running records.

    Only the ids of long runs are kept in memory (the store is read three times instead).
    """
    from ..sinks.jsonfile import read_json_lines

    def runs() -> Iterator[tuple[int, Run]]:
        return ((i, r) for i, r in enumerate(read_json_lines(location)) if isinstance(r, Run))

    last_running = {r.run_id: i for i, r in runs() if r.status == "running"}
    ended = {r.run_id for _, r in runs() if r.status != "running" and r.run_id in last_running}
    for i, run in runs():
        if run.status == "running" and (run.run_id in ended or last_running[run.run_id] != i):
            continue
        yield as_seen(run)


def load_graph(
    target: Sink | str | None = None,
    *,
    include_failed: bool = False,
    as_of: _dt.datetime | str | None = None,
) -> LineageGraph:
    """Read recorded lineage back as a :class:`LineageGraph`.

    ``target``: a sink object, a store string as in ``LINEAGE_SINK`` (``sqlite:PATH``,
    ``json:PATH``, ``memory`` for the configured memory sink), or None for the configured store
    (the first readable one). The graph comes from completed runs; ``include_failed=True`` adds
    the edges of failed runs (which are always listed by ``runs()``). ``as_of``: the graph as it
    stood then (a datetime, ISO-8601 text, a run id, or a git tag, branch or commit; see
    :meth:`LineageGraph.as_of`).

    Example::

        load_graph("sqlite:lineage.db").upstream("user_ctr_7d")
        load_graph("sqlite:lineage.db", as_of="v1.0").upstream("user_ctr_7d")
    """
    graph = _load(target, include_failed)
    if as_of is None:
        return graph
    try:
        return graph.as_of(as_of)
    finally:
        graph.close()


def _load(target: Sink | str | None, include_failed: bool) -> LineageGraph:
    if isinstance(target, str) and target.strip().lower() != "memory":
        return open_store(parse_store(target), include_failed=include_failed)
    # The configured store, the configured memory sink, or a sink object: whatever is still
    # pending in delivery for it is written first.
    sink = _runtime.readable_store("memory" if isinstance(target, str) else target)
    store = _queryable(sink)
    if store is not None:
        return open_store(store, include_failed=include_failed)
    if isinstance(sink, ReadableSink):
        return LineageGraph(sink.read(), include_failed=include_failed)
    raise TypeError(f"{type(sink).__name__} cannot be read back (it has no read())")
