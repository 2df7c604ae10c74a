"""A stand-in Slack Web API on loopback: slack_sdk posts to it, and it keeps what it was sent.

It can be told to fail (HTTP 500) a number of times, to show that an alert survives a Slack outage.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class SlackStandIn:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.failures_left = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # shutdown() waits for the serving loop's next poll: at the default 0.5 s every test with a stack
        # paid half a second to stop its stand-in.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        """The base URL to give slack_sdk's WebClient (``.../api/``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def __enter__(self) -> SlackStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int) -> None:
        with self._lock:
            self.failures_left = count

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                with standin._lock:
                    failing = standin.failures_left > 0
                    if failing:
                        standin.failures_left -= 1
                    else:
                        standin.posts.append({"method": self.path.rsplit("/", 1)[-1], **_payload(self.headers, raw)})
                status, body = (500, {"ok": False, "error": "internal_error"}) if failing else (200, {"ok": True})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _payload(headers: Any, raw: str) -> dict[str, Any]:
    if "json" in (headers.get("Content-Type") or ""):
        payload: dict[str, Any] = json.loads(raw or "{}")
        return payload
    return {key: values[-1] for key, values in parse_qs(raw).items()}
