"""Spark: runs recorded inside executors with the driver's run as parent; datasets from the plan.

Decorate a function that Spark runs on executors once, with :func:`spark_lineage` (it takes
``log_lineage``'s arguments), and pass it to Spark as usual. When Spark serialises the function on
the driver, inside the driver's decorated call, the driver's run context travels with it; on the
executor every call runs attached to it. Example::

    @spark_lineage(name="count_events_partition")
    def count_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield batch.groupby("user_id").size().rename("n").reset_index()

    @log_lineage(inputs=lambda a: sources(a["events"]), outputs=[user_counts])
    def count_events(events: DataFrame) -> DataFrame:
        return events.mapInPandas(count_partition, "user_id long, n long")

**One run per task.** Each Spark task attempt records one run of the function, whatever the number
of calls it makes in that task: ``mapInPandas``, ``mapInArrow``, ``foreachPartition`` and
``mapPartitions`` call it once per partition; an iterator pandas UDF once per partition;
``applyInPandas`` once per group; a scalar pandas UDF once per Arrow batch; a plain ``udf`` once
per row. The run opens at the task's first call and ends when the task does (PySpark releases the
task's ``TaskContext`` once the task's output is written; the run ends then, as completed). A call
that raises ends the run at once as failed, with the error, and the exception goes on to Spark, so
a task that Spark retries leaves a failed run and then a completed one. Calls made outside any
Spark task (on the driver) are ordinary decorated calls: one run each.

**Executors find the store through their environment.** :func:`propagate_settings` copies the
driver's ``LINEAGE_*`` variables to the Python workers of the functions created after it (give
file stores as absolute paths). An SQLite file serves one machine (``local[*]``); a cluster points
every executor at a shared store, such as ``LINEAGE_SINK=openlineage``.

**Nothing is lost when Spark reuses or kills its Python workers.** A worker is reused for many
tasks and ends with ``os._exit`` or a signal, never running exit handlers. Each run is therefore
flushed to the sinks when it ends, before the task reports back to Spark, also under
``LINEAGE_ASYNC=1`` (there the queue is drained at the end of each task). What cannot be recorded
is a run whose worker is killed mid-task (lost executor, OOM kill): Spark retries that task and the
retry records its own run.

**Serialisation.** A function defined at module level in an importable module travels by
reference (its module must be importable on the executors, as for any Spark code); one defined in
``__main__``, a notebook or another function travels by value, with its declaration, and is
decorated again on the executor. pyspark serialises a ``udf`` / ``pandas_udf`` object once, at its
first use, and reuses that: create those inside the driver's run, or give the run explicitly with
:func:`with_run_context`. ``mapInPandas``, ``applyInPandas`` and ``foreachPartition`` serialise
the function on every call.

Inputs and outputs: :func:`sources` gives the files and tables a DataFrame reads, from Spark's own
plan, named as OpenLineage's Spark integration names them (``file`` + absolute path, ``s3://bucket``
+ key, catalog tables by their location); :func:`output_path` and :func:`output_table` name what a
job writes.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import logging
import os
import sys
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._runtime import flush
from ..context import RunContext, attach, current_context
from ..decorator import OpenRun, log_lineage, open_run
from ..records import DataSource

__all__ = [
    "SparkFunction",
    "output_path",
    "output_table",
    "propagate_settings",
    "sources",
    "spark_lineage",
    "with_run_context",
]

_log = logging.getLogger("lineage_sdk")


def spark_lineage(
    inputs: Any = (),
    outputs: Any = (),
    *,
    name: str | None = None,
    version: str | None = None,
    description: str | None = None,
    compute_framework: str | None = "Spark",
    **metadata: Any,
) -> Callable[[Callable[..., Any]], SparkFunction]:
    """Decorate a function that runs on Spark executors: one run per task, the driver's run as
    parent. Takes the arguments of :func:`lineage_sdk.log_lineage`.

    Example::

        @spark_lineage(outputs=[partial_counts], name="count_partition")
        def count_partition(rows): ...

        df.foreachPartition(count_partition)
    """
    arguments: dict[str, Any] = {
        "inputs": inputs,
        "outputs": outputs,
        "name": name,
        "version": version,
        "description": description,
        "compute_framework": compute_framework,
        **metadata,
    }
    declare = log_lineage(**arguments)  # checks the declaration now, as log_lineage does

    def decorate(func: Callable[..., Any]) -> SparkFunction:
        return SparkFunction(func, arguments, declare(func))

    return decorate


def with_run_context(func: SparkFunction, token: RunContext | None = None) -> SparkFunction:
    """``func`` bound to ``token`` (default: the run in progress here), whenever it is serialised.

    For a ``udf`` object made once and used in several driver runs (pyspark serialises it at its
    first use only), wrap the function inside each run: ``udf(with_run_context(f), "long")``.
    """
    if not isinstance(func, SparkFunction):
        raise TypeError(f"with_run_context() takes a @spark_lineage function, got {func!r}")
    return func.bind(token if token is not None else current_context())


class SparkFunction:
    """A ``@spark_lineage`` function: call it, or hand it to Spark; see the module's docs."""

    __signature__: inspect.Signature

    def __init__(
        self,
        func: Callable[..., Any],
        arguments: dict[str, Any],
        decorated: Callable[..., Any],
        token: RunContext | None = None,
    ) -> None:
        self._raw = func
        self._arguments = arguments
        self._decorated = decorated
        self._token = token
        # __name__, __qualname__, __module__, __doc__ and __wrapped__: pyspark reads the
        # signature and type hints (pandas UDF kinds, applyInPandas' key) through __wrapped__.
        functools.update_wrapper(self, func)
        # getfullargspec (pyspark's plain-UDF type inference) does not follow __wrapped__.
        self.__signature__ = inspect.signature(func)
        self._where = (str(self.__module__), str(getattr(func, "__qualname__", func.__name__)))

    @property
    def token(self) -> RunContext | None:
        """The driver run this copy records its runs under (None: the run current at call)."""
        return self._token

    def bind(self, token: RunContext | None) -> SparkFunction:
        """A copy recording its runs as children of ``token``."""
        return SparkFunction(self._raw, self._arguments, self._decorated, token)

    def __reduce__(self) -> tuple[Any, ...]:
        token = self._token if self._token is not None else current_context()
        wire = token.to_dict() if token is not None else None
        module, qualname = self._where
        if module != "__main__" and "<locals>" not in qualname:
            with contextlib.suppress(Exception):
                found = _resolve(module, qualname)
                if isinstance(found, SparkFunction) and found._decorated is self._decorated:
                    return (_by_reference, (module, qualname, wire))
        # Not importable where it runs: ship the function and its declaration by value
        # (cloudpickle) and decorate it again on the executor.
        return (_by_value, (self._raw, self._arguments, wire))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task = _task_context()
        if task is None:  # not in a Spark task: an ordinary decorated call
            with attach(self._token) if self._token is not None else contextlib.nullcontext():
                return self._decorated(*args, **kwargs)
        run = _task_run(self, task, args, kwargs)
        if run is None:  # lineage off, or the SDK failed (logged): the user's work goes on
            return self._raw(*args, **kwargs)
        try:
            with attach(run.context):
                result = self._raw(*args, **kwargs)
        except BaseException as exc:
            _end_task_run(run, exc)
            raise
        if isinstance(result, Iterator):  # a partition's output: its items are computed lazily
            return _attached_items(result, run)
        return result

    def __repr__(self) -> str:
        return f"<spark_lineage function {'.'.join(self._where)}>"


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _by_reference(module: str, qualname: str, wire: dict[str, str] | None) -> SparkFunction:
    func = _resolve(module, qualname)
    if not isinstance(func, SparkFunction):
        raise TypeError(f"{module}.{qualname} is not a @spark_lineage function here")
    return func.bind(RunContext.from_dict(wire) if wire else None)


def _by_value(
    func: Callable[..., Any], arguments: dict[str, Any], wire: dict[str, str] | None
) -> SparkFunction:
    token = RunContext.from_dict(wire) if wire else None
    return SparkFunction(func, arguments, log_lineage(**arguments)(func), token)


# --- one run per task ----------------------------------------------------------------------------
def _task_context() -> Any:
    # A Python worker has imported pyspark before it runs user code; elsewhere there is no task,
    # and no reason to import pyspark.
    pyspark = sys.modules.get("pyspark")
    return pyspark.TaskContext.get() if pyspark is not None else None


#: (task attempt id, transformation) -> the run open for it in this Python worker.
_open: dict[tuple[int, str], OpenRun] = {}


def _task_run(func: SparkFunction, task: Any, args: Any, kwargs: Any) -> OpenRun | None:
    try:
        attempt = int(task.taskAttemptId())
        key = (attempt, func._arguments["name"] or ".".join(func._where))
        run = _open.get(key)
        if run is not None:
            return run
        # A worker runs one task at a time: a run still open from another task belongs to a task
        # that ended without releasing its TaskContext (someone kept a reference to it).
        for stale in [k for k in _open if k[0] != attempt]:
            _end_task_run(_open.pop(stale), None)
        with attach(func.token):
            opened = open_run(func._decorated, tuple(args), dict(kwargs))
        if opened is None:
            return None
        _open[key] = opened
        # PySpark drops its only reference to the TaskContext when the task's output is written.
        weakref.finalize(task, _task_ended, key)
        return opened
    except Exception as exc:
        if not _warned:  # once per worker: a plain UDF would log it for every row
            _warned.append(exc)
            _log.warning("lineage: could not open the run of a Spark task (%r); not recorded", exc)
        return None


_warned: list[Exception] = []


def _task_ended(key: tuple[int, str]) -> None:
    run = _open.pop(key, None)
    if run is not None:
        _end_task_run(run, None)


def _end_task_run(run: OpenRun, exc: BaseException | None) -> None:
    """End the run and write it out now: the worker may be reused, or killed, after this task."""
    for key in [k for k, v in _open.items() if v is run]:
        del _open[key]
    try:
        run.end(exc)
        flush(timeout=30.0)
    except Exception as error:  # a finalizer or the user's exception path: never raise
        _log.warning("lineage: recording a Spark task's run failed: %r", error)


def _attached_items(items: Iterator[Any], run: OpenRun) -> Iterator[Any]:
    token = run.context
    try:
        while True:
            with attach(token):
                try:
                    item = next(items)
                except StopIteration:
                    return
                except BaseException as exc:
                    _end_task_run(run, exc)
                    raise
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


# --- settings for the executors ------------------------------------------------------------------
def propagate_settings(spark: Any, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Give the Python workers of functions created from now on the driver's ``LINEAGE_*``.

    ``spark`` is a SparkSession or SparkContext; ``environ`` defaults to ``os.environ``. Returns
    what was shipped. Python workers are started with these variables (pyspark's
    ``SparkContext.environment``, like ``spark.executorEnv.*``); variables no longer set on the
    driver are withdrawn. Give file stores as absolute paths: executors need not share the
    driver's working directory.

    Example::

        os.environ["LINEAGE_SINK"] = f"sqlite:{Path('lineage.db').resolve()}"
        propagate_settings(spark)
    """
    context = getattr(spark, "sparkContext", spark)
    environment = getattr(context, "environment", None)
    if not isinstance(environment, dict):
        raise TypeError(f"propagate_settings() takes a SparkSession or SparkContext, got {spark!r}")
    source = os.environ if environ is None else environ
    shipped = {k: v for k, v in source.items() if k.startswith("LINEAGE_")}
    for key in [k for k in environment if k.startswith("LINEAGE_") and k not in shipped]:
        del environment[key]
    environment.update(shipped)
    return shipped


# --- datasets ------------------------------------------------------------------------------------
def location_uri(path: str) -> str:
    """A Hadoop / Spark path as the URI OpenLineage names datasets by.

    Local paths become ``file:///absolute/path``; ``s3a://`` and ``s3n://`` become ``s3://`` (as
    OpenLineage's Spark integration does); credentials in the authority are dropped.
    """
    text = str(path)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if not scheme or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        return "file://" + str(Path(text).expanduser().resolve())
    if scheme == "file":
        return "file://" + (parts.path or "/")
    if scheme in ("s3a", "s3n"):
        scheme = "s3"
    netloc = parts.netloc.rpartition("@")[2]  # never a credential in a record
    return f"{scheme}://{netloc}{parts.path}"


def output_path(
    path: str | os.PathLike[str], format: str = "parquet", schema: tuple[str, ...] = ()
) -> DataSource:
    """The DataSource for files a job writes at ``path`` (``df.write.parquet(path)``).

    Example::

        @log_lineage(inputs=lambda a: sources(a["df"]),
                     outputs=lambda a: [output_path(a["out"])])
        def write_counts(df, out): ...
    """
    location = location_uri(os.fspath(path))
    return DataSource(
        location, type="file", schema=schema, location=location, tags=(f"format:{format.lower()}",)
    )


def output_table(spark: Any, name: str, format: str = "parquet") -> DataSource:
    """The DataSource for the catalog table ``name`` a job writes (``saveAsTable(name)``).

    An existing table is described from the catalog; a new one gets the name and the location
    Spark gives a managed table (the warehouse directory), so the run can name it before writing.
    """
    with contextlib.suppress(Exception):
        found = [s for s in sources(spark.table(name)) if s.type == "table"]
        if len(found) == 1:
            return found[0]
    parts = name.split(".")
    table = parts[-1]
    database = parts[-2] if len(parts) >= 2 else spark.catalog.currentDatabase()
    catalog = parts[-3] if len(parts) >= 3 else spark.catalog.currentCatalog()
    warehouse = location_uri(spark.conf.get("spark.sql.warehouse.dir")).rstrip("/")
    directory = warehouse if database == "default" else f"{warehouse}/{database}.db"
    return DataSource(
        f"{catalog}.{database}.{table}",
        type="table",
        location=f"{directory}/{table.lower()}",
        tags=(f"format:{format.lower()}",),
    )


def sources(df: Any) -> list[DataSource]:
    """DataSources for the files and catalog tables ``df`` reads, from Spark's analysed plan.

    Files give one DataSource per root path (a Parquet directory, a CSV file) with the format and
    the columns read; catalog tables are named ``catalog.database.table`` and located where their
    files are. Temporary views resolve to what they read; in-memory data (``createDataFrame``)
    reads no dataset. Where the plan is not reachable (Spark Connect), ``df.inputFiles()`` is
    used, without the format. Usable in a callable ``inputs=``::

        @log_lineage(inputs=lambda a: sources(a["impressions"]) + sources(a["clicks"]))
        def count(impressions, clicks): ...
    """
    jdf = getattr(df, "_jdf", None)
    if jdf is None:
        return _from_input_files(df.inputFiles())
    found: dict[str, DataSource] = {}
    leaves = jdf.queryExecution().analyzed().collectLeaves()
    for i in range(leaves.size()):
        for source in _leaf_sources(leaves.apply(i)):
            found.setdefault(source.id, source)
    return list(found.values())


def _seq(scala_seq: Any) -> list[Any]:
    return [scala_seq.apply(i) for i in range(scala_seq.size())]


def _leaf_sources(leaf: Any) -> list[DataSource]:
    kind = leaf.getClass().getSimpleName()
    if kind == "LogicalRelation":
        relation = leaf.relation()
        if relation.getClass().getSimpleName() != "HadoopFsRelation":
            return []
        fmt = str(relation.fileFormat().toString()).lower()
        table = leaf.catalogTable()
        meta = table.get() if table.isDefined() else None
        paths = [str(p.toString()) for p in _seq(relation.location().rootPaths())]
    elif kind == "HiveTableRelation":
        meta = leaf.tableMeta()
        provider = meta.provider()
        fmt = str(provider.get()).lower() if provider.isDefined() else "hive"
        paths = []
    else:  # Range, LocalRelation (in-memory data), LogicalRDD, ...: no dataset
        return []
    columns = tuple(str(a.name()) for a in _seq(leaf.output()))
    tags = (f"format:{fmt}",)
    if meta is not None:
        where = meta.location()
        location = location_uri(str(where.toString())) if where is not None else None
        return [
            DataSource(
                str(meta.identifier().unquotedString()),
                type="table",
                schema=columns,
                location=location,
                tags=tags,
            )
        ]
    return [
        DataSource(uri, type="file", schema=columns, location=uri, tags=tags)
        for uri in dict.fromkeys(location_uri(p) for p in paths)
    ]


def _from_input_files(files: list[str]) -> list[DataSource]:
    # The directories holding the files read: a dataset is a directory of part files.
    directories = dict.fromkeys(location_uri(f).rpartition("/")[0] for f in files)
    return [DataSource(d, type="file", location=d) for d in directories if d]
