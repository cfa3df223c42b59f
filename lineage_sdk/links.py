"""Clickable links to recorded code: the file and line range at the recorded commit.

One builder for every output (the command line today; the browser explorer and exports can use
it too). Only hosts whose URL layout is known get a link: GitHub, GitLab and Bitbucket (their
public sites). The link never carries credentials: only the host and the repository path of the
remote are used.

Example::

    code_link(run.git, run.code)
    # 'https://github.com/acme/feature-jobs/blob/3f2c.../jobs/ctr.py#L12-L30'
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from .records import CodeRef, GitInfo

__all__ = ["KNOWN_HOSTS", "code_link", "repository_of"]

#: host -> (path between repository and commit, line anchor for (start, end))
KNOWN_HOSTS = {
    "github.com": ("blob", "#L{start}-L{end}"),
    "gitlab.com": ("-/blob", "#L{start}-{end}"),
    "bitbucket.org": ("src", "#lines-{start}:{end}"),
}


def repository_of(remote_url: str) -> tuple[str, str] | None:
    """``(host, "owner/name")`` of a remote in any form git accepts, or None for a local path."""
    url = remote_url.strip()
    if "://" in url:
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path
    else:  # scp-like: [user@]host:owner/name.git
        head, colon, path = url.partition(":")
        if not colon or "/" in head:
            return None
        host = head.rpartition("@")[2].lower()
    path = path.strip("/")
    path = path.removesuffix(".git")
    if not host or not path:
        return None
    return host.removeprefix("www."), path


def code_link(git: GitInfo | None, code: CodeRef | None) -> str | None:
    """An https link to ``code`` at ``git.commit`` with its line range, or None when unknown.

    None when there is no commit or remote, the remote's host is not one of
    :data:`KNOWN_HOSTS`, or the file is not inside the repository.
    """
    if git is None or code is None or not git.commit or not git.remote_url or not code.file:
        return None
    if code.file.startswith("/") or ".." in code.file.split("/"):
        return None  # an absolute path: the file was outside the repository
    found = repository_of(git.remote_url)
    if found is None or found[0] not in KNOWN_HOSTS:
        return None
    host, repo = found
    middle, anchor = KNOWN_HOSTS[host]
    link = f"https://{host}/{quote(repo)}/{middle}/{quote(git.commit)}/{quote(code.file)}"
    if code.line_start is not None:
        end = code.line_end if code.line_end is not None else code.line_start
        link += anchor.format(start=code.line_start, end=end)
    return link
