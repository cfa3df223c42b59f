"""PostgreSQL: per-call cost, async ingest and deep queries, against baselines on the same server.

The server is a throwaway cluster started for the run (as the tests start theirs), or the one
``LINEAGE_BENCH_PG`` names (a DSN; each run uses fresh schemas there). Skipped, with a note, on
a machine without PostgreSQL or psycopg.

- sync per call: ``@log_lineage`` with the PostgreSQL sink against a raw single-row ``INSERT``
  transaction of the same record (same server, same connection settings);
- async ingest: runs per second of ``LINEAGE_ASYNC=1`` against a raw ``executemany`` (and
  ``COPY``) of the same run rows;
- upstream / impact on a store with 10^6 derivation edges: time and client memory (peak RSS of a
  fresh process) against the same query on SQLite.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lineage_sdk

from .overhead import lineage_work
from .queries import edges_of, endpoints, fill_store, runs_of
from .report import Report
from .throughput import lineage_runs, sample_record

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def _server() -> Iterator[str | None]:
    """A DSN of a server to measure on, or None when there is none."""
    if os.environ.get("LINEAGE_BENCH_PG"):
        yield os.environ["LINEAGE_BENCH_PG"]
        return
    try:
        import psycopg  # noqa: F401

        sys.path.insert(0, str(ROOT))
        from tests.conftest import PgCluster, pg_bin_dir
    except ImportError:
        yield None
        return
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        yield None
        return
    cluster = PgCluster(bin_dir)
    try:
        cluster.init()
        cluster.start()
        yield cluster.dsn()
    finally:
        cluster.destroy()


def _schema_dsn(dsn: str) -> str:
    return f"{dsn}{'&' if '?' in dsn else '?'}schema=b{secrets.token_hex(4)}"


@contextlib.contextmanager
def _raw_connection(dsn: str) -> Iterator[Any]:
    """A plain psycopg connection (autocommit) in a fresh schema holding the baseline's table."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        schema = f"raw_{secrets.token_hex(4)}"
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(
            "CREATE TABLE raw_runs (run_id TEXT PRIMARY KEY, transformation_id TEXT, "
            "status TEXT, started_us BIGINT, record TEXT)"
        )
        yield conn


def _rows(count: int) -> list[tuple[str, str, str, int, str]]:
    """The baseline's rows: ids, status, time and the JSON of a real run record."""
    text = json.dumps(sample_record(), separators=(",", ":"))
    return [(f"run-{i}", "bench_job", "completed", i, text) for i in range(count)]


def _sync_per_call(dsn: str, calls: int) -> tuple[float, float]:
    """Seconds per call: log_lineage sync into PostgreSQL, and a raw one-row INSERT transaction."""
    lineage_sdk.configure(_schema_dsn(dsn), on_error="raise")
    lineage_work(0)
    start = time.perf_counter()
    for i in range(calls):
        lineage_work(i)
    ours = (time.perf_counter() - start) / calls
    lineage_sdk.configure("none")
    rows = _rows(calls)
    with _raw_connection(dsn) as conn:
        start = time.perf_counter()
        for row in rows:
            with conn.transaction():
                conn.execute("INSERT INTO raw_runs VALUES (%s, %s, %s, %s, %s)", row)
        raw = (time.perf_counter() - start) / calls
    return ours, raw


def _raw_ingest(dsn: str, runs: int, copy: bool) -> float:
    """Runs per second of one executemany (or COPY) of the same run rows, in one transaction."""
    rows = _rows(runs)
    with _raw_connection(dsn) as conn:
        start = time.perf_counter()
        with conn.transaction():
            if copy:
                with conn.cursor().copy("COPY raw_runs FROM STDIN") as out:
                    for row in rows:
                        out.write_row(row)
            else:
                conn.cursor().executemany("INSERT INTO raw_runs VALUES (%s, %s, %s, %s, %s)", rows)
        return runs / (time.perf_counter() - start)


_PROBE = """
import json, re, sys, time
def hwm():
    return int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))
from lineage_sdk import load_graph
g = load_graph(sys.argv[1]); g.kind(sys.argv[2])
base = hwm()
t = time.perf_counter()
ids = g.upstream(sys.argv[2]) if sys.argv[3] == 'upstream' else g.impact(sys.argv[2])
t = time.perf_counter() - t
print(json.dumps({'seconds': t, 'count': len(ids), 'delta_kib': hwm() - base}))
"""


def _probe(store: str, node: str, query: str) -> dict[str, Any]:
    """A query in a fresh process: seconds, result size, client peak memory added (KiB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, store, node, query],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return dict(json.loads(proc.stdout))


# Fresh processes per query in a full run (the median counts): one sample of ~1 ms is at the
# mercy of the other processes on the machine.
_PROBES = 5


def _settle(store: str) -> None:
    """VACUUM ANALYZE a just-built PostgreSQL store, as autovacuum soon does on its own.

    Otherwise the probes race autovacuum working through the 10^6 rows just written (a probe
    then took 5.6 ms instead of 1.9 ms) and plan without statistics.
    """
    import psycopg
    from psycopg import sql

    from lineage_sdk.sinks.postgres import parse_dsn

    target = parse_dsn(store)
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (target.schema,)
        ).fetchall()
        for (table,) in tables:  # this store's tables only (LINEAGE_BENCH_PG may be shared)
            conn.execute(
                sql.SQL("VACUUM ANALYZE {}.{}").format(
                    sql.Identifier(str(target.schema)), sql.Identifier(table)
                )
            )


def _deep_queries(report: Report, dsn: str, size: int, probes: int = _PROBES) -> None:
    from lineage_sdk.sinks.postgres import PostgresSink
    from lineage_sdk.sinks.sqlite import SQLiteSink

    label = f"{size:,} derivation edges"
    stores = {}
    for kind in ("sqlite", "postgresql"):
        for shape in ("chains", "fan"):
            runs = runs_of(edges_of(shape, size))
            if kind == "sqlite":
                path = Path(tempfile.mkdtemp(prefix="lineage-bench-")) / f"{shape}.db"
                sink: Any = SQLiteSink(path)
                store = f"sqlite:{path}"
            else:
                store = _schema_dsn(dsn)
                sink = PostgresSink(store)
            seconds = fill_store(sink, shape, size, runs)
            report.add("postgres", f"{kind} store build, {shape}, {label}", [seconds], "s")
            if kind == "postgresql":
                _settle(store)
            stores[(kind, shape)] = store
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for (kind, shape), store in stores.items():
        root, deepest = endpoints(shape, size)
        query, node = ("upstream", deepest) if shape == "chains" else ("impact", root)
        # impact() walks everything below the root and keeps the declared features it reaches
        # (1% of the fan's nodes, features_of). (PostgreSQL's ~150x on a store declaring no
        # feature, where neither store walks, was JIT compilation of a plan that did nothing.)
        samples = [_probe(store, node, query) for _ in range(probes)]
        probe = sorted(samples, key=lambda p: float(p["seconds"]))[probes // 2]  # the median
        results[(kind, query)] = probe
        report.add(
            "postgres",
            f"{kind} {query}({node}) -> {probe['count']:,} ids, {shape}, {label}, fresh process",
            [p["seconds"] for p in samples],
            "s",
            note=f"client peak RSS +{probe['delta_kib'] / 1024:.1f} MiB",
        )
    for query in ("upstream", "impact"):
        pg, lite = results[("postgresql", query)], results[("sqlite", query)]
        assert pg["count"] == lite["count"], (query, pg, lite)
        report.target(
            f"postgresql {query} time / sqlite ({label})",
            pg["seconds"] / lite["seconds"],
            3.0,
            detail="a server round trip against an in-process library; both in SQL",
        )
        report.target(
            f"postgresql {query} client memory / sqlite ({label})",
            (pg["delta_kib"] + 1024) / (lite["delta_kib"] + 1024),
            1.5,
            detail="+1 MiB on both sides: noise of a fresh interpreter",
        )


def run(report: Report, *, quick: bool) -> None:
    with _server() as dsn:
        if dsn is None:
            report.notes.append(
                "postgres: skipped (no PostgreSQL server binaries or psycopg; install Debian's "
                "postgresql and pip install 'feature-lineage-sdk[postgres]', or set "
                "LINEAGE_BENCH_PG)"
            )
            print("  skipped: no PostgreSQL", flush=True)
            return
        calls, runs, size, repeats = (
            (200, 2_000, 2_000, 1) if quick else (3_000, 50_000, 1_000_000, 3)
        )
        ours: list[float] = []
        raw: list[float] = []
        for _ in range(repeats):
            o, r = _sync_per_call(dsn, calls)
            ours.append(o)
            raw.append(r)
        ours_row = report.add("postgres", "log_lineage postgresql sync, per call", ours, "s")
        raw_row = report.add("postgres", "raw single-row INSERT transaction, per call", raw, "s")
        report.target(
            "postgresql sync per call / raw single-row INSERT transaction",
            ours_row.median / raw_row.median,
            3.0,
        )
        ingest = [lineage_runs(_schema_dsn(dsn), runs, True) for _ in range(repeats)]
        many = [_raw_ingest(dsn, runs, copy=False) for _ in range(repeats)]
        copied = [_raw_ingest(dsn, runs, copy=True) for _ in range(repeats)]
        ingest_row = report.add(
            "postgres", f"log_lineage postgresql async, {runs:,} runs", ingest, "runs/s"
        )
        many_row = report.add(
            "postgres", f"raw executemany of the run rows, {runs:,}", many, "runs/s"
        )
        report.add("postgres", f"raw COPY of the run rows, {runs:,}", copied, "runs/s")
        report.target(
            "postgresql async ingest / raw executemany",
            ingest_row.median / many_row.median,
            0.25,
            higher_is_better=True,
        )
        _deep_queries(report, dsn, size, probes=1 if quick else _PROBES)
