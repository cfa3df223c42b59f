"""Store version 6: a run's inputs and outputs live once per revision, on every SQL store.

The store-version-5 fixture (tests/data/store-v5.sqlite, written by the release before this
layout, see make_store_v5.py) and its JSON-lines twin received the same records from one process,
so the twin is the SQLite file's oracle. Readers never change a store; the first writer upgrades
it in place. Old rows keep their run_inputs / run_outputs; the run_io view answers over both.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lineage_sdk
from lineage_sdk import DataSource, Feature, Run, load_graph, log_lineage
from lineage_sdk.graph.backend import RunQuery
from lineage_sdk.pending import PendingRun
from lineage_sdk.records import Record
from lineage_sdk.sinks import SQLiteSink, build_sink, sqlmodel, sqlrows
from lineage_sdk.sinks import sqlite as sqlite_sink
from lineage_sdk.sinks.base import BaseSink
from lineage_sdk.sinks.jsonfile import read_json_lines
from lineage_sdk.sinks.sqlite import STORE_VERSION, read_records
from lineage_sdk.sinks.sqlschema import NARROW_RECORD_TAIL, SQLITE
from lineage_sdk.stores import parse_store, prune_store, read_store

from .helpers import aged_run, records_by_key, store_graph

DATA = Path(__file__).parent / "data"
UTC = dt.timezone.utc
ODD = "odd'; DROP TABLE runs;--\n\u202e"


@pytest.fixture
def v5_sqlite(tmp_path: Path) -> Path:
    """A private copy: a writer upgrades it, and the fixture must stay as version 5 wrote it."""
    path = tmp_path / "v5.sqlite"
    shutil.copyfile(DATA / "store-v5.sqlite", path)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path: Path, sql: str, *params: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [tuple(row) for row in conn.execute(sql, params)]


def test_the_v5_fixture_is_a_store_of_the_old_layout() -> None:
    path = DATA / "store-v5.sqlite"
    assert _rows(path, "PRAGMA user_version") == [(5,)]
    # Every run of version 5 has a revision and its own input and output rows.
    assert _rows(path, "SELECT count(*) FROM runs WHERE revision_id IS NULL") == [(0,)]
    assert _rows(path, "SELECT count(DISTINCT run_id) FROM run_inputs") == [(7,)]
    names = {row[0] for row in _rows(path, "SELECT name FROM sqlite_master")}
    assert "revision_io" not in names


def test_a_v5_store_reads_the_same_records_as_its_json_twin_and_is_not_changed(
    v5_sqlite: Path,
) -> None:
    before = _digest(v5_sqlite)
    from_sqlite = list(read_records(v5_sqlite))
    from_json = list(read_json_lines(DATA / "store-v5.jsonl"))
    assert len(from_json) == 17
    assert records_by_key(from_sqlite) == records_by_key(from_json)
    graph = load_graph(f"sqlite:{v5_sqlite}")
    try:
        assert set(graph.upstream("user_ctr_7d")) == {"ctr_job", "raw_clicks", "raw_views"}
        assert ODD in graph.downstream("raw_clicks")
        assert "daily_out" in graph.downstream("table_2024_01_02")
        assert graph.last_status("failing_job") == "failed"
        # History reads run_io: the runs that produced a node, answered from the old rows.
        assert len(graph.history("user_ctr_7d").runs) == 2
    finally:
        graph.close()
    assert _digest(v5_sqlite) == before
    wal = v5_sqlite.with_name(v5_sqlite.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # nothing written, not even to the log


def test_a_v5_store_is_upgraded_in_place_by_the_first_writer(v5_sqlite: Path) -> None:
    before = records_by_key(list(read_json_lines(DATA / "store-v5.jsonl")))
    clicks = DataSource("raw_clicks", type="kafka_topic", schema=["user_id", "ts"], owner="growth")
    out = Feature("after_upgrade", value_type="int")

    @log_lineage(inputs=[clicks], outputs=[out], name="new_job")
    def new_job() -> int:
        return 1

    lineage_sdk.configure([SQLiteSink(v5_sqlite)], async_delivery=False)
    assert new_job() == 1
    assert new_job() == 1
    lineage_sdk.flush()
    assert _rows(v5_sqlite, "PRAGMA user_version") == [(STORE_VERSION,)]
    # The v5 runs' input and output rows moved to their revisions; no run writes its own now.
    assert _rows(v5_sqlite, "SELECT count(*) FROM legacy_run_io") == [(0,)]
    new_revision = _rows(
        v5_sqlite, "SELECT DISTINCT revision_id FROM runs WHERE transformation_id = 'new_job'"
    )
    assert len(new_revision) == 1
    assert set(
        _rows(
            v5_sqlite,
            "SELECT direction, node_id FROM revision_io WHERE revision_id = "
            "(SELECT revision_id FROM runs WHERE transformation_id = 'new_job' LIMIT 1)",
        )
    ) == {("in", "raw_clicks"), ("out", "after_upgrade")}
    after = records_by_key(list(read_records(v5_sqlite)))
    assert {k: v for k, v in after.items() if k in before} == before
    new_runs = [r for r in after.values() if isinstance(r, Run) and r.transformation == "new_job"]
    assert [(r.inputs, r.outputs) for r in new_runs] == [(("raw_clicks",), ("after_upgrade",))] * 2
    # Every run's inputs and outputs, whichever layout wrote it, come from the one view.
    for run in (r for r in after.values() if isinstance(r, Run)):
        io = _rows(
            v5_sqlite,
            "SELECT direction, node_id FROM run_io WHERE run_id = ?",
            run.run_id,
        )
        assert sorted(io) == sorted(
            [("in", n) for n in run.inputs] + [("out", n) for n in run.outputs]
        )
    graph = load_graph(f"sqlite:{v5_sqlite}")
    try:
        assert set(graph.upstream("after_upgrade")) == {"new_job", "raw_clicks"}
        assert set(graph.downstream("raw_clicks")) >= {"after_upgrade", "user_ctr_7d"}
    finally:
        graph.close()


@contextmanager
def _query(store: str) -> Iterator[Any]:
    """A read-only way to run SQL on a store: ``(sql) -> rows``."""
    if store.startswith("sqlite:"):
        path = Path(store.removeprefix("sqlite:"))
        yield lambda sql: _rows(path, sql)
        return
    from lineage_sdk.sinks.postgres import connect_reader, parse_dsn

    conn = connect_reader(parse_dsn(store))
    try:
        yield lambda sql: [tuple(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def test_runs_of_one_revision_store_their_inputs_and_outputs_once(sql_store: str) -> None:
    records: list[Record] = [
        aged_run(f"r{i}", "job", 10 - i, ["a", "b"], ["c"]) for i in range(3)
    ] + [aged_run("s0", "job", 1, ["a"], ["d"])]  # another revision of the same job
    sink = build_sink(parse_store(sql_store))
    for record in records:  # one batch per run, as sync delivery sends them
        sink.emit([record])
    sink.close()
    with _query(sql_store) as query:
        assert query("SELECT count(*) FROM legacy_run_io") == [(0,)]
        assert query("SELECT count(DISTINCT revision_id) FROM runs") == [(2,)]
        assert sorted(query("SELECT direction, node_id FROM revision_io")) == sorted(
            [("in", "a"), ("in", "b"), ("out", "c"), ("in", "a"), ("out", "d")]
        )
        io = query("SELECT run_id, direction, node_id FROM run_io")
        by_node = query("SELECT run_id FROM run_io WHERE direction = 'out' AND node_id = 'c'")
    expected = {
        (r.run_id, d, n)
        for r in records
        if isinstance(r, Run)
        for d, nodes in (("in", r.inputs), ("out", r.outputs))
        for n in nodes
    }
    assert sorted(io) == sorted(expected)
    assert sorted(by_node) == [("r0",), ("r1",), ("r2",)]
    read = [r for r in read_store(parse_store(sql_store)) if isinstance(r, Run)]
    assert sorted(read, key=lambda r: r.run_id) == sorted(records, key=lambda r: r.run_id)  # type: ignore[attr-defined]


def test_prune_on_a_store_of_both_layouts_keeps_every_node_a_kept_run_references(
    tmp_path: Path,
) -> None:
    # The 0.1 store's runs have no revision (their io rows are their own); new runs share
    # their revision's. Everything before now is old: only the newest run of each job stays.
    path = tmp_path / "mixed.sqlite"
    shutil.copyfile(DATA / "store-0.1.sqlite", path)
    new = aged_run("n1", "ctr_job", 0, ["raw_clicks", "raw_views"], ["user_ctr_7d"])
    sink = build_sink(parse_store(f"sqlite:{path}"))
    sink.emit([new])
    sink.close()
    old_runs = {r.run_id: r for r in read_records(path) if isinstance(r, Run) and r is not new}
    target = parse_store(f"sqlite:{path}")
    pruned = prune_store(target, dt.timedelta(microseconds=1), dry_run=False)
    kept = {r.run_id: r for r in read_records(path) if isinstance(r, Run)}
    newest = {}
    for r in old_runs.values():
        if r.transformation not in newest or r.started_at > newest[r.transformation].started_at:
            newest[r.transformation] = r
    # Every job keeps its newest run; the new ctr_job run made both old ones prunable.
    assert {r.run_id for r in newest.values() if r.transformation != "ctr_job"} <= set(kept)
    assert {t for _, t in pruned.runs} == {"ctr_job", "child_job", "dynamic_job"}
    assert [t for _, t in pruned.runs].count("ctr_job") == 2
    referenced = {n for r in kept.values() for n in (*r.inputs, *r.outputs)}
    assert not referenced & set(pruned.nodes)
    # The older dynamic run's input went with it; the newer one's (an old-layout row) stayed.
    assert "table_2024_01_01" in pruned.nodes
    assert "table_2024_01_02" in referenced
    graph = load_graph(f"sqlite:{path}")
    try:
        assert set(graph.upstream("user_ctr_7d")) == {"ctr_job", "raw_clicks", "raw_views"}
        assert "daily_out" in graph.downstream("table_2024_01_02")
        assert "table_2024_01_01" not in graph.node_ids()
    finally:
        graph.close()


@st.composite
def run_listings(draw: Any) -> tuple[list[Record], RunQuery]:
    """Runs of a few transformations, many starting in the same second (ties), and a query."""
    runs: list[Record] = []
    for i in range(draw(st.integers(1, 14))):
        at = dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=draw(st.integers(0, 5)))
        runs.append(
            Run(
                f"run-{draw(st.integers(0, 9))}{i:02d}",
                draw(st.sampled_from(["t0", "t1", "t2", "t3"])),
                draw(st.sampled_from(["completed", "failed"])),
                at,
                at,
                0.0,
                inputs=["a"],
                outputs=["b"],
            )
        )
    since = draw(st.none() | st.integers(0, 5))
    query = RunQuery(
        status=draw(st.none() | st.sampled_from(["completed", "failed"])),
        since=None
        if since is None
        else dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=since),
        limit=draw(st.integers(1, 6)),
    )
    return runs, query


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(listing=run_listings())
def test_the_newest_runs_of_every_transformation_match_memory(
    kind: str, listing: tuple[list[Record], RunQuery], tmp_path: Path, request: Any
) -> None:
    # No index orders every run by start; the SQL stores merge each transformation's newest.
    runs, query = listing
    expected = store_graph("memory", runs, tmp_path).runs(
        status=query.status, since=query.since, limit=query.limit
    )
    graph = store_graph(kind, runs, tmp_path, request=request)
    try:
        found = graph.runs(status=query.status, since=query.since, limit=query.limit)
    finally:
        graph.close()
    assert [r.run_id for r in found] == [r.run_id for r in expected]


class _PendingCapture(BaseSink):
    """Keeps what delivery hands a sink that takes pending runs, as it is."""

    accepts_pending = True

    def __init__(self) -> None:
        super().__init__("pending-capture")
        self.records: list[Any] = []

    def _emit(self, records: Any) -> None:
        self.records.extend(records)


def _calls_of_every_shape() -> None:
    """Completed, failed (hostile error text) and nested calls, several of each revision."""
    clicks = DataSource("clicks", type="kafka_topic")
    out = Feature("ctr'\n\u2028", value_type="float")

    @log_lineage(inputs=[out], outputs=["child_out"], name="child")
    def child(n: int) -> int:
        return n

    @log_lineage(inputs=[clicks], outputs=[out], name="parent")
    def parent(n: int) -> int:
        return child(n) + 1

    @log_lineage(inputs=[clicks], outputs=[], name="failing")
    def failing() -> None:
        raise ValueError("bad 'x'\n\u202e</script>")

    for i in range(3):
        parent(i)
        with contextlib.suppress(ValueError):
            failing()


def test_a_pending_run_makes_the_same_row_as_its_built_run() -> None:
    capture = _PendingCapture()
    lineage_sdk.configure([capture], async_delivery=False)
    _calls_of_every_shape()
    lineage_sdk.flush()
    pending = [r for r in capture.records if isinstance(r, PendingRun)]
    assert len(pending) == 9  # every run reached the sink unbuilt
    parts = sqlrows.RunParts()
    for run in pending:
        shared, tail = parts.pending_parts(run)
        row = sqlrows.pending_run_row(run, shared.columns, tail)
        built = sqlrows.run_row(run.to_run(), shared.columns)
        assert row[:5] + row[7:] == built[:5] + built[7:]
        # The pending run's duration goes in its column (a built Run's float, in its record).
        assert row[5] / 1e9 == run.to_run().duration_s and built[5] is None
        own = json.loads(built[6])
        del own["duration_s"]
        assert json.loads(row[6] or "{" + NARROW_RECORD_TAIL[1:]) == own
        assert shared.revision.id == parts.parts(run.to_run()).revision.id


@pytest.mark.parametrize("async_delivery", [False, True])
def test_runs_written_unbuilt_read_back_equal_to_the_built_runs(
    sql_store: str, async_delivery: bool
) -> None:
    memory = lineage_sdk.MemorySink()
    sink = build_sink(parse_store(sql_store))
    lineage_sdk.configure([memory, sink], async_delivery=async_delivery, on_error="raise")
    _calls_of_every_shape()
    _calls_of_every_shape()  # a second decorator of each: new revisions, then known ones
    lineage_sdk.flush()
    assert lineage_sdk.stats()["failed"] == 0
    expected = [r for r in memory.records if isinstance(r, Run)]
    stored = [r for r in read_store(parse_store(sql_store)) if isinstance(r, Run)]
    assert len(expected) == 18
    assert sorted(stored, key=lambda r: r.run_id) == sorted(expected, key=lambda r: r.run_id)


def _pending_runs(calls: Callable[[], object]) -> list[Any]:
    """The runs ``calls`` makes, as delivery hands them to the SQL sinks: unbuilt."""
    capture = _PendingCapture()
    lineage_sdk.configure([capture], async_delivery=False)
    calls()
    lineage_sdk.flush()
    return [r for r in capture.records if isinstance(r, PendingRun)]


def _runs_of_one_job(count: int) -> list[Any]:
    """``count`` runs of one revision, unbuilt."""

    @log_lineage(inputs=["raw"], outputs=["feature"], name="job")
    def job(n: int) -> int:
        return n

    return _pending_runs(lambda: [job(i) for i in range(count)])


def test_a_batch_of_known_runs_plans_each_row_as_the_run_alone_would() -> None:
    pending = _pending_runs(_calls_of_every_shape)  # three revisions, interleaved, some failed
    parts = sqlrows.RunParts()
    assert parts.known_pending_rows(pending) is None  # nothing stored yet: the general path
    plan = sqlmodel.plan_batch(SQLITE, pending, (set(), set(), set()), (), parts)
    assert any("INSERT INTO revisions" in s.sql for s in plan.statements)
    parts.committed()
    rows = parts.known_pending_rows(pending)
    assert rows == [parts.known_pending_row(r) for r in pending]
    known = sqlmodel.plan_known_runs(SQLITE, pending, parts)
    assert known is not None and len(known.statements) == 1
    assert [s.shared for s in known.statements] == [False]  # run rows only: no shared row
    # A run twice, or a declaration among the runs: not the common batch.
    assert parts.known_pending_rows([*pending, pending[0]]) is None
    assert parts.known_pending_rows([*pending, DataSource("d", type="table")]) is None
    assert sqlmodel.plan_known_runs(SQLITE, [*pending, pending[-1]], parts) is None


def test_batches_of_every_size_store_every_run_with_a_few_statement_texts(
    tmp_path: Path,
) -> None:
    sizes = [1, 2, 3, 5, 63, 64, 65, 700, 2047, 2048]
    pending = _runs_of_one_job(sum(sizes))
    sink = SQLiteSink(tmp_path / "lineage.db")
    texts: set[str] = set()
    start = 0
    for size in sizes:
        batch = pending[start : start + size]
        start += size
        if start > size:  # the first batch wrote the revision: the rest are known runs
            known = sqlmodel.plan_known_runs(SQLITE, batch, sink._parts)
            assert known is not None and len(known.statements) == 1
            texts.update(s.sql for s in known.statements)
        sink.emit(batch)
    sink.close()
    # Rows padded to a power of two: the driver caches a few prepared statements, not one per
    # batch size (each ~1 MiB at 1,024 rows).
    assert len(texts) <= 8
    stored = [r for r in read_records(tmp_path / "lineage.db") if isinstance(r, Run)]
    assert sorted(stored, key=lambda r: r.run_id) == sorted(
        (r.to_run() for r in pending), key=lambda r: r.run_id
    )


def test_sqlite_builds_with_a_low_parameter_limit_write_a_batch_in_several_statements(
    tmp_path: Path,
) -> None:
    pending = _runs_of_one_job(301)
    sink = SQLiteSink(tmp_path / "lineage.db")
    sink.emit(pending[:1])  # the revision, process and graph rows
    old_sqlite = attrs.evolve(SQLITE, max_parameters=999)  # SQLite before 3.32
    plan = sqlmodel.plan_known_runs(old_sqlite, pending[1:], sink._parts)
    assert plan is not None
    assert [len(s.params) for s in plan.statements] == [990, 990, 990, 40]  # 3 rows padded to 4
    conn = sink._connection()
    sqlite_sink._retrying(lambda: sqlite_sink._transaction(conn, plan.statements))
    sink.close()
    stored = [r for r in read_records(tmp_path / "lineage.db") if isinstance(r, Run)]
    assert sorted(r.run_id for r in stored) == sorted(r.run_id for r in pending)
