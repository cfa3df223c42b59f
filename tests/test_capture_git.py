"""Git capture against real repositories built in temp dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import lineage_sdk
from lineage_sdk import MemorySink, Run
from lineage_sdk.capture import git as git_capture
from lineage_sdk.capture.code import capture_code
from lineage_sdk.capture.git import code_reference, repository_for, scrub_url
from lineage_sdk.records import GitInfo

from .conftest import JOB_MODULE, Repo, git, import_path

MakeRepo = Callable[..., Repo]


def run_job(repo: Repo, sink: MemorySink, relpath: str = "jobs/user_aggregation.py") -> Run:
    """Import the job module from the repo (committed beforehand by the caller) and call it."""
    module = import_path(repo.root / relpath)
    before = len(sink.records)
    assert module.job(2) == 4
    return next(r for r in sink.records[before:] if isinstance(r, Run))


def test_commit_branch_annotated_tag_and_code_reference(
    make_repo: MakeRepo, memory_sink: MemorySink
) -> None:
    repo = make_repo(remote="https://ci-bot:s3cr3t-token@github.com/acme/feature-jobs.git")
    repo.write("jobs/user_aggregation.py", JOB_MODULE)
    sha = repo.commit("add job")
    repo.git("tag", "v1.1-light")
    repo.git("tag", "-a", "v1.2", "-m", "release 1.2")
    run = run_job(repo, memory_sink)
    assert run.git is not None
    assert run.git.commit == sha
    assert run.git.branch == "main"
    assert run.git.tag == "v1.2"  # annotated preferred over lightweight
    assert run.git.describe == "v1.2"
    assert run.git.dirty is False
    assert run.git.remote_url == "https://github.com/acme/feature-jobs.git"
    assert (
        run.code_reference == "git://github.com/acme/feature-jobs/jobs/user_aggregation.py#tag=v1.2"
    )
    assert run.code is not None and run.code.file == "jobs/user_aggregation.py"
    assert run.code.line_start == 7 and run.code.line_end == 9
    everything = "".join(str(r) for r in memory_sink.records)
    assert "s3cr3t" not in everything and "ci-bot" not in everything


def test_lightweight_tag_is_used_when_no_annotated_tag(
    make_repo: MakeRepo, memory_sink: MemorySink
) -> None:
    repo = make_repo(remote="git@github.com:acme/feature-jobs.git")
    repo.write("jobs/user_aggregation.py", JOB_MODULE)
    repo.commit()
    repo.git("tag", "nightly-2026-11-24")
    run = run_job(repo, memory_sink)
    assert run.git is not None and run.git.tag == "nightly-2026-11-24"
    assert run.git.remote_url == "github.com:acme/feature-jobs.git"
    assert run.code_reference == (
        "git://github.com/acme/feature-jobs/jobs/user_aggregation.py#tag=nightly-2026-11-24"
    )


def test_untagged_commit_references_the_full_sha(
    make_repo: MakeRepo, memory_sink: MemorySink
) -> None:
    repo = make_repo()  # no remote: the folder's name stands in
    repo.write("jobs/user_aggregation.py", JOB_MODULE)
    sha = repo.commit()
    run = run_job(repo, memory_sink)
    assert run.git is not None and run.git.tag is None and run.git.remote_url is None
    assert run.code_reference == f"git://feature-jobs/jobs/user_aggregation.py#commit={sha}"


def test_dirty_working_tree_is_flagged(make_repo: MakeRepo, memory_sink: MemorySink) -> None:
    repo = make_repo()
    repo.write("jobs/user_aggregation.py", JOB_MODULE)
    repo.commit()
    repo.write("README.md", "edited\n")
    run = run_job(repo, memory_sink)
    assert run.git is not None and run.git.dirty is True
    assert run.git.describe is not None and run.git.describe.endswith("-dirty")


def test_detached_head_has_no_branch(make_repo: MakeRepo, memory_sink: MemorySink) -> None:
    repo = make_repo()
    repo.write("jobs/user_aggregation.py", JOB_MODULE)
    first = repo.commit("one")
    repo.commit("two")
    repo.git("checkout", "-q", "--detach", first)
    run = run_job(repo, memory_sink)
    assert run.git is not None and run.git.commit == first and run.git.branch is None


def test_packed_refs_are_read(make_repo: MakeRepo, memory_sink: MemorySink) -> None:
    repo = make_repo()
    repo.write("jobs/user_aggregation.py", JOB_MODULE)
    sha = repo.commit()
    repo.git("tag", "-a", "v2.0", "-m", "two")
    repo.git("pack-refs", "--all", "--prune")
    repo.git("gc", "-q")
    assert not (repo.root / ".git/refs/heads/main").exists()
    run = run_job(repo, memory_sink)
    assert run.git is not None and run.git.commit == sha and run.git.tag == "v2.0"


def test_linked_worktree_reports_its_own_head(
    make_repo: MakeRepo, memory_sink: MemorySink, tmp_path: Path
) -> None:
    repo = make_repo()
    repo.write("jobs/user_aggregation.py", JOB_MODULE)
    repo.commit()
    wt = tmp_path / "wt"
    repo.git("worktree", "add", "-q", "-b", "feature", str(wt))
    (wt / "note.txt").write_text("x")
    git(wt, "add", "note.txt")
    git(wt, "commit", "-q", "-m", "in worktree")
    wt_sha = git(wt, "rev-parse", "HEAD")
    run = run_job(Repo(wt), memory_sink)
    assert run.git is not None
    assert run.git.commit == wt_sha and run.git.branch == "feature"
    assert run.code is not None and run.code.file == "jobs/user_aggregation.py"


def test_shallow_clone_is_captured(
    make_repo: MakeRepo, memory_sink: MemorySink, tmp_path: Path
) -> None:
    repo = make_repo()
    repo.write("jobs/user_aggregation.py", JOB_MODULE)
    for i in range(3):
        repo.write("n.txt", str(i))
        repo.commit(f"c{i}")
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo.root}", str(clone))
    assert (clone / ".git/shallow").exists()
    run = run_job(Repo(clone), memory_sink)
    assert run.git is not None and run.git.commit == repo.head()
    assert run.git.branch == "main"
    # a local-path remote: its folder's name stands in for host and path
    assert run.code_reference == f"git://feature-jobs/jobs/user_aggregation.py#commit={repo.head()}"


def test_new_commit_and_checkout_are_noticed_while_the_process_runs(
    make_repo: MakeRepo, memory_sink: MemorySink
) -> None:
    repo = make_repo()
    repo.write("jobs/user_aggregation.py", JOB_MODULE)
    first = repo.commit("one")
    module = import_path(repo.root / "jobs/user_aggregation.py")

    def last_git() -> GitInfo:
        module.job(1)
        run = [r for r in memory_sink.records if isinstance(r, Run)][-1]
        assert run.git is not None
        return run.git

    assert last_git().commit == first
    second = repo.commit("two")
    assert last_git().commit == second
    repo.git("tag", "v9")
    assert last_git().tag is None  # HEAD did not move: no re-read, by design
    repo.git("pack-refs", "--all")  # moves the branch from a loose file into packed-refs
    assert last_git().tag == "v9"
    repo.git("checkout", "-q", "-b", "other", first)
    info = last_git()
    assert info.commit == first and info.branch == "other"


def test_cached_state_takes_no_subprocess(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo()
    repository = repository_for(repo.root / "README.md")
    assert repository is not None
    first = repository.state()

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("subprocess on the hot path")

    monkeypatch.setattr(subprocess, "run", forbidden)
    for _ in range(100):
        assert repository.state() is first


def test_git_is_rechecked_at_most_every_interval(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo()
    first = repo.head()
    monkeypatch.setattr(git_capture, "RECHECK_INTERVAL_S", 3600.0)
    repository = repository_for(repo.root)
    assert repository is not None
    assert repository.state().commit == first  # type: ignore[union-attr]
    stats: list[str] = []
    real_stat = os.stat
    monkeypatch.setattr(
        os, "stat", lambda p, *a, **k: stats.append(str(p)) or real_stat(p, *a, **k)
    )
    second = repo.commit("moves HEAD")
    assert repository.state().commit == first  # type: ignore[union-attr]  # within the interval
    assert stats == []  # and without a system call
    monkeypatch.setattr(git_capture, "RECHECK_INTERVAL_S", 0.0)
    repository._next_check = 0.0
    assert repository.state().commit == second  # type: ignore[union-attr]


def test_without_git_binary_state_comes_from_files(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(remote="https://u:p@gitlab.example.com/data/jobs.git")
    sha = repo.head()
    repo.git("tag", "-a", "v3", "-m", "annotated")
    repo.git("tag", "light")
    monkeypatch.setenv("PATH", "/nonexistent")
    git_capture._reset_caches()
    repository = repository_for(repo.root)
    assert repository is not None
    info = repository.state()
    assert info == GitInfo(
        commit=sha,
        branch="main",
        tag="v3",
        describe="v3",
        dirty=None,
        remote_url="https://gitlab.example.com/data/jobs.git",
    )


def test_without_git_binary_packed_annotated_tags_are_found(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo()
    repo.git("tag", "-a", "v4", "-m", "annotated")
    repo.git("pack-refs", "--all", "--prune")
    repo.git("gc", "-q")
    git_capture._reset_caches()
    repository = repository_for(repo.root)
    assert repository is not None
    info = repository.state(use_binary=False)
    assert info is not None and info.tag == "v4" and info.dirty is None


def test_git_binary_0_reads_state_from_files_in_decorated_runs(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo()
    repo.write("jobs/ctr.py", JOB_MODULE)
    repo.commit("add job")
    repo.write("jobs/ctr.py", JOB_MODULE + "# edited\n")  # dirty: only `git` can tell
    runs: dict[str, Run] = {}
    for value in ("1", "0"):
        monkeypatch.setenv("LINEAGE_GIT_BINARY", value)
        git_capture._reset_caches()  # a fresh process each time: no repository state cached
        module = import_path(repo.root / "jobs" / "ctr.py")
        sink = MemorySink()
        lineage_sdk.configure([sink], on_error="raise")
        module.job(1)
        runs[value] = [r for r in sink.records if isinstance(r, Run)][-1]
    assert runs["1"].git is not None and runs["1"].git.dirty is True
    assert runs["0"].git is not None and runs["0"].git.dirty is None
    assert runs["0"].git.commit == runs["1"].git.commit == repo.head()


def test_outside_a_repository_git_is_none_and_file_is_absolute(
    tmp_path: Path, memory_sink: MemorySink
) -> None:
    path = tmp_path / "plain" / "job.py"
    path.parent.mkdir()
    path.write_text(JOB_MODULE)
    module = import_path(path)
    module.job(1)
    run = [r for r in memory_sink.records if isinstance(r, Run)][-1]
    assert run.git is None and run.code_reference is None
    assert run.code is not None and run.code.file == str(path.resolve())


def test_repository_without_commits_has_no_git_info(make_repo: MakeRepo) -> None:
    repo = make_repo(commit=False)
    repository = repository_for(repo.root)
    assert repository is not None and repository.state() is None


def test_capture_git_off(make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_CAPTURE_GIT", "0")
    monkeypatch.setenv("LINEAGE_SINK", "memory")
    repo = make_repo()
    repo.write("jobs/user_aggregation.py", JOB_MODULE)
    repo.commit()
    from lineage_sdk import _runtime

    run = run_job(repo, _runtime.current().memory_sink())
    assert run.git is None and run.code_reference is None
    assert run.code is not None and run.code.file == "jobs/user_aggregation.py"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pass@github.com/acme/x.git", "https://github.com/acme/x.git"),
        ("https://token@github.com/acme/x", "https://github.com/acme/x"),
        ("ssh://git@host.example:2222/acme/x.git", "ssh://host.example:2222/acme/x.git"),
        ("git@github.com:acme/x.git", "github.com:acme/x.git"),
        ("/srv/git/x.git", "/srv/git/x.git"),
        ("file:///srv/git/x.git", "file:///srv/git/x.git"),
    ],
)
def test_credentials_are_scrubbed_from_remote_urls(url: str, expected: str) -> None:
    assert scrub_url(url) == expected


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        (
            "https://github.com/acme/feature-jobs.git",
            "git://github.com/acme/feature-jobs/jobs/a.py#tag=v1",
        ),
        (
            "git@github.com:acme/feature-jobs.git",
            "git://github.com/acme/feature-jobs/jobs/a.py#tag=v1",
        ),
        (
            "ssh://git@github.com/acme/feature-jobs",
            "git://github.com/acme/feature-jobs/jobs/a.py#tag=v1",
        ),
        (None, "git://repo-folder/jobs/a.py#tag=v1"),
    ],
)
def test_code_reference_forms(remote: str | None, expected: str) -> None:
    info = GitInfo(commit="a" * 40, tag="v1", remote_url=remote)
    assert code_reference(info, "repo-folder", "jobs/a.py") == expected


def test_code_capture_of_a_function_in_this_file() -> None:
    location = capture_code(test_code_capture_of_a_function_in_this_file)
    assert location.code.module == __name__
    assert location.code.qualname == "test_code_capture_of_a_function_in_this_file"
    assert location.code.source_sha256 is not None and len(location.code.source_sha256) == 64


def test_git_subprocess_env_does_not_inherit_git_dir(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = make_repo()
    head = repo.head()
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))  # must not redirect our capture
    repository = repository_for(repo.root)
    assert repository is not None
    info = repository.state()
    assert info is not None and info.commit == head and info.dirty is False


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_unreadable_repository_files_do_not_raise(make_repo: MakeRepo) -> None:
    repo = make_repo()
    config = repo.root / ".git" / "config"
    os.chmod(config, 0)
    try:
        repository = repository_for(repo.root)
        assert repository is not None
        repository.state()  # root can still read it; the point is that nothing raises
    finally:
        os.chmod(config, 0o644)
