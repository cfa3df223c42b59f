"""``lineage ui --serve``: the explorer served live and read-only from the store.

Every ``GET /`` reads the store again, so a reload shows the runs recorded since. ``GET
/?focus=ID&depth=N`` serves the neighbourhood of one id, laid out by ``dot`` even when the whole
graph is too big for it. Nothing else is served and no other method is accepted: the server never
writes. Bound to a loopback address (the default), it also refuses requests whose ``Host`` is not
a loopback name, so a web page the user visits cannot read the store through DNS rebinding.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .page import build_page, content_security_policy

if TYPE_CHECKING:  # pragma: no cover
    from ..graph import LineageGraph

__all__ = ["ExplorerServer", "is_loopback", "serve"]

_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, IPv6 possibly in brackets) is this machine only."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


class ExplorerServer(ThreadingHTTPServer):
    """A threading HTTP server that knows how to read the store and whether it is loopback-only."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        open_graph: Callable[[], LineageGraph],
        log: IO[str] | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.open_graph = open_graph
        self.loopback_only = is_loopback(address[0])
        self.log = log

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: ExplorerServer
    server_version = "lineage-explorer"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _refuse(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED, "read-only: only GET and HEAD\n", "text/plain", True
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    def _answer(self, body: bool) -> None:
        if self.server.loopback_only:
            host = self.headers.get("Host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if not is_loopback(name):
                self._send(HTTPStatus.MISDIRECTED_REQUEST, "unknown host\n", "text/plain", body)
                return
        url = urlsplit(self.path)
        if url.path not in ("/", "/index.html"):
            self._send(HTTPStatus.NOT_FOUND, "not found\n", "text/plain", body)
            return
        query = parse_qs(url.query)
        focus = query.get("focus", [None])[-1]
        depth_text = query.get("depth", [None])[-1]
        try:
            depth = int(depth_text) if depth_text else None
            if depth is not None and depth < 1:
                raise ValueError
        except ValueError:
            self._send(
                HTTPStatus.BAD_REQUEST, "depth must be a whole number >= 1\n", "text/plain", body
            )
            return
        try:
            page = self._page(focus, depth)
        except KeyError as exc:  # UnknownNodeError: an id that is not in the store
            self._send(HTTPStatus.NOT_FOUND, f"{exc}\n", "text/plain", body)
            return
        except Exception as exc:  # the store cannot be read now; say so and keep serving
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                f"cannot read the lineage store: {exc}\n",
                "text/plain",
                body,
            )
            return
        self._send(HTTPStatus.OK, page, "text/html", body)

    def _page(self, focus: str | None, depth: int | None) -> str:
        graph = self.server.open_graph()
        try:
            return build_page(graph, focus=focus, depth=depth if focus else None, served=True)
        finally:
            graph.close()

    def _send(self, status: HTTPStatus, text: str, kind: str, body: bool) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Security-Policy", content_security_policy(served=True))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Frame-Options", "DENY")
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            print(_printable(format % args), file=self.server.log, flush=True)


def serve(
    open_graph: Callable[[], LineageGraph],
    host: str = "127.0.0.1",
    port: int = 8765,
    out: IO[str] | None = None,
    on_ready: Callable[[str], object] | None = None,
) -> int:
    """Serve the explorer until Ctrl-C; returns 0 after a clean stop."""
    out = out or sys.stdout
    server = ExplorerServer((host, port), open_graph, log=sys.stderr)
    try:
        if not server.loopback_only:
            print(
                f"warning: serving on {_printable(host)}, not a loopback address: anyone who "
                "can reach this machine on that network can read the lineage store",
                file=sys.stderr,
                flush=True,
            )
        print(f"serving the lineage explorer at {server.url} (Ctrl-C stops)", file=out, flush=True)
        if on_ready is not None:
            on_ready(server.url)
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=out, flush=True)
    finally:
        server.server_close()
    return 0
