"""Flushing queued runs when SIGTERM ends the process, where the SDK may own that handler.

Asynchronous delivery asks for the handler when its worker starts (:func:`flush_on_sigterm`),
giving the function that writes the queues; a forked child hands SIGTERM back to its default
(:func:`forget_sigterm_handler`) until its own delivery asks again.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["SIGNAL_FLUSH_S", "flush_on_sigterm", "forget_sigterm_handler"]

#: How long SIGTERM waits for queued runs; orchestrators allow more (Kubernetes: 30 s).
SIGNAL_FLUSH_S = 5.0
# What our handler runs to write the queues; None while _on_sigterm is not installed. Installed
# once per process (a later caller's function would be the same one), forgotten in a forked child.
_flush: Callable[[], None] | None = None


def flush_on_sigterm(flush: Callable[[], None]) -> None:
    """Run ``flush`` before a SIGTERM ends the process, where the SDK may own the handler.

    Only from the main thread (the only one that can install a handler) and only when SIGTERM
    still has its default action: a handler of the application or its framework is left alone
    (it usually exits through ``sys.exit``, which runs the exit flush anyway).
    """
    import signal

    global _flush
    if _flush is not None or threading.current_thread() is not threading.main_thread():
        return
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.parent_process() is not None:
        return  # a worker process delivers synchronously (see _check_process): nothing to flush
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # no SIGTERM here, or not allowed
        return
    _flush = flush


def forget_sigterm_handler() -> None:
    """In a forked child, hand SIGTERM back to its default until the child's own delivery starts.

    The child may become a multiprocessing worker (known only later, in its bootstrap), which
    delivers synchronously and is ended by SIGTERM; a child that queues installs the handler
    again when its delivery thread starts.
    """
    import signal

    global _flush
    if _flush is None:
        return
    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # forked from a thread other than the main one: signals are not ours
        return
    _flush = None


def _on_sigterm(signum: int, frame: Any) -> None:
    import signal

    # The handler runs on the main thread between two bytecodes of whatever it was doing, maybe
    # inside a sink's write holding that sink's lock: flushing here could wait on that lock for
    # ever. A helper thread flushes instead, and the signal's default action follows after a
    # bounded wait whatever it achieved.
    helper = threading.Thread(target=_flush, name="lineage-sigterm", daemon=True)
    helper.start()
    helper.join(SIGNAL_FLUSH_S + 1.0)
    # Then what SIGTERM would have done without us: end the process, killed by the signal.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
