"""Run ids: time-ordered UUIDs (version 7) made from a per-process random part and a counter.

A UUIDv7 is 48 bits of Unix milliseconds, the version, 12 bits ``rand_a``, the variant and 62
bits ``rand_b``. Here 42 of the 74 random bits are drawn once per process (from ``os.urandom``,
again in every forked child) and the last 32 bits are a per-process counter, so an id costs one
``next()`` and one string format instead of 74 fresh random bits: ids stay unique within a
process (the counter; its 2^32 wrap needs 4 billion ids in one millisecond) and across processes
and forks (the random part), and still sort by time to the millisecond, as OpenLineage expects.
"""

from __future__ import annotations

import itertools
import os
import time

__all__ = ["new_run_id", "next_seq", "pid_of", "render_run_id"]


def _process_prefix() -> str:
    # The text between the timestamp and the counter: "7aaa-Vbbb-cccc" (V carries the variant).
    bits = int.from_bytes(os.urandom(6), "big") >> 6  # 42 random bits
    rand_a = bits >> 30 & 0xFFF
    variant = 0x8000 | (bits >> 16 & 0x3FFF)
    return "7%03x-%04x-%04x" % (rand_a, variant, bits & 0xFFFF)  # noqa: UP031 - hot path


_prefix = _process_prefix()
# prefix -> the pid of the process that drew it: a run captured before a fork and built in the
# child (a memory sink's copy) still names the process it ran in.
_pids = {_prefix: os.getpid()}
# itertools.count: next() is one C call, atomic under the GIL, so threads never share a value.
_counter = itertools.count(int.from_bytes(os.urandom(4), "big"))


#: The next counter value: the decorator takes it per call and renders the id later.
next_seq = _counter.__next__


def pid_of(prefix: str) -> int:
    """The pid of the process whose run ids carry ``prefix``."""
    return _pids[prefix]


def _after_fork_in_child() -> None:
    global _prefix
    _prefix = _process_prefix()
    _pids[_prefix] = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def new_run_id() -> str:
    """A fresh run id: a UUIDv7 string, unique across threads, processes and forks.

    (The decorator keeps the parts and renders them later, with :func:`render_run_id`.)
    """
    return render_run_id(time.time_ns(), _prefix, next_seq())


def render_run_id(started_ns: int, prefix: str, seq: int) -> str:
    """The run id of a run started at ``started_ns`` in the process of ``prefix``, ``seq`` its
    counter value.

    The hot path keeps the three numbers and renders the text only when a reader needs it.
    """
    global _rendered
    ms = started_ns // 1_000_000
    last_ms, last_prefix, head = _rendered
    if ms != last_ms or prefix is not last_prefix:  # runs come many to a millisecond
        head = "%08x-%04x-%s" % (ms >> 16 & 0xFFFFFFFF, ms & 0xFFFF, prefix)  # noqa: UP031
        _rendered = (ms, prefix, head)  # one assignment: threads see the old or the new
    return head + format(seq & 0xFFFFFFFF, "08x")


# The last millisecond and prefix render_run_id rendered, and the id's text up to the counter.
_rendered: tuple[int, str, str] = (-1, "", "")
