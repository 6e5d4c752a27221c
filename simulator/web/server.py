"""``simulate serve``: the application on uvicorn, on 127.0.0.1 unless
another interface is asked for explicitly."""
from __future__ import annotations

import socket
import sys
import threading
import webbrowser

import uvicorn

from .app import create_app

LOCAL = "127.0.0.1"


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound and listening (port 0: a free one), so that the URL
    printed is the one served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def serve(host: str | None = None, port: int = 8000, open_browser: bool = False,
          stream=None) -> None:
    """Serve the page until interrupted (Ctrl-C); says where on ``stream``
    (stdout).  ``host`` None: 127.0.0.1 only."""
    stream = stream or sys.stdout
    explicit = host is not None
    host = host or LOCAL
    sock = listening_socket(host, port)
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    # another interface: the Host header is the machine's name or address, whatever it is
    def started():          # said once serving: a Ctrl-C from then on stops the server
        print(f"simulate: serving {url} (Ctrl-C to stop)", file=stream, flush=True)
        if open_browser:
            threading.Timer(0.5, webbrowser.open, args=(url.replace("0.0.0.0", LOCAL),)).start()

    app = create_app(allowed_hosts=None if explicit and host != LOCAL else
                     ("127.0.0.1", "localhost"), started=started)
    if explicit and host != LOCAL:
        print(f"simulate: warning: serving on {host}, not only this computer: anyone who can "
              "reach it can run plans here; use it only on a network you trust", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                           access_log=False))
    server.run(sockets=[sock])
