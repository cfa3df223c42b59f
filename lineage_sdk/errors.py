"""Exceptions the SDK raises on purpose. Everything else it catches and logs."""

from __future__ import annotations

__all__ = ["ConfigError", "LineageError", "LineageSinkError"]


class LineageError(Exception):
    """Base class of the SDK's own exceptions."""


class ConfigError(LineageError, ValueError):
    """A configuration value is invalid; the message names the variable and the accepted forms."""


class LineageSinkError(LineageError, RuntimeError):
    """A sink failed to store records and the failure policy is ``raise`` (strict mode).

    ``failures`` holds ``(sink name, exception)`` pairs.
    """

    def __init__(self, message: str, failures: tuple[tuple[str, BaseException], ...] = ()) -> None:
        super().__init__(message)
        self.failures = failures
