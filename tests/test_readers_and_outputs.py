"""Readers and outputs: stores opened read-only, bad stores and paths, secrets, spoofing, NDJSON."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

import lineage_sdk
from lineage_sdk import DataSource, Run, _runtime, log_lineage
from lineage_sdk.cli import main as cli_main
from lineage_sdk.config import SinkTarget
from lineage_sdk.sinks import build_sink

from .conftest import JOB_MODULE, Repo, child_env, import_path
from .helpers import cli, set_back_to_layout_v1


def _lineage(*args: str) -> tuple[int, str, str]:
    """Run the command line in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli_main(list(args), out=out)
    return code, out.getvalue(), err.getvalue()


# --- ids and text that UTF-8 or a line splitter would break ------------------------------------
@pytest.mark.parametrize("scheme", ["json", "sqlite"])
def test_ids_from_undecodable_file_names_are_stored_escaped_and_the_run_kept(
    scheme: str, tmp_path: Path
) -> None:
    folder = tmp_path / "landing"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"clicks-\xff\xfe.csv"), "wb") as handle:
        handle.write(b"x")
    (folder / "views.csv").write_text("y")
    store = tmp_path / f"lineage.{scheme}"
    lineage_sdk.configure(f"{scheme}:{store}", on_error="raise", capture_git=False)

    @log_lineage(inputs=lambda args: sorted(os.listdir(args["folder"])), name="ingest_dir")
    def ingest(folder: Path) -> None:
        raise ValueError(f"cannot parse {sorted(os.listdir(folder))[0]}")

    with pytest.raises(ValueError, match="cannot parse"):
        ingest(folder)
    [run] = [r for r in build_sink(SinkTarget(scheme, str(store))).read() if isinstance(r, Run)]
    assert run.inputs == ("clicks-\\xff\\xfe.csv", "views.csv")
    assert run.status == "failed"
    assert run.error_message == "cannot parse clicks-\udcff\udcfe.csv"  # exact


def test_a_declared_node_with_an_undecodable_id_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"DataSource.id 'a\\udcffb' holds a lone surrogate"):
        DataSource("a\udcffb", type="file")


_SEPARATORS = "a\u2028b\u2029c\x85d"


def test_every_ndjson_output_keeps_one_record_per_line_for_str_splitlines(
    tmp_path: Path,
) -> None:
    store = tmp_path / "lineage.jsonl"
    lineage_sdk.configure(f"json:{store}", capture_git=False)
    node = DataSource(f"src_{_SEPARATORS}", type="file", description=_SEPARATORS)

    @log_lineage(inputs=[node], outputs=[f"out_{_SEPARATORS}"], name=f"job_{_SEPARATORS}")
    def job() -> None:
        raise ValueError(_SEPARATORS)

    with pytest.raises(ValueError):
        job()
    lineage_sdk.flush()
    stored = store.read_text(encoding="utf-8")
    assert len(stored.splitlines()) == len(list(build_sink(SinkTarget("json", str(store))).read()))
    for fmt in ("json", "openlineage"):
        code, out, err = _lineage("export", "--format", fmt, "--store", f"json:{store}")
        assert code == 0, err
        lines = out.splitlines()
        assert all(json.loads(line) for line in lines)
        assert len(lines) == len(out.split("\n")) - 1
    [run] = [r for r in build_sink(SinkTarget("json", str(store))).read() if isinstance(r, Run)]
    assert run.error_message == _SEPARATORS  # exact after the round trip


# --- secrets in git remotes, and dirty trees ------------------------------------------------
@pytest.mark.parametrize(
    ("remote", "shown"),
    [
        (
            "https://bot:pw-SECRET1@gitlab.com/acme/jobs.git?private_token=glpat-SECRET2#x-SECRET3",
            "https://gitlab.com/acme/jobs.git",
        ),
        ("git@github.com:acme/jobs.git?access_token=SECRET4", "github.com:acme/jobs.git"),
        ("ssh://git@host.example/acme/jobs.git?token=SECRET5", "ssh://host.example/acme/jobs.git"),
    ],
)
def test_credentials_in_a_remote_never_reach_a_record_an_export_or_doctor(
    remote: str,
    shown: str,
    make_repo: Callable[..., Repo],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = make_repo(remote=remote)
    repo.write("jobs/job.py", JOB_MODULE)
    repo.commit("add job")
    repo.git("tag", "v0.1")
    store = tmp_path / "lineage.jsonl"
    lineage_sdk.configure(f"json:{store}")
    assert import_path(repo.root / "jobs/job.py").job(2) == 4
    lineage_sdk.flush()
    [run] = [r for r in build_sink(SinkTarget("json", str(store))).read() if isinstance(r, Run)]
    assert run.git is not None and run.git.remote_url == shown
    outputs = [store.read_text()]
    for args in (
        ["runs", "--json"],
        ["runs"],
        ["show", "job_x"],
        ["show", "job_x", "--json"],
        ["export", "--format", "openlineage"],
        ["export", "--format", "json"],
        ["doctor"],
        ["doctor", "--json"],
    ):
        monkeypatch.chdir(repo.root)  # doctor reports the repository it is run in
        code, out, err = _lineage(*args, "--store", f"json:{store}")
        assert code in (0, 1), err
        outputs.append(out + err)
    assert any(shown in text for text in outputs)
    for text in outputs:
        assert "SECRET" not in text


def test_a_dirty_tree_is_visible_wherever_its_tag_or_commit_is(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    repo = make_repo(remote="https://github.com/acme/jobs.git")
    repo.write("jobs/job.py", JOB_MODULE)
    sha = repo.commit("add job")
    repo.git("tag", "v0.1")
    repo.write("jobs/job.py", JOB_MODULE + "\n# work in progress\n")  # not committed
    store = tmp_path / "lineage.jsonl"
    lineage_sdk.configure(f"json:{store}")
    assert import_path(repo.root / "jobs/job.py").job(2) == 4
    lineage_sdk.flush()
    [run] = [r for r in build_sink(SinkTarget("json", str(store))).read() if isinstance(r, Run)]
    assert run.git is not None and run.git.dirty is True
    assert run.code_reference == f"git://github.com/acme/jobs/jobs/job.py#commit={sha}&dirty=true"
    table = _lineage("runs", "--store", f"json:{store}")[1]
    assert "v0.1 (dirty)" in table and f"{sha[:10]}+dirty" in table
    shown = _lineage("show", "job_x", "--store", f"json:{store}")[1]
    assert "dirty=true" in shown and "v0.1 (dirty)" in shown
    events = _lineage("export", "--format", "openlineage", "--store", f"json:{store}")[1]
    location = json.loads(events.splitlines()[-1])["job"]["facets"]["sourceCodeLocation"]
    assert location["version"] == f"{sha}-dirty"
    assert "tag" not in location
    assert location["url"].endswith(f"#commit={sha}&dirty=true")


# --- Trojan Source: bidirectional controls stay visible and inert in human output -------------
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_bidi_controls_are_escaped_in_every_human_output(tmp_path: Path) -> None:
    store = tmp_path / "lineage.jsonl"
    lineage_sdk.configure(f"json:{store}", capture_git=False)
    spoof = "T\u202egnp.exe"
    source = DataSource(spoof, type="file", owner=f"o{_BIDI}", description=f"d{_BIDI}")

    @log_lineage(inputs=[source], outputs=["out\u2066x\u2069"], name="job\u202dz")
    def job() -> None:
        raise ValueError(f"bad {spoof}")

    with pytest.raises(ValueError):
        job()
    lineage_sdk.flush()
    where = ["--store", f"json:{store}"]
    commands = [
        ["runs"],
        ["show", spoof],
        ["show", "job\u202dz"],
        ["upstream", "out\u2066x\u2069"],
        ["downstream", spoof],
        ["show", f"missing{_BIDI}"],
        ["graph", "--format", "dot"],
        ["doctor"],
    ]
    if shutil.which("dot"):
        commands.append(["graph", "--format", "svg"])
    for args in commands:
        _, out, err = _lineage(*args, *where)
        text = out + err
        assert not any(ch in text for ch in _BIDI), (args, text)
        if args[0] in ("runs", "show", "upstream", "downstream"):
            assert "\\u202e" in text or "\\u2066" in text or "\\u202d" in text, (args, text)


# --- readers never modify a store, and never crash on a bad one --------------------------------
_READ_COMMANDS = [
    ["runs"],
    ["runs", "--json"],
    ["show", "raw_clicks"],
    ["upstream", "clicks_7d"],
    ["downstream", "raw_clicks"],
    ["graph", "--format", "dot"],
    ["export", "--format", "json"],
    ["export", "--format", "registry"],
    ["export", "--format", "openlineage"],
]


def _record_one_run(store: str) -> None:
    lineage_sdk.configure(store, capture_git=False)

    @log_lineage(inputs=[DataSource("raw_clicks", type="kafka_topic")], outputs=["clicks_7d"])
    def job() -> int:
        return 1

    job()
    _runtime.reset()  # closes the store: no -wal / -shm left behind


def _foreign_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (9.5)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("command", [*_READ_COMMANDS, ["doctor"]], ids=" ".join)
def test_a_foreign_sqlite_database_is_refused_by_every_command_and_left_unchanged(
    command: list[str], tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    app = tmp_path / "data" / "app.db"
    _foreign_database(app)
    before = app.read_bytes()
    code, out, err = _lineage(*command, "--store", f"sqlite:{app}")
    assert code == (1 if command == ["doctor"] else 2)
    assert "not a lineage store" in out + err
    assert app.read_bytes() == before
    assert sorted(p.name for p in app.parent.iterdir()) == ["app.db"]  # no -wal, no -shm


def test_reading_a_lineage_store_never_changes_it(tmp_path: Path) -> None:
    store = tmp_path / "lineage.db"
    _record_one_run(f"sqlite:{store}")
    before = store.read_bytes()
    for command in _READ_COMMANDS:
        code, _, err = _lineage(*command, "--store", f"sqlite:{store}")
        assert code == 0, (command, err)
    graph = lineage_sdk.load_graph(f"sqlite:{store}")
    assert [r.transformation for r in graph.runs()] != []
    graph.close()
    assert store.read_bytes() == before


def _bad_stores(tmp_path: Path) -> dict[str, str]:
    real = tmp_path / "real.db"
    _record_one_run(f"sqlite:{real}")
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(real.read_bytes()[:1500])
    noise = tmp_path / "noise.db"
    noise.write_bytes(bytes(range(256)) * 64)
    text = tmp_path / "notes.txt"
    text.write_text("dear diary\n")
    (tmp_path / "link.db").symlink_to(text)
    (tmp_path / "link.jsonl").symlink_to(text)
    (tmp_path / "folder").mkdir()
    (tmp_path / "empty.db").write_bytes(b"")
    return {
        "truncated": f"sqlite:{truncated}",
        "random bytes": f"sqlite:{noise}",
        "symlink to text (sqlite)": f"sqlite:{tmp_path / 'link.db'}",
        "symlink to text (json)": f"json:{tmp_path / 'link.jsonl'}",
        "directory (sqlite)": f"sqlite:{tmp_path / 'folder'}",
        "directory (json)": f"json:{tmp_path / 'folder'}",
        "empty sqlite": f"sqlite:{tmp_path / 'empty.db'}",
        "missing": f"sqlite:{tmp_path / 'missing.db'}",
        "memory in a fresh process": "memory",
    }


@pytest.mark.parametrize("command", _READ_COMMANDS, ids=" ".join)
def test_every_bad_store_gives_one_message_and_exit_2(command: list[str], tmp_path: Path) -> None:
    for what, store in _bad_stores(tmp_path).items():
        _runtime.reset()
        code, out, err = _lineage(*command, "--store", store)
        assert code == 2, (what, out, err)
        assert err.startswith("lineage: ") and err.count("\n") == 1, (what, err)
        assert "Traceback" not in err


def test_a_fifo_as_store_is_refused_by_the_cli_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for scheme in ("json", "sqlite"):
        done = cli("runs", "--store", f"{scheme}:{fifo}")  # a 60 s timeout guards a hang
        assert done.returncode == 2, done.stderr
        assert "FIFO" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command", [["export", "--format", "json"], ["graph", "--format", "dot"]], ids=" ".join
)
def test_an_output_path_that_cannot_be_written_gives_one_message_and_exit_2(
    command: list[str], tmp_path: Path
) -> None:
    store = tmp_path / "lineage.jsonl"
    _record_one_run(f"json:{store}")
    (tmp_path / "a_folder").mkdir()
    for target in (tmp_path / "no" / "such" / "dir" / "out.txt", tmp_path / "a_folder"):
        code, _, err = _lineage(*command, "--store", f"json:{store}", "-o", str(target))
        assert code == 2, err
        assert err.startswith("lineage: ") and err.count("\n") == 1 and str(target) in err


def test_a_pathologically_nested_json_line_is_skipped_like_any_bad_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "lineage.jsonl"
    _record_one_run(f"json:{store}")
    with store.open("a") as handle:
        handle.write("[" * 100_000 + "\n")
    _record_one_run(f"json:{store}")
    code, _, err = _lineage("runs", "--store", f"json:{store}")
    assert code == 0, err
    assert len(lineage_sdk.load_graph(f"json:{store}").runs()) == 2
    assert any("skipped a torn or corrupt line" in r.getMessage() for r in caplog.records)


def _as_nobody(*python_args: str) -> subprocess.CompletedProcess[str]:
    """This Python with ``python_args``, run as the unprivileged user 'nobody'."""
    return subprocess.run(
        [
            *("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"),
            *(sys.executable, *python_args),
        ],
        env=child_env(),
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_store_in_a_folder_the_reader_cannot_write_is_readable(
    request: pytest.FixtureRequest,
) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to read as the unprivileged user 'nobody'")
    # Outside pytest's own temp folder, which only its owner may enter.
    top = Path(tempfile.mkdtemp(prefix="lineage-ro-"))
    request.addfinalizer(lambda: shutil.rmtree(top, ignore_errors=True))
    folder = top / "service-output"
    folder.mkdir()
    store = folder / "lineage.db"
    _record_one_run(f"sqlite:{store}")
    for path in (top, folder):
        path.chmod(0o755)  # readable by everyone, writable by its owner (root) only
    store.chmod(0o644)
    before = store.read_bytes()
    # The checkout itself may sit in a folder only its owner may enter (a `mktemp -d` clone):
    # then 'nobody' cannot even import the SDK, which says nothing about reading stores.
    probe = _as_nobody("-c", "import lineage_sdk.cli")
    if probe.returncode != 0:
        pytest.skip(f"the user 'nobody' cannot import this checkout: {probe.stderr.strip()}")
    done = _as_nobody("-m", "lineage_sdk.cli", "runs", "--store", f"sqlite:{store}")
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout
    assert store.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["lineage.db"]


def test_a_store_of_an_older_version_is_read_through_a_copy_and_left_unchanged(
    tmp_path: Path,
) -> None:
    store = tmp_path / "old.db"
    _record_one_run(f"sqlite:{store}")
    conn = sqlite3.connect(store)
    set_back_to_layout_v1(conn)
    conn.executescript(  # what version 1 of the layout looked like
        "DROP VIEW io_with_failed; DROP VIEW edges_with_failed;"
        "DROP TABLE failed_io; DROP TABLE failed_edges;"
        "DROP TABLE column_edges; ALTER TABLE edges DROP COLUMN whole; PRAGMA user_version = 1;"
    )
    conn.close()
    before = store.read_bytes()
    code, out, err = _lineage("upstream", "clicks_7d", "--store", f"sqlite:{store}")
    assert code == 0, err
    assert "raw_clicks" in out.split()
    assert store.read_bytes() == before
    with sqlite3.connect(store) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 1
