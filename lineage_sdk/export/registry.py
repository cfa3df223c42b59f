"""The seed's ``lineage_registry``: one dict describing every node and transformation.

Example::

    >>> registry = registry_dict("sqlite:lineage.db")            # doctest: +SKIP
    >>> registry["user_ctr_7d"]["generated_by"]                 # doctest: +SKIP
    {'transformation_id': 'calculate_user_ctr_job_v1.0',
     'inputs': ['user_clicks_7d', 'user_impressions_7d']}
"""

from __future__ import annotations

from typing import Any

from ..graph import LineageGraph, load_graph
from ..records import DataSource, Feature, Transformation
from ..sinks.base import Sink

__all__ = ["registry_dict"]


def _details(node: object) -> dict[str, Any]:
    if isinstance(node, DataSource):
        return {
            "id": node.id,
            "type": node.type,
            "schema": list(node.schema),
            "description": node.description,
            "owner": node.owner,
        }
    if isinstance(node, Feature):
        return {
            "id": node.id,
            "description": node.description,
            "value_type": node.value_type,
            "entity": node.entity,
        }
    if isinstance(node, Transformation):
        return {
            "description": node.description,
            "code_reference": node.code_reference,
            "compute_framework": node.compute_framework,
        }
    return {"id": getattr(node, "id", None)}


def registry_dict(target: Sink | str | LineageGraph | None = None) -> dict[str, dict[str, Any]]:
    """``{id: {"type", "details", "generated_by"?}}`` for every node and transformation.

    ``target`` is a sink, a store string (``"memory"`` is the configured memory sink), a
    :class:`LineageGraph`, or None for the configured store. ``generated_by`` appears on nodes a
    completed run produced and names the transformation of the newest such run and the inputs
    that output was derived from (failed runs are not lineage: they never name a producer).
    """
    graph = target if isinstance(target, LineageGraph) else load_graph(target)
    registry: dict[str, dict[str, Any]] = {}
    producers: dict[str, dict[str, Any]] = {}
    for run in reversed(graph.runs(status="completed")):  # oldest first: the newest one wins
        for output, inputs in run.derivation:
            producers[output] = {"transformation_id": run.transformation, "inputs": list(inputs)}
    for node_id in graph.node_ids():
        node = graph.node(node_id)
        entry: dict[str, Any] = {"type": node.kind, "details": _details(node)}
        if node_id in producers:
            entry["generated_by"] = producers[node_id]
        registry[node_id] = entry
    for t_id in graph.transformation_ids():
        registry[t_id] = {"type": "Transformation", "details": _details(graph.node(t_id))}
    return registry
