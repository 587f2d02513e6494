"""A local system's webhook receiver for tests: verifies each delivery's Standard Webhooks
signature with the reference library and records it; can be switched down (503)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


class Receiver:
    def __init__(self) -> None:
        self.secret = ""  # the subscription's secret, set once the subscription exists
        self.down = False
        self.events: list[tuple[str, dict[str, Any]]] = []  # (webhook-id, event), accepted ones
        self.refused = 0  # answered 503 (down) or 401 (bad signature)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = receiver.take(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            if self.down:
                self.refused += 1
                return 503
            try:
                event = Webhook(self.secret).verify(body, headers)
            except Exception:  # any verification failure: refuse, as a real receiver does
                self.refused += 1
                return 401
            self.events.append((headers["webhook-id"], json.loads(json.dumps(event))))
            return 204

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
