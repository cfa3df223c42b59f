"""The project file: ``[tool.lineage]`` in the nearest ``pyproject.toml``, and loading settings.

Precedence, highest first: a ``configure()`` argument, the environment, the project file, the
default (see :func:`lineage_sdk.config.resolve_settings`). The file is looked for from the working
directory upward, as ruff and pytest find theirs.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .config import (
    Option,
    Settings,
    SinkTarget,
    file_keys,
    from_file,
    options,
    resolve_settings,
)
from .errors import ConfigError

__all__ = [
    "PROJECT_FILE",
    "ProjectConfig",
    "find_project_config",
    "load_settings",
    "sink_settings",
    "sinks_from_env",
]

_SINK_VARIABLE = next(o.variable for o in options() if o.name == "sinks")


def load_settings(
    explicit: Mapping[str, object],
    env: Mapping[str, str],
    cwd: Path,
    *,
    function: str = "configure",
) -> Settings:
    """:func:`resolve_settings` with the project file found upward from ``cwd``."""
    return resolve_settings(explicit, env, cwd, project=find_project_config(cwd), function=function)


PROJECT_FILE = "pyproject.toml"


@attrs.frozen(slots=True)
class ProjectConfig:
    """The ``[tool.lineage]`` table of a ``pyproject.toml``.

    Its keys are the variables' names without ``LINEAGE_``, in lower case (``sink``, ``async``,
    ``on_error``, ...; ``-`` may stand for ``_``). Strings are read like the variables, with
    relative paths relative to the file's folder (so a store is pinned for the whole project);
    TOML booleans and numbers are taken as they are.

    Example::

        [tool.lineage]
        sink = "sqlite:lineage.db"
        namespace = "feature-platform"
    """

    path: Path
    values: Mapping[str, object]

    def _label(self, key: str) -> str:
        return f"{self.path} [tool.lineage] {key}"

    def values_by_option(self) -> dict[str, tuple[str, object]]:
        """Option name -> (key as written, value); ConfigError naming an unknown key."""
        out: dict[str, tuple[str, object]] = {}
        for key, value in self.values.items():
            opt = file_keys().get(key.replace("-", "_").lower())
            if opt is None:
                raise ConfigError(
                    f"{self._label(key)} is not an option; accepted: {', '.join(file_keys())}"
                )
            out[opt.name] = (key, value)
        return out

    def value(self, opt: Option, entry: tuple[str, object]) -> Any:
        """The checked value of ``opt`` from this file (ConfigError naming file and key)."""
        key, value = entry
        return from_file(opt, value, self.path.parent, self._label(key))


def find_project_config(cwd: Path) -> ProjectConfig | None:
    """The nearest ``pyproject.toml`` with a ``[tool.lineage]`` table, from ``cwd`` upward.

    Like ruff and pytest, files without the table are passed over. ConfigError when the file
    with the table cannot be read.
    """
    for folder in (cwd, *cwd.parents):
        path = folder / PROJECT_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue  # none here (or unreadable, as for a tool that does not use it)
        if "lineage" not in text:
            continue  # cheap: most pyproject.toml files are not ours to parse
        table = _lineage_table(path, text)
        if table is not None:
            return ProjectConfig(path, table)
    return None


def _lineage_table(path: Path, text: str) -> dict[str, object] | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if "[tool.lineage]" not in text:
            return None  # someone else's broken file
        raise ConfigError(f"{path}: cannot read [tool.lineage] ({exc})") from None
    table = data.get("tool", {}).get("lineage")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.lineage] must be a table")
    return table


def sinks_from_env(env: Mapping[str, str], cwd: Path) -> tuple[SinkTarget, ...]:
    """Only the sinks: from ``env``, the project file or the default (ConfigError when bad)."""
    settings = sink_settings(env, cwd)
    return settings.sinks


def sink_settings(env: Mapping[str, str], cwd: Path) -> Settings:
    """Settings resolved for the sinks only (other options at their defaults), with origins."""
    project = find_project_config(cwd)
    if project is not None:
        sink = project.values_by_option().get("sinks")
        project = ProjectConfig(project.path, {sink[0]: sink[1]} if sink else {})
    only_sink = {k: v for k, v in env.items() if k == _SINK_VARIABLE}
    return resolve_settings({}, only_sink, cwd, project=project)
