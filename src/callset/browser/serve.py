"""Serve a built site on 127.0.0.1 with the standard library (``http.server``): static files only."""

from __future__ import annotations

import functools
import logging
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from callset.browser import BrowserError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript; charset=utf-8"}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("%s " + format, self.address_string(), *args)


def make_server(site: str | os.PathLike[str], *, port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server for ``site`` bound to 127.0.0.1 (``port`` 0: any free port; see ``server_address``)."""
    root = Path(site)
    if not (root / "index.html").is_file() or not (root / "data" / "meta.js").is_file():
        raise BrowserError(f"{root}: not a browser site (no index.html / data/meta.js); build it with "
                           "`callset browser build`")
    handler = functools.partial(_Handler, directory=str(root))
    return ThreadingHTTPServer((HOST, port), handler)


def start_in_thread(site: str | os.PathLike[str], *, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``site`` from a daemon thread; return the server (call ``shutdown()``) and its base URL."""
    server = make_server(site, port=port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{HOST}:{server.server_address[1]}/"


def serve(site: str | os.PathLike[str], *, port: int = 8000) -> None:
    """Serve ``site`` until interrupted (Ctrl-C)."""
    server = make_server(site, port=port)
    print(f"callset browser: serving {site} at http://{HOST}:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
