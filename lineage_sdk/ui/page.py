"""The explorer page: one self-contained HTML document with its script, style and data inline.

Nothing from the store is ever written into the markup. The data travels as JSON inside a
``<script type="application/json">`` element, with ``<``, ``>``, ``&`` and the JavaScript line
separators escaped, so no id can close the element or open another; the script reads it with
``JSON.parse`` and shows every value through ``textContent`` and ``setAttribute`` only.

The Content-Security-Policy allows the page's own script and style (by their SHA-256 hashes, not
``'unsafe-inline'``) and ``data:`` images, and forbids every other load: the offline file makes no
request at all; served, the page may reach its own origin and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from .data import explorer_data

if TYPE_CHECKING:  # pragma: no cover
    from ..graph import LineageGraph
    from ..graph.changes import Diff

__all__ = ["build_page", "content_security_policy", "embed_json", "notebook_html", "page_html"]

_JSON_ESCAPES = (
    ("&", "\\u0026"),
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Lineage explorer</title>
<link rel="icon" href="data:,">
<style>{css}</style>
</head>
<body>
<header id="toolbar">
  <span class="brand">lineage</span>
  <div id="searchbox">
    <input id="search" type="search" placeholder="Search ids and descriptions" autocomplete="off"
      spellcheck="false" aria-label="Search ids and descriptions" aria-controls="suggestions">
    <ul id="suggestions" role="listbox" hidden></ul>
  </div>
  <label class="control"><input id="focus-mode" type="checkbox"> focus</label>
  <label class="control">depth <select id="depth" aria-label="Focus depth">
    <option value="">all</option><option>1</option><option>2</option><option>3</option>
    <option>4</option><option>5</option><option>6</option><option>8</option><option>10</option>
  </select></label>
  <span class="zoom">
    <button id="zoom-in" type="button" title="Zoom in">+</button>
    <button id="zoom-out" type="button" title="Zoom out">&minus;</button>
    <button id="zoom-fit" type="button" title="Fit to screen">fit</button>
  </span>
  <a id="neighbourhood" hidden>lay out this neighbourhood</a>
  <span id="status" role="status"></span>
</header>
<main>
  <svg id="canvas" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Lineage graph">
    <defs>
      <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7"
        orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"></path></marker>
    </defs>
    <g id="viewport"><g id="edges"></g><g id="nodes"></g></g>
  </svg>
  <aside id="details" aria-live="polite">
    <p class="hint">Click a node to see its details.</p>
  </aside>
</main>
<script id="lineage-data" type="application/json">{data}</script>
<script>{js}</script>
</body>
</html>
"""


@cache
def _asset(name: str) -> str:
    return (resources.files(__package__) / "assets" / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def content_security_policy(served: bool = False) -> str:
    """The page's policy: its own inline script and style only; its own origin when served."""
    connect = "'self'" if served else "'none'"
    return (
        f"default-src 'none'; script-src '{_sha256(_asset('explorer.js'))}'; "
        f"style-src '{_sha256(_asset('explorer.css'))}'; img-src data:; connect-src {connect}; "
        "base-uri 'none'; form-action 'none'"
    )


def embed_json(value: Any) -> str:
    """``value`` as JSON that is inert inside an HTML ``<script>`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from a JSON store) has no UTF-8 form
        text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _JSON_ESCAPES:  # str.replace is far faster than str.translate here
        text = text.replace(raw, escaped)
    return text


def page_html(data: dict[str, Any], served: bool = False) -> str:
    """The whole document for explorer ``data`` (see :func:`explorer_data`)."""
    return _TEMPLATE.format(
        csp=html.escape(content_security_policy(served), quote=True),
        css=_asset("explorer.css"),
        js=_asset("explorer.js"),
        data=embed_json(data),
    )


def build_page(
    graph: LineageGraph,
    focus: str | None = None,
    depth: int | None = None,
    served: bool = False,
    diff: Diff | None = None,
) -> str:
    """The explorer for ``graph`` as one HTML document (optionally around ``focus``); with
    ``diff``, ``graph`` is the union of both moments and the changes are marked."""
    data = explorer_data(graph, focus=focus, depth=depth, live=served, diff=diff)
    return page_html(data, served=served)


def notebook_html(graph: LineageGraph) -> str:
    """The explorer for a notebook cell: the page in a sandboxed frame (scripts, no origin)."""
    page = build_page(graph)
    return (
        '<iframe sandbox="allow-scripts" title="Lineage explorer" '
        'style="width:100%;height:560px;border:1px solid #dee2e6" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
    )
