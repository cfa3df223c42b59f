"""Helpers shared by several test modules: the seed scenario, the real CLI, reading DOT back."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import attrs
import pytest

import lineage_sdk
from lineage_sdk import DataSource, Feature, JsonFileSink, MemorySink, Run, SQLiteSink, log_lineage
from lineage_sdk.graph import LineageGraph
from lineage_sdk.records import Record
from lineage_sdk.sinks.sqlschema import POSTGRES, SQLITE, migration

from .conftest import GIT_ENV, Repo, child_env, git

COUNTS = "calculate_user_counts_7d_job_v1.2"
CTR = "calculate_user_ctr_job_v1.0"

impressions = DataSource(
    "raw_impressions_kafka_topic", type="kafka_topic", schema=["user_id", "timestamp", "ad_id"]
)
clicks = DataSource(
    "raw_clicks_kafka_topic", type="kafka_topic", schema=["user_id", "timestamp", "ad_id"]
)
profiles = DataSource(
    "user_profiles_postgres_table",
    type="postgres_table",
    schema=["user_id", "country", "registration_date"],
)
n_imp = Feature("user_impressions_7d", value_type="int", entity="user")
n_clk = Feature("user_clicks_7d", value_type="int", entity="user")
ctr = Feature("user_ctr_7d", value_type="float", entity="user")


def run_seed() -> None:
    @log_lineage(
        inputs=[impressions, clicks],
        outputs={n_imp: [impressions], n_clk: [clicks]},
        name=COUNTS,
        version="1.2",
        compute_framework="Spark",
    )
    def counts() -> None:
        pass

    @log_lineage(
        inputs=[n_imp, n_clk], outputs=[ctr], name=CTR, version="1.0", compute_framework="pandas"
    )
    def rate(fail: bool = False) -> None:
        if fail:
            raise ZeroDivisionError("no impressions")

    lineage_sdk.register(profiles)
    counts()
    rate()


def dot_json(source: str) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        ["dot", "-Tjson"], input=source, capture_output=True, text=True, check=True
    )
    assert "Warning" not in out.stderr and "Error" not in out.stderr, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def title_of(label: str) -> str:
    match = re.match(r"^<b>(.*?)</b>", label, re.S)
    assert match, label
    return html.unescape(match.group(1).replace("<br/>", "\n"))


def shown(text: str) -> str:
    """How an id appears in a drawing: control characters become U+FFFD, CRLF a line break."""
    text = text.replace("\r\n", "\n")
    return "".join(c if c >= " " or c in "\n\t" else "\ufffd" for c in text)


LINEAGE = shutil.which("lineage", path=str(Path(sys.executable).parent)) or "lineage"


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = child_env(**(env or {}))
    return subprocess.run(
        [LINEAGE, *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=60
    )


STORES = ["memory", "json", "sqlite", "postgresql"]
UTC = dt.timezone.utc


def make_run(
    t: str,
    derivation: list[tuple[str, list[str]]],
    inputs: list[str],
    i: int,
    status: str = "completed",
) -> Run:
    """Run number ``i`` of ``t`` (``i`` seconds into 2026), outputs from ``derivation``."""
    at = dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=i)
    outputs = [out for out, _ in derivation]
    return Run(
        f"run-{i}",
        t,
        status,  # type: ignore[arg-type]
        at,
        at,
        0.0,
        inputs=inputs,
        outputs=outputs,
        derivation=derivation,
    )


def records_by_key(records: list[Record]) -> dict[tuple[str, str], Record]:
    """Records keyed by (kind, id or run id): two stores compare equal whatever their order."""
    return {
        (r.kind, r.run_id if isinstance(r, Run) else r.id): r  # type: ignore[union-attr]
        for r in records
    }


def aged_run(run_id: str, job: str, days_ago: float, inputs: list[str], outputs: list[str]) -> Run:
    """A completed run of ``job`` that started ``days_ago`` days before now, every output
    derived from every input (for retention tests)."""
    when = dt.datetime.now(UTC) - dt.timedelta(days=days_ago)
    return Run(
        run_id,
        job,
        "completed",
        when,
        when,
        0.0,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        derivation=[(o, inputs) for o in outputs],
    )


_n = itertools.count()


def pg_store(request: Any) -> str:
    """A fresh PostgreSQL store (its own schema) on the session's server (``pg_cluster``)."""
    cluster = request.getfixturevalue("pg_cluster")
    return str(cluster.dsn(schema=cluster.new_schema()))


def store_graph(
    kind: str,
    runs: list[Record],
    where: Path,
    include_failed: bool = False,
    request: Any = None,
) -> LineageGraph:
    """``runs`` written to a fresh store of ``kind`` (memory, json, sqlite, postgresql) and read
    back; ``request`` (pytest's) is needed for postgresql, whose server is a session fixture."""
    if kind == "postgresql":
        from lineage_sdk.sinks.postgres import PostgresSink

        sink: Any = PostgresSink(pg_store(request))
        sink.emit(runs)
        sink.close()
        return lineage_sdk.load_graph(sink.dsn, include_failed=include_failed)
    if kind == "memory":
        sink = MemorySink()
    elif kind == "json":
        sink = JsonFileSink(where / f"g{next(_n)}.jsonl")
    else:
        sink = SQLiteSink(where / f"g{next(_n)}.db")
    sink.emit(runs)
    sink.close()
    target = sink if kind == "memory" else f"{kind}:{sink.path}"
    return lineage_sdk.load_graph(target, include_failed=include_failed)


def require_program(name: str, how: str) -> str:
    """The path of program ``name``; skip the test without it, or fail when ``CI`` is set."""
    path = shutil.which(name)
    if path is None:
        message = f"the {name!r} program is not installed ({how})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must have it")
        pytest.skip(message)
    return path


def run_on_terminal(
    args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, str, str]:
    """Run a command with stdout and stderr on pseudo-terminals: (exit code, stdout, stderr)."""
    import pty

    out_master, out_slave = pty.openpty()
    err_master, err_slave = pty.openpty()
    proc = subprocess.Popen(
        args, stdout=out_slave, stderr=err_slave, stdin=subprocess.DEVNULL, env=env, cwd=cwd
    )
    os.close(out_slave)
    os.close(err_slave)
    chunks: dict[int, list[bytes]] = {out_master: [], err_master: []}
    open_fds = [out_master, err_master]
    import select

    while open_fds:
        ready, _, _ = select.select(open_fds, [], [], 120)
        if not ready:
            proc.kill()
            raise TimeoutError(f"{args} wrote nothing for 120 s")
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed its end
                data = b""
            if data:
                chunks[fd].append(data)
            else:
                open_fds.remove(fd)
                os.close(fd)
    code = proc.wait(timeout=120)
    decode = lambda fd: b"".join(chunks[fd]).decode("utf-8", "replace")  # noqa: E731
    return code, decode(out_master), decode(err_master)


# --- a real git history of the seed pipeline (lineage over time) ---------------------------------
CHANGES_PIPELINE = Path(__file__).resolve().parent / "data" / "changes_pipeline.py"
PIPELINE_JOB = "jobs/pipeline.py"


@attrs.frozen
class PipelineHistory:
    """The history built by :func:`build_history`: the repository, its stores, tag -> commit."""

    repo: Repo
    stores: dict[str, str]
    tags: dict[str, str]


def _run_pipeline(repo: Repo, env: dict[str, str], *stages: str) -> None:
    result = subprocess.run(
        [sys.executable, PIPELINE_JOB, *stages],
        cwd=repo.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def edit_counts(text: str) -> str:
    """Version 1.1 of the counts job: a different body and version."""
    return text.replace(
        '    name="calculate_user_counts_7d",\n    version="1.0",',
        '    name="calculate_user_counts_7d",\n    version="1.1",',
    ).replace(
        "        clicked[user] = clicked.get(user, 0) + 1\n",
        "        if user >= 0:  # v1.1: ignore anonymous users\n"
        "            clicked[user] = clicked.get(user, 0) + 1\n",
    )


def build_history(base: Path, extra_stores: dict[str, str] | None = None) -> PipelineHistory:
    """Run the pipeline as real processes in a new git repository under ``base``, writing to
    every store kind at once:

    1. the seed pipeline (clicks landed, counts, CTR) at tag v1.0;
    2. the counts job edited (code and version), tagged v1.1 and run again; the CTR job is not;
    3. after an unrelated commit, the raw clicks (the counts job's clicks input) landed again;
    4. one more commit, at which nothing runs.

    ``extra_stores``: more store kinds to write to (kind -> store string, e.g. a database DSN).
    """
    home = base / "home"
    home.mkdir()
    root = base / "feature-jobs"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    repo = Repo(root)
    (root / "jobs").mkdir()
    shutil.copy(CHANGES_PIPELINE, root / PIPELINE_JOB)
    repo.commit("seed pipeline")
    repo.git("tag", "-a", "v1.0", "-m", "v1.0")
    stores = {"json": f"json:{base / 'lineage.jsonl'}", "sqlite": f"sqlite:{base / 'lineage.db'}"}
    stores |= extra_stores or {}
    env = child_env(LINEAGE_SINK=",".join(stores.values()), HOME=str(home), **GIT_ENV)
    _run_pipeline(repo, env, "clicks", "counts", "ctr")
    job = root / PIPELINE_JOB
    job.write_text(edit_counts(job.read_text()))
    repo.commit("counts: ignore anonymous users")
    repo.git("tag", "-a", "v1.1", "-m", "v1.1")
    _run_pipeline(repo, env, "counts")
    (root / "README.md").write_text("feature jobs\n")
    repo.commit("readme")
    _run_pipeline(repo, env, "clicks")
    (root / "NOTES.md").write_text("nothing ran here\n")
    repo.commit("notes")  # HEAD: a commit at which nothing ran
    tags = {t: repo.git("rev-parse", f"{t}^{{commit}}") for t in ("v1.0", "v1.1")}
    return PipelineHistory(repo, stores, tags)


def set_back_to_layout_v1(conn: sqlite3.Connection) -> None:
    """Turn an SQLite store this release wrote into the layout of store version 1.

    Every run becomes a row of its own with its whole record and its own input and output rows
    (no revisions, processes or declarations), as version 1 kept them; ``user_version`` is 1.
    The graph tables stay as they are: a test makes them what the version it imitates held.
    """
    conn.executescript(
        """
        CREATE TEMP TABLE old_runs AS
            SELECT run_id, transformation_id, parent_run_id, status, started_us, ended_us,
                   version, source_sha256, git_commit, git_tag, record
            FROM run_records;
        CREATE TEMP TABLE old_io AS SELECT run_id, direction, node_id FROM run_io;
        DROP VIEW run_io; DROP VIEW run_records; DROP VIEW transformation_versions;
        DROP VIEW runs; DROP TABLE run_log; DROP TABLE legacy_run_io; DROP TABLE revision_io;
        DROP TABLE revisions; DROP TABLE processes; DROP TABLE declarations;
        """
    )
    for statement in migration(SQLITE, 0):  # creates what is missing: the version-1 tables
        conn.execute(statement)
    conn.executescript(
        """
        INSERT INTO runs SELECT * FROM temp.old_runs;
        INSERT INTO run_inputs SELECT run_id, node_id FROM temp.old_io WHERE direction = 'in';
        INSERT INTO run_outputs SELECT run_id, node_id FROM temp.old_io WHERE direction = 'out';
        DROP TABLE temp.old_runs; DROP TABLE temp.old_io;
        PRAGMA user_version = 1;
        """
    )


def pg_store_from_sqlite(cluster: Any, schema: str, fixture: Path, version: int) -> None:
    """Make ``schema`` on ``cluster`` (a conftest.PgCluster) a PostgreSQL store of ``version``
    holding what the SQLite store file ``fixture`` of that version holds, row for row."""
    import psycopg

    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        for older in range(version):
            for statement in migration(POSTGRES, older):
                conn.execute(statement)
        conn.execute("CREATE TABLE lineage_store_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO lineage_store_version VALUES (%s)", (version,))
        # immutable: nothing written beside the fixture, not even the WAL index
        with closing(sqlite3.connect(f"file:{fixture}?immutable=1", uri=True)) as lite:
            tables = [
                row[0]
                for row in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for table in tables:
                cursor = lite.execute(f"SELECT * FROM {table}")  # names from the fixture
                columns = ", ".join(d[0] for d in cursor.description)
                marks = ", ".join(["%s"] * len(cursor.description))
                for row in cursor:
                    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)
