"""@log_lineage: what a call records, on every kind of callable, leaving the user's code alone."""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import pickle
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import lineage_sdk
from lineage_sdk import DataSource, Feature, MemorySink, Run, Transformation, log_lineage
from lineage_sdk.decorator import current_run_id

from . import pool_jobs
from .conftest import Repo, child_env

impressions = DataSource("raw_impressions_kafka_topic", type="kafka_topic")
clicks = DataSource("raw_clicks_kafka_topic", type="kafka_topic")
n_imp = Feature("user_impressions_7d", value_type="int")
n_clk = Feature("user_clicks_7d", value_type="int")
ctr = Feature("user_ctr_7d", value_type="float")


def runs_of(sink: MemorySink) -> list[Run]:
    return [r for r in sink.records if isinstance(r, Run)]


# Module-level so that pickle can find it by reference.
@log_lineage(inputs=[clicks], outputs=[n_clk], name="count_clicks")
def count_clicks(values: list[int]) -> int:
    """Count the clicks."""
    return len(values)


def test_a_call_records_a_completed_run_with_inputs_outputs_and_nodes(
    memory_sink: MemorySink,
) -> None:
    @log_lineage(
        inputs=[impressions, clicks],
        outputs={n_imp: [impressions], n_clk: [clicks]},
        name="calculate_user_counts_7d_job_v1.2",
        version="1.2",
        compute_framework="Spark",
        team="ads",
    )
    def counts() -> str:
        return "done"

    assert counts() == "done"
    [run] = runs_of(memory_sink)
    assert run.status == "completed"
    assert run.transformation == "calculate_user_counts_7d_job_v1.2"
    assert run.version == "1.2"
    assert run.inputs == ("raw_impressions_kafka_topic", "raw_clicks_kafka_topic")
    assert run.outputs == ("user_impressions_7d", "user_clicks_7d")
    assert run.derivation == (
        ("user_impressions_7d", ("raw_impressions_kafka_topic",)),
        ("user_clicks_7d", ("raw_clicks_kafka_topic",)),
    )
    assert run.started_at.tzinfo is not None and run.ended_at >= run.started_at
    assert run.duration_s >= 0 and run.pid and run.host and run.python_version
    assert run.sdk_version == lineage_sdk.__version__
    assert run.code is not None and run.code.qualname.endswith("counts")
    declared = {r.id: r for r in memory_sink.records if not isinstance(r, Run)}
    assert declared["raw_clicks_kafka_topic"] == clicks
    tr = declared["calculate_user_counts_7d_job_v1.2"]
    assert isinstance(tr, Transformation)
    assert tr.compute_framework == "Spark" and tr.metadata == {"team": "ads"}


def test_declarations_are_sent_once_and_runs_every_call(memory_sink: MemorySink) -> None:
    for i in range(3):
        count_clicks([i])
    kinds = [type(r).__name__ for r in memory_sink.records]
    assert kinds.count("Run") == 3
    assert kinds.count("DataSource") == 1 and kinds.count("Transformation") == 1


def test_without_a_mapping_every_output_derives_from_every_input(memory_sink: MemorySink) -> None:
    @log_lineage(inputs=[n_imp, n_clk], outputs=[ctr])
    def calc() -> None:
        pass

    calc()
    [run] = runs_of(memory_sink)
    assert run.derivation == (("user_ctr_7d", ("user_impressions_7d", "user_clicks_7d")),)


def test_default_name_is_module_and_qualname(memory_sink: MemorySink) -> None:
    class Job:
        @log_lineage(outputs=[ctr])
        def run(self) -> int:
            return 1

    assert Job().run() == 1
    [run] = runs_of(memory_sink)
    assert run.transformation == f"{__name__}.{Job.run.__qualname__}"


def test_string_ids_are_kept_as_external_references(memory_sink: MemorySink) -> None:
    @log_lineage(inputs=["s3://bucket/unknown.parquet"], outputs=["some_feature"])
    def job() -> None:
        pass

    job()
    [run] = runs_of(memory_sink)
    assert run.inputs == ("s3://bucket/unknown.parquet",)
    assert run.outputs == ("some_feature",)


def test_callables_resolve_nodes_from_the_call_arguments(memory_sink: MemorySink) -> None:
    @log_lineage(
        inputs=lambda args: [DataSource(args["path"], type="file")],
        outputs=lambda args: {Feature(args["table"]): [args["path"]]},
    )
    def load(path: str, table: str = "daily_table") -> int:
        return 7

    assert load("/data/2026-11-24.csv") == 7
    [run] = runs_of(memory_sink)
    assert run.inputs == ("/data/2026-11-24.csv",)
    assert run.derivation == (("daily_table", ("/data/2026-11-24.csv",)),)
    assert any(
        isinstance(r, DataSource) and r.id == "/data/2026-11-24.csv" for r in memory_sink.records
    )


def test_a_failing_nodes_callable_records_the_run_without_nodes(
    memory_sink: MemorySink, caplog: Any
) -> None:
    @log_lineage(inputs=lambda args: 1 / 0)
    def job() -> str:
        return "ok"

    assert job() == "ok"
    [run] = runs_of(memory_sink)
    assert run.inputs == ()
    assert "resolving inputs/outputs" in caplog.text


def test_return_value_is_the_same_object(memory_sink: MemorySink) -> None:
    payload = object()

    @log_lineage()
    def job() -> object:
        return payload

    assert job() is payload


def test_exceptions_pass_through_with_their_traceback_and_a_failed_run(
    memory_sink: MemorySink,
) -> None:
    error = KeyError("user_id")

    @log_lineage(inputs=[clicks])
    def job() -> None:
        raise error

    with pytest.raises(KeyError) as info:
        job()
    assert info.value is error
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "job"
    [run] = runs_of(memory_sink)
    assert run.status == "failed"
    assert run.error_type == "builtins.KeyError"
    assert run.error_message == "'user_id'"
    assert run.error_stack is not None and "raise error" in run.error_stack


def test_nested_calls_record_the_parent_run(memory_sink: MemorySink) -> None:
    @log_lineage(name="inner")
    def inner() -> str | None:
        return current_run_id()

    @log_lineage(name="outer")
    def outer() -> tuple[str | None, str | None]:
        return current_run_id(), inner()

    outer_id, inner_id = outer()
    runs = {r.transformation: r for r in runs_of(memory_sink)}
    assert runs["outer"].run_id == outer_id and runs["inner"].run_id == inner_id
    assert runs["inner"].parent_run_id == outer_id
    assert runs["inner"].parent_transformation == "outer"
    assert runs["outer"].parent_run_id is None
    assert current_run_id() is None


def test_threads_keep_their_own_current_run(memory_sink: MemorySink) -> None:
    barrier = threading.Barrier(4)

    @log_lineage(name="child")
    def child() -> None:
        pass

    @log_lineage(name="parent")
    def parent() -> None:
        barrier.wait()  # all four parents are in flight at once
        child()

    threads = [threading.Thread(target=parent) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = runs_of(memory_sink)
    parents = {r.run_id for r in runs if r.transformation == "parent"}
    children = [r for r in runs if r.transformation == "child"]
    assert len(parents) == 4 and len(children) == 4
    assert {c.parent_run_id for c in children} == parents


def test_asyncio_tasks_each_get_the_right_parent(memory_sink: MemorySink) -> None:
    @log_lineage(name="leaf")
    async def leaf() -> str | None:
        await asyncio.sleep(0)
        return current_run_id()

    @log_lineage(name="task")
    async def task(i: int) -> tuple[str | None, str | None]:
        await asyncio.sleep(0.001 * (i % 3))
        return current_run_id(), await leaf()

    async def main() -> list[tuple[str | None, str | None]]:
        return await asyncio.gather(*(task(i) for i in range(200)))

    pairs = asyncio.run(main())
    runs = {r.run_id: r for r in runs_of(memory_sink)}
    for task_id, leaf_id in pairs:
        assert runs[leaf_id].parent_run_id == task_id  # type: ignore[index]
    assert len(runs) == 400


def test_async_function_failure_is_recorded_and_reraised(memory_sink: MemorySink) -> None:
    @log_lineage()
    async def job() -> None:
        raise ValueError("bad")

    assert inspect.iscoroutinefunction(job)
    with pytest.raises(ValueError, match="bad"):
        asyncio.run(job())
    [run] = runs_of(memory_sink)
    assert run.status == "failed" and run.error_type == "builtins.ValueError"


def test_a_generator_run_ends_when_exhausted_and_is_current_only_inside(
    memory_sink: MemorySink,
) -> None:
    seen: list[str | None] = []

    @log_lineage(name="gen")
    def gen(n: int) -> Any:
        for i in range(n):
            seen.append(current_run_id())
            yield i
        return "finished"

    g = gen(3)
    assert list(g) == [0, 1, 2]
    assert current_run_id() is None
    [run] = runs_of(memory_sink)
    assert run.status == "completed" and set(seen) == {run.run_id}
    assert inspect.isgeneratorfunction(gen)


def test_a_generator_closed_early_records_a_completed_run(memory_sink: MemorySink) -> None:
    @log_lineage()
    def gen() -> Any:
        yield from range(10)

    g = gen()
    next(g)
    assert runs_of(memory_sink) == []
    g.close()
    [run] = runs_of(memory_sink)
    assert run.status == "completed"


def test_generator_send_throw_and_return_value_pass_through(memory_sink: MemorySink) -> None:
    @log_lineage()
    def echo() -> Any:
        received = yield "ready"
        try:
            yield received * 2
        except KeyError:
            yield "caught"
        return "bye"

    g = echo()
    assert next(g) == "ready"
    assert g.send(21) == 42
    assert g.throw(KeyError("k")) == "caught"
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "bye"


def test_a_raising_generator_records_a_failed_run(memory_sink: MemorySink) -> None:
    @log_lineage()
    def gen() -> Any:
        yield 1
        raise RuntimeError("broken stream")

    with pytest.raises(RuntimeError, match="broken stream"):
        list(gen())
    [run] = runs_of(memory_sink)
    assert run.status == "failed" and run.error_message == "broken stream"


def test_async_generators_record_one_run_each(memory_sink: MemorySink) -> None:
    @log_lineage(name="agen")
    async def agen(n: int) -> Any:
        for i in range(n):
            await asyncio.sleep(0)
            yield i, current_run_id()

    async def main() -> list[Any]:
        return [item async for item in agen(3)]

    items = asyncio.run(main())
    [run] = runs_of(memory_sink)
    assert [i for i, _ in items] == [0, 1, 2]
    assert {rid for _, rid in items} == {run.run_id}
    assert inspect.isasyncgenfunction(agen)


def test_methods_classmethods_and_staticmethods(memory_sink: MemorySink) -> None:
    class Jobs:
        factor = 3

        def __init__(self) -> None:
            self.offset = 1

        @log_lineage(name="method")
        def method(self, x: int) -> int:
            return x + self.offset

        @classmethod
        @log_lineage(name="class_inner")
        def cls_inner(cls, x: int) -> int:
            return x * cls.factor

        @log_lineage(name="class_outer")
        @classmethod
        def cls_outer(cls, x: int) -> int:
            return x * cls.factor

        @staticmethod
        @log_lineage(name="static")
        def static(x: int) -> int:
            return -x

    jobs = Jobs()
    assert jobs.method(1) == 2
    assert Jobs.cls_inner(2) == 6 and jobs.cls_inner(2) == 6
    assert Jobs.cls_outer(2) == 6
    assert Jobs.static(4) == -4 and jobs.static(4) == -4
    names = [r.transformation for r in runs_of(memory_sink)]
    assert names == ["method", "class_inner", "class_inner", "class_outer", "static", "static"]


def test_introspection_is_preserved() -> None:
    assert count_clicks.__name__ == "count_clicks"
    assert count_clicks.__doc__ == "Count the clicks."
    assert str(inspect.signature(count_clicks)) == "(values: 'list[int]') -> 'int'"
    assert count_clicks.__wrapped__.__name__ == "count_clicks"  # type: ignore[attr-defined]


def test_argument_values_are_never_recorded(memory_sink: MemorySink) -> None:
    secret = "hunter2-password-value"

    @log_lineage(inputs=[clicks])
    def job(password: str) -> None:
        raise ValueError("failed")

    with pytest.raises(ValueError):
        job(secret)
    from lineage_sdk.serde import dumps

    assert all(secret not in dumps(r) for r in memory_sink.records)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"inputs": [""]}, ValueError, "inputs"),
        ({"inputs": [42]}, TypeError, "inputs"),
        ({"outputs": [None]}, TypeError, "outputs"),
        ({"inputs": [clicks], "outputs": {n_imp: [impressions]}}, ValueError, "not among inputs"),
        ({"name": ""}, ValueError, "name"),
        ({"version": 1.2}, TypeError, "version"),
        ({"owner": object()}, ValueError, "metadata"),
        ({"inputs": 5}, TypeError, "inputs"),
    ],
)
def test_bad_declarations_fail_at_decoration_time(
    kwargs: dict[str, Any], error: type, fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        log_lineage(**kwargs)


def test_pickles_by_reference_with_pickle_and_cloudpickle() -> None:
    for dumps in (pickle.dumps, cloudpickle.dumps):
        for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
            assert pickle.loads(dumps(count_clicks, protocol=protocol)) is count_clicks


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_decorated_function_runs_in_a_process_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_method: str
) -> None:
    store = tmp_path / "pool.jsonl"
    monkeypatch.setenv("LINEAGE_SINK", f"json:{store}")
    context = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        results = list(pool.map(pool_jobs.double, range(6)))
    assert results == [0, 2, 4, 6, 8, 10]
    runs = lineage_sdk.load_graph(f"json:{store}").runs(transformation="pool_double")
    assert len(runs) == 6
    assert all(r.status == "completed" and r.pid for r in runs)


def test_disabled_lineage_is_a_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_ENABLED", "0")
    assert count_clicks([1, 2]) == 2
    assert not Path("lineage.db").exists()


def test_lineage_of_code_without_source_has_null_code_fields(memory_sink: MemorySink) -> None:
    namespace: dict[str, Any] = {"log_lineage": log_lineage}
    exec("@log_lineage(name='repl_job')\ndef f():\n    return 5\n", namespace)
    assert namespace["f"]() == 5
    [run] = runs_of(memory_sink)
    assert run.code is not None
    assert run.code.file is None and run.code.line_start is None and run.code.source_sha256 is None
    assert run.git is None and run.code_reference is None


def test_python_version_matches_the_interpreter(memory_sink: MemorySink) -> None:
    count_clicks([])
    [run] = runs_of(memory_sink)
    assert run.python_version == ".".join(map(str, sys.version_info[:3]))


NAMED_JOB = """
from lineage_sdk import log_lineage
from lineage_sdk.testing import capture_records


@log_lineage()
def f():
    return 1


def report():
    with capture_records() as records:
        f()
    print(records.runs()[0].transformation)


if __name__ == "__main__":
    report()
"""


def _name_printed(args: list[str], cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=child_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_default_name_is_the_same_however_the_script_is_started(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    repo = make_repo()
    script = repo.write("jobs/ctr.py", NAMED_JOB)  # a folder without __init__.py
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    names = {
        "script": _name_printed(["jobs/ctr.py"], repo.root),
        "script by absolute path elsewhere": _name_printed([str(script)], elsewhere),
        "python -m": _name_printed(["-m", "jobs.ctr"], repo.root),
        "imported": _name_printed(["-c", "import jobs.ctr; jobs.ctr.report()"], repo.root),
    }
    assert set(names.values()) == {"jobs.ctr.f"}, names


def test_default_name_of_a_script_in_a_package_outside_a_repository(tmp_path: Path) -> None:
    package = tmp_path / "plain" / "pipelines"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "daily.py").write_text(NAMED_JOB)
    assert _name_printed([str(package / "daily.py")], tmp_path) == "pipelines.daily.f"
    loose = tmp_path / "loose.py"
    loose.write_text(NAMED_JOB)
    assert _name_printed([str(loose)], package) == "loose.f"
