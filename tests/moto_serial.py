"""moto's server mode, answering one request at a time.

DynamoDB applies each request atomically: a conditional write's check and its write are one
step, so of two concurrent "create if absent" transactions exactly one succeeds. moto's
threaded server runs requests side by side without that guarantee, and under load both can
pass the check (seen: two data keys created for one customer). The audit key store's
contract relies on the real service's atomicity, so its tests get a server that has it:
moto's own application behind one lock, still threaded (and HTTP/1.1) for its connections.

Usage: python tests/moto_serial.py HOST PORT
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class OneAtATime:
    """WSGI middleware: the whole request, body included, under one lock."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Any) -> list[bytes]:
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))  # as moto.server sets it
    run_simple(host, port, OneAtATime(DomainDispatcherApplication(create_backend_app)),
               threaded=True, request_handler=MotoRequestHandler)
