"""Configuration: environment variables (and ``configure()`` options) -> one immutable Settings.

Everything here is a pure function of its inputs (the environment mapping and the working
directory), so every accepted and rejected form is tested without touching the process.

- ``LINEAGE_SINK``: comma-separated ``memory``, ``json:PATH``, ``sqlite:PATH``, ``openlineage``,
  ``none``, an entry-point name or ``module:attr``; default ``sqlite:lineage.db`` in the working
  directory.
- ``LINEAGE_ENABLED`` (``1``/``0``, default ``1``), ``LINEAGE_ASYNC`` (default ``0``),
  ``LINEAGE_CAPTURE_GIT`` (default ``1``).
- ``LINEAGE_ON_ERROR``: ``warn`` (default), ``ignore`` or ``raise``.
- ``LINEAGE_NAMESPACE``: text, default ``default``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import attrs

from .errors import ConfigError

__all__ = [
    "BUILTIN_SCHEMES",
    "ENV_VARS",
    "OnError",
    "Settings",
    "SinkTarget",
    "parse_bool",
    "parse_sinks",
    "settings_from_env",
]

OnError = Literal["warn", "ignore", "raise"]
ON_ERROR_VALUES: tuple[OnError, ...] = ("warn", "ignore", "raise")
BUILTIN_SCHEMES = ("memory", "none", "json", "sqlite", "openlineage")
DEFAULT_STORE = "lineage.db"
ENV_VARS = (
    "LINEAGE_SINK",
    "LINEAGE_ENABLED",
    "LINEAGE_ASYNC",
    "LINEAGE_ON_ERROR",
    "LINEAGE_NAMESPACE",
    "LINEAGE_CAPTURE_GIT",
)

SINK_FORMS = (
    "comma-separated list of: memory, json:PATH, sqlite:PATH, openlineage, none, "
    "an installed plug-in name (entry point group 'lineage_sdk.sinks', optionally NAME:ARG), "
    "or module:attr naming a sink factory"
)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
FACTORY_RE = re.compile(rf"^{_DOTTED}:{_DOTTED}$")
_PLUGIN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@attrs.frozen(slots=True)
class SinkTarget:
    """One parsed entry of ``LINEAGE_SINK``.

    ``scheme`` is a built-in scheme, ``plugin`` (an entry-point name, ``value`` = ``NAME[:ARG]``)
    or ``factory`` (``value`` = ``module:attr``). For ``json`` and ``sqlite``, ``value`` is an
    absolute path.
    """

    scheme: str
    value: str | None = None

    def __str__(self) -> str:
        if self.scheme in ("plugin", "factory"):
            return self.value or ""
        return self.scheme if self.value is None else f"{self.scheme}:{self.value}"


@attrs.frozen(slots=True)
class Settings:
    """The effective configuration. Build it with :func:`settings_from_env`."""

    sinks: tuple[SinkTarget, ...]
    enabled: bool = True
    async_delivery: bool = False
    on_error: OnError = "warn"
    namespace: str = "default"
    capture_git: bool = True
    queue_size: int = 10_000
    flush_interval_s: float = 1.0


def _bad(variable: str, value: str, accepted: str, why: str = "") -> ConfigError:
    reason = f" ({why})" if why else ""
    return ConfigError(f"{variable}={value!r} is not valid{reason}; accepted: {accepted}")


def parse_bool(value: str, variable: str) -> bool:
    """``1``/``0`` (also true/false, yes/no, on/off, any case)."""
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _bad(variable, value, "1 or 0 (also true/false, yes/no, on/off)")


def _parse_path(raw: str, cwd: Path, variable: str, entry: str) -> str:
    if raw.startswith("///"):  # tolerate URL form sqlite:///abs/path
        raw = raw[2:]
    if not raw.strip():
        raise _bad(variable, entry, SINK_FORMS, "the path is empty")
    path = Path(os.path.expanduser(raw))
    if not path.is_absolute():
        path = cwd / path
    return os.path.normpath(path)


def parse_sinks(value: str, cwd: Path, variable: str = "LINEAGE_SINK") -> tuple[SinkTarget, ...]:
    """Parse a ``LINEAGE_SINK`` value; relative paths are resolved against ``cwd``.

    >>> parse_sinks("memory, json:/tmp/l.jsonl", Path("/"))
    (SinkTarget(scheme='memory', value=None), SinkTarget(scheme='json', value='/tmp/l.jsonl'))
    >>> parse_sinks("none", Path("/"))
    ()
    """
    entries = [e.strip() for e in value.split(",")]
    if not value.strip() or any(not e for e in entries):
        raise _bad(variable, value, SINK_FORMS, "empty entry")
    targets: list[SinkTarget] = []
    for entry in entries:
        scheme, colon, rest = entry.partition(":")
        low = scheme.lower()
        if low in ("memory", "none", "openlineage") and not colon:
            targets.append(SinkTarget(low))
        elif low in ("json", "sqlite") and colon:
            targets.append(SinkTarget(low, _parse_path(rest, cwd, variable, entry)))
        elif low in BUILTIN_SCHEMES:
            expected = f"{low}:PATH" if low in ("json", "sqlite") else low
            raise _bad(variable, entry, SINK_FORMS, f"write it as {expected}")
        elif FACTORY_RE.match(entry) and "." in scheme:
            targets.append(SinkTarget("factory", entry))
        elif _PLUGIN_RE.match(scheme):
            targets.append(SinkTarget("plugin", entry))
        else:
            raise _bad(variable, entry, SINK_FORMS, "unknown scheme")
    if any(t.scheme == "none" for t in targets):
        if len(targets) > 1:
            raise _bad(variable, value, SINK_FORMS, "'none' cannot be combined with other sinks")
        return ()
    return tuple(targets)


def settings_from_env(env: Mapping[str, str], cwd: Path) -> Settings:
    """Build :class:`Settings` from environment variables; raise ConfigError on a bad value."""
    raw_sink = env.get("LINEAGE_SINK")
    if raw_sink is None or not raw_sink.strip():
        sinks: tuple[SinkTarget, ...] = (SinkTarget("sqlite", str(cwd / DEFAULT_STORE)),)
    else:
        sinks = parse_sinks(raw_sink, cwd)
    raw_on_error = env.get("LINEAGE_ON_ERROR", "warn").strip().lower() or "warn"
    on_error = next((v for v in ON_ERROR_VALUES if v == raw_on_error), None)
    if on_error is None:
        raise _bad("LINEAGE_ON_ERROR", env["LINEAGE_ON_ERROR"], "warn, ignore or raise")
    namespace = env.get("LINEAGE_NAMESPACE", "default").strip() or "default"
    return Settings(
        sinks=sinks,
        enabled=parse_bool(env.get("LINEAGE_ENABLED", "1"), "LINEAGE_ENABLED"),
        async_delivery=parse_bool(env.get("LINEAGE_ASYNC", "0"), "LINEAGE_ASYNC"),
        on_error=on_error,
        namespace=namespace,
        capture_git=parse_bool(env.get("LINEAGE_CAPTURE_GIT", "1"), "LINEAGE_CAPTURE_GIT"),
    )
