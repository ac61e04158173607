"""What one call puts on the wire: the session's own headers, the token, the JSON body, nothing else.

The transport prepares each request itself (revoke.graph.transport.GraphTransport._prepared) rather than
through `Session.request`; these tests hold it to what `Session.request` sent, minus what Graph never needs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from revoke.deadline import Deadline
from revoke.graph.transport import GraphCall, GraphTransport, pooled_session

TOKEN = "token-for-the-wire-test"


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Recorder.seen.append((self.command, self.path, dict(self.headers.items()), body))
        payload = json.dumps({"responses": [{"id": "0", "status": 200, "body": {"value": True}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Set-Cookie", "affinity=server-7; Path=/")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_batch_carries_the_token_the_json_body_and_the_sessions_headers(endpoint: str) -> None:
    session = pooled_session(2)
    transport = GraphTransport(endpoint, session)
    call = GraphCall("POST", "/users/0b9b9e1e-1111-2222-3333-444455556666/revokeSignInSessions")

    replies = transport.send_batch([(0, call)], TOKEN, Deadline(10))

    assert replies[0].status == 200
    [(method, path, headers, body)] = Recorder.seen
    assert (method, path) == ("POST", "/v1.0/$batch")
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))
    assert headers["User-Agent"] == requests.utils.default_user_agent()
    assert headers["Accept-Encoding"] == session.headers["Accept-Encoding"]
    assert json.loads(body) == {"requests": [{"id": "0", "method": "POST", "url": call.path}]}


def test_a_cookie_an_answer_sets_is_never_sent_back(endpoint: str) -> None:
    transport = GraphTransport(endpoint, pooled_session(2))
    call = GraphCall("POST", "/users/0b9b9e1e-1111-2222-3333-444455556666/revokeSignInSessions")

    transport.send_batch([(0, call)], TOKEN, Deadline(10))
    transport.send_batch([(0, call)], TOKEN, Deadline(10))

    assert len(Recorder.seen) == 2
    assert all("Cookie" not in headers for _, _, headers, _ in Recorder.seen)
