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

from ._runtime import configure, flush, register, stats
from ._version import __version__
from .decorator import current_run_id, log_lineage
from .errors import ConfigError, LineageError, LineageSinkError
from .graph import LineageGraph, UnknownNodeError, load_graph
from .records import CodeRef, DataSource, Feature, GitInfo, Run, Transformation
from .registry import registry_dict
from .sinks import BaseSink, JsonFileSink, MemorySink, Sink, SQLiteSink

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
    "SQLiteSink",
    "Sink",
    "Transformation",
    "UnknownNodeError",
    "__version__",
    "configure",
    "current_run_id",
    "flush",
    "load_graph",
    "log_lineage",
    "register",
    "registry_dict",
    "stats",
]
