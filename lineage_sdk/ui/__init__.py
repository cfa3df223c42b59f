"""The browser explorer: one offline HTML page of the lineage graph, or the same page served live.

    from lineage_sdk.ui import build_page
    Path("lineage.html").write_text(build_page(load_graph("sqlite:lineage.db")))

:mod:`.data` turns a :class:`~lineage_sdk.graph.LineageGraph` into the page's JSON (through the
graph's public API only), :mod:`.layout` places the vertices (Graphviz ``dot``, or layers for big
graphs), :mod:`.page` assembles the document and its Content-Security-Policy, :mod:`.server`
serves it read-only, :mod:`.command` is ``lineage ui``.
"""

from .page import build_page, notebook_html

__all__ = ["build_page", "notebook_html"]
