"""Fixtures: an isolated SDK per test, real git repositories and importable modules in temp dirs."""

from __future__ import annotations

import importlib.util
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings

from lineage_sdk import _runtime
from lineage_sdk.capture import git as git_capture

# CI must be reproducible: there, hypothesis replays the same examples on every run. Locally it
# explores new ones each time.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Lineage Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Lineage Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.fixture(autouse=True)
def isolated_sdk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts with no LINEAGE_* variables, a fresh runtime, and its own cwd.

    Like sentry's test suite, errors the SDK would swallow are re-raised so bugs fail tests.
    """
    for name in list(os.environ):
        if name.startswith("LINEAGE_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no user git config leaks in
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    _runtime.reset()
    _runtime._registered.clear()
    git_capture._reset_caches()
    monkeypatch.setattr(_runtime, "internal_error_hook", _raise)
    # Tests commit and call within milliseconds; production re-checks git at most every 0.1 s.
    monkeypatch.setattr(git_capture, "RECHECK_INTERVAL_S", 0.0)
    yield
    _runtime.reset()
    git_capture._reset_caches()


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: no LINEAGE_* of ours, this checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stripped output."""
    env = {**os.environ, **GIT_ENV}
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


_counter = itertools.count()


class Repo:
    """A real git repository in a temp dir, with helpers to write, commit and import modules."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def write(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def import_path(path: Path, name: str | None = None) -> ModuleType:
    """Import the file at ``path`` under a unique module name (registered in sys.modules)."""
    name = name or f"lineage_test_mod_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Repo]:
    """Factory: ``make_repo("name", remote=...)`` creates a repository with one commit."""

    def make(name: str = "feature-jobs", remote: str | None = None, commit: bool = True) -> Repo:
        root = tmp_path / name
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        repo = Repo(root)
        if remote:
            repo.git("remote", "add", "origin", remote)
        if commit:
            repo.write("README.md", "jobs\n")
            repo.commit("initial")
        return repo

    return make


JOB_MODULE = """
from lineage_sdk import DataSource, Feature, log_lineage

src = DataSource("raw_events", type="kafka_topic")
out = Feature("feature_x", value_type="int")

@log_lineage(inputs=[src], outputs=[out], name="job_x")
def job(n):
    return n * 2
"""


@pytest.fixture
def memory_sink() -> Any:
    """Configure a synchronous in-memory sink and return it."""
    from lineage_sdk import MemorySink, configure

    sink = MemorySink()
    configure([sink], on_error="raise")
    return sink


# --- a throwaway PostgreSQL cluster, one per test session ---------------------------------------

PG_HOW_TO = (
    "install Debian's 'postgresql' package (`make test` does it when run as root with apt-get) "
    "or put PostgreSQL's initdb and pg_ctl on PATH"
)


def pg_bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts[-3])
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """A real PostgreSQL server in a temp dir on a loopback port, run as an unprivileged user.

    The superuser ``postgres`` needs a password over TCP (scram-sha-256), so tests exercise real
    authentication and can check that the password never leaks.
    """

    user = "postgres"

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.password = f"pw-{secrets.token_hex(8)}-s3cret"
        # pytest's tmp dirs are private to root; the server user needs a dir of its own.
        self.root = Path(tempfile.mkdtemp(prefix="lineage-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                require_component(
                    False, "running as root needs the 'postgres' system user; " + PG_HOW_TO
                )
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._schemas = itertools.count()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_user, *args],
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "LC_ALL": "C"},
        )

    def init(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_user:
            pw = pwd.getpwnam("postgres")
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
        )
        pwfile.unlink()

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off -c full_page_writes=off "
            "-c max_connections=100 -c shared_buffers=32MB"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``immediate`` is a crash (no checkpoint; recovery on start)."""
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        ctl = str(self.bin_dir / "pg_ctl")
        return self._run(ctl, "-D", str(self.data), "status", check=False).returncode == 0

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def dsn(self, dbname: str = "postgres", *, password: bool = True, **query: str) -> str:
        """A URL DSN for this server (with the password unless ``password=False``)."""
        auth = f"{self.user}:{self.password}" if password else self.user
        tail = "&".join(f"{k}={v}" for k, v in query.items())
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}" + (f"?{tail}" if tail else "")

    def new_schema(self) -> str:
        """A schema name no test has used: each test gets its own empty store."""
        return f"t{os.getpid()}_{next(self._schemas)}"

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement as the superuser (autocommit) and return its rows."""
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            cur = conn.execute(sql)
            return list(cur.fetchall()) if cur.description else []

    def destroy(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One PostgreSQL server for the whole session (skips, or fails under CI, when missing)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require_component(
            False, "psycopg is not installed: pip install 'feature-lineage-sdk[postgres]'"
        )
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        require_component(
            False, f"PostgreSQL server binaries (initdb, pg_ctl) not found: {PG_HOW_TO}"
        )
        raise AssertionError("unreachable")
    cluster = PgCluster(bin_dir)
    try:
        cluster.init()
        cluster.start()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        output = getattr(exc, "stderr", "") or ""
        cluster.destroy()
        require_component(False, f"could not start a PostgreSQL cluster ({exc}: {output[-500:]})")
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster) -> str:
    """A DSN (password included) whose ``?schema=`` is fresh: an empty store for this test."""
    return pg_cluster.dsn(schema=pg_cluster.new_schema())


def require_component(available: bool, reason: str) -> None:
    """Skip when a component the test needs is missing (``reason`` says how to get it).

    Under ``CI`` a missing component fails the test instead: CI must run everything.
    """
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: a missing component is a failure there)")
    pytest.skip(reason)


@pytest.fixture
def seed_db(tmp_path: Path) -> str:
    """The seed scenario recorded in an SQLite store; its bare path (as ``--store`` takes it)."""
    import lineage_sdk

    from .helpers import run_seed  # helpers imports this module: imported on use

    lineage_sdk.configure(f"sqlite:{tmp_path / 'seed.db'}", on_error="raise")
    run_seed()
    lineage_sdk.flush()
    return str(tmp_path / "seed.db")


#: The store kinds the history's answers are pinned on: adding one is one entry here (and, for a
#: database, its DSN in ``pipeline_history``).
HISTORY_STORE_KINDS = ["json", "sqlite", "postgres"]


@pytest.fixture(scope="session")
def pipeline_history(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Any:
    """The seed pipeline's history in a real git repository, built once per session (see
    ``tests.helpers.build_history``) into every store kind; tests that edit its working tree
    restore it."""
    from .helpers import build_history

    extra = {}
    try:
        cluster = request.getfixturevalue("pg_cluster")
    except pytest.skip.Exception:  # no PostgreSQL here: history_store says so per test
        cluster = None
    if cluster is not None:
        extra["postgres"] = cluster.dsn(schema=cluster.new_schema())
    return build_history(tmp_path_factory.mktemp("history"), extra)


@pytest.fixture(params=HISTORY_STORE_KINDS)
def history_store(request: pytest.FixtureRequest, pipeline_history: Any) -> str:
    """The history's store of each kind; one that could not be built here skips (fails under
    CI)."""
    require_component(
        request.param in pipeline_history.stores, f"no {request.param} store could be built here"
    )
    return str(pipeline_history.stores[request.param])


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each SQL kind: an SQLite file, a schema on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'store.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.dsn(schema=cluster.new_schema())
