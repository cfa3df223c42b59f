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

__all__ = ["CodeLocation", "capture_code", "stable_module_name"]


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


_MAIN_MODULES = ("__main__", "__mp_main__")


def stable_module_name(func: Callable[..., Any]) -> str | None:
    """The import path of ``func``'s module, also when it runs as a script (``__main__``).

    A module imported normally keeps its ``__module__``. A script's functions say ``__main__``
    (``__mp_main__`` in a spawn worker), which would name a job differently depending on how it
    was started; their name is derived from the file instead, the way it would be imported:
    ``python -m pkg.mod`` gives ``pkg.mod``; a file inside packages (folders with
    ``__init__.py``) gives the dotted package path; otherwise the path relative to the git
    repository's root (``jobs/ctr.py`` -> ``jobs.ctr``); otherwise the file's stem. None when
    ``func`` has no module or no source file (the REPL, ``exec``).
    """
    target = _innermost(func)
    module = getattr(target, "__module__", None)
    if not isinstance(module, str):
        return None
    if module not in _MAIN_MODULES:
        return module
    import sys

    spec = getattr(sys.modules.get(module), "__spec__", None)
    spec_name = getattr(spec, "name", None)
    if isinstance(spec_name, str) and spec_name not in _MAIN_MODULES:
        return spec_name  # python -m pkg.mod
    try:
        source_file = inspect.getsourcefile(target)
    except TypeError:
        source_file = None
    if source_file is None:
        return None
    return _module_name_of_file(Path(source_file).resolve())


def _module_name_of_file(path: Path) -> str:
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) > 1:
        return ".".join(parts)
    repository = repository_for(path)
    if repository is not None:
        try:
            relative = path.with_suffix("").relative_to(repository.root.resolve())
        except ValueError:
            relative = None
        if relative is not None and all(p.isidentifier() for p in relative.parts):
            return ".".join(relative.parts)
    return path.stem
