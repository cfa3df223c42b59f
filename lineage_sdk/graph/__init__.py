"""The read side: lineage read back from a store as a :class:`LineageGraph`.

One facade (:mod:`.facade`) over backends: in memory (:mod:`.memory`) and SQL (:mod:`.sql`, one
set of statements, a dialect per database in :mod:`.dialects`); store-independent algorithms in
:mod:`.algorithms`; :func:`load_graph` picks the backend for a store.

Example::

    graph = load_graph("sqlite:lineage.db")
    graph.upstream("user_ctr_7d")
"""

from .facade import LineageGraph
from .load import load_graph
from .model import ExternalNode, UnknownNodeError, VersionInfo

__all__ = [
    "ExternalNode",
    "LineageGraph",
    "UnknownNodeError",
    "VersionInfo",
    "load_graph",
]
