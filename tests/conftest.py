"""Fixtures: an isolated SDK per test, real git repositories and importable modules in temp dirs."""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
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
HISTORY_STORE_KINDS = ["json", "sqlite"]


@pytest.fixture(scope="session")
def pipeline_history(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The seed pipeline's history in a real git repository, built once per session (see
    ``tests.helpers.build_history``) into every store kind; tests that edit its working tree
    restore it."""
    from .helpers import build_history

    return build_history(tmp_path_factory.mktemp("history"))


@pytest.fixture(params=HISTORY_STORE_KINDS)
def history_store(request: pytest.FixtureRequest, pipeline_history: Any) -> str:
    """The history's store of each kind; one that could not be built here skips (fails under
    CI)."""
    require_component(
        request.param in pipeline_history.stores, f"no {request.param} store could be built here"
    )
    return str(pipeline_history.stores[request.param])
