"""Hostile input along the whole path, limits with clear errors, and what is never captured."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lineage_sdk
from lineage_sdk import DataSource, Feature, JsonFileSink, MemorySink, Run, SQLiteSink, log_lineage
from lineage_sdk.serde import dumps

from .helpers import dot_json, shown, title_of
from .strategies import hostile_text

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=6,
)
_n = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ids=st.lists(hostile_text, min_size=3, max_size=5, unique=True),
    meta=st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), json_values, max_size=3),
    fail=st.booleans(),
)
def test_hostile_ids_and_metadata_survive_the_whole_path(
    tmp_path: Path, ids: list[str], meta: dict[str, Any], fail: bool
) -> None:
    n = next(_n)
    sinks: list[Any] = [
        MemorySink(),
        JsonFileSink(tmp_path / f"{n}.jsonl"),
        SQLiteSink(tmp_path / f"{n}.db"),
    ]
    lineage_sdk.configure(sinks, on_error="raise")
    source = DataSource(f"src {ids[0]}", type=ids[1], schema=ids, description=ids[2], owner=ids[0])
    feature = Feature(f"feat {ids[1]}", description=ids[0], value_type=ids[2], entity=ids[1])
    name = f"job {ids[2]}"

    @log_lineage(inputs=[source], outputs=[feature], name=name, version=ids[0], **meta)
    def job() -> str:
        if fail:
            raise ValueError(ids[0])
        return ids[1]

    if fail:
        with pytest.raises(ValueError):
            job()
    else:
        assert job() == ids[1]
    expected = sorted(map(dumps, sinks[0].records))
    for sink in sinks[1:]:
        assert sorted(map(dumps, sink.read())) == expected  # nothing lost, nothing altered
    for sink in sinks:
        target = sink if isinstance(sink, MemorySink) else sink.name
        # A failed run is not lineage unless asked for: its declared feature derives from nothing.
        lineage = [] if fail else sorted([name, source.id])
        assert lineage_sdk.load_graph(target).upstream(feature.id) == lineage
        graph = lineage_sdk.load_graph(target, include_failed=True)
        assert graph.upstream(feature.id) == sorted([name, source.id])
        assert graph.node(source.id) == source
        [run] = graph.runs()
        assert run.status == ("failed" if fail else "completed")
        assert json.loads(json.dumps(lineage_sdk.registry_dict(graph)))[feature.id]["details"] == {
            "id": feature.id,
            "description": ids[0],
            "value_type": ids[2],
            "entity": ids[1],
        }
        if shutil.which("dot"):
            data = dot_json(graph.to_dot())
            titles = sorted(title_of(o["label"]) for o in data["objects"])
            assert titles == sorted(shown(x) for x in (source.id, feature.id, name))
            assert len(data["edges"]) == 2
        if isinstance(sink, SQLiteSink):
            graph.close()  # type: ignore[attr-defined]
    lineage_sdk.configure("none")


def test_an_id_over_the_size_limit_is_refused_with_the_limit() -> None:
    with pytest.raises(ValueError, match=r"characters long; the limit is 1024"):
        log_lineage(inputs=["x" * 1025])


def test_metadata_over_the_size_limit_is_refused() -> None:
    with pytest.raises(ValueError, match=r"bytes as JSON; the limit is 65536"):
        log_lineage(blob="x" * 70_000)


def test_metadata_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON-serialisable"):
        log_lineage(when={1, 2})


def test_a_recursion_500_levels_deep_keeps_its_parent_chain(
    memory_sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each decorated level costs the user's frame plus one of ours: 500 levels need ~1,000.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 2500))
    try:

        @log_lineage(name="descend")
        def descend(level: int) -> int:
            return level if level == 0 else descend(level - 1) + 1

        assert descend(499) == 499
    finally:
        sys.setrecursionlimit(old)
    runs = [r for r in memory_sink.records if isinstance(r, Run)]
    assert len(runs) == 500
    by_id = {r.run_id: r for r in runs}
    roots = [r for r in runs if r.parent_run_id is None]
    assert len(roots) == 1
    depth, node = 0, next(r for r in runs if not any(c.parent_run_id == r.run_id for c in runs))
    while node.parent_run_id is not None:
        node, depth = by_id[node.parent_run_id], depth + 1
    assert depth == 499 and node is roots[0]


def test_ten_thousand_distinct_nodes_in_one_run(tmp_path: Path) -> None:
    lineage_sdk.configure(
        f"sqlite:{tmp_path / 'big.db'},json:{tmp_path / 'big.jsonl'}", on_error="raise"
    )
    outputs = [Feature(f"feature_{i}") for i in range(10_000)]

    @log_lineage(inputs=["raw_events"], outputs=lambda args: outputs, name="wide_job")
    def wide() -> int:
        return len(outputs)

    assert wide() == 10_000
    for target in (f"sqlite:{tmp_path / 'big.db'}", f"json:{tmp_path / 'big.jsonl'}"):
        graph = lineage_sdk.load_graph(target)
        [run] = graph.runs()
        assert len(run.outputs) == 10_000
        assert len(graph.downstream("raw_events")) == 10_001
        assert graph.upstream("feature_9999") == ["raw_events", "wide_job"]


def test_thousands_of_concurrent_asyncio_tasks_each_get_the_right_parent(
    memory_sink: MemorySink,
) -> None:
    @log_lineage(name="leaf")
    async def leaf(i: int) -> str | None:
        await asyncio.sleep(0)
        return lineage_sdk.current_run_id()

    @log_lineage(name="task")
    async def task(i: int) -> tuple[str | None, str | None]:
        await asyncio.sleep(0)
        mine = lineage_sdk.current_run_id()
        child = await leaf(i)
        await asyncio.sleep(0)
        assert lineage_sdk.current_run_id() == mine
        return mine, child

    async def main() -> list[tuple[str | None, str | None]]:
        return await asyncio.gather(*(task(i) for i in range(3000)))

    pairs = asyncio.run(main())
    runs = {r.run_id: r for r in memory_sink.records if isinstance(r, Run)}
    assert len(runs) == 6000
    assert all(runs[child].parent_run_id == mine for mine, child in pairs)  # type: ignore[index]


def test_environment_variables_and_argument_values_are_never_captured(
    memory_sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-value-123")

    @log_lineage(inputs=[DataSource("s", type="t")])
    def job(password: str, token: bytes = b"default-token-456") -> None:
        raise PermissionError("denied")

    with pytest.raises(PermissionError):
        job("argument-secret-789")
    text = "\n".join(dumps(r) for r in memory_sink.records)
    for secret in ("env-secret-value-123", "argument-secret-789", "default-token-456"):
        assert secret not in text


def test_stored_data_is_never_unpickled_or_evaluated() -> None:
    source = "\n".join(p.read_text() for p in Path(lineage_sdk.__file__).parent.rglob("*.py"))
    assert not re.search(r"\bpickle\.loads?\(|\beval\(|\bmarshal\.loads?\(|yaml\.load\(", source)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_stores_honour_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        JsonFileSink(tmp_path / "p.jsonl").emit([Feature("a")])
        SQLiteSink(tmp_path / "p.db").emit([Feature("a")])
    finally:
        os.umask(old)
    for name in ("p.jsonl", "p.db"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0
