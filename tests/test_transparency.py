"""A decorated function behaves like the function: introspection, descriptors, copy and pickle.

Ported in spirit from wrapt's transparency tests and CPython's ``functools.wraps`` tests: every
check compares the decorated function with an undecorated twin. What does not hold is listed in
the README ("How transparent the decorator is").
"""

from __future__ import annotations

import copy
import functools
import inspect
import multiprocessing
import pickle
import pydoc
import subprocess
import sys
import textwrap
import types
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import lineage_sdk
from lineage_sdk import MemorySink, Run, log_lineage

from . import pool_jobs
from .conftest import child_env
from .pool_jobs import Scaler


def runs_of(sink: MemorySink) -> list[Run]:
    return [r for r in sink.records if isinstance(r, Run)]


def plain(a: int, b: int = 2, *, c: str = "x") -> int:
    """Add things."""
    return a + b


plain.custom = "kept"  # type: ignore[attr-defined]


def twin(a: int, b: int = 2, *, c: str = "x") -> int:
    """Add things."""
    return a + b


twin.custom = "kept"  # type: ignore[attr-defined]
decorated = log_lineage(name="transparency_twin")(twin)


def gen(n: int) -> Iterator[int]:
    yield from range(n)


async def coro() -> int:
    return 1


async def agen() -> AsyncIterator[int]:
    yield 1


ATTRIBUTES = ["__name__", "__qualname__", "__doc__", "__module__", "__annotations__"]


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_function_attributes_are_the_wrapped_functions(attribute: str) -> None:
    assert getattr(decorated, attribute) == getattr(twin, attribute)
    assert getattr(twin, attribute) == getattr(plain, attribute) or attribute in (
        "__name__",
        "__qualname__",
    )


def test_wrapped_dict_defaults_code_and_globals_are_the_functions() -> None:
    assert decorated.__wrapped__ is twin  # type: ignore[attr-defined]
    assert vars(decorated) is vars(twin) and decorated.custom == "kept"  # type: ignore[attr-defined]
    assert decorated.__defaults__ == (2,) and decorated.__kwdefaults__ == {"c": "x"}
    assert decorated.__code__ is twin.__code__ and decorated.__globals__ is twin.__globals__
    assert decorated.__closure__ is None


def test_setting_an_attribute_sets_it_on_the_function() -> None:
    @log_lineage(name="attr_job")
    def job() -> None:
        pass

    job.marker = 1  # type: ignore[attr-defined]
    assert job.__wrapped__.marker == 1  # type: ignore[attr-defined]
    del job.marker  # type: ignore[attr-defined]
    assert not hasattr(job.__wrapped__, "marker")  # type: ignore[attr-defined]


def test_signature_source_and_help_are_the_functions() -> None:
    assert inspect.signature(decorated) == inspect.signature(twin)
    assert inspect.getsource(decorated) == inspect.getsource(twin)
    assert inspect.getdoc(decorated) == "Add things."
    assert pydoc.plain(pydoc.render_doc(decorated)) == pydoc.plain(pydoc.render_doc(twin))


def test_inspect_predicates_see_the_kind_of_function() -> None:
    assert inspect.isfunction(decorated) and inspect.isroutine(decorated)
    assert isinstance(decorated, types.FunctionType)
    for func, predicate in [
        (gen, inspect.isgeneratorfunction),
        (coro, inspect.iscoroutinefunction),
        (agen, inspect.isasyncgenfunction),
    ]:
        wrapped = log_lineage(name=f"kind_{func.__name__}")(func)
        assert predicate(wrapped) and predicate(func)
        assert not inspect.isgeneratorfunction(decorated) and not predicate(decorated)


def test_equality_hash_repr_and_str_are_the_functions() -> None:
    assert decorated == twin and twin == decorated and decorated == decorated
    assert decorated != plain
    assert hash(decorated) == hash(twin)
    assert {decorated: 1}[twin] == 1
    assert repr(decorated) == repr(twin) and str(decorated) == str(twin)


def test_weak_references_work() -> None:
    ref = weakref.ref(decorated)
    assert ref() is decorated
    table: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary(f=decorated)
    assert table["f"] is decorated


def test_wrong_arguments_raise_what_the_function_raises() -> None:
    with pytest.raises(TypeError) as on_plain:
        twin(1, 2, 3)  # type: ignore[misc]
    with pytest.raises(TypeError) as on_decorated:
        decorated(1, 2, 3)  # type: ignore[misc]
    assert str(on_decorated.value) == str(on_plain.value)


def test_functools_wraps_of_a_decorated_function_copies_its_metadata() -> None:
    @functools.wraps(decorated)
    def outer(*args: Any, **kwargs: Any) -> Any:
        return decorated(*args, **kwargs)

    assert outer.__name__ == "twin" and outer.__doc__ == "Add things."
    assert outer.__wrapped__ is decorated  # type: ignore[attr-defined]
    assert inspect.signature(outer) == inspect.signature(twin)  # follows __wrapped__ through
    assert outer.custom == "kept"  # type: ignore[attr-defined]


def test_descriptor_binding_matches_undecorated_methods(memory_sink: MemorySink) -> None:
    scaler = Scaler(offset=5)
    assert Scaler.scale.__get__(scaler, Scaler)(2) == 11
    assert Scaler.__dict__["scale"].__get__(scaler)(2) == 11
    assert Scaler.scale(scaler, 2) == scaler.scale(2) == 11
    assert scaler.scale.__self__ is scaler and scaler.scale.__func__ is Scaler.__dict__["scale"]
    assert Scaler.scale is Scaler.scale and scaler.negate is Scaler.negate  # as for functions
    assert inspect.ismethod(scaler.scale) and inspect.ismethod(Scaler.scale_class)
    assert str(inspect.signature(scaler.scale)) == "(n: 'int') -> 'int'"
    assert str(inspect.signature(Scaler.scale_class)) == "(n: 'int') -> 'int'"
    assert scaler.negate(3) == Scaler.negate(3) == -3
    names = [r.transformation for r in runs_of(memory_sink)]
    assert names == ["pool_scale"] * 4 + ["pool_negate"] * 2


# --- copy ------------------------------------------------------------------------------------
def test_copy_and_deepcopy_return_the_function_itself() -> None:
    assert copy.copy(twin) is twin  # what a plain function does...
    assert copy.copy(decorated) is decorated  # ...and a decorated one
    assert copy.deepcopy(decorated) is decorated
    assert copy.copy(Scaler.negate) is Scaler.negate
    assert copy.deepcopy(Scaler.scale) is Scaler.scale


def test_configs_holding_a_decorated_function_deep_copy_and_clone() -> None:
    config = {"steps": [("double", pool_jobs.double), ("scale", Scaler.scale_class)], "n": [1]}
    cloned = copy.deepcopy(config)
    assert cloned["steps"][0][1] is pool_jobs.double
    assert cloned["steps"][1][1](2) == 6 and cloned["n"] is not config["n"]

    class FunctionTransformer:  # an estimator holding a function, as sklearn's does
        def __init__(self, func: Callable[..., Any]) -> None:
            self.func = func

        def get_params(self) -> dict[str, Any]:
            return {"func": self.func}

    def clone(estimator: FunctionTransformer) -> FunctionTransformer:
        # sklearn.base.clone: deep-copy every parameter (safe=False), rebuild, then insist that
        # each parameter of the new estimator *is* the copied one.
        params = {k: copy.deepcopy(v) for k, v in estimator.get_params().items()}
        new = type(estimator)(**params)
        assert all(new.get_params()[k] is v for k, v in params.items())
        return new

    assert clone(FunctionTransformer(pool_jobs.double)).func is pool_jobs.double
    assert clone(FunctionTransformer(Scaler.negate)).func is Scaler.negate


def test_deep_copy_of_a_bound_method_binds_a_copy_of_the_instance() -> None:
    scaler = Scaler(offset=7)
    plain_copy = copy.deepcopy(scaler.__init__)  # Python's own rule for bound methods
    assert plain_copy.__self__ is not scaler
    bound = copy.deepcopy(scaler.scale)
    assert bound.__self__ is not scaler and bound.__self__.offset == 7
    assert bound(1) == 10


# --- pickle ----------------------------------------------------------------------------------
PICKLERS = [pytest.param(pickle.dumps, id="pickle"), pytest.param(cloudpickle.dumps, id="cloud")]


@pytest.mark.parametrize("dumps", PICKLERS)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_functions_and_methods_of_every_kind_pickle_by_reference(
    dumps: Callable[..., bytes], protocol: int, memory_sink: MemorySink
) -> None:
    scaler = Scaler(offset=2)
    cases: list[tuple[Any, tuple[Any, ...]]] = [
        (pool_jobs.double, (4,)),
        (Scaler.scale, (scaler, 4)),
        (scaler.scale, (4,)),
        (Scaler.scale_class, (4,)),
        (scaler.scale_class, (4,)),
        (Scaler.negate, (4,)),
        (scaler.negate, (4,)),
    ]
    for func, args in cases:
        loaded = pickle.loads(dumps(func, protocol=protocol))
        assert loaded(*args) == func(*args)
        assert loaded.__wrapped__ is not None
    assert pickle.loads(dumps(pool_jobs.double, protocol=protocol)) is pool_jobs.double
    runs = runs_of(memory_sink)
    assert len(runs) == 2 * len(cases)  # the unpickled ones record runs too


def test_local_and_shadowed_functions_refuse_to_pickle_like_plain_ones() -> None:
    @log_lineage(name="local_job")
    def local() -> None:
        pass

    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(lambda: None)
    with pytest.raises(pickle.PicklingError, match="only functions defined at the top level"):
        pickle.dumps(local)
    for unnamed in (functools.partial(add, 1), Scorer()):
        with pytest.raises(pickle.PicklingError, match="only functions defined at the top"):
            pickle.dumps(log_lineage(name="unnamed")(unnamed))
    shadow = log_lineage(name="shadow")(plain)  # module attribute `plain` is the bare function
    with pytest.raises(pickle.PicklingError, match="not the object found under that name"):
        pickle.dumps(shadow)


def test_bound_methods_go_to_a_spawn_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "methods.jsonl"
    monkeypatch.setenv("LINEAGE_SINK", f"json:{store}")
    scaler = Scaler(offset=1)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        assert pool.map(scaler.scale, range(4)) == [1, 4, 7, 10]
        assert pool.map(Scaler.scale_class, range(3)) == [0, 3, 6]
        assert pool.map(scaler.negate, range(2)) == [0, -1]
    graph = lineage_sdk.load_graph(f"json:{store}")
    counts = {
        name: len(graph.runs(transformation=name))
        for name in ("pool_scale", "pool_scale_class", "pool_negate")
    }
    assert counts == {"pool_scale": 4, "pool_scale_class": 3, "pool_negate": 2}


MAIN_SCRIPT = """
import multiprocessing, pickle, sys, types

import cloudpickle
import lineage_sdk
from lineage_sdk import log_lineage


@log_lineage(name="main_job")
def job(n):
    return n + 1


if __name__ == "__main__":
    assert pickle.loads(pickle.dumps(job)) is job          # by reference, as a plain function
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.map(job, [1, 2]) == [2, 3]             # the child records these two runs
    loaded = cloudpickle.loads(cloudpickle.dumps(job))     # by value: the bare function
    assert type(loaded) is types.FunctionType and not hasattr(loaded, "__wrapped__")
    assert loaded(5) == 6                                  # records nothing
    assert job(0) == 1                                     # records one run
    lineage_sdk.flush()
    print("ok")
"""


def test_functions_in_main_pickle_by_reference_and_cloudpickle_ships_them_bare(
    tmp_path: Path,
) -> None:
    script = tmp_path / "pipeline.py"
    script.write_text(textwrap.dedent(MAIN_SCRIPT))
    store = tmp_path / "main.jsonl"
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=child_env(LINEAGE_SINK=f"json:{store}"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
    runs = lineage_sdk.load_graph(f"json:{store}").runs(transformation="main_job")
    assert len(runs) == 3  # two in the pool worker, one in the parent; none from the bare copy


# --- callable objects and partials -----------------------------------------------------------
class Scorer:
    """Score a value."""

    def __call__(self, x: int) -> int:
        return x * 2


class AsyncScorer:
    async def __call__(self, x: int) -> int:
        return x * 3


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_a_callable_object_is_named_after_its_class(memory_sink: MemorySink) -> None:
    scorer = log_lineage()(Scorer())
    assert scorer(2) == 4
    [run] = runs_of(memory_sink)
    assert run.transformation == f"{__name__}.Scorer"
    [declared] = [r for r in memory_sink.records if isinstance(r, lineage_sdk.Transformation)]
    assert declared.description == "Score a value."


def test_a_partial_is_named_after_its_function(memory_sink: MemorySink) -> None:
    add_one = log_lineage()(functools.partial(add, 1))
    assert add_one(2) == 3
    assert log_lineage(name="explicit")(functools.partial(functools.partial(add, 1), 2))() == 3
    first, second = runs_of(memory_sink)
    assert first.transformation == f"{__name__}.add" and second.transformation == "explicit"
    [declared, _] = [r for r in memory_sink.records if isinstance(r, lineage_sdk.Transformation)]
    assert declared.description == "Add two numbers."
    assert first.code is not None and first.code.qualname == "add"


def test_an_async_callable_object_records_when_awaited(memory_sink: MemorySink) -> None:
    import asyncio

    scorer = log_lineage(name="async_scorer")(AsyncScorer())
    assert asyncio.run(scorer(2)) == 6
    [run] = runs_of(memory_sink)
    assert run.status == "completed" and run.transformation == "async_scorer"
