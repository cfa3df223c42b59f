"""Decorated functions that worker processes import by reference (used by the pool tests)."""

from __future__ import annotations

from lineage_sdk import DataSource, Feature, log_lineage

numbers = DataSource("numbers", type="range")
doubled = Feature("doubled", value_type="int")


@log_lineage(inputs=[numbers], outputs=[doubled], name="pool_double")
def double(n: int) -> int:
    return n * 2


class Scaler:
    """Decorated methods of every kind, importable by worker processes (the pickling tests)."""

    factor = 3

    def __init__(self, offset: int = 1) -> None:
        self.offset = offset

    @log_lineage(inputs=[numbers], name="pool_scale")
    def scale(self, n: int) -> int:
        return n * self.factor + self.offset

    @log_lineage(inputs=[numbers], name="pool_scale_class")
    @classmethod
    def scale_class(cls, n: int) -> int:
        return n * cls.factor

    @log_lineage(inputs=[numbers], name="pool_negate")
    @staticmethod
    def negate(n: int) -> int:
        return -n


def sigterm_action_after_a_run(n: int) -> str:
    """Runs the decorated job in a worker, then names the worker's SIGTERM disposition."""
    import signal

    double(n)
    return "default" if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else "handler"
