"""lineage-sdk: record feature lineage automatically.

Put ``@log_lineage(inputs=..., outputs=...)`` on the functions that build features; every call
records what it read, what it produced, which code did it and at which git state, and sends it to
the configured sinks (``LINEAGE_SINK``; an SQLite file ``lineage.db`` by default).

Example::

    from lineage_sdk import DataSource, Feature, log_lineage, load_graph

    clicks = DataSource("raw_clicks_kafka_topic", type="kafka_topic",
                        schema=["user_id", "timestamp", "ad_id"])
    user_clicks = Feature("user_clicks_7d", value_type="int", entity="user")

    @log_lineage(inputs=[clicks], outputs=[user_clicks], compute_framework="pandas")
    def count_clicks(df): ...

    load_graph().upstream("user_clicks_7d")
"""

from typing import TYPE_CHECKING, Any

from ._runtime import configure, flush, register, stats
from ._version import __version__
from .context import RunContext, attach, current_context
from .decorator import current_run_id, log_lineage
from .errors import ConfigError, LineageError, LineageSinkError
from .records import CodeRef, DataSource, Feature, GitInfo, Run, Transformation
from .sinks import BaseSink, MemorySink, Sink

if TYPE_CHECKING:
    from .export.registry import registry_dict
    from .graph import LineageGraph, UnknownNodeError, load_graph
    from .sinks import JsonFileSink, SQLiteSink

# Read-side and file-backed names load on first use, so `import lineage_sdk` stays cheap.
_LAZY = {
    "LineageGraph": "graph",
    "UnknownNodeError": "graph",
    "load_graph": "graph",
    "registry_dict": "export.registry",
    "JsonFileSink": "sinks",
    "SQLiteSink": "sinks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lineage_sdk' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "BaseSink",
    "CodeRef",
    "ConfigError",
    "DataSource",
    "Feature",
    "GitInfo",
    "JsonFileSink",
    "LineageError",
    "LineageGraph",
    "LineageSinkError",
    "MemorySink",
    "Run",
    "RunContext",
    "SQLiteSink",
    "Sink",
    "Transformation",
    "UnknownNodeError",
    "__version__",
    "attach",
    "configure",
    "current_context",
    "current_run_id",
    "flush",
    "load_graph",
    "log_lineage",
    "register",
    "registry_dict",
    "stats",
]
