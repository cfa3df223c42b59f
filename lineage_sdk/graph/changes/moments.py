"""Turning a WHEN (datetime, ISO-8601 text, run id or git ref) into a moment in time.

* a ``datetime`` (naive means UTC) or ISO-8601 text (``2026-11-24``, ``2026-11-24T10:00:00Z``);
* a run id: the moment that run ended (was recorded);
* a git ref (tag, branch, commit or a prefix of one): the moment the last run recorded at that
  commit ended. The ref is resolved with ``git rev-parse`` in the repository holding the working
  directory where there is one; otherwise (or when git does not know it) by the tags, branches and
  commits recorded in the runs themselves.

Example::

    >>> import datetime as dt
    >>> parse_iso("2026-11-24T10:00:00Z")
    datetime.datetime(2026, 11, 24, 10, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import datetime as _dt
import re
import subprocess
from pathlib import Path

import attrs

from .source import ChangeSource

__all__ = ["Moment", "MomentError", "parse_iso", "resolve_moment"]

_HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")
_GIT_TIMEOUT_S = 10.0
ACCEPTED = (
    "a datetime, ISO-8601 text (2026-11-24T10:00:00Z), a run id, or a git tag, branch or commit"
)


class MomentError(ValueError):
    """A WHEN that names no moment this store knows; the message says what was tried."""


@attrs.frozen(slots=True)
class Moment:
    """A resolved WHEN: the instant, and what the user wrote for it."""

    at: _dt.datetime
    label: str


def parse_iso(text: str) -> _dt.datetime | None:
    """``text`` as an aware UTC datetime, or None when it is not ISO-8601."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.astimezone(_dt.timezone.utc)


def _git_commit(ref: str, cwd: Path) -> str | None:
    """The commit ``ref`` names in the repository around ``cwd``, or None."""
    if ref.startswith("-"):  # never let a ref be read as an option
        return None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None


def resolve_moment(
    when: _dt.datetime | str, source: ChangeSource, cwd: Path | None = None
) -> Moment:
    """The instant ``when`` names; :class:`MomentError` naming the accepted forms otherwise."""
    if isinstance(when, _dt.datetime):
        at = when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)
        return Moment(at.astimezone(_dt.timezone.utc), at.isoformat())
    if not isinstance(when, str) or not when.strip():
        raise MomentError(f"as_of must be {ACCEPTED}; got {when!r}")
    text = when.strip()
    parsed = parse_iso(text)
    if parsed is not None:
        return Moment(parsed, text)
    commit = _git_commit(text, cwd or Path.cwd())
    tries = [("run_id", text)]
    if commit is not None:
        tries.append(("commit", commit))
    tries += [("tag", text), ("branch", text)]
    if _HEX.match(text):
        tries.append(("commit_prefix", text.lower()))
    for field, value in tries:
        found = source.moment(field, value)
        if found is not None:
            return Moment(found, text)
    where = (
        f"git resolves it to commit {commit[:12]}, but no run was recorded there; "
        if commit
        else ""
    )
    raise MomentError(f"{text!r} names no recorded moment ({where}expected {ACCEPTED})")
