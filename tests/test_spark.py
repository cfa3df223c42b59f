"""A real local Spark session: executor runs under the driver's run, datasets from the plan."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lineage_sdk
from lineage_sdk import DataSource, Run, log_lineage
from lineage_sdk.export.openlineage import dataset_for

from .conftest import ROOT, child_env, require_component


def _pyspark_available() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark session for the module: 2 cores, each task tried twice, no UI."""
    require_component(
        _pyspark_available(),
        "pyspark is missing: pip install 'feature-lineage-sdk[spark]' (or make)",
    )
    require_component(
        shutil.which("java") is not None,
        "Spark needs Java 17+: `make pytest` installs openjdk-17-jre-headless where apt-get runs "
        "as root; elsewhere install a JDK and put `java` on PATH",
    )
    from pyspark.sql import SparkSession

    from lineage_sdk.integrations.spark import propagate_settings

    saved = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the executors use this virtualenv too
    warehouse = tmp_path_factory.mktemp("warehouse")
    session = (
        SparkSession.builder.master("local[2,2]")  # 2 cores; a failed task is retried once
        .appName("lineage-sdk-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "512m")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(warehouse))
        # tests.spark_jobs and the examples' modules travel by reference: importable there
        .config("spark.executorEnv.PYTHONPATH", f"{ROOT}{os.pathsep}{ROOT / 'examples'}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    # One store for the module: the Python workers Spark starts for one environment are reused
    # from test to test (each new environment costs new workers). Tests tell their runs apart
    # by their driver run.
    settings = {
        "LINEAGE_SINK": f"sqlite:{tmp_path_factory.mktemp('store') / 'spark.db'}",
        "LINEAGE_ON_ERROR": "raise",
    }
    assert propagate_settings(session, settings) == settings
    yield session
    session.stop()
    if saved is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = saved


@pytest.fixture
def store(spark: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The module's SQLite store, for the driver here and (see ``spark``) the executors."""
    target: str = spark.sparkContext.environment["LINEAGE_SINK"]
    monkeypatch.setenv("LINEAGE_SINK", target)
    monkeypatch.setenv("LINEAGE_ON_ERROR", "raise")
    return target


def _runs(store: str, transformation: str) -> list[Run]:
    return lineage_sdk.load_graph(store).runs(transformation=transformation)


def _driver_run(store: str, name: str) -> Run:
    [run] = _runs(store, name)
    assert run.status == "completed" and run.pid == os.getpid()
    return run


def test_a_missing_component_skips_here_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install it"):
        require_component(False, "install it")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="install it"):
        require_component(False, "install it")
    require_component(True, "present: nothing happens")


def test_importing_the_sdk_and_the_integration_does_not_import_pyspark() -> None:
    code = (
        "import sys, lineage_sdk, lineage_sdk.integrations.spark; "
        "assert 'pyspark' not in sys.modules, sorted(m for m in sys.modules if 'spark' in m)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def _check_children(runs: list[Run], driver: Run, attempts: set[int], pids: set[int]) -> None:
    assert len(runs) == len(attempts)  # one run per task attempt, not per call
    assert {r.parent_run_id for r in runs} == {driver.run_id}
    assert {r.parent_transformation for r in runs} == {driver.transformation}
    assert {r.status for r in runs} == {"completed"}
    assert {r.pid for r in runs} == pids and os.getpid() not in pids
    assert all(r.host for r in runs)


def test_map_in_pandas_records_one_run_per_partition_under_the_driver_run(
    spark: Any, store: str
) -> None:
    from . import spark_jobs

    @log_lineage(name="tag_driver")
    def driver() -> list[Any]:
        df = spark.range(0, 40, numPartitions=4)
        return df.mapInPandas(spark_jobs.tag_partition, "id long, pid long, attempt long").collect()

    rows = driver()
    assert sorted(r.id for r in rows) == list(range(40))
    runs = _runs(store, "tag_partition")
    _check_children(
        runs, _driver_run(store, "tag_driver"), {r.attempt for r in rows}, {r.pid for r in rows}
    )
    assert len(runs) == 4
    assert {r.outputs for r in runs} == {("tagged_rows",)}


def test_per_group_per_batch_and_per_row_functions_record_one_run_per_task(
    spark: Any, store: str
) -> None:
    import pyspark.sql.functions as F

    from . import spark_jobs

    @log_lineage(name="udf_driver")
    def driver() -> tuple[list[Any], list[Any], list[Any]]:
        df = spark.range(0, 60, numPartitions=3).withColumn("key", F.col("id") % 12)
        groups = df.groupBy("key").applyInPandas(
            spark_jobs.tag_group, "key long, pid long, attempt long"
        )
        # UDF objects are made inside the run: pyspark serialises them once, at first use.
        per_batch = F.pandas_udf(spark_jobs.attempt_of_batch, "long")
        per_row = F.udf(spark_jobs.attempt_of_row, "long")
        batches = df.select(per_batch("id").alias("attempt"))
        rows = df.select(per_row("id").alias("attempt"))
        return groups.collect(), batches.collect(), rows.collect()

    groups, batches, rows = driver()
    driver_run = _driver_run(store, "udf_driver")
    assert len(groups) == 12  # 12 calls of the group function ...
    group_runs = _runs(store, "tag_group")
    assert len(group_runs) == len({g.attempt for g in groups}) < 12  # ... in fewer runs
    assert {r.parent_run_id for r in group_runs} == {driver_run.run_id}
    for name, results in (("attempt_of_batch", batches), ("attempt_of_row", rows)):
        runs = _runs(store, name)
        assert len(results) == 60
        assert len(runs) == len({r.attempt for r in results}) == 3, name  # 3 partitions
        assert {r.parent_run_id for r in runs} == {driver_run.run_id}
        assert {r.status for r in runs} == {"completed"}
        assert os.getpid() not in {r.pid for r in runs}


def test_foreach_partition_and_a_function_shipped_by_value(spark: Any, store: str) -> None:
    from lineage_sdk.integrations.spark import spark_lineage

    from . import spark_jobs

    # Defined in the test: not importable on the executors, so it travels by value.
    @spark_lineage(name="local_count", description="counts a partition")
    def local_count(rows: Iterator[Any]) -> Iterator[int]:
        yield sum(1 for _ in rows)

    @log_lineage(name="foreach_driver")
    def driver() -> list[int]:
        df = spark.range(0, 30, numPartitions=3)
        df.foreachPartition(spark_jobs.visit_partition)
        return df.rdd.mapPartitions(local_count).collect()

    assert driver() == [10, 10, 10]
    driver_run = _driver_run(store, "foreach_driver")
    for name in ("visit_partition", "local_count"):
        runs = _runs(store, name)
        assert len(runs) == 3, name
        assert {r.parent_run_id for r in runs} == {driver_run.run_id}
        assert {r.status for r in runs} == {"completed"}
    graph = lineage_sdk.load_graph(store)
    assert graph.node("local_count").description == "counts a partition"


def test_a_failed_task_attempt_is_recorded_failed_and_its_retry_completed(
    spark: Any, store: str
) -> None:
    from . import spark_jobs

    @log_lineage(name="flaky_driver")
    def driver() -> list[Any]:
        df = spark.range(0, 20, numPartitions=2)
        schema = "id long, pid long, attempt long"
        return df.mapInPandas(spark_jobs.flaky_partition, schema).collect()

    rows = driver()  # Spark retried partition 0
    assert sorted(r.id for r in rows) == list(range(20))
    driver_run = _driver_run(store, "flaky_driver")
    runs = _runs(store, "flaky_partition")
    failed = [r for r in runs if r.status == "failed"]
    assert len(runs) == 3 and len(failed) == 1  # both runs of partition 0 are kept
    assert failed[0].error_type == "builtins.RuntimeError"
    assert failed[0].error_message == "partition 0 lost its first attempt"
    assert {r.parent_run_id for r in runs} == {driver_run.run_id}
    assert {r.pid for r in runs if r.status == "completed"} == {r.pid for r in rows}


def test_async_delivery_on_executors_loses_nothing_when_workers_are_reused_then_killed(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lineage_sdk.integrations.spark import propagate_settings

    from . import spark_jobs

    target = f"sqlite:{tmp_path / 'async.db'}"
    monkeypatch.setenv("LINEAGE_SINK", target)
    monkeypatch.setenv("LINEAGE_ASYNC", "1")  # the executors queue runs on a background thread
    propagate_settings(spark)

    @log_lineage(name="async_driver")
    def driver() -> list[Any]:
        df = spark.range(0, 80, numPartitions=8)
        schema = "id long, pid long, left long, queued long"
        return df.mapInPandas(spark_jobs.queue_partition, schema).collect()

    rows = driver()
    assert min(r.queued for r in rows) >= 1  # the executors really queue their runs ...
    assert {r.left for r in rows} == {0}  # ... and a task's runs are written when it ends
    pids = {r.pid for r in rows}
    assert len(pids) < 8  # 8 tasks on 2 cores: Python workers were reused
    for pid in pids:  # as Spark does to idle workers: no exit handler runs
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    lineage_sdk.flush()  # the driver's own queue; the executors' were written per task
    driver_run = _driver_run(target, "async_driver")
    runs = _runs(target, "queue_partition")
    assert len(runs) == 8
    assert {r.pid for r in runs} == pids
    assert {r.parent_run_id for r in runs} == {driver_run.run_id}
    nested = _runs(target, "nested_step")
    assert sorted(r.parent_run_id for r in nested) == sorted(r.run_id for r in runs)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_spark_functions_survive_cloudpickle_with_the_driver_context(memory_sink: Any) -> None:
    pytest.importorskip("pyspark")
    from pyspark import cloudpickle

    from lineage_sdk.integrations.spark import SparkFunction, spark_lineage, with_run_context

    from . import spark_jobs

    @spark_lineage(name="local_double")
    def local_double(n: int) -> int:
        return 2 * n

    @log_lineage(name="pickling_driver")
    def driver() -> tuple[bytes, bytes, lineage_sdk.RunContext | None]:
        return (
            cloudpickle.dumps(spark_jobs.attempt_of_row),
            cloudpickle.dumps(local_double),
            lineage_sdk.current_context(),
        )

    by_reference, by_value, token = driver()
    assert token is not None
    assert b"tests.spark_jobs" in by_reference and b"local_double" in by_value
    for shipped in (by_reference, by_value):
        func = cloudpickle.loads(shipped)
        assert isinstance(func, SparkFunction) and func.token == token
    assert cloudpickle.loads(by_value)(21) == 42  # outside a Spark task: one run per call
    # Serialised outside any run: no parent; with_run_context gives one explicitly.
    assert cloudpickle.loads(cloudpickle.dumps(local_double)).token is None
    bound = with_run_context(local_double, token)
    assert cloudpickle.loads(cloudpickle.dumps(bound)).token == token
    [run] = [
        r
        for r in memory_sink.records
        if isinstance(r, Run) and r.transformation != "pickling_driver"
    ]
    assert run.transformation == "local_double"
    assert run.parent_run_id == token.run_id
    with pytest.raises(TypeError, match="spark_lineage"):
        with_run_context(print)  # type: ignore[arg-type]


def test_sources_name_files_and_tables_as_openlineage_spark_does(
    spark: Any, tmp_path: Path
) -> None:
    from lineage_sdk.integrations.spark import output_path, output_table, sources

    data = tmp_path / 'it\'s a "dir"'
    df = spark.range(0, 10).withColumnRenamed("id", "user_id")
    df.write.parquet(str(data / "events.parquet"))
    df.write.option("header", "true").csv(str(data / "events.csv"))
    parquet = spark.read.parquet(str(data / "events.parquet"))
    csv = spark.read.option("header", "true").csv(str(data / "events.csv"))

    [p] = sources(parquet.filter("user_id > 3").select("user_id"))
    assert p == DataSource(
        f"file://{data}/events.parquet",
        type="file",
        schema=["user_id"],
        location=f"file://{data}/events.parquet",
        tags=["format:parquet"],
    )
    assert dataset_for(p, "default") == ("file", f"{data}/events.parquet")
    [c] = sources(csv)
    assert c.tags == ("format:csv",) and c.id == f"file://{data}/events.csv"
    assert {s.id for s in sources(parquet.join(csv, "user_id"))} == {p.id, c.id}

    parquet.createOrReplaceTempView("events_view")  # a view: what it reads
    assert sources(spark.table("events_view")) == [p]
    assert sources(spark.createDataFrame([(1,)], "x long")) == []  # in-memory data

    before = output_table(spark, "user_counts")  # named before the table exists ...
    parquet.write.saveAsTable("user_counts")
    [table] = sources(spark.table("user_counts"))
    assert table.id == "spark_catalog.default.user_counts" and table.type == "table"
    assert (before.id, before.location) == (table.id, table.location)  # ... as Spark makes it
    assert output_table(spark, "user_counts") == table
    warehouse = spark.conf.get("spark.sql.warehouse.dir").removeprefix("file:")
    assert dataset_for(table, "default") == ("file", f"{warehouse}/user_counts")

    out = output_path("out/counts", format="CSV")
    assert out.location == f"file://{Path.cwd()}/out/counts" and out.tags == ("format:csv",)
    assert output_path("s3a://KEY:SECRET@bucket/k/v").location == "s3://bucket/k/v"


def test_sources_feed_a_callable_inputs_declaration(
    spark: Any, tmp_path: Path, memory_sink: Any
) -> None:
    from lineage_sdk.integrations.spark import output_path, sources

    path = tmp_path / "clicks.parquet"
    spark.range(0, 5).write.parquet(str(path))

    @log_lineage(
        inputs=lambda a: sources(a["clicks"]),
        outputs=lambda a: [output_path(a["out"])],
        name="copy_clicks",
    )
    def copy_clicks(clicks: Any, out: str) -> None:
        clicks.write.parquet(out)

    copy_clicks(spark.read.parquet(str(path)), str(tmp_path / "copy"))
    [run] = [r for r in memory_sink.records if isinstance(r, Run)]
    assert run.inputs == (f"file://{path}",)
    assert run.outputs == (f"file://{tmp_path}/copy",)
    assert run.edges() == ((f"file://{path}", f"file://{tmp_path}/copy"),)


def test_the_spark_example_gives_the_answers_of_the_plain_example(
    spark: Any, store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    import ctr_7d
    import ctr_spark

    answers = tmp_path / "ctr.json"
    argv = ["--users", "300", "--data", str(tmp_path / "logs"), "--json", str(answers)]
    ctr = ctr_spark.main([*argv, "--svg", str(tmp_path / "lineage.svg")], spark=spark)
    out = capsys.readouterr().out

    as_of = ctr_7d.dt.datetime(2026, 11, 24, tzinfo=ctr_7d.dt.timezone.utc)
    impressions, clicks, profiles = ctr_7d.make_data(300, 7, as_of)
    counts = ctr_7d.calculate_user_counts_7d.__wrapped__(impressions, clicks, as_of)
    expected = ctr_7d.calculate_user_ctr.__wrapped__(*counts, [p[0] for p in profiles])
    assert ctr == expected and any(v > 0 for v in ctr.values())
    assert json.loads(answers.read_text()) == {str(k): v for k, v in expected.items()}

    graph = lineage_sdk.load_graph(store)
    [driver] = graph.runs(transformation=ctr_spark.COUNTS)
    partitions = graph.runs(transformation=ctr_spark.PARTITION)
    assert partitions and {r.parent_run_id for r in partitions} == {driver.run_id}
    assert f"driver run {driver.run_id} host={driver.host} pid={os.getpid()}" in out
    assert f"has {len(partitions)} partition runs" in out
    for run in partitions:
        assert f"{run.run_id}  parent={driver.run_id}  host={run.host}  pid={run.pid}" in out
    logs = f"file://{tmp_path / 'logs'}"
    assert set(driver.inputs) == {f"{logs}/impressions.parquet", f"{logs}/clicks.parquet"}
    assert f"{logs}/clicks.parquet" in graph.upstream("user_ctr_7d")
    if shutil.which("dot"):
        assert (tmp_path / "lineage.svg").read_bytes().startswith(b"<?xml")


def test_open_run_holds_one_run_open_across_many_calls(memory_sink: Any) -> None:
    from lineage_sdk.decorator import open_run

    @log_lineage(name="row_job")
    def row_job(n: int) -> int:
        return n + 1

    @log_lineage(name="nested_job")
    def nested_job() -> None:
        pass

    run = open_run(row_job)
    assert run is not None and not run.ended
    with lineage_sdk.attach(run.context):
        assert [row_job.__wrapped__(n) for n in range(100)] == list(range(1, 101))
        nested_job()
    run.end()
    run.end(RuntimeError("late"))  # only the first end counts
    failing = open_run(row_job)
    assert failing is not None
    failing.end(ValueError("bad row"))
    runs = [r for r in memory_sink.records if isinstance(r, Run)]
    assert [(r.transformation, r.status) for r in runs] == [
        ("nested_job", "completed"),
        ("row_job", "completed"),
        ("row_job", "failed"),
    ]
    assert runs[0].parent_run_id == runs[1].run_id == run.context.run_id
    assert runs[2].error_type == "builtins.ValueError" and runs[2].error_message == "bad row"
    with pytest.raises(TypeError, match="log_lineage"):
        open_run(print)
    lineage_sdk.configure("none")
    assert open_run(row_job) is None  # lineage off: nothing to hold open
