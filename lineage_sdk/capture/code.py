"""Where a decorated function's code lives: module, qualname, file, lines and a hash of its source.

Captured once per function (on its first call), never per call. Functions without source (the
REPL, ``exec``, C extensions) get None fields instead of an error.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ..records import CodeRef
from .git import Repository, repository_for

__all__ = ["CodeLocation", "capture_code"]


@attrs.frozen(slots=True)
class CodeLocation:
    """A function's :class:`CodeRef` plus the repository that holds its file, if any."""

    code: CodeRef
    repository: Repository | None = attrs.field(eq=False)
    repo_path: str | None  # the file's path inside the repository, "/"-separated


def _innermost(func: Any) -> Any:
    func = getattr(func, "__func__", func)  # classmethod / staticmethod / bound method
    try:
        return inspect.unwrap(func)
    except ValueError:  # a __wrapped__ cycle
        return func


def capture_code(func: Callable[..., Any], *, with_repository: bool = True) -> CodeLocation:
    """Describe ``func``'s code; ``with_repository=False`` skips looking for a git repository."""
    target = _innermost(func)
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    try:
        source_file = inspect.getsourcefile(target)
    except TypeError:
        source_file = None
    line_start = line_end = None
    digest = None
    try:
        lines, first = inspect.getsourcelines(target)
    except (OSError, TypeError, IndentationError, SyntaxError):
        lines, first = [], 0
    if lines:
        line_start = max(first, 1)
        line_end = line_start + len(lines) - 1
        digest = hashlib.sha256("".join(lines).encode("utf-8", "surrogatepass")).hexdigest()
    repository = None
    repo_path = None
    file_field = None
    if source_file is not None:
        path = Path(source_file).resolve()
        file_field = str(path)
        if with_repository:
            repository = repository_for(path)
        if repository is not None:
            try:
                repo_path = path.relative_to(repository.root.resolve()).as_posix()
                file_field = repo_path
            except ValueError:
                repo_path = None
    code = CodeRef(
        module=module if isinstance(module, str) else None,
        qualname=qualname if isinstance(qualname, str) else None,
        file=file_field,
        line_start=line_start,
        line_end=line_end,
        source_sha256=digest,
    )
    return CodeLocation(code=code, repository=repository, repo_path=repo_path)
