"""The object ``@log_lineage`` returns: a wrapt proxy that behaves like the function it wraps.

wrapt gives the introspection (``__name__``, ``__doc__``, ``__wrapped__``, ``inspect.signature``,
``isinstance(f, types.FunctionType)``, descriptor binding for methods). What a plain wrapt proxy
refuses, and a plain function supports, is added here:

- ``copy.copy(f)`` and ``copy.deepcopy(f)`` return ``f`` itself, as for a function, so configs and
  estimators holding a decorated function can be copied and cloned.
- Pickling by reference, with every protocol, for functions and for methods, classmethods and
  staticmethods reached through a class or an instance (a bound method pickles as
  ``getattr(instance_or_class, name)``, like Python's own bound methods). So a decorated function
  or ``obj.method`` goes to a process pool or a Dask worker, and the worker records the runs.
- ``repr(f)`` is the wrapped function's.

cloudpickle ships functions defined in ``__main__`` (or a notebook) *by value*: it copies the code
of the bare function, so the worker runs it without the decorator and records nothing. Put jobs
that run in workers in an importable module.

Built on first decoration, so that ``import lineage_sdk`` does not import wrapt (and asyncio).
"""

from __future__ import annotations

import copy
import functools
import importlib
import weakref
from typing import Any

__all__ = ["decorated_function_class"]


def _resolve(module: str, qualname: str) -> Any:
    """The object named ``qualname`` in ``module``: how a pickled decorated function comes back."""
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _bound_function_class() -> type:
    """The class of decorated methods bound to an instance or a class."""
    import wrapt

    class BoundLineageFunction(wrapt.BoundFunctionWrapper):  # type: ignore[type-arg]
        """A decorated method bound to an instance or a class, as ``obj.method`` gives it."""

        def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
            owner = self._self_instance
            if owner is None:
                owner = self._self_owner
            return (getattr, (owner, self.__name__))

        def __copy__(self) -> Any:
            return self

        def __deepcopy__(self, memo: dict[int, Any]) -> Any:
            # As for a bound method: the copy is bound to a deep copy of its instance.
            owner = self._self_instance
            if owner is None:
                return self
            return getattr(copy.deepcopy(owner, memo), self.__name__)

        def __repr__(self) -> str:
            return repr(self.__wrapped__)

        @property
        def __func__(self) -> Any:
            # As for a plain bound method, __func__ is what the class holds: the decorated
            # function (so calling it records lineage), not the bare one.
            if self._self_binding == "function":
                return self._self_parent
            return getattr(self.__wrapped__, "__func__")  # noqa: B009 - typed as a plain callable

    return BoundLineageFunction


def _by_reference(decorated: Any) -> tuple[Any, ...]:
    """Pickle a decorated function as its module and qualified name, as pickle does a function."""
    import pickle  # when pickling, not when lineage_sdk is imported

    # A decorated partial or callable object has no qualified name to be found by.
    module = getattr(decorated.__wrapped__, "__module__", None)
    qualname = getattr(decorated.__wrapped__, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        raise pickle.PicklingError(
            f"cannot pickle decorated {decorated.__wrapped__!r}: only functions defined at "
            "the top level of a module (or in a class there) pickle by reference"
        )
    try:
        found = _resolve(module, qualname)
    except (ImportError, AttributeError):
        found = None
    if found is not decorated and getattr(found, "_self_parent", None) is not decorated:
        raise pickle.PicklingError(
            f"cannot pickle decorated function {module}.{qualname}: it is not the object "
            "found under that name in its module"
        )
    return (_resolve, (module, qualname))


@functools.cache
def decorated_function_class() -> type:
    """The class of decorated functions (a ``wrapt.FunctionWrapper`` subclass)."""
    import wrapt

    BoundLineageFunction = _bound_function_class()

    class LineageFunction(wrapt.FunctionWrapper):  # type: ignore[type-arg]
        """A function, method, classmethod or staticmethod decorated with ``@log_lineage``."""

        __bound_function_wrapper__ = BoundLineageFunction

        def __init__(self, wrapped: Any, wrapper: Any) -> None:
            super().__init__(wrapped, wrapper)
            self._self_class_bindings: weakref.WeakKeyDictionary[type, Any] = (
                weakref.WeakKeyDictionary()
            )

        def __get__(self, instance: Any, owner: Any = None) -> Any:
            # Reached through the class (or, for a staticmethod, through anything), a plain
            # function is the same object every time: `Jobs.method is Jobs.method`. Keep that, so
            # identity checks hold (cloudpickle pickles a function by reference only when the
            # name finds the very same object).
            if owner is None or (instance is not None and self._self_binding != "staticmethod"):
                return super().__get__(instance, owner)
            bindings = self._self_class_bindings
            bound = bindings.get(owner)
            if bound is None:
                bound = bindings[owner] = super().__get__(None, owner)
            return bound

        def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
            return _by_reference(self)

        def __copy__(self) -> Any:
            return self

        def __deepcopy__(self, memo: dict[int, Any]) -> Any:
            return self

        def __repr__(self) -> str:
            return repr(self.__wrapped__)

    return LineageFunction
