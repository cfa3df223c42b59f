"""Sinks and delivery with real files and real processes: nothing lost, nothing breaks the host."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import lineage_sdk
from lineage_sdk import (
    BaseSink,
    DataSource,
    Feature,
    JsonFileSink,
    LineageSinkError,
    MemorySink,
    Run,
    SQLiteSink,
    Transformation,
    log_lineage,
)
from lineage_sdk.records import Record
from lineage_sdk.sinks.base import NotALineageStoreError
from lineage_sdk.sinks.jsonfile import read_json_lines
from lineage_sdk.sinks.sqlite import STORE_VERSION, StoreVersionError, connect, read_records

from .conftest import child_env
from .strategies import hostile_text

ROOT = Path(__file__).resolve().parent.parent
UTC = dt.timezone.utc


def writer_env(**extra: str) -> dict[str, str]:
    return child_env(**extra)


def start_writers(count: int, runs: int, **env: str) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "tests.writer", str(runs)],
            env=writer_env(**env),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def run_ids(records: Sequence[Record]) -> list[str]:
    return [r.run_id for r in records if isinstance(r, Run)]


def store_records(target: str) -> list[Record]:
    scheme, _, path = target.partition(":")
    return list(read_json_lines(path) if scheme == "json" else read_records(path))


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["json", "sqlite"])
@pytest.mark.parametrize("async_delivery", ["0", "1"])
def test_four_processes_lose_no_run(tmp_path: Path, scheme: str, async_delivery: str) -> None:
    target = f"{scheme}:{tmp_path / ('store.jsonl' if scheme == 'json' else 'store.db')}"
    writers = start_writers(
        4, 1500, LINEAGE_SINK=target, LINEAGE_ASYNC=async_delivery, LINEAGE_ON_ERROR="warn"
    )
    for proc in writers:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    ids = run_ids(store_records(target))
    assert len(ids) == 6000 and len(set(ids)) == 6000
    graph = lineage_sdk.load_graph(target)
    runs = graph.runs(transformation="writer_job")
    assert len(runs) == 6000
    assert len({r.pid for r in runs}) == 4


@pytest.mark.parametrize("scheme", ["json", "sqlite"])
def test_a_writer_killed_with_sigkill_leaves_a_readable_writable_store(
    tmp_path: Path, scheme: str
) -> None:
    target = f"{scheme}:{tmp_path / ('store.jsonl' if scheme == 'json' else 'store.db')}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.writer", "10", "forever"],
        env=writer_env(LINEAGE_SINK=target),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)  # let it write mid-stream
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = run_ids(store_records(target))
    assert len(before) >= 10
    lineage_sdk.configure(target, on_error="raise")

    @log_lineage(name="after_kill")
    def after() -> None:
        pass

    after()
    lineage_sdk.flush()
    after_ids = run_ids(store_records(target))
    assert len(after_ids) == len(before) + 1


def test_a_torn_last_line_is_skipped_with_its_line_number_and_the_next_write_heals(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "l.jsonl"
    sink = JsonFileSink(path)
    sink.emit([Feature("a"), Feature("b")])
    with path.open("a") as handle:
        handle.write('{"id":"c","record_type":"feat')  # a writer died here
    caplog.set_level(logging.WARNING, logger="lineage_sdk")
    assert list(sink.read()) == [Feature("a"), Feature("b")]
    assert f"{path}:3: skipped a torn or corrupt line" in caplog.text
    sink.emit([Feature("d")])
    assert [r.id for r in sink.read()] == ["a", "b", "d"]  # type: ignore[union-attr]


def test_a_corrupt_line_in_the_middle_keeps_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "l.jsonl"
    sink = JsonFileSink(path)
    sink.emit([Feature("a")])
    with path.open("ab") as handle:
        handle.write(b"\xff\xfe not json\n")
        handle.write(b'{"record_type":"feature","id":"z","schema_version":999}\n')
    sink.emit([Feature("b")])
    assert [r.id for r in sink.read()] == ["a", "b"]  # type: ignore[union-attr]
    assert ":2: skipped a torn or corrupt line" in caplog.text
    assert ":3: skipped a unsupported line" in caplog.text or ":3: skipped an" in caplog.text


def test_an_unwritable_path_leaves_the_result_intact_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    lineage_sdk.configure(f"json:{blocker / 'l.jsonl'}")
    caplog.set_level(logging.WARNING, logger="lineage_sdk")
    calls = []

    @log_lineage()
    def job(x: int) -> int:
        calls.append(x)
        return x + 1

    assert [job(1), job(2), job(3)] == [2, 3, 4]
    assert calls == [1, 2, 3]
    warnings = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(warnings) == 1 and "not-a-dir" in warnings[0].getMessage()
    stats = lineage_sdk.stats()
    assert stats["emitted"] == 0 and stats["failed"] > 0


def test_ignore_policy_only_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("")
    lineage_sdk.configure(f"sqlite:{blocker / 'x.db'}", on_error="ignore")

    @log_lineage()
    def job() -> int:
        return 1

    assert job() == 1
    assert "failed" not in caplog.text
    assert lineage_sdk.stats()["failed"] > 0


def test_strict_mode_raises_after_the_function_ran(tmp_path: Path) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("")
    lineage_sdk.configure(f"json:{blocker / 'l.jsonl'}", on_error="raise")
    ran = []

    @log_lineage()
    def job() -> int:
        ran.append(1)
        return 1

    with pytest.raises(LineageSinkError, match="json:") as info:
        job()
    assert ran == [1]
    assert isinstance(info.value.failures[0][1], OSError)


def test_strict_mode_never_replaces_the_users_exception(tmp_path: Path) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("")
    lineage_sdk.configure(f"json:{blocker / 'l.jsonl'}", on_error="raise")

    @log_lineage()
    def job() -> None:
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        job()


class BrokenSink(BaseSink):
    def __init__(self) -> None:
        super().__init__("broken")

    def _emit(self, records: Sequence[Record]) -> None:
        raise OSError(28, "No space left on device")


def test_one_failing_sink_does_not_stop_the_others() -> None:
    good = MemorySink()
    lineage_sdk.configure([BrokenSink(), good])

    @log_lineage()
    def job() -> None:
        pass

    job()
    assert len(run_ids(good.records)) == 1
    stats = lineage_sdk.stats()
    assert stats["sinks"]["broken"]["errors"] == {"builtins.OSError": 1}
    assert stats["sinks"]["memory"]["failed"] == 0


def test_disabled_writes_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LINEAGE_ENABLED", "0")
    monkeypatch.setenv("LINEAGE_SINK", f"json:{tmp_path / 'l.jsonl'}")

    @log_lineage()
    def job() -> int:
        return 5

    assert job() == 5
    lineage_sdk.register(Feature("x"))
    lineage_sdk.flush()
    assert not (tmp_path / "l.jsonl").exists()
    assert not Path("lineage.db").exists()


def test_with_no_variable_lineage_db_appears_in_the_working_directory() -> None:
    @log_lineage(outputs=[Feature("f")])
    def job() -> int:
        return 5

    assert job() == 5
    assert Path("lineage.db").exists()
    assert len(lineage_sdk.load_graph("sqlite:lineage.db").runs()) == 1


def test_store_files_are_never_world_writable(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        JsonFileSink(tmp_path / "l.jsonl").emit([Feature("a")])
        SQLiteSink(tmp_path / "l.db").emit([Feature("a")])
    finally:
        os.umask(old)
    for name in ("l.jsonl", "l.db"):
        assert not (tmp_path / name).stat().st_mode & 0o002


def test_sqlite_store_is_wal_with_the_current_version(tmp_path: Path) -> None:
    SQLiteSink(tmp_path / "l.db").emit([Feature("a")])
    conn = sqlite3.connect(tmp_path / "l.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == STORE_VERSION
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"edges_by_dst", "transformation_io_by_node"} <= indexes


def test_a_run_row_is_one_b_tree_in_sqlite(tmp_path: Path) -> None:
    # A run's commit writes one b-tree: run_log is clustered by its key and has no index.
    SQLiteSink(tmp_path / "l.db").emit([Feature("a")])
    conn = sqlite3.connect(tmp_path / "l.db")
    [(sql,)] = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'run_log'").fetchall()
    assert sql.rstrip().endswith("WITHOUT ROWID")
    assert "PRIMARY KEY (transformation_id, started_us, run_id)" in sql
    on_runs = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'run_log'"
    ).fetchall()
    assert on_runs == []
    assert conn.execute("SELECT type FROM sqlite_master WHERE name = 'runs'").fetchall() == [
        ("view",)
    ]


def test_an_empty_version_0_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()
    conn = connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == STORE_VERSION
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_a_database_with_other_tables_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    sqlite3.connect(path).execute("CREATE TABLE unrelated (x)").connection.commit()
    before = path.read_bytes()
    with pytest.raises(NotALineageStoreError, match="not a lineage store"):
        connect(path)
    assert path.read_bytes() == before


def test_a_store_from_a_newer_release_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE nodes (id); CREATE TABLE transformations (id);")
    conn.execute("CREATE TABLE runs (run_id)")
    conn.execute(f"PRAGMA user_version = {STORE_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreVersionError, match="pip install --upgrade feature-lineage-sdk"):
        connect(path)


def test_a_retried_batch_does_not_count_a_run_twice(tmp_path: Path) -> None:
    now = dt.datetime.now(UTC)
    run = Run(
        "r1",
        "t",
        "completed",
        now,
        now,
        0.0,
        inputs=("a",),
        outputs=("b",),
        derivation=[("b", ["a"])],
    )
    sink = SQLiteSink(tmp_path / "l.db")
    sink.emit([run])
    sink.emit([run])
    conn = sqlite3.connect(tmp_path / "l.db")
    assert conn.execute(
        "SELECT (SELECT count(*) FROM runs), (SELECT sum(runs) FROM transformation_versions)"
    ).fetchone() == (1, 1)


hostile = hostile_text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(node_id=hostile, text=hostile, meta=hostile)
def test_hostile_ids_and_metadata_round_trip_through_both_sinks(
    tmp_path: Path, node_id: str, text: str, meta: str
) -> None:
    now = dt.datetime.now(UTC)
    # Node ids are one namespace in a store (the latest declaration wins), so keep them apart.
    records: list[Record] = [
        DataSource(f"src {node_id}", type=text, schema=[text, meta], description=meta, owner=text),
        Feature(f"feat {text}", description=node_id),
        Transformation(f"t {meta}", description=text, metadata={node_id: [text, {meta: 1}]}),
        Run(
            f"run {node_id}",
            f"t {meta}",
            "failed",
            now,
            now,
            0.5,
            inputs=(f"src {node_id}",),
            outputs=(f"feat {text}",),
            derivation=[(f"feat {text}", [f"src {node_id}"])],
            error_message=text,
        ),
    ]
    n = next(_example)
    for sink in (JsonFileSink(tmp_path / f"h{n}.jsonl"), SQLiteSink(tmp_path / f"h{n}.db")):
        sink.emit(records)
        back = list(sink.read())
        assert sorted(back, key=repr) == sorted(records, key=repr)
        sink.close()


_example = itertools.count()


def make_sink(target: str) -> MemorySink:
    sink = MemorySink(f"factory:{target}")
    made.append(sink)
    return sink


made: list[MemorySink] = []


def test_module_attr_factory_receives_the_target_string(monkeypatch: pytest.MonkeyPatch) -> None:
    made.clear()
    monkeypatch.setenv("LINEAGE_SINK", "tests.test_sinks:make_sink")

    @log_lineage()
    def job() -> None:
        pass

    job()
    assert [s.name for s in made] == ["factory:tests.test_sinks:make_sink"]
    assert len(run_ids(made[0].records)) == 1


def test_entry_point_plugin_is_found_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "site" / "acme_lineage_sink-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-lineage-sink\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[lineage_sdk.sinks]\nacme = tests.test_sinks:make_sink\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    made.clear()
    lineage_sdk.configure("acme:topic-a")
    assert [s.name for s in made] == ["factory:topic-a"]


def test_a_factory_returning_a_non_sink_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(lineage_sdk.ConfigError, match="lacks the sink methods"):
        lineage_sdk.configure("builtins:str")


def test_memory_target_reads_the_configured_memory_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_SINK", "memory")

    @log_lineage(outputs=[Feature("f")], name="mem_job")
    def job() -> None:
        pass

    job()
    assert [r.transformation for r in lineage_sdk.load_graph("memory").runs()] == ["mem_job"]
    assert (
        lineage_sdk.registry_dict("memory")["f"]["generated_by"]["transformation_id"] == "mem_job"
    )


def test_every_builtin_store_reads_back_the_same_records(tmp_path: Path) -> None:
    sinks: list[Any] = [
        MemorySink(),
        JsonFileSink(tmp_path / "l.jsonl"),
        SQLiteSink(tmp_path / "l.db"),
    ]
    lineage_sdk.configure(sinks, on_error="raise")

    @log_lineage(inputs=[DataSource("s", type="t")], outputs=[Feature("f")], name="same")
    def job() -> None:
        pass

    job()
    job()
    answers = [sorted(map(repr, sink.read())) for sink in sinks]
    assert answers[0] == answers[1] == answers[2]
    assert len(answers[0]) == 5, answers[0]
