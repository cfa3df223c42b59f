"""The hot path's cheap parts: run ids and the prepared binding of callable inputs/outputs."""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lineage_sdk._ids import new_run_id
from lineage_sdk._io_binding import Binder


def test_run_ids_are_uuid7_and_ordered_by_millisecond() -> None:
    ids = [new_run_id() for _ in range(2000)]
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert all(str(u) == i for u, i in zip(parsed, ids))
    stamps = [u.int >> 80 for u in parsed]
    assert stamps == sorted(stamps)


def test_run_ids_are_unique_across_threads() -> None:
    per_thread: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        out.extend(new_run_id() for _ in range(5000))

    threads = [threading.Thread(target=make, args=(out,)) for out in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in per_thread for i in out]
    assert len(set(every)) == len(every) == 40_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_run_ids_are_unique_across_forked_children() -> None:
    # Children forked from the same parent start from the same counter value: only their
    # per-process random part, drawn again after fork, keeps their ids apart.
    new_run_id()
    children: list[tuple[int, int]] = []
    for _ in range(4):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: write ids, leave at once without running the parent's cleanup
            try:
                os.close(read_end)
                data = "\n".join(new_run_id() for _ in range(2000)).encode()
                with os.fdopen(write_end, "wb") as out:
                    out.write(data)
            finally:
                os._exit(0)
        os.close(write_end)
        children.append((pid, read_end))
    every = [new_run_id() for _ in range(2000)]
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as source:
            every.extend(source.read().decode().split("\n"))
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    assert len(every) == 10_000
    assert len(set(every)) == len(every)
    assert len({i[14:28] for i in every}) == 5  # one random part per process


def _reference(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    import inspect

    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def plain(day: str, region: str = "eu", limit: int = 10) -> None:
    """Positional-or-keyword parameters only: the prepared fast path."""


def mixed(day: str, /, *rest: int, region: str = "eu", **extra: int) -> None:
    """Every other kind of parameter: bound through Signature.bind."""


@given(
    st.lists(st.integers(), max_size=4).map(tuple),
    st.dictionaries(st.sampled_from(["day", "region", "limit", "other"]), st.integers()),
)
def test_prepared_binding_equals_signature_bind_or_raises_the_same(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    for func in (plain, mixed):
        try:
            expected: dict[str, Any] | type[TypeError] = _reference(func, args, kwargs)
        except TypeError:
            expected = TypeError
        if expected is TypeError:
            with pytest.raises(TypeError):
                Binder(func)(args, kwargs)
        else:
            got = Binder(func)(args, kwargs)
            assert got == expected
            assert list(got) == list(expected)  # parameter order kept
