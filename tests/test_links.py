"""Code links: the file and line range at the recorded commit, for hosts with a known layout."""

from __future__ import annotations

import pytest
from hypothesis import given

from lineage_sdk.links import code_link, repository_of
from lineage_sdk.records import CodeRef, GitInfo

from .strategies import hostile_text

SHA = "0123456789abcdef0123456789abcdef01234567"
CODE = CodeRef(module="jobs.ctr", qualname="rate", file="jobs/ctr.py", line_start=12, line_end=30)


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        (
            "https://github.com/acme/jobs.git",
            f"https://github.com/acme/jobs/blob/{SHA}/jobs/ctr.py#L12-L30",
        ),
        (
            "git@github.com:acme/jobs.git",
            f"https://github.com/acme/jobs/blob/{SHA}/jobs/ctr.py#L12-L30",
        ),
        (
            "ssh://git@github.com/acme/jobs",
            f"https://github.com/acme/jobs/blob/{SHA}/jobs/ctr.py#L12-L30",
        ),
        (
            "https://oauth2:s3cret@gitlab.com/group/sub/jobs.git",
            f"https://gitlab.com/group/sub/jobs/-/blob/{SHA}/jobs/ctr.py#L12-30",
        ),
        (
            "git@bitbucket.org:acme/jobs.git",
            f"https://bitbucket.org/acme/jobs/src/{SHA}/jobs/ctr.py#lines-12:30",
        ),
    ],
)
def test_links_for_known_hosts_at_the_recorded_commit(remote: str, expected: str) -> None:
    link = code_link(GitInfo(commit=SHA, remote_url=remote), CODE)
    assert link == expected
    assert "s3cret" not in link and "oauth2" not in link


@pytest.mark.parametrize(
    ("git", "code"),
    [
        (GitInfo(commit=SHA, remote_url="https://git.internal.example/acme/jobs.git"), CODE),
        (GitInfo(commit=SHA, remote_url="/srv/git/jobs.git"), CODE),
        (GitInfo(commit=SHA, remote_url=None), CODE),
        (GitInfo(commit=SHA, remote_url="git@github.com:acme/jobs.git"), None),
        (
            GitInfo(commit=SHA, remote_url="git@github.com:acme/jobs.git"),
            CodeRef(file="/home/me/outside.py", line_start=1, line_end=2),
        ),
        (None, CODE),
    ],
)
def test_no_link_where_the_place_is_unknown(git: GitInfo | None, code: CodeRef | None) -> None:
    assert code_link(git, code) is None


def test_a_single_line_and_a_file_without_lines() -> None:
    git = GitInfo(commit=SHA, remote_url="https://github.com/acme/jobs")
    one = CodeRef(file="a b/x#1.py", line_start=5, line_end=None)
    assert code_link(git, one) == f"https://github.com/acme/jobs/blob/{SHA}/a%20b/x%231.py#L5-L5"
    assert code_link(git, CodeRef(file="x.py")) == f"https://github.com/acme/jobs/blob/{SHA}/x.py"


@given(hostile_text)
def test_hostile_file_names_stay_inside_the_link_path(name: str) -> None:
    git = GitInfo(commit=SHA, remote_url="https://github.com/acme/jobs")
    link = code_link(git, CodeRef(file=name.lstrip("/"), line_start=1, line_end=2))
    if link is not None:
        assert link.startswith(f"https://github.com/acme/jobs/blob/{SHA}/")
        assert link.count("#") == 1 and not any(c in link for c in ' \n\r\t"<>')


def test_repository_of_each_remote_form() -> None:
    assert repository_of("git@github.com:acme/jobs.git") == ("github.com", "acme/jobs")
    assert repository_of("https://www.github.com/acme/jobs/") == ("github.com", "acme/jobs")
    assert repository_of("/srv/git/jobs.git") is None
