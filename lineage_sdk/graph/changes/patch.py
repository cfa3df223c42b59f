"""Which recorded functions a code change touches: unified diffs, and source as it is now.

:func:`parse_patch` reads ``git diff`` output (or any unified diff, e.g. a pull request's) into one
:class:`FileChange` per file: its old and new path (a rename or move keeps both) and the old and
new line numbers the change removed, added or replaced. Lines are taken from the hunk bodies, not
the hunk headers, so context lines never count as changed.

:func:`current_source_sha256` hashes a function's source as it is in the working tree now (found
by file and qualname), exactly as the decorator hashed it when it ran.

Example::

    >>> change, = parse_patch('''diff --git a/jobs/a.py b/jobs/a.py
    ... --- a/jobs/a.py
    ... +++ b/jobs/a.py
    ... @@ -3,2 +3,2 @@ def f():
    ...      x = 1
    ... -    return x
    ... +    return x + 1
    ... ''')
    >>> change.old_path, sorted(change.old_lines), sorted(change.new_lines)
    ('jobs/a.py', [4], [4])
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import io
import re
import subprocess
import tokenize
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

__all__ = [
    "FileChange",
    "GitDiffError",
    "current_source_sha256",
    "function_lines",
    "git_diff",
    "lines_at_ref",
    "parse_patch",
    "touches",
]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_GIT_TIMEOUT_S = 60.0


class GitDiffError(RuntimeError):
    """``git diff`` could not run or failed; the message carries git's own words."""


@attrs.define(slots=True)
class FileChange:
    """What a patch does to one file.

    ``old_lines``: old-side line numbers removed or replaced. ``insert_after``: old-side line
    numbers after which lines were added (0 = at the top). ``new_lines``: new-side line numbers
    added. ``old_path`` / ``new_path`` is None for a created / deleted file.
    """

    old_path: str | None
    new_path: str | None
    old_lines: set[int] = attrs.field(factory=set)
    insert_after: set[int] = attrs.field(factory=set)
    new_lines: set[int] = attrs.field(factory=set)
    deleted: bool = False


def _strip_prefix(path: str) -> str | None:
    path = path.split("\t", 1)[0]
    if path == "/dev/null":
        return None
    if path.startswith('"') and path.endswith('"'):  # git quotes unusual names C-style
        path = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    if path.startswith(("a/", "b/")):
        return path[2:]
    return path


def _header_paths(line: str) -> tuple[str | None, str | None]:
    # "diff --git a/x b/y": only a fallback for changes without ---/+++ (pure renames, modes).
    rest = line[len("diff --git ") :]
    if rest.startswith("a/") and " b/" in rest:
        old, _, new = rest[2:].partition(" b/")
        return old, new
    return None, None


def parse_patch(text: str) -> list[FileChange]:
    """Every file a unified diff changes, in order; see :class:`FileChange`."""
    changes: list[FileChange] = []
    current: FileChange | None = None
    old_no = new_no = 0
    in_hunk = False
    for line in text.splitlines():
        if line.startswith("diff --git "):
            old, new = _header_paths(line)
            current = FileChange(old, new)
            changes.append(current)
            in_hunk = False
        elif in_hunk and current is not None and line[:1] in (" ", "-", "+", "\\"):
            if line.startswith("-"):
                current.old_lines.add(old_no)
                old_no += 1
            elif line.startswith("+"):
                current.insert_after.add(old_no - 1)
                current.new_lines.add(new_no)
                new_no += 1
            elif line.startswith(" "):
                old_no += 1
                new_no += 1
        elif line.startswith("rename from ") and current is not None:
            current.old_path = line[len("rename from ") :]
        elif line.startswith("rename to ") and current is not None:
            current.new_path = line[len("rename to ") :]
        elif line.startswith("deleted file mode") and current is not None:
            current.deleted = True
        elif line.startswith("--- "):
            if current is None or in_hunk:  # a plain diff without "diff --git" headers
                current = FileChange(None, None)
                changes.append(current)
            current.old_path = _strip_prefix(line[4:])
            in_hunk = False
        elif line.startswith("+++ ") and current is not None:
            current.new_path = _strip_prefix(line[4:])
        elif (match := _HUNK.match(line)) and current is not None:
            old_no, new_no = int(match.group(1)), int(match.group(3))
            # An empty side ("-5,0") names the line *before* the change.
            if match.group(2) == "0":
                old_no += 1
            if match.group(4) == "0":
                new_no += 1
            in_hunk = True
    for change in changes:
        if change.deleted:
            change.new_path = None
    return changes


def git_diff(ref: str, cwd: Path) -> str:
    """``git diff REF`` of the working tree in ``cwd``: renames followed, no context lines."""
    if ref.startswith("-"):
        raise GitDiffError(f"{ref!r} is not a git ref")
    try:
        out = subprocess.run(
            ["git", "diff", "-M", "-U0", "--no-color", "--no-ext-diff", "--end-of-options", ref],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitDiffError(f"cannot run git diff {ref!r}: {exc}") from exc
    if out.returncode != 0:
        raise GitDiffError(f"git diff {ref!r} failed: {out.stderr.strip()}")
    return out.stdout


def touches(change: FileChange, file: str, line_start: int, line_end: int) -> bool:
    """Whether ``change`` edits lines ``line_start..line_end`` of ``file`` (recorded path).

    A recorded path is matched against the old side (the code as it ran, before the change) and,
    for a renamed or moved file, against the new side too.
    """
    if change.old_path == file:
        if any(line_start <= n <= line_end for n in change.old_lines):
            return True
        # Lines added strictly inside the function (after its first line, before its last).
        if any(line_start <= n < line_end for n in change.insert_after):
            return True
    if change.new_path == file and change.new_path != change.old_path:
        return any(line_start <= n <= line_end for n in change.new_lines)
    return False


def _find_def(tree: ast.AST, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    parts = qualname.split(".")
    scope: Iterable[ast.stmt] = getattr(tree, "body", [])
    found: ast.AST | None = None
    for i, part in enumerate(parts):
        if part == "<locals>":
            continue
        found = None
        for node in scope:
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and node.name == part
            ):
                found = node  # the last definition wins, as at import time
        if found is None:
            return None
        if i < len(parts) - 1:
            scope = getattr(found, "body", [])
    return found if isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def function_lines(lines: list[str], qualname: str) -> tuple[int, int] | None:
    """First and last line (1-based) of ``qualname`` in a module's lines, as
    :func:`inspect.getsourcelines` counts them (from the first decorator to the end of the block).
    """
    try:
        tree = ast.parse("".join(lines))
    except (SyntaxError, ValueError):
        return None
    node = _find_def(tree, qualname)
    if node is None:
        return None
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    block = inspect.getblock(lines[first - 1 :])
    return first, first + len(block) - 1


def current_source_sha256(path: Path, qualname: str) -> str | None:
    """The sha256 of ``qualname``'s source in the file at ``path`` now, or None if not found.

    Hashed as the decorator hashes it when it runs, so an unchanged function hashes the same.
    """
    try:
        with tokenize.open(path) as handle:  # honours a coding declaration, as inspect does
            lines = handle.readlines()  # split on newlines only, as linecache does
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None
    found = function_lines(lines, qualname)
    if found is None:
        return None
    block = lines[found[0] - 1 : found[1]]
    return hashlib.sha256("".join(block).encode("utf-8", "surrogatepass")).hexdigest()


def lines_at_ref(ref: str, cwd: Path) -> Callable[[str, str], tuple[int, int] | None]:
    """A locator: ``(file, qualname)`` -> the function's line range in ``file`` at git ``ref``.

    Recorded line numbers are those of the commit the function last ran at; a diff against
    another ref needs the function's lines at that ref.
    """
    cache: dict[str, list[str] | None] = {}

    def locate(file: str, qualname: str) -> tuple[int, int] | None:
        if file not in cache:
            try:
                out = subprocess.run(
                    ["git", "show", "--end-of-options", f"{ref}:{file}"],
                    cwd=cwd,
                    capture_output=True,
                    timeout=_GIT_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.SubprocessError):
                out = None
            if out is None or out.returncode != 0:
                cache[file] = None
            else:
                text = out.stdout.decode("utf-8", "surrogateescape")
                cache[file] = io.StringIO(text, newline=None).readlines()
        lines = cache[file]
        return function_lines(lines, qualname) if lines is not None else None

    return locate
