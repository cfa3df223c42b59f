"""The one place the command line prints: tables and lines for people, JSON for machines.

Commands return a :class:`Result`; :func:`emit` writes it. Human output escapes control
characters, so hostile ids cannot move the cursor or forge lines; ``--json`` gives exact values.
Colour is used only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

import attrs

from ..render import BIDI_CONTROLS
from ..serde import line_safe

__all__ = [
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "Lines",
    "Result",
    "Styled",
    "Table",
    "emit",
    "safe",
    "use_color",
]

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


@attrs.frozen
class Styled:
    """Text shown in a style (``red``, ``green``, ``yellow``, ``cyan``, ``bold``, ``dim``)."""

    text: str
    style: str

    def __str__(self) -> str:
        return self.text


@attrs.frozen
class Table:
    """Rows under a header; None cells show as ``-``."""

    header: Sequence[str]
    rows: Sequence[Sequence[object]]


@attrs.frozen
class Lines:
    """Lines of text, each printed escaped."""

    lines: Sequence[object]


Block = Table | Lines


@attrs.frozen
class Result:
    """What a command computed.

    ``data`` is printed for ``--json``, ``human`` otherwise; ``raw`` (DOT, an image) and
    ``stream`` (an export, chunk by chunk) are written as they are in both modes; ``note`` goes
    to stderr (stdout may carry data).
    """

    data: Any = None
    human: Sequence[Block] = ()
    code: int = EXIT_OK
    raw: str | bytes | None = None
    stream: Iterable[str] | None = None
    note: str | None = None


def safe(text: object) -> str:
    """Printable form of arbitrary text: control characters become escapes, one line always.

    Bidirectional overrides, embeddings, isolates and marks are escaped too (Trojan Source): an
    id ``T\\u202egnp.exe`` must not display as ``Texe.png``.
    """
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch < " " or "\x7f" <= ch < "\xa0" or ch in "\u2028\u2029" or ch in BIDI_CONTROLS:
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def use_color(stream: IO[str], env: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, never with ``NO_COLOR`` set (non-empty) or ``TERM=dumb``."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, value: object, width: int = 0) -> str:
        text = safe(value) if value is not None else "-"
        padded = text.ljust(width)
        if self.color and isinstance(value, Styled) and value.style in _CODES:
            # Padding stays outside the escape codes, so columns line up in colour too.
            return f"\x1b[{_CODES[value.style]}m{text}\x1b[0m{padded[len(text) :]}"
        return padded


def _table(table: Table, out: IO[str], paint: _Painter) -> None:
    widths = [len(h) for h in table.header]
    for row in table.rows:
        widths = [
            max(w, len(safe(c)) if c is not None else 1) for w, c in zip(widths, row, strict=True)
        ]
    header = [Styled(h, "bold") for h in table.header]
    print("  ".join(paint(h, w) for h, w in zip(header, widths, strict=True)).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in table.rows:
        print("  ".join(paint(c, w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def json_text(value: Any) -> str:
    """``value`` as indented JSON (non-ASCII kept, unknown types as strings)."""
    return line_safe(json.dumps(value, ensure_ascii=False, indent=2, default=str)) + "\n"


def emit(result: Result, out: IO[str], as_json: bool, color: bool = False) -> int:
    """Print ``result`` to ``out`` (and its note to stderr); return its exit code."""
    paint = _Painter(color)
    if result.stream is not None:
        for chunk in result.stream:
            out.write(chunk)
    elif result.raw is not None:
        if isinstance(result.raw, str):
            out.write(result.raw)
        else:  # a picture: bytes go to the binary stream under the text one
            out.flush()
            sys.stdout.buffer.write(result.raw)
    elif as_json:
        out.write(json_text(result.data))
    else:
        for block in result.human:
            if isinstance(block, Table):
                _table(block, out, paint)
            else:
                for line in block.lines:
                    print(paint(line), file=out)
    if result.note is not None:
        print(safe(result.note), file=sys.stderr)
    return result.code


def error(message: object) -> None:
    """Report a failure on stderr as ``lineage: MESSAGE``."""
    print(f"lineage: {safe(message)}", file=sys.stderr)
