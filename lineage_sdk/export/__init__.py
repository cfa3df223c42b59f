"""Export formats of recorded lineage: OpenLineage RunEvents (:mod:`.openlineage`) and the
seed's ``lineage_registry`` dict (:mod:`.registry`).

Nothing is imported here eagerly: the OpenLineage sink needs only the pure event mapping, and must
not pull in the graph that the registry reads.
"""
