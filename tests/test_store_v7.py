"""Store version 7: a run's commit writes one b-tree.

Runs live in run_log, clustered by (transformation_id, started_us, run_id) with no other index;
``runs`` is a view with the columns it always had, and a new row keeps only what no column or
revision holds. The store-version-6 fixture (tests/data/store-v6.sqlite, written by the release
before this layout, see make_store_v6.py) and its JSON-lines twin received the same records, so
the twin is the SQLite file's oracle. Readers never change a store; the first writer upgrades it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lineage_sdk
from lineage_sdk import DataSource, Feature, Run, load_graph, log_lineage
from lineage_sdk.sinks import SQLiteSink, build_sink
from lineage_sdk.sinks.jsonfile import read_json_lines
from lineage_sdk.sinks.sqlite import STORE_VERSION, read_records
from lineage_sdk.stores import parse_store, read_store

from .conftest import PgCluster
from .helpers import pg_store_from_sqlite, records_by_key
from .strategies import hostile_text

DATA = Path(__file__).parent / "data"
_V6_RUN_COLUMNS = "run_id, version, source_sha256, git_commit, git_tag"


@pytest.fixture
def v6_sqlite(tmp_path: Path) -> Path:
    """A private copy: a writer upgrades it, and the fixture must stay as version 6 wrote it."""
    path = tmp_path / "v6.sqlite"
    shutil.copyfile(DATA / "store-v6.sqlite", path)
    return path


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def test_the_v6_fixture_is_a_store_of_the_old_layout() -> None:
    path = DATA / "store-v6.sqlite"
    assert _rows(path, "PRAGMA user_version") == [(6,)]
    kinds = dict(_rows(path, "SELECT name, type FROM sqlite_master"))
    assert kinds["runs"] == "table" and kinds["runs_by_transformation"] == "index"
    assert "run_log" not in kinds
    # Every run row carries its revision's version and git columns itself.
    assert _rows(path, "SELECT count(*) FROM runs WHERE source_sha256 IS NULL") == [(0,)]


def test_a_v6_store_reads_the_same_records_as_its_json_twin_and_is_not_changed(
    v6_sqlite: Path,
) -> None:
    before = hashlib.sha256(v6_sqlite.read_bytes()).hexdigest()
    expected = records_by_key(list(read_json_lines(DATA / "store-v6.jsonl")))
    assert records_by_key(list(read_records(v6_sqlite))) == expected
    graph = load_graph(f"sqlite:{v6_sqlite}")
    try:
        assert set(graph.upstream("user_ctr_7d")) == {"ctr_job", "raw_clicks", "raw_views"}
        assert graph.last_status("failing_job") == "failed"
        assert len(graph.history("user_ctr_7d").runs) == 2
    finally:
        graph.close()
    assert hashlib.sha256(v6_sqlite.read_bytes()).hexdigest() == before


def test_a_v6_store_is_upgraded_in_place_and_keeps_every_run_and_its_code_columns(
    v6_sqlite: Path,
) -> None:
    before = records_by_key(list(read_json_lines(DATA / "store-v6.jsonl")))
    v6_columns = sorted(_rows(v6_sqlite, f"SELECT {_V6_RUN_COLUMNS} FROM runs"))
    clicks = DataSource("raw_clicks", type="kafka_topic", schema=["user_id", "ts"], owner="growth")
    out = Feature("after_upgrade", value_type="int")

    @log_lineage(inputs=[clicks], outputs=[out], name="new_job")
    def new_job() -> int:
        return 1

    lineage_sdk.configure([SQLiteSink(v6_sqlite)], async_delivery=False)
    assert new_job() == 1
    assert new_job() == 1
    lineage_sdk.flush()
    assert _rows(v6_sqlite, "PRAGMA user_version") == [(STORE_VERSION,)]
    kinds = dict(_rows(v6_sqlite, "SELECT name, type FROM sqlite_master"))
    assert kinds["runs"] == "view" and kinds["run_log"] == "table"
    assert "runs_by_transformation" not in kinds
    # The old rows' version and git columns now come from their revisions, unchanged.
    old_ids = ", ".join(f"'{row[0]}'" for row in v6_columns)
    assert (
        sorted(_rows(v6_sqlite, f"SELECT {_V6_RUN_COLUMNS} FROM runs WHERE run_id IN ({old_ids})"))
        == v6_columns
    )
    after = records_by_key(list(read_records(v6_sqlite)))
    assert {k: v for k, v in after.items() if k in before} == before
    new_runs = [r for r in after.values() if isinstance(r, Run) and r.transformation == "new_job"]
    assert [(r.inputs, r.outputs) for r in new_runs] == [(("raw_clicks",), ("after_upgrade",))] * 2
    # A new row is narrow: its record holds none of what its columns or its revision hold; a
    # run the decorator captured keeps its duration in its column, and no record at all.
    rows = _rows(
        v6_sqlite, "SELECT record, duration_ns FROM run_log WHERE transformation_id = 'new_job'"
    )
    assert any(record is None and ns > 0 for record, ns in rows)
    assert all(record is None or not record.startswith('{"run_id"') for record, _ in rows)
    graph = load_graph(f"sqlite:{v6_sqlite}")
    try:
        assert set(graph.upstream("after_upgrade")) == {"new_job", "raw_clicks"}
        assert [r.run_id for r in graph.runs(transformation="new_job")] == [
            r.run_id for r in sorted(new_runs, key=lambda r: r.started_at, reverse=True)
        ]
    finally:
        graph.close()


# PostgreSQL's text cannot hold NUL (a store refuses such a batch as a whole; see the notes).
_text = hostile_text.filter(lambda s: "\x00" not in s)


@st.composite
def stored_runs(draw: st.DrawFn) -> list[Run]:
    """Runs with hostile ids and text, times far apart (some on a whole second, whose text has
    no fraction), running ones among them, several of one transformation."""
    runs = []
    for i in range(draw(st.integers(1, 5))):
        start = draw(
            st.datetimes(
                dt.datetime(1990, 1, 1), dt.datetime(2090, 1, 1), timezones=st.just(dt.timezone.utc)
            )
        )
        if draw(st.booleans()):
            start = start.replace(microsecond=0)
        runs.append(
            Run(
                f"{draw(_text)}{i}",
                draw(st.sampled_from(["t", "odd'; DROP TABLE run_log;--\n\u202e"])),
                draw(st.sampled_from(["completed", "failed", "running"])),
                start,
                start + draw(st.timedeltas(dt.timedelta(0), dt.timedelta(days=3))),
                draw(st.floats(0, 1e6)),
                inputs=[draw(_text)],
                outputs=["out"],
                parent_run_id=draw(st.none() | _text),
                error_type=draw(st.none() | _text),
                error_message=draw(st.none() | _text),
            )
        )
    return runs


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runs=stored_runs())
def test_runs_read_back_from_narrow_rows_equal_what_was_written(
    kind: str, runs: list[Run], tmp_path_factory: pytest.TempPathFactory, request: Any
) -> None:
    if kind == "sqlite":
        store = f"sqlite:{tmp_path_factory.mktemp('v7') / 'store.db'}"
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        store = cluster.dsn(schema=cluster.new_schema())
    sink = build_sink(parse_store(store))
    for run in runs:  # one batch per run, as sync delivery sends them
        sink.emit([run])
    sink.close()
    read = [r for r in read_store(parse_store(store)) if isinstance(r, Run)]
    assert sorted(read, key=lambda r: r.run_id) == sorted(runs, key=lambda r: r.run_id)


@pytest.mark.parametrize("version", [5, 6])
def test_an_older_postgresql_store_reads_unchanged_and_is_upgraded_by_the_first_writer(
    pg_cluster: PgCluster, version: int
) -> None:
    from lineage_sdk.sinks.postgres import PostgresSink, connect_reader, parse_dsn

    schema = pg_cluster.new_schema()
    dsn = pg_cluster.dsn(schema=schema)
    # A store of that version holding what its SQLite fixture holds, row for row.
    pg_store_from_sqlite(pg_cluster, schema, DATA / f"store-v{version}.sqlite", version)
    before = records_by_key(list(read_json_lines(DATA / f"store-v{version}.jsonl")))
    assert records_by_key(list(read_store(parse_store(dsn)))) == before
    graph = load_graph(dsn)
    try:
        assert set(graph.upstream("user_ctr_7d")) == {"ctr_job", "raw_clicks", "raw_views"}
        assert len(graph.history("user_ctr_7d").runs) == 2
    finally:
        graph.close()
    with closing(connect_reader(parse_dsn(dsn))) as conn:  # the readers left it as it was
        assert conn.execute("SELECT version FROM lineage_store_version").fetchall() == [(version,)]
        assert conn.execute("SELECT to_regclass('run_log')").fetchall() == [(None,)]
    sink = PostgresSink(dsn)
    sink.emit([Run("after", "new_job", "completed", _NOW, _NOW, 0.5, inputs=["raw_clicks"])])
    sink.close()
    with closing(connect_reader(parse_dsn(dsn))) as conn:
        assert conn.execute("SELECT version FROM lineage_store_version").fetchall() == [
            (STORE_VERSION,)
        ]
        runs = sum(k[0] == "Run" for k in before) + 1
        assert conn.execute("SELECT count(*) FROM run_log").fetchall() == [(runs,)]
        # Every old run had a revision: their inputs and outputs are its, none a run's own.
        assert conn.execute("SELECT count(*) FROM legacy_run_io").fetchall() == [(0,)]
        [(moved,)] = conn.execute("SELECT count(*) FROM revision_io").fetchall()
        assert moved > 0
    after = records_by_key(list(read_store(parse_store(dsn))))
    assert {k: v for k, v in after.items() if k in before} == before
    assert ("Run", "after") in after


_NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)


def test_one_run_is_found_by_id_whatever_made_its_id(sql_store: str) -> None:
    # The SDK's ids name their start's millisecond (found by seeks); another producer's id, or
    # a UUIDv7 whose millisecond is not its run's start, is found all the same (by a scan).
    @log_lineage(inputs=["raw_clicks"], outputs=["clicks_7d"], name="count_job")
    def count_job() -> int:
        return 1

    memory = lineage_sdk.MemorySink()
    lineage_sdk.configure([build_sink(parse_store(sql_store)), memory], async_delivery=False)
    count_job()
    lineage_sdk.flush()
    [made] = [r for r in memory.records if isinstance(r, Run)]
    foreign = [
        Run("odd'; id\n", "other_job", "completed", _NOW, _NOW, 0.25),
        Run("01a2190d-4635-73c5-be14-024ca26540f2", "other_job", "failed", _NOW, _NOW, 1.0),
    ]
    sink = build_sink(parse_store(sql_store))
    sink.emit(foreign)
    sink.close()
    graph = load_graph(sql_store)
    try:
        assert graph.run(made.run_id) == made
        assert [graph.run(r.run_id) for r in foreign] == foreign
        assert graph.run("01a2190d-4635-73c5-be14-000000000000") is None
    finally:
        graph.close()
