"""Sinks: where records go. Built-in ones, and plug-ins found by entry point or ``module:attr``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..config import Settings, SinkTarget, shown
from ..errors import ConfigError
from ..sink_strings import FACTORY_RE, SINK_FORMS
from .base import BaseSink, ReadableSink, Sink, SinkClosedError, SinkUnavailableError
from .memory import MemorySink

if TYPE_CHECKING:  # imported on first use: `import lineage_sdk` stays cheap
    from .jsonfile import JsonFileSink
    from .postgres import PostgresSink
    from .sqlite import SQLiteSink


def __getattr__(name: str) -> Any:
    if name == "PostgresSink":  # psycopg is imported only when this sink is asked for
        from .postgres import PostgresSink

        return PostgresSink
    if name == "JsonFileSink":
        from .jsonfile import JsonFileSink

        return JsonFileSink
    if name == "SQLiteSink":
        from .sqlite import SQLiteSink

        return SQLiteSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ENTRY_POINT_GROUP",
    "BaseSink",
    "JsonFileSink",
    "MemorySink",
    "PostgresSink",
    "ReadableSink",
    "SQLiteSink",
    "Sink",
    "SinkClosedError",
    "SinkUnavailableError",
    "build_sink",
]

#: Third-party sinks register a factory (taking the text after ``NAME:``) in this group.
ENTRY_POINT_GROUP = "lineage_sdk.sinks"


def _check_sink(obj: Any, value: str, origin: str) -> Sink:
    if not isinstance(obj, Sink):
        raise ConfigError(
            f"{shown(origin, value)}: the factory returned {type(obj).__name__}, which lacks "
            "the sink methods (name, emit, flush, close)"
        )
    return obj


def _plugin(value: str, origin: str) -> Sink:
    from importlib.metadata import entry_points

    name, _, arg = value.partition(":")
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found and FACTORY_RE.match(value):
        return _factory(value, origin)  # a module without dots: "mysinks:make_sink"
    if not found:
        raise ConfigError(
            f"{shown(origin, value)}: no sink named {name!r} is installed (entry point group "
            f"{ENTRY_POINT_GROUP!r}); accepted: {SINK_FORMS}"
        )
    factory = found[0].load()
    return _check_sink(factory(arg), value, origin)


def _factory(value: str, origin: str) -> Sink:
    module_name, _, attr = value.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"{shown(origin, value)}: cannot import the sink factory ({exc}); "
            f"accepted: {SINK_FORMS}"
        ) from exc
    if not callable(obj):
        raise ConfigError(f"{shown(origin, value)}: {attr} is not callable")
    return _check_sink(obj(value), value, origin)


def build_sink(
    target: SinkTarget, settings: Settings | None = None, origin: str = "LINEAGE_SINK"
) -> Sink:
    """Turn one parsed ``LINEAGE_SINK`` entry into a sink; ConfigError when it cannot be.

    ``settings`` supplies the options a sink takes (default: the defaults); ``origin`` is where
    the entry was written, for error messages (see :func:`lineage_sdk.config.shown`).
    """
    scheme, value = target.scheme, target.value or ""
    if scheme == "memory":
        return MemorySink()
    if scheme == "json":
        from .jsonfile import JsonFileSink

        return JsonFileSink(value)
    if scheme == "sqlite":
        from .sqlite import SQLiteSink

        return SQLiteSink(value)
    if scheme == "postgresql":
        from .postgres import PostgresSink

        if settings is None:
            return PostgresSink(value)
        return PostgresSink(
            value, schema=settings.pg_schema, connect_timeout_s=settings.pg_connect_timeout_s
        )
    if scheme == "openlineage":
        from .openlineage import OpenLineageSink  # the client is imported only when asked for

        source_code = settings.openlineage_source_code if settings is not None else False
        return OpenLineageSink(include_source_code=source_code)
    if scheme == "plugin":
        return _plugin(value, origin)
    if scheme == "factory":
        return _factory(value, origin)
    raise ConfigError(f"{shown(origin, str(target))}: unknown scheme; accepted: {SINK_FORMS}")
