"""The PostgreSQL store against a real server: model, failures, concurrency, forks, credentials."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lineage_sdk
from lineage_sdk import DataSource, Feature, Run, log_lineage
from lineage_sdk.config import parse_sinks, redact_secrets, settings_from_env
from lineage_sdk.errors import ConfigError
from lineage_sdk.sinks.sqlschema import STORE_VERSION, StoreVersionError

from .conftest import ROOT, PgCluster, child_env, import_path
from .helpers import COUNTS, CTR, cli, run_seed

psycopg = pytest.importorskip("psycopg", reason="pip install 'feature-lineage-sdk[postgres]'")

from lineage_sdk.sinks.postgres import (  # noqa: E402 - after the skip when psycopg is missing
    PostgresSink,
    connect,
    parse_dsn,
    read_records,
)

EXAMPLE = ROOT / "examples" / "ctr_7d.py"


def stored_runs(dsn: str) -> list[Run]:
    return [r for r in read_records(parse_dsn(dsn)) if isinstance(r, Run)]


def run_writers(count: int, args: list[str], **env: str) -> None:
    """``count`` processes of ``python -m tests.writer ARGS`` at once; each must succeed."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.writer", *args],
            env=child_env(**env),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err


def sink_for(dsn: str, **options: Any) -> PostgresSink:
    options.setdefault("cooldown_s", 0.2)
    return PostgresSink(dsn, **options)


def schema_of(dsn: str) -> str:
    schema = parse_dsn(dsn).schema
    assert schema is not None
    return schema


src = DataSource("pg_source", type="kafka_topic", schema=["user_id"])
feat = Feature("pg_feature", value_type="int")


def make_job(name: str = "pg_job") -> Any:
    @log_lineage(inputs=[src], outputs=[feat], name=name)
    def job(n: int) -> int:
        return n * 2

    return job


# --- configuration: forms, schema, redaction ----------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "value"),
    [
        ("postgresql://ann:pw@db:5432/lineage", "postgresql://ann:pw@db:5432/lineage"),
        ("postgres://ann@db/lineage?schema=team", "postgres://ann@db/lineage?schema=team"),
        ("postgresql:host=db dbname=lineage", "host=db dbname=lineage"),
        ("postgresql:service=team", "service=team"),
        ("postgresql:", ""),
    ],
)
def test_every_dsn_form_is_a_postgresql_target(entry: str, value: str) -> None:
    (target,) = parse_sinks(entry, Path("/"))
    assert (target.scheme, target.value) == ("postgresql", value)


def test_postgresql_sits_beside_other_sinks(tmp_path: Path) -> None:
    targets = parse_sinks(f"sqlite:{tmp_path}/l.db,postgresql://u@h/d", tmp_path)
    assert [t.scheme for t in targets] == ["sqlite", "postgresql"]


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://ann:hunter2-PW@db/lineage",
        "postgresql://ann:hun@ter2-PW@db/lineage",
        "postgresql://db/lineage?password=hunter2-PW",
        "postgresql:host=db password=hunter2-PW",
        "postgresql:host=db password = 'hunter2-PW with space'",
    ],
)
def test_a_password_never_shows_in_str_repr_or_a_config_error(dsn: str) -> None:
    (target,) = parse_sinks(dsn, Path("/"))
    assert "hunter2" not in str(target) and "hunter2" not in repr(target)
    assert "hunter2" not in redact_secrets(dsn)
    with pytest.raises(ConfigError) as caught:
        parse_sinks(f"{dsn},", Path("/"))
    assert "hunter2" not in str(caught.value)


def test_a_malformed_dsn_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="not a valid PostgreSQL DSN") as caught:
        PostgresSink("postgresql:host=db password='secret-PW-123 port=5")
    assert "secret-PW-123" not in str(caught.value)


def test_schema_options_and_timeout_are_checked_naming_the_variable() -> None:
    settings = settings_from_env(
        {"LINEAGE_PG_SCHEMA": "team_a", "LINEAGE_PG_CONNECT_TIMEOUT": "3"}, Path("/")
    )
    assert (settings.pg_schema, settings.pg_connect_timeout_s) == ("team_a", 3.0)
    with pytest.raises(ConfigError, match="LINEAGE_PG_SCHEMA"):
        settings_from_env({"LINEAGE_PG_SCHEMA": 'x"; DROP TABLE runs; --'}, Path("/"))
    with pytest.raises(ConfigError, match="LINEAGE_PG_CONNECT_TIMEOUT"):
        settings_from_env({"LINEAGE_PG_CONNECT_TIMEOUT": "soon"}, Path("/"))
    with pytest.raises(ConfigError, match=r"\?schema="):
        PostgresSink("postgresql://u@h/d?schema=bad-name")


def test_without_psycopg_the_message_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "import lineage_sdk\n"
        "try:\n"
        "    lineage_sdk.configure('postgresql://u@h/d')\n"
        "except lineage_sdk.ConfigError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert "pip install 'feature-lineage-sdk[postgres]'" in out.stdout, out.stderr


def test_import_lineage_sdk_does_not_import_psycopg() -> None:
    code = "import sys, lineage_sdk; print('psycopg' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "False", out.stderr


# --- the model ---------------------------------------------------------------------------------


def test_runs_round_trip_exactly_and_match_the_sqlite_store(pg_dsn: str, tmp_path: Path) -> None:
    from lineage_sdk import SQLiteSink

    sqlite_sink = SQLiteSink(tmp_path / "l.db")
    pg_sink = sink_for(pg_dsn)
    lineage_sdk.configure([sqlite_sink, pg_sink], on_error="raise")
    job = make_job()
    assert [job(i) for i in range(3)] == [0, 2, 4]
    lineage_sdk.flush()
    assert list(pg_sink.read()) == list(sqlite_sink.read())
    assert len(stored_runs(pg_dsn)) == 3


def test_the_store_lives_in_the_schema_named_by_the_dsn_or_the_variable(
    pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_dsn, by_env = pg_cluster.new_schema(), pg_cluster.new_schema()
    monkeypatch.setenv("LINEAGE_PG_SCHEMA", by_env)
    lineage_sdk.configure(f"{pg_cluster.dsn()},{pg_cluster.dsn(schema=by_dsn)}", on_error="raise")
    make_job()(1)
    lineage_sdk.flush()
    tables = pg_cluster.execute(
        "SELECT table_schema, count(*) FROM information_schema.tables "
        f"WHERE table_schema IN ('{by_dsn}', '{by_env}') GROUP BY 1 ORDER BY 1"
    )
    assert {name for name, _ in tables} == {by_dsn, by_env}
    assert all(count >= 7 for _, count in tables)  # the model's tables (and its view) in each


def test_many_processes_creating_the_store_at_once_migrate_it_once(pg_dsn: str) -> None:
    code = (
        "import sys\n"
        "from lineage_sdk.sinks.postgres import connect, parse_dsn\n"
        "connect(parse_dsn(sys.argv[1])).close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, pg_dsn], env=child_env(), text=True)
        for _ in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    conn = connect(parse_dsn(pg_dsn), create=False)
    with conn:
        rows = conn.execute("SELECT version FROM lineage_store_version").fetchall()
    assert rows == [(STORE_VERSION,)]


def test_a_store_from_a_newer_release_is_refused(pg_dsn: str) -> None:
    with connect(parse_dsn(pg_dsn)) as conn:
        conn.execute("UPDATE lineage_store_version SET version = %s", (STORE_VERSION + 1,))
    with pytest.raises(StoreVersionError, match="pip install --upgrade feature-lineage-sdk"):
        connect(parse_dsn(pg_dsn))


def test_a_run_emitted_twice_is_stored_once(pg_dsn: str) -> None:
    sink = sink_for(pg_dsn)
    lineage_sdk.configure([sink], on_error="raise")
    make_job()(1)
    lineage_sdk.flush()
    (run,) = stored_runs(pg_dsn)
    sink.emit([run])
    sink.emit([run, run])
    assert [r.run_id for r in stored_runs(pg_dsn)] == [run.run_id]


# --- failures never reach the pipeline ---------------------------------------------------------


def test_server_down_at_start_returns_results_logs_once_and_fails_fast(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A listener that accepts connections and never answers: every connect would wait for the
    # full timeout. The cool-down means only the first call tries.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        accepted: list[socket.socket] = []

        done = threading.Event()

        def accept() -> None:
            listener.settimeout(0.05)
            while not done.is_set():
                try:
                    accepted.append(listener.accept()[0])
                except OSError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        sink = PostgresSink(
            f"postgresql://u:pw-BLACKHOLE@127.0.0.1:{port}/d", connect_timeout_s=1, cooldown_s=60
        )
        lineage_sdk.configure([sink], on_error="warn")
        job = make_job()
        with caplog.at_level(logging.WARNING, logger="lineage_sdk"):
            assert [job(i) for i in range(5)] == [0, 2, 4, 6, 8]
        done.set()
        thread.join()
        for conn in accepted:
            conn.close()
    assert len(accepted) == 1
    stats = lineage_sdk.stats()["sinks"][sink.name]
    assert stats["errors"] == {"connect_timeout": 5}
    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 1
    assert "pw-BLACKHOLE" not in caplog.text + json.dumps(lineage_sdk.stats())


def test_bad_password_is_logged_once_without_the_password(
    pg_cluster: PgCluster, caplog: pytest.LogCaptureFixture
) -> None:
    dsn = pg_cluster.dsn().replace(pg_cluster.password, "wrong-PW-4711")
    sink = sink_for(dsn, cooldown_s=0.0)  # no cool-down: every call meets the refusal
    lineage_sdk.configure([sink], on_error="warn")
    job = make_job()
    with caplog.at_level(logging.WARNING, logger="lineage_sdk"):
        assert [job(i) for i in range(3)] == [0, 2, 4]
    stats = lineage_sdk.stats()
    assert stats["sinks"][sink.name]["errors"] == {"authentication": 3}
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "password authentication failed" in warnings[0]
    everything = caplog.text + json.dumps(stats) + repr(sink) + sink.name
    assert "wrong-PW-4711" not in everything


def test_a_statement_timeout_is_counted_and_the_next_runs_land(
    pg_cluster: PgCluster, pg_dsn: str
) -> None:
    sink = sink_for(f"{pg_dsn}&options=-c%20statement_timeout%3D300")
    lineage_sdk.configure([sink], on_error="warn")
    job = make_job()
    job(0)
    blocker = psycopg.connect(pg_dsn.split("?", maxsplit=1)[0])
    try:
        blocker.execute(f'LOCK TABLE "{schema_of(pg_dsn)}".runs IN ACCESS EXCLUSIVE MODE')
        assert job(1) == 2  # waits on the lock until the server cancels it
    finally:
        blocker.close()
    time.sleep(0.3)  # the cool-down
    job(2)
    assert lineage_sdk.stats()["sinks"][sink.name]["errors"] == {"statement_timeout": 1}
    assert len(stored_runs(pg_dsn)) == 2


def _fill_the_disk(pg_dsn: str) -> psycopg.Connection[Any]:
    """Make the server answer inserts into runs as a server whose disk is full does: SQLSTATE
    53100 (disk_full), through a trigger, since no test may fill the machine's disk."""
    admin = psycopg.connect(pg_dsn.split("?", maxsplit=1)[0], autocommit=True)
    schema = schema_of(pg_dsn)
    admin.execute(
        f'CREATE FUNCTION "{schema}".full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
        "RAISE EXCEPTION 'could not extend file: No space left on device' "
        "USING ERRCODE = 'disk_full'; END $$"
    )
    admin.execute(
        f'CREATE TRIGGER full_disk BEFORE INSERT ON "{schema}".run_log '
        f'FOR EACH ROW EXECUTE FUNCTION "{schema}".full_disk()'
    )
    return admin


@pytest.mark.parametrize("async_delivery", [False, True])
def test_a_full_disk_is_logged_once_counted_and_runs_land_once_there_is_room(
    pg_dsn: str, async_delivery: bool, caplog: pytest.LogCaptureFixture
) -> None:
    sink = sink_for(pg_dsn, cooldown_s=0.05)
    lineage_sdk.configure(
        [sink], on_error="warn", async_delivery=async_delivery, flush_interval_s=0.05
    )
    job = make_job()
    job(0)
    assert lineage_sdk.flush(10)
    admin = _fill_the_disk(pg_dsn)
    try:
        with caplog.at_level(logging.WARNING, logger="lineage_sdk"):
            assert [job(i) for i in range(1, 6)] == [2, 4, 6, 8, 10]
            if async_delivery:
                assert not lineage_sdk.flush(1)  # held: the server has no room yet
        stats = lineage_sdk.stats()
        assert stats["sinks"][sink.name]["errors"].keys() == {"disk_full"}
        warnings = [r.getMessage() for r in caplog.records if "disk_full" in r.getMessage()]
        assert len(warnings) == 1 and "No space left on device" in warnings[0]
        admin.execute(f'DROP TRIGGER full_disk ON "{schema_of(pg_dsn)}".run_log')  # room again
    finally:
        admin.close()
    time.sleep(0.1)  # the cool-down
    job(6)
    deadline = time.monotonic() + 30
    while not lineage_sdk.flush(1) and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = lineage_sdk.stats()
    if async_delivery:  # every run waited in the queue and landed
        assert (stats["held"], stats["failed"], stats["dropped"]) == (0, 0, 0)
        assert len(stored_runs(pg_dsn)) == 7
    else:  # sync: the runs written while the disk was full are lost, and counted
        assert stats["sinks"][sink.name]["failed"] == 5
        assert len(stored_runs(pg_dsn)) == 2


def test_a_server_restart_mid_run_loses_only_the_runs_while_it_was_down_sync(
    pg_cluster: PgCluster, pg_dsn: str
) -> None:
    sink = sink_for(pg_dsn)
    lineage_sdk.configure([sink], on_error="warn")
    job = make_job()
    job(0)
    pg_cluster.stop("immediate")
    try:
        assert [job(i) for i in (1, 2)] == [2, 4]
    finally:
        pg_cluster.start()
    time.sleep(0.3)
    job(3)
    stats = lineage_sdk.stats()
    assert stats["emitted"] >= 4 and stats["failed"] > 0  # declarations, runs 0 and 3
    assert len(stored_runs(pg_dsn)) == 2


def test_async_records_wait_while_the_server_is_down_and_land_when_it_is_back(
    pg_cluster: PgCluster, pg_dsn: str
) -> None:
    sink = sink_for(pg_dsn)
    lineage_sdk.configure([sink], on_error="warn", async_delivery=True, flush_interval_s=0.05)
    job = make_job()
    job(0)
    assert lineage_sdk.flush(10)
    pg_cluster.stop("immediate")
    try:
        assert [job(i) for i in range(1, 21)] == [2 * i for i in range(1, 21)]
        assert not lineage_sdk.flush(1)  # held: the sink has not taken them
        assert lineage_sdk.stats()["held"] == 20
    finally:
        pg_cluster.start()
    deadline = time.monotonic() + 30
    while not lineage_sdk.flush(1) and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = lineage_sdk.stats()
    assert (stats["held"], stats["failed"], stats["dropped"]) == (0, 0, 0)
    assert len(stored_runs(pg_dsn)) == 21


def test_killing_the_server_mid_seed_pipeline_loses_nothing_committed(
    pg_cluster: PgCluster, pg_dsn: str
) -> None:
    example = import_path(EXAMPLE)
    sink = sink_for(pg_dsn)
    lineage_sdk.configure([sink], on_error="warn", async_delivery=True, flush_interval_s=0.05)
    as_of = example.AS_OF if hasattr(example, "AS_OF") else None
    impressions, clicks, _profiles = example.make_data(200, 7, as_of or _as_of())
    when = as_of or _as_of()
    example.calculate_user_counts_7d(impressions, clicks, when)
    assert lineage_sdk.flush(10)
    committed = {r.run_id for r in stored_runs(pg_dsn)}

    def dying(events: list[Any]) -> Iterator[Any]:
        for i, event in enumerate(events):
            if i == len(events) // 2:
                pg_cluster.stop("immediate")  # the server dies while the job is running
            yield event

    try:
        imp, clk = example.calculate_user_counts_7d(dying(impressions), clicks, when)
        ctr = example.calculate_user_ctr(imp, clk, range(200))
    finally:
        pg_cluster.start()
    assert len(ctr) == 200
    deadline = time.monotonic() + 30
    while not lineage_sdk.flush(1) and time.monotonic() < deadline:
        time.sleep(0.05)
    example.calculate_user_ctr(imp, clk, range(200))  # a later run
    assert lineage_sdk.flush(10)
    runs = stored_runs(pg_dsn)
    assert committed <= {r.run_id for r in runs}
    assert [r.transformation for r in sorted(runs, key=lambda r: r.started_at)] == [
        "calculate_user_counts_7d_job_v1.2",
        "calculate_user_counts_7d_job_v1.2",
        "calculate_user_ctr_job_v1.0",
        "calculate_user_ctr_job_v1.0",
    ]


def _as_of() -> Any:
    import datetime as dt

    return dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


# --- processes ---------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_a_forked_child_opens_its_own_connection(pg_dsn: str) -> None:
    sink = sink_for(pg_dsn)
    lineage_sdk.configure([sink], on_error="raise")
    job = make_job()
    job(0)  # the parent's connection is open now
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            job(1)
            lineage_sdk.flush()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    job(2)  # the parent's connection still works: the child never used nor closed it
    runs = stored_runs(pg_dsn)
    assert len(runs) == 3 and len({r.pid for r in runs}) == 2


@pytest.mark.slow
@pytest.mark.parametrize("async_delivery", ["0", "1"])
def test_eight_processes_store_every_run_exactly_once(
    pg_cluster: PgCluster, pg_dsn: str, async_delivery: str
) -> None:
    run_writers(8, ["1000"], LINEAGE_SINK=pg_dsn, LINEAGE_ASYNC=async_delivery)
    ids = [r.run_id for r in stored_runs(pg_dsn)]
    assert len(ids) == 8000 and len(set(ids)) == 8000


@pytest.mark.slow
def test_many_writers_declaring_the_same_nodes_never_deadlock(
    pg_cluster: PgCluster, pg_dsn: str
) -> None:
    run_writers(8, ["300", "shared-nodes"], LINEAGE_SINK=pg_dsn)
    assert "deadlock detected" not in pg_cluster.log()
    ids = [r.run_id for r in stored_runs(pg_dsn)]
    assert len(ids) == 8 * 300 and len(set(ids)) == len(ids)
    nodes = pg_cluster.execute(f'SELECT count(*) FROM "{schema_of(pg_dsn)}".nodes')
    assert nodes == [(40,)]


def test_writers_redeclaring_a_node_at_once_each_keep_their_field(pg_dsn: str) -> None:
    # Four writers, each naming one field of the same features at the same moment: the merge
    # reads the stored declaration and writes it back, so without a lock around it two writers
    # would both merge over the same state and one field would be lost.
    parts: list[dict[str, Any]] = [
        {"description": "CTR over 7 days"},
        {"value_type": "float"},
        {"entity": "user"},
        {"tags": ("ctr", "7d")},
    ]
    sinks = [sink_for(pg_dsn) for _ in parts]
    rounds = 15
    barrier = threading.Barrier(len(parts))
    errors: list[BaseException] = []

    def declare(sink: PostgresSink, fields: dict[str, Any]) -> None:
        try:
            for k in range(rounds):
                barrier.wait(10)
                sink.emit([Feature(f"contested_{k}", **fields)])
        except BaseException as exc:  # surfaces below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=declare, args=pair) for pair in zip(sinks, parts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for sink in sinks:
        sink.close()
    assert not errors
    stored = {r.id: r for r in read_records(parse_dsn(pg_dsn)) if isinstance(r, Feature)}
    for k in range(rounds):
        assert stored[f"contested_{k}"] == Feature(
            f"contested_{k}",
            description="CTR over 7 days",
            value_type="float",
            entity="user",
            tags=("ctr", "7d"),
        )


def test_a_child_process_password_never_reaches_its_output(pg_cluster: PgCluster) -> None:
    dsn = pg_cluster.dsn().replace(pg_cluster.password, "wrong-PW-0815")
    out = subprocess.run(
        [sys.executable, "-m", "tests.writer", "3"],
        env=child_env(LINEAGE_SINK=dsn, LINEAGE_PG_CONNECT_TIMEOUT="2"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 3  # the writer reports failures; the runs themselves returned
    assert "authentication" in out.stderr
    assert "wrong-PW-0815" not in out.stdout + out.stderr


# --- the command line gives the SQLite answers --------------------------------------------------

SAME_ANSWERS = [
    ["upstream", "user_ctr_7d"],
    ["upstream", "user_ctr_7d", "--depth", "2", "--json"],
    ["downstream", "raw_clicks_kafka_topic"],
    ["downstream", COUNTS, "--depth", "1", "--json"],
    ["show", CTR, "--json"],
    ["show", "user_clicks_7d"],
    ["runs", "--json"],
    ["runs", "--transformation", CTR],
    ["export", "--format", "json"],
    ["export", "--format", "registry"],
    ["export", "--format", "openlineage"],
    ["graph", "--focus", "user_ctr_7d", "-o", "-"],
    ["impact", "raw_clicks_kafka_topic", "--json"],
    ["path", "raw_clicks_kafka_topic", "user_ctr_7d"],
    ["orphans"],
    ["cycles", "--json"],
    ["versions", CTR, "--json"],
    ["upstream", "user_ctr_7d", "--include-failed"],
    ["upstream", "no_such_feature"],
]


def test_every_command_answers_as_the_sqlite_store_does(pg_dsn: str, tmp_path: Path) -> None:
    sqlite_store = f"sqlite:{tmp_path / 'seed.db'}"
    lineage_sdk.configure(f"{sqlite_store},{pg_dsn}", on_error="raise")
    run_seed()
    lineage_sdk.flush()
    for args in SAME_ANSWERS:
        expected = cli(*args, "--store", sqlite_store)
        got = cli(*args, "--store", pg_dsn)
        assert expected.returncode == (1 if "no_such_feature" in args else 0), expected.stderr
        assert (got.returncode, got.stdout) == (expected.returncode, expected.stdout), args
    doctor = cli("doctor", "--json", "--store", pg_dsn)
    (entry,) = json.loads(doctor.stdout)["sinks"]
    assert entry["store_version"] == STORE_VERSION and entry["can_write"] is True
    assert entry["server_version"].startswith("15") or entry["server_version"][0].isdigit()
    assert PG_PASSWORD_OF(pg_dsn) not in doctor.stdout + doctor.stderr


def test_graph_queries_are_never_jit_compiled(pg_dsn: str) -> None:
    # JIT compiling a plan costs ~25 ms of LLVM; the cost estimates of impact's subplans on a
    # store of 10^6 edges pass jit_above_cost, which made impact ~150x slower than on SQLite.
    from lineage_sdk.graph.dialects import PostgresDialect

    lineage_sdk.configure(pg_dsn, on_error="raise")
    run_seed()
    lineage_sdk.flush()
    conn = PostgresDialect().connect(pg_dsn)
    try:
        conn.execute("SET jit_above_cost = 0")  # every plan qualifies, but for the setting
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN ANALYZE SELECT * FROM edges"))
        assert "JIT:" not in plan
        # The check sees JIT where the server has it: the same plan with JIT allowed shows it.
        if conn.execute("SELECT pg_jit_available()").fetchone()[0]:
            conn.execute("SET jit = on")
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN ANALYZE SELECT * FROM edges"))
            assert "JIT:" in plan
    finally:
        conn.close()


def PG_PASSWORD_OF(dsn: str) -> str:
    password = parse_dsn(dsn).secrets[0]
    assert len(password) > 8
    return password


def test_doctor_explains_a_bad_dsn_without_the_password(pg_cluster: PgCluster) -> None:
    wrong = pg_cluster.dsn().replace(pg_cluster.password, "wrong-PW-doctor-77")
    unreachable = "postgresql://ann:unreach-PW-99@127.0.0.1:1/lineage"
    for dsn, why in ((wrong, "authentication"), (unreachable, "unreachable")):
        result = cli("doctor", "--store", dsn)
        assert result.returncode == 1 and why in result.stdout
        for command in (["doctor", "--json"], ["upstream", "x"], ["runs"]):
            out = cli(*command, "--store", dsn)
            assert "PW" not in out.stdout + out.stderr, command
            assert "Traceback" not in out.stderr
    malformed = cli("doctor", "--store", "postgresql:host=db password='bad-PW-1 port=5")
    assert "not a valid PostgreSQL DSN" in malformed.stdout and "bad-PW" not in malformed.stdout


def test_copy_and_prune_from_the_command_line(pg_dsn: str, tmp_path: Path) -> None:
    laptop = f"json:{tmp_path / 'laptop.jsonl'}"
    lineage_sdk.configure(laptop, on_error="raise")
    run_seed()
    lineage_sdk.flush()
    first = cli("copy", laptop, pg_dsn, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["copied"] == 10
    again = json.loads(cli("copy", laptop, pg_dsn, "--json").stdout)
    assert (again["copied"], again["already_present"]) == (0, 10)
    assert PG_PASSWORD_OF(pg_dsn) not in first.stdout + first.stderr
    pruned = cli("prune", "--older-than", "0s", "--dry-run", "--store", pg_dsn)
    assert pruned.returncode == 0, pruned.stderr
    assert "would remove 0 run(s)" in pruned.stdout  # each job's only run is its newest
    bad = cli("prune", "--older-than", "soon", "--store", pg_dsn)
    assert bad.returncode == 2 and "90d" in bad.stderr
