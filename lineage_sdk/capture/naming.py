"""Default names of decorated callables: ``module.qualname``, the same however a job is started.

Used at decoration time, so it imports little; a git repository is looked up only for scripts.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["code_object", "default_name", "stable_module_name"]


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
    target = getattr(func, "__func__", func)
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
    from .git import repository_for  # only for scripts: not at every decoration

    repository = repository_for(path)
    if repository is not None:
        try:
            relative = path.with_suffix("").relative_to(repository.root.resolve())
        except ValueError:
            relative = None
        if relative is not None and all(p.isidentifier() for p in relative.parts):
            return ".".join(relative.parts)
    return path.stem


def code_object(func: Any) -> Any:
    """What holds the code a decorated callable runs: its function, or a callable object's class.

    Looks through bound methods, classmethod / staticmethod and ``functools.partial``.
    """
    while True:
        if isinstance(func, functools.partial):
            func = func.func
        elif isinstance(func, (classmethod, staticmethod)) or inspect.ismethod(func):
            func = func.__func__
        else:
            break
    if inspect.isfunction(func) or inspect.isclass(func) or inspect.isbuiltin(func):
        return func
    return type(func)  # a callable object: its class names it and holds its __call__


def default_name(target: Any) -> str:
    """``module.qualname``, with a script's module named after its file (not ``__main__``)."""
    module = getattr(target, "__module__", None)
    if module in _MAIN_MODULES:
        module = stable_module_name(target) or module
    qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if not isinstance(qualname, str):
        raise TypeError(
            f"log_lineage cannot derive a name for {target!r}: pass name=... (a transformation id)"
        )
    return f"{module}.{qualname}" if isinstance(module, str) else qualname
