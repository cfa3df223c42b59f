"""Our records as OpenLineage RunEvents: one pure mapping, valid against the official schemas.

Each :class:`~lineage_sdk.records.Run` becomes a START event (at ``started_at``) and a COMPLETE or
FAIL event (at ``ended_at``) sharing the run's UUID. The job is the transformation in the run's
namespace; datasets are its input and output nodes, named after the OpenLineage naming
conventions where a DataSource's ``type`` / ``location`` allows (Kafka topics, Postgres tables,
files, S3/GCS objects), and features live in a ``feature://NAMESPACE`` namespace. What the spec has
no place for travels in custom facets (``lineageSdk_*``) with their own JSON Schemas, shipped in
``docs/openlineage/``.

Example::

    events = run_events(run, nodes={"raw_clicks_kafka_topic": clicks}, transformation=tr)
    [e["eventType"] for e in events]   # ['START', 'COMPLETE']
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .._version import HOMEPAGE, __version__
from ..capture.git import code_anchor
from ..records import (
    COLUMN_KINDS,
    ColumnEdge,
    DataSource,
    Feature,
    Record,
    Run,
    Transformation,
    merge_declaration,
)
from ..serde import line_safe

__all__ = [
    "PRODUCER",
    "dataset_for",
    "events_from_records",
    "run_events",
    "stream_events",
]

PRODUCER = f"{HOMEPAGE}/tree/v{__version__}"
_SPEC = "https://openlineage.io/spec"
EVENT_SCHEMA_URL = f"{_SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
_CUSTOM_SCHEMA = f"{HOMEPAGE}/blob/v{__version__}/docs/openlineage"

# facet key -> (spec file version, definition name) of the standard facets we emit
_STANDARD = {
    "sourceCodeLocation": ("1-1-0", "SourceCodeLocationJobFacet"),
    "jobType": ("2-0-4", "JobTypeJobFacet"),
    "documentation_job": ("1-1-0", "DocumentationJobFacet"),
    "sourceCode": ("1-0-1", "SourceCodeJobFacet"),
    "errorMessage": ("1-0-1", "ErrorMessageRunFacet"),
    "parent": ("1-2-0", "ParentRunFacet"),
    "processing_engine": ("1-1-1", "ProcessingEngineRunFacet"),
    "schema": ("1-2-0", "SchemaDatasetFacet"),
    "documentation_dataset": ("1-1-0", "DocumentationDatasetFacet"),
    "ownership": ("1-0-1", "OwnershipDatasetFacet"),
    "columnLineage": ("1-2-0", "ColumnLineageDatasetFacet"),
    "version": ("1-0-1", "DatasetVersionDatasetFacet"),
}
# our column kind -> OpenLineage transformation subtype
_SUBTYPES = {kind: kind.upper() for kind in COLUMN_KINDS} | {"groupby": "GROUP_BY"}
#: custom facet key -> definition name of its schema in docs/openlineage/
CUSTOM_FACETS = {
    "lineageSdk_run": "LineageSdkRunFacet",
    "lineageSdk_feature": "LineageSdkFeatureDatasetFacet",
    "lineageSdk_derivation": "LineageSdkDerivationDatasetFacet",
}
# compute framework (lower case) -> the module whose __version__ names the engine's version,
# where the two names differ
_ENGINE_MODULES = {"spark": "pyspark"}


def _with_schema(schema_url: str, fields: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in fields.items() if v is not None}
    return {"_producer": PRODUCER, "_schemaURL": schema_url, **body}


def _facet(key: str, **fields: Any) -> dict[str, Any]:
    version, name = _STANDARD[key]
    return _with_schema(f"{_SPEC}/facets/{version}/{name}.json#/$defs/{name}", fields)


def _custom(key: str, **fields: Any) -> dict[str, Any]:
    name = CUSTOM_FACETS[key]
    return _with_schema(f"{_CUSTOM_SCHEMA}/{name}.json#/$defs/{name}", fields)


def _code_url(reference: str, tag: str | None, commit: str, dirty: bool | None = None) -> str:
    """``code_reference`` as a valid URI: path and anchor percent-encoded apart, since a file
    name or a tag may itself hold ``#`` or spaces."""
    anchor = code_anchor(tag, commit, dirty)
    base = reference[: -len(anchor) - 1] if reference.endswith("#" + anchor) else reference
    safe_path = ":/@+-._~!$&'()*,;="
    if dirty:  # a commit id needs no quoting, and "&dirty=true" must stay as it is
        return f"{quote(base, safe=safe_path)}#{anchor}"
    key, _, value = anchor.partition("=")
    return f"{quote(base, safe=safe_path)}#{key}={quote(value, safe='+-._~')}"


def _uuid(run_id: str) -> str:
    try:
        return str(uuid.UUID(run_id))
    except ValueError:  # run ids from other writers: a stable UUID derived from them
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lineage-sdk:run:{run_id}"))


def _time(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))


def _from_uri(uri: str) -> tuple[str, str] | None:
    """Naming conventions for locations: scheme://authority/path -> (namespace, name)."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme or "://" not in uri:
        return None
    host = parts.hostname or ""
    path = parts.path.lstrip("/")
    if scheme in ("postgres", "postgresql", "mysql", "redshift", "mssql", "sqlserver"):
        default_port = {"mysql": 3306, "redshift": 5439, "mssql": 1433, "sqlserver": 1433}
        port = parts.port or default_port.get(scheme, 5432)
        name = path.replace("/", ".")
        return (f"{'postgres' if scheme == 'postgresql' else scheme}://{host}:{port}", name or host)
    if scheme == "kafka":
        netloc = parts.netloc.rpartition("@")[2]
        return (f"kafka://{netloc}", path or netloc)
    if scheme == "file":
        return ("file", parts.path or uri)
    netloc = parts.netloc.rpartition("@")[2]  # never a credential in a namespace
    return (f"{scheme}://{netloc}", path or "/")


def dataset_for(node: DataSource | Feature | str, namespace: str) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of a node, or of an id no declaration reached us for."""
    if isinstance(node, Feature):
        return (f"feature://{namespace}", node.id)
    if isinstance(node, DataSource):
        kind = node.type.lower()
        if node.location:
            found = _from_uri(node.location)
            if found is not None:
                return found
            if node.location.startswith("/"):
                return ("file", node.location)
        if kind in ("file", "local_file", "path") and node.id.startswith("/"):
            return ("file", node.id)
        if node.id.startswith(("s3://", "gs://", "abfss://", "hdfs://", "kafka://", "file://")):
            found = _from_uri(node.id)
            if found is not None:
                return found
        return (f"lineage-sdk://{namespace}/{kind}", node.id)
    found = _from_uri(node) if "://" in node else None
    if found is not None:
        return found
    if node.startswith("/"):
        return ("file", node)
    return (f"lineage-sdk://{namespace}/external", node)


def _dataset(
    node_id: str,
    nodes: Mapping[str, DataSource | Feature],
    namespace: str,
    derived_from: tuple[str, ...] | None = None,
    columns: list[tuple[str, str, str | None]] | None = None,
) -> dict[str, Any]:
    node = nodes.get(node_id)
    ns, name = _name_of(node_id, nodes, namespace)
    facets: dict[str, Any] = {}
    if isinstance(node, DataSource):
        if node.schema:
            facets["schema"] = _facet("schema", fields=[{"name": c} for c in node.schema])
        if node.owner:
            facets["ownership"] = _facet("ownership", owners=[{"name": node.owner}])
    if node is not None and node.description:
        facets["documentation"] = _facet("documentation_dataset", description=node.description)
    if isinstance(node, Feature):
        facets["lineageSdk_feature"] = _custom(
            "lineageSdk_feature",
            id=node.id,
            valueType=node.value_type,
            entity=node.entity,
            tags=list(node.tags),
        )
    if columns:
        facets["columnLineage"] = _column_lineage(node, node_id, columns, nodes, namespace)
    if derived_from is not None:
        facets["lineageSdk_derivation"] = _custom(
            "lineageSdk_derivation",
            inputs=[
                dict(zip(("namespace", "name"), _name_of(i, nodes, namespace), strict=True))
                for i in derived_from
            ],
        )
    return {"namespace": ns, "name": name, "facets": facets}


def _output_columns(
    run: Run, output: str, nodes: Mapping[str, DataSource | Feature]
) -> list[tuple[str, str, str | None]]:
    """``(source, column, kind)`` an output derives from: the columns its derivation names, and
    every declared column of a source it derives from as a whole (a source without a declared
    schema has no column names to give). Empty when the run names no column for the output:
    the source-level ``lineageSdk_derivation`` facet still says where it comes from."""
    edges: list[ColumnEdge] = [c for c in run.column_derivation if c.output == output]
    if not edges:
        return []
    found: list[tuple[str, str, str | None]] = [(c.source, c.column, c.kind) for c in edges]
    narrowed = {c.source for c in edges}
    for out, sources in run.derivation:
        if out != output:
            continue
        for source in sources:
            node = nodes.get(source)
            if source not in narrowed and isinstance(node, DataSource):
                found.extend((source, column, None) for column in node.schema)
    return found


def _column_lineage(
    node: DataSource | Feature | None,
    node_id: str,
    columns: list[tuple[str, str, str | None]],
    nodes: Mapping[str, DataSource | Feature],
    namespace: str,
) -> dict[str, Any]:
    """The ``columnLineage`` facet of one output: a feature is one field, named by its id; an
    output with a declared schema maps every field to all its inputs; otherwise they apply to
    the dataset as a whole."""
    input_fields = []
    for source, column, kind in columns:
        ns, name = _name_of(source, nodes, namespace)
        field: dict[str, Any] = {"namespace": ns, "name": name, "field": column}
        if kind is not None:
            field["transformations"] = [{"type": COLUMN_KINDS[kind], "subtype": _SUBTYPES[kind]}]
        input_fields.append(field)
    if isinstance(node, DataSource) and node.schema:
        targets: list[str] = list(node.schema)
    elif isinstance(node, DataSource):
        return _facet("columnLineage", fields={}, dataset=input_fields)
    else:
        targets = [node_id]
    return _facet("columnLineage", fields={t: {"inputFields": input_fields} for t in targets})


def _add_partition_version(dataset: dict[str, Any], run: Run, node_id: str) -> None:
    """A partitioned file dataset is one dataset; the partitions the run touched are its
    version (``date=2026-11-24``; several partitions comma-separated)."""
    touched = [p for p in run.partitions if p.node == node_id]
    if touched:
        version = ", ".join("/".join(f"{k}={v}" for k, v in p.values) for p in touched)
        dataset["facets"]["version"] = _facet("version", datasetVersion=version)


def _name_of(
    node_id: str, nodes: Mapping[str, DataSource | Feature], namespace: str
) -> tuple[str, str]:
    node = nodes.get(node_id)
    return dataset_for(node if node is not None else node_id, namespace)


def _engine(framework: str | None, python_version: str | None) -> dict[str, Any]:
    if framework:
        module = sys.modules.get(_ENGINE_MODULES.get(framework.lower(), framework.lower()))
        version = getattr(module, "__version__", None) if module is not None else None
        if isinstance(version, str):
            return _facet(
                "processing_engine",
                name=framework,
                version=version,
                openlineageAdapterVersion=__version__,
            )
    return _facet(
        "processing_engine",
        name="python",
        version=python_version or ".".join(map(str, sys.version_info[:3])),
        openlineageAdapterVersion=__version__,
    )


def _source_code(run: Run) -> dict[str, Any] | None:
    """The run's function source, read where it is now, and only if it is what ran.

    ``code.file`` is repository-relative inside a git repository: besides that path (as given,
    so relative to the working directory) the file of the run's module, where this process has
    imported it, is tried. The lines must hash to the recorded ``source_sha256``: an edited file
    gives no facet rather than code that did not run.
    """
    code = run.code
    if code is None or not code.file or not code.line_start or not code.line_end:
        return None
    for path in _source_candidates(code.file, code.module):
        try:
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        except (OSError, UnicodeDecodeError):
            continue
        text = "".join(lines[code.line_start - 1 : code.line_end])
        if not text:
            continue
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        if code.source_sha256 is None or digest == code.source_sha256:
            return _facet("sourceCode", language="python", sourceCode=text)
    return None


def _source_candidates(file: str, module: str | None) -> list[Path]:
    candidates = [Path(file)]
    loaded = sys.modules.get(module) if module else None
    module_file = getattr(loaded, "__file__", None)
    if isinstance(module_file, str) and Path(module_file).name == Path(file).name:
        candidates.append(Path(module_file))
    return candidates


def _job_facets(
    run: Run, transformation: Transformation | None, include_source_code: bool
) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "jobType": _facet(
            "jobType",
            processingType="BATCH",
            integration="LINEAGE_SDK",
            jobType="FEATURE_TRANSFORMATION",
        ),
    }
    if run.git is not None and run.code_reference:
        path = run.code.file if run.code is not None else None
        facets["sourceCodeLocation"] = _facet(
            "sourceCodeLocation",
            type="git",
            url=_code_url(run.code_reference, run.git.tag, run.git.commit, run.git.dirty),
            repoUrl=run.git.remote_url,
            path=path,
            # Uncommitted changes are no release: the version says so and no tag is claimed.
            version=f"{run.git.commit}-dirty" if run.git.dirty else run.git.commit,
            tag=None if run.git.dirty else run.git.tag,
            branch=run.git.branch,
        )
    if transformation is not None and transformation.description:
        facets["documentation"] = _facet(
            "documentation_job", description=transformation.description
        )
    if include_source_code:
        source = _source_code(run)
        if source is not None:
            facets["sourceCode"] = source
    return facets


def _run_facets(run: Run, transformation: Transformation | None) -> dict[str, Any]:
    framework = transformation.compute_framework if transformation is not None else None
    facets: dict[str, Any] = {
        "processing_engine": _engine(framework, run.python_version),
        "lineageSdk_run": _custom(
            "lineageSdk_run",
            runId=run.run_id,
            version=run.version,
            sourceSha256=run.code.source_sha256 if run.code else None,
            module=run.code.module if run.code else None,
            qualname=run.code.qualname if run.code else None,
            lineStart=run.code.line_start if run.code else None,
            lineEnd=run.code.line_end if run.code else None,
            gitDescribe=run.git.describe if run.git else None,
            dirty=run.git.dirty if run.git else None,
            host=run.host,
            pid=run.pid,
            pythonVersion=run.python_version,
            sdkVersion=run.sdk_version,
            durationSeconds=run.duration_s,
        ),
    }
    if run.parent_run_id is not None and run.parent_transformation is not None:
        facets["parent"] = _facet(
            "parent",
            run={"runId": _uuid(run.parent_run_id)},
            job={"namespace": run.namespace, "name": run.parent_transformation},
        )
    return facets


def _error_facet(run: Run) -> dict[str, Any]:
    message = (
        f"{run.error_type}: {run.error_message}"
        if run.error_type
        else (run.error_message or "failed")
    )
    return _facet(
        "errorMessage", message=message, programmingLanguage="PYTHON", stackTrace=run.error_stack
    )


def run_events(
    run: Run,
    nodes: Mapping[str, DataSource | Feature] | None = None,
    transformation: Transformation | None = None,
    *,
    include_source_code: bool = False,
) -> list[dict[str, Any]]:
    """The START and COMPLETE/FAIL/ABORT RunEvents (plain JSON dicts) for one run.

    A ``running`` run has its START only.
    """
    nodes = nodes or {}
    ns = run.namespace
    job_facets = _job_facets(run, transformation, include_source_code)
    run_facets = _run_facets(run, transformation)
    derivation = dict(run.derivation)
    inputs = [_dataset(i, nodes, ns) for i in run.inputs]
    outputs = [
        _dataset(o, nodes, ns, derivation.get(o), _output_columns(run, o, nodes))
        for o in run.outputs
    ]
    if run.partitions:
        pairs = [*zip(inputs, run.inputs, strict=True), *zip(outputs, run.outputs, strict=True)]
        for dataset, node_id in pairs:
            _add_partition_version(dataset, run, node_id)
    base = {
        "producer": PRODUCER,
        "schemaURL": EVENT_SCHEMA_URL,
        "job": {"namespace": ns, "name": run.transformation, "facets": job_facets},
        "inputs": inputs,
        "outputs": outputs,
    }
    start = {
        **base,
        "eventType": "START",
        "eventTime": _time(run.started_at),
        "run": {"runId": _uuid(run.run_id), "facets": run_facets},
    }
    if run.status == "running":  # still going: its START only (the end record brings the rest)
        return [start]
    end_facets = dict(run_facets)
    if run.status == "failed":
        end_facets["errorMessage"] = _error_facet(run)
    end = {
        **base,
        "eventType": _END_EVENT[run.status],
        "eventTime": _time(run.ended_at),
        "run": {"runId": _uuid(run.run_id), "facets": end_facets},
    }
    return [start, end]


#: The event that ends a run of each final status (abandoned: its process died; last heard of
#: at ended_at).
_END_EVENT = {"completed": "COMPLETE", "failed": "FAIL", "abandoned": "ABORT"}


class _Declarations:
    """The merged declaration of every node and transformation taken so far."""

    def __init__(self) -> None:
        self.nodes: dict[str, DataSource | Feature] = {}
        self.transformations: dict[str, Transformation] = {}

    def take(self, record: Record) -> Run | None:
        """Merge a declaration in; a run is given back, for the caller to send."""
        if isinstance(record, (DataSource, Feature)):
            self.nodes[record.id] = merge_declaration(self.nodes.get(record.id), record)
        elif isinstance(record, Transformation):
            known = self.transformations.get(record.id)
            self.transformations[record.id] = merge_declaration(known, record)
        elif isinstance(record, Run):
            return record
        return None

    def events(self, run: Run, options: dict[str, Any]) -> list[dict[str, Any]]:
        return run_events(run, self.nodes, self.transformations.get(run.transformation), **options)


def events_from_records(records: Iterable[Record], **options: Any) -> Iterable[dict[str, Any]]:
    """RunEvents for every run among ``records``, using the latest declarations seen before it."""
    declared = _Declarations()
    runs = [run for run in map(declared.take, records) if run is not None]
    for run in sorted(runs, key=lambda r: (r.started_at, r.run_id)):
        yield from declared.events(run, options)


def stream_events(records: Iterable[Record], **options: Any) -> Iterator[dict[str, Any]]:
    """RunEvents in constant memory: each run's events as the run arrives.

    Declarations must come before the runs that use them, as a store's records do (nodes,
    transformations, then runs); only the declarations are held.
    """
    declared = _Declarations()
    for record in records:
        run = declared.take(record)
        if run is not None:
            yield from declared.events(run, options)


def dumps_event(event: dict[str, Any]) -> str:
    """One event as one line of JSON (NDJSON), one line for every splitter (see line_safe)."""
    return line_safe(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
