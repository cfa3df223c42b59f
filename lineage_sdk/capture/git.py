"""Git state of the repository that holds a transformation's code.

The hot path never starts a process: a :class:`Repository` reads its state once (from the files
under ``.git``, plus the ``git`` binary where there is one, for the dirty flag, ``describe`` and
tags whose objects are packed) and afterwards only ``stat``s ``HEAD`` and the ref it points to,
at most every 0.1 s. When one of them changes (a commit, a checkout, a reset) the state is read
again. Working-tree edits, and tags added to the same commit, show from the next time HEAD moves:
noticing them sooner would cost a scan or more system calls per call.

Handles: no repository, no ``git`` binary, unborn branches, detached HEAD, packed refs, linked
worktrees (``.git`` is a file), shallow clones. Credentials in remote URLs never leave this module.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..records import GitInfo

__all__ = ["Repository", "code_anchor", "code_reference", "repository_for", "scrub_url"]

_log = logging.getLogger("lineage_sdk")
#: How stale the cached git state may be: a commit or checkout shows in runs that start at most
#: this long after it. Checking on every call would cost two system calls per call.
RECHECK_INTERVAL_S = 0.1
_SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_GIT_TIMEOUT_S = 10.0
_StatKey = tuple[tuple[int, int, int] | None, ...]


def scrub_url(url: str) -> str:
    """Return ``url`` without user name, password, query string or fragment.

    Tokens travel in all of them (``?private_token=...``, ``?access_token=...``).

    >>> scrub_url("https://bot:s3cret@github.com/acme/feature-jobs.git")
    'https://github.com/acme/feature-jobs.git'
    >>> scrub_url("https://gitlab.com/acme/jobs.git?private_token=glpat-x#frag")
    'https://gitlab.com/acme/jobs.git'
    >>> scrub_url("git@github.com:acme/feature-jobs.git?token=x")
    'github.com:acme/feature-jobs.git'
    """
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    # scp-like syntax: [user@]host:path; a local path has no colon before its first slash.
    head, colon, rest = url.partition(":")
    if colon and "/" not in head:
        path = rest.split("?", 1)[0].split("#", 1)[0]
        return f"{head.rpartition('@')[2]}:{path}"
    return url


def _host_and_path(remote_url: str | None, fallback_name: str) -> str:
    """``github.com/acme/feature-jobs`` from any remote form; the repo folder's name without one."""
    if not remote_url:
        return fallback_name
    url = scrub_url(remote_url)
    if "://" in url:
        parts = urlsplit(url)
        host = parts.hostname or ""
        path = parts.path
    else:
        head, colon, rest = url.partition(":")
        if colon and "/" not in head:
            host, path = head, rest
        else:  # a local path used as a remote
            host, path = "", url
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    if not host:
        return path.rsplit("/", 1)[-1] or fallback_name
    return f"{host}/{path}" if path else host


def code_reference(info: GitInfo | None, repo_name: str, repo_path: str | None) -> str | None:
    """The seed's code reference, e.g. ``git://github.com/acme/feature-jobs/jobs/x.py#tag=v1.2``.

    ``repo_path`` is the file's path inside the repository (``/``-separated).
    """
    if info is None:
        return None
    base = _host_and_path(info.remote_url, repo_name)
    where = f"{base}/{repo_path}" if repo_path else base
    return f"git://{where}#{code_anchor(info.tag, info.commit, info.dirty)}"


def code_anchor(tag: str | None, commit: str, dirty: bool | None) -> str:
    """``tag=v1.2``, ``commit=SHA``, or ``commit=SHA&dirty=true`` for uncommitted changes.

    A dirty tree is not the tagged release: its reference names the commit it started from and
    says dirty, in a form no clean reference has.
    """
    if dirty:
        return f"commit={commit}&dirty=true"
    return f"tag={tag}" if tag else f"commit={commit}"


def _best_tag(annotated: list[str], lightweight: list[str]) -> str | None:
    """Of several tags on one commit, an annotated one wins; then the highest name."""
    for group in (annotated, lightweight):
        if group:
            return sorted(group)[-1]
    return None


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


class Repository:
    """One git repository (or linked worktree) and its cached state.

    Use :func:`repository_for` rather than the constructor, so that every function in a repository
    shares one cache.
    """

    def __init__(self, root: Path, git_dir: Path, common_dir: Path) -> None:
        self.root = root
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.name = root.name
        self._lock = threading.Lock()
        self._key: _StatKey | None = None
        # Plain strings: building Path objects would cost more than the stat calls themselves.
        self._head_file = str(git_dir / "HEAD")
        self._next_check = 0.0
        self._ref_path: str | None = None
        self._info: GitInfo | None = None

    def __repr__(self) -> str:
        return f"Repository({str(self.root)!r})"

    # --- the hot path -------------------------------------------------------------------------
    def state(self, use_binary: bool = True) -> GitInfo | None:
        """The current :class:`GitInfo` (None before the first commit).

        ``use_binary=False`` (``LINEAGE_GIT_BINARY=0``) reads the repository's files only, never
        running ``git``: no tag description and no dirty flag.

        At most every :data:`RECHECK_INTERVAL_S` it ``stat``s HEAD and its ref; in between it
        returns the cached state, so a busy loop of decorated calls costs no system call.
        """
        now = time.monotonic()
        if now < self._next_check:
            return self._info
        self._next_check = now + RECHECK_INTERVAL_S
        if self._stat_key() != self._key:
            with self._lock:
                # Take the key before reading: a change racing with the read shows next call.
                self._ref_path = self._head_ref_path()
                key = self._stat_key()
                if key != self._key:
                    self._info = self._read(use_binary)
                    self._key = key
        return self._info

    def _head_ref_path(self) -> str | None:
        head = (_read_text(self.git_dir / "HEAD") or "").strip()
        return str(self._loose_ref_path(head[4:].strip())) if head.startswith("ref:") else None

    def _stat_key(self) -> _StatKey:
        # HEAD and the branch it names: a commit, checkout or reset changes one of them. A tag
        # added to HEAD later (or packed-refs rewritten) is picked up the next time HEAD moves.
        ref = self._ref_path
        return (_stat(self._head_file), _stat(ref) if ref is not None else None)

    # --- reading state ----------------------------------------------------------------------
    def _read(self, use_binary: bool) -> GitInfo | None:
        head = (_read_text(self.git_dir / "HEAD") or "").strip()
        branch: str | None = None
        packed = self._packed_refs()
        if head.startswith("ref:"):
            refname = head[4:].strip()
            branch = refname.removeprefix("refs/heads/")
            commit = self._resolve(refname, packed)
        else:
            commit = head if _SHA_RE.match(head) else None
        if commit is None:
            return None  # unborn branch: nothing has been committed yet
        remote = self._remote_url()
        git = _git_binary() if use_binary else None
        tag: str | None
        describe: str | None = None
        dirty: bool | None = None
        if git is not None:
            tag = self._tag_from_git(git)
            dirty = self._dirty_from_git(git)
            describe = self._run_git(git, "describe", "--tags", "--always", "--dirty")
            if tag is None and describe is None:  # git refused (e.g. dubious ownership)
                tag = self._tag_from_files(commit, packed)
        else:
            tag = self._tag_from_files(commit, packed)
        if describe is None:
            describe = tag or commit[:7]
        return GitInfo(
            commit=commit,
            branch=branch,
            tag=tag,
            describe=describe,
            dirty=dirty,
            remote_url=scrub_url(remote) if remote else None,
        )

    def _loose_ref_path(self, refname: str) -> Path:
        # Per-worktree refs (HEAD, refs/bisect, ...) live in git_dir; branches and tags are shared.
        base = self.common_dir if refname.startswith("refs/") else self.git_dir
        return base / refname

    def _packed_refs(self) -> dict[str, tuple[str, str | None]]:
        """refname -> (sha, peeled sha of an annotated tag or None)."""
        refs: dict[str, tuple[str, str | None]] = {}
        text = _read_text(self.common_dir / "packed-refs") or ""
        last: str | None = None
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            if line.startswith("^") and last is not None:
                refs[last] = (refs[last][0], line[1:].strip())
                continue
            sha, _, name = line.partition(" ")
            if _SHA_RE.match(sha) and name:
                refs[name.strip()] = (sha, None)
                last = name.strip()
        return refs

    def _resolve(self, refname: str, packed: dict[str, tuple[str, str | None]]) -> str | None:
        for _ in range(10):  # symbolic refs may chain; bounded so a loop cannot hang us
            text = (_read_text(self._loose_ref_path(refname)) or "").strip()
            if text.startswith("ref:"):
                refname = text[4:].strip()
                continue
            if _SHA_RE.match(text):
                return text
            entry = packed.get(refname)
            return entry[0] if entry else None
        return None

    def _remote_url(self) -> str | None:
        text = _read_text(self.common_dir / "config") or ""
        remotes: dict[str, str] = {}
        section: str | None = None
        for raw in text.splitlines():
            line = raw.strip()
            match = re.match(r'^\[\s*remote\s+"((?:[^"\\]|\\.)*)"\s*\]', line)
            if match:
                section = match.group(1)
                continue
            if line.startswith("["):
                section = None
                continue
            if section is not None:
                key, eq, value = line.partition("=")
                if eq and key.strip().lower() == "url" and section not in remotes:
                    remotes[section] = value.strip().strip('"')
        if "origin" in remotes:
            return remotes["origin"]
        return next(iter(remotes.values()), None)

    def _tag_from_files(self, commit: str, packed: dict[str, tuple[str, str | None]]) -> str | None:
        annotated: list[str] = []
        lightweight: list[str] = []
        candidates: dict[str, str] = {
            name: sha for name, (sha, _) in packed.items() if name.startswith("refs/tags/")
        }
        peeled = {name: p for name, (_, p) in packed.items() if p is not None}
        tags_dir = self.common_dir / "refs" / "tags"
        for dirpath, _dirs, files in os.walk(tags_dir):
            for fname in files:
                path = Path(dirpath) / fname
                sha = (_read_text(path) or "").strip()
                if _SHA_RE.match(sha):
                    name = "refs/tags/" + path.relative_to(tags_dir).as_posix()
                    candidates[name] = sha
                    peeled.pop(name, None)  # a loose ref overrides its packed twin
        for name, sha in candidates.items():
            short = name.removeprefix("refs/tags/")
            if name in peeled:
                if peeled[name] == commit:
                    annotated.append(short)
                continue
            if sha == commit:
                lightweight.append(short)
            elif self._loose_tag_target(sha) == commit:
                annotated.append(short)
        return _best_tag(annotated, lightweight)

    def _loose_tag_target(self, sha: str) -> str | None:
        path = self.common_dir / "objects" / sha[:2] / sha[2:]
        import zlib

        try:
            raw = zlib.decompress(path.read_bytes())
        except (OSError, zlib.error):
            return None
        header, _, body = raw.partition(b"\0")
        if not header.startswith(b"tag "):
            return None
        first = body.split(b"\n", 1)[0]
        if first.startswith(b"object "):
            return first[7:].decode("ascii", "replace").strip()
        return None

    def _tag_from_git(self, git: str) -> str | None:
        out = self._run_git(
            git,
            "for-each-ref",
            "--points-at=HEAD",
            "--format=%(objecttype) %(refname)",
            "refs/tags",
        )
        if not out:
            return None
        annotated: list[str] = []
        lightweight: list[str] = []
        for line in out.splitlines():
            objtype, _, name = line.partition(" ")
            short = name.removeprefix("refs/tags/")
            (annotated if objtype == "tag" else lightweight).append(short)
        return _best_tag(annotated, lightweight)

    def _dirty_from_git(self, git: str) -> bool | None:
        out = self._run_git(git, "status", "--porcelain", "--untracked-files=no", keep_empty=True)
        return None if out is None else bool(out.strip())

    def _run_git(self, git: str, *args: str, keep_empty: bool = False) -> str | None:
        import subprocess  # only when state is (re)read, never per call

        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_OPTIONAL_LOCKS="0")
        try:
            proc = subprocess.run(
                [git, "-C", str(self.root), *args],
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT_S,
                env=env,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            _log.debug("git %s failed in %s: %s", args[0], self.root, exc)
            return None
        if proc.returncode != 0:
            _log.debug("git %s failed in %s: %s", args[0], self.root, proc.stderr.strip())
            return None
        out = proc.stdout.strip()
        return out if (out or keep_empty) else None


@functools.cache
def _git_binary() -> str | None:
    """The git executable on PATH, looked up once per process."""
    import shutil

    return shutil.which("git")


_repos_by_dir: dict[str, Repository | None] = {}
_repos_lock = threading.Lock()


def _locate(directory: Path) -> Repository | None:
    for candidate in (directory, *directory.parents):
        dotgit = candidate / ".git"
        if dotgit.is_dir():
            return Repository(candidate, dotgit, _common_dir(dotgit))
        if dotgit.is_file():  # linked worktree or submodule: "gitdir: <path>"
            text = (_read_text(dotgit) or "").strip()
            if text.startswith("gitdir:"):
                git_dir = Path(text[7:].strip())
                if not git_dir.is_absolute():
                    git_dir = (candidate / git_dir).resolve()
                if (git_dir / "HEAD").exists():
                    return Repository(candidate, git_dir, _common_dir(git_dir))
    return None


def _common_dir(git_dir: Path) -> Path:
    text = (_read_text(git_dir / "commondir") or "").strip()
    if not text:
        return git_dir
    common = Path(text)
    return common if common.is_absolute() else (git_dir / common).resolve()


def repository_for(path: str | os.PathLike[str] | None) -> Repository | None:
    """The repository holding ``path`` (a file or folder), or None; one object per repository."""
    if path is None:
        return None
    p = Path(path)
    directory = str(p if p.is_dir() else p.parent)
    try:
        return _repos_by_dir[directory]
    except KeyError:
        pass
    with _repos_lock:
        if directory not in _repos_by_dir:
            found = _locate(Path(directory).resolve())
            if found is not None:
                # Share one Repository (and so one cache) between folders of the same tree.
                for existing in _repos_by_dir.values():
                    if existing is not None and existing.git_dir == found.git_dir:
                        found = existing
                        break
            _repos_by_dir[directory] = found
        return _repos_by_dir[directory]


def _after_fork_in_child() -> None:
    # Locks held by a parent thread at fork time would never be released in the child.
    global _repos_lock
    _repos_lock = threading.Lock()
    for repo in list(_repos_by_dir.values()):
        if repo is not None:
            repo._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _reset_caches() -> None:
    """Forget every repository and the git binary lookup (tests; a changed PATH)."""
    with _repos_lock:
        _repos_by_dir.clear()
    _git_binary.cache_clear()
