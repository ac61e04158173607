"""The simulator's HTTP server: 127.0.0.1 only, real sockets, a record of every request."""

from __future__ import annotations

import json
import random
import re
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

IDENTITY_PATH = "/msi/token"
IDENTITY_API_VERSION = "2019-08-01"
TOKEN_LIFETIME_SECONDS = 3600
_ACTION_PATH = re.compile(r"^/(v1\.0|beta)/users/([^/]+)/(revokeSignInSessions|invalidateAllRefreshTokens)$")
_USER_PATH = re.compile(r"^/(v1\.0|beta)/users/([^/]+)$")
_BATCH_PATH = re.compile(r"^/(v1\.0|beta)/\$batch$")


@dataclass
class Fault:
    """An injected failure: answer `status` (with `headers`), drop the connection, or stall.

    `match` picks the requests it applies to (by their path); `times` is how many it
    spends itself on (None: every matching request).
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    drop: bool = False
    delay: float = 0.0
    match: Callable[[str], bool] = lambda path: True
    times: int | None = 1
    identity: bool = False  # applies to the managed-identity endpoint instead of Graph


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent on the wire, percent-encoding intact
    user_segment: str | None  # the decoded user segment of a /users/{id} path
    authorized: bool
    body: bytes = b""


@dataclass(frozen=True)
class SimulatedUser:
    object_id: str
    user_principal_name: str


class GraphSimulator:
    """Start with `with GraphSimulator() as sim:`; point the app at `sim.environment()`."""

    def __init__(self, *, latency: float = 0.0, respond_no_content: bool = False) -> None:
        self.latency = latency
        self.respond_no_content = respond_no_content
        self.identity_header = secrets.token_hex(16)
        self.requests: list[RecordedRequest] = []
        self.revocations: Counter[str] = Counter()  # object id -> revocations performed
        self.token_requests = 0
        self.issued_tokens: list[str] = []
        self._users: dict[str, SimulatedUser] = {}
        self._faults: list[Fault] = []
        self._random_faults: tuple[float, random.Random, list[Fault]] | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> GraphSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("BoundHandler", (_Handler,), {"simulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="graphsim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            try:
                self._server.shutdown()
            finally:
                self._server.server_close()
                self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the simulator is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def environment(self) -> dict[str, str]:
        """The app settings that point the function app and azure-identity at this simulator."""
        return {
            "IDENTITY_ENDPOINT": self.url + IDENTITY_PATH,
            "IDENTITY_HEADER": self.identity_header,
            "REVOKE_GRAPH_ENDPOINT": self.url,
        }

    # --- the directory ---------------------------------------------------------------
    def add_user(self, user_principal_name: str, object_id: str | None = None) -> SimulatedUser:
        user = SimulatedUser(object_id or str(uuid.uuid4()), user_principal_name)
        with self._lock:
            self._users[user.object_id.lower()] = user
            self._users[user_principal_name.lower()] = user
        return user

    def add_users(self, names: Iterable[str]) -> list[SimulatedUser]:
        return [self.add_user(name) for name in names]

    def find_user(self, key: str) -> SimulatedUser | None:
        with self._lock:
            return self._users.get(key.lower())

    # --- faults ----------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def inject_randomly(self, rate: float, faults: list[Fault], seed: int) -> None:
        """Answer a `rate` share of Graph requests with one of `faults`, picked by a seeded RNG."""
        with self._lock:
            self._random_faults = (rate, random.Random(seed), faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._random_faults = None

    def take_fault(self, path: str, *, identity: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.identity == identity and fault.match(path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
            if self._random_faults and not identity:
                rate, rng, choices = self._random_faults
                if rng.random() < rate:
                    return rng.choice(choices)
        return None

    # --- what was received -------------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def graph_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if not r.path.startswith(IDENTITY_PATH)]

    def issue_token(self) -> str:
        token = "sim-" + secrets.token_urlsafe(24)
        with self._lock:
            self.token_requests += 1
            self.issued_tokens.append(token)
        return token

    def token_is_valid(self, token: str) -> bool:
        with self._lock:
            return token in self.issued_tokens

    def revoke(self, user: SimulatedUser) -> None:
        with self._lock:
            self.revocations[user.object_id] += 1


class _Handler(BaseHTTPRequestHandler):
    simulator: GraphSimulator
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle adds ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        sim = self.simulator
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw_path = self.path
        path = urlsplit(raw_path).path
        is_identity = path == IDENTITY_PATH
        user_match = _ACTION_PATH.match(path) or _USER_PATH.match(path)
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        sim.record(
            RecordedRequest(
                self.command,
                raw_path,
                unquote(user_match.group(2)) if user_match else None,
                sim.token_is_valid(token),
                body,
            )
        )
        fault = sim.take_fault(path, identity=is_identity)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        elif not is_identity and sim.latency:
            time.sleep(sim.latency)
        if fault is not None and fault.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.status is not None:
            error = fault.body or {"error": {"code": _code_for(fault.status), "message": "injected by the simulator"}}
            self._send(fault.status, error, fault.headers)
            return
        if is_identity:
            self._identity()
        elif not sim.token_is_valid(token):
            self._send(
                401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty or invalid."}}
            )
        elif self.command == "POST" and (action := _ACTION_PATH.match(path)):
            self._revoke(action)
        elif self.command == "GET" and (lookup := _USER_PATH.match(path)):
            self._get_user(lookup)
        else:
            self._send(400, {"error": {"code": "BadRequest", "message": f"unsupported: {self.command} {path}"}})

    def _identity(self) -> None:
        sim = self.simulator
        query = parse_qs(urlsplit(self.path).query)
        if self.headers.get("X-IDENTITY-HEADER") != sim.identity_header:
            self._send(401, {"error": "unauthorized", "error_description": "missing or wrong X-IDENTITY-HEADER"})
            return
        if query.get("api-version") != [IDENTITY_API_VERSION] or not query.get("resource"):
            self._send(400, {"error": "invalid_request", "error_description": "api-version and resource required"})
            return
        now = int(time.time())
        self._send(
            200,
            {
                "access_token": sim.issue_token(),
                "expires_on": str(now + TOKEN_LIFETIME_SECONDS),
                "resource": query["resource"][0],
                "token_type": "Bearer",
                "client_id": (query.get("client_id") or ["00000000-0000-0000-0000-000000000000"])[0],
            },
        )

    def _revoke(self, match: re.Match[str]) -> None:
        version, segment, action = match.groups()
        if action == "invalidateAllRefreshTokens" and version != "beta":
            self._send(400, {"error": {"code": "BadRequest", "message": "Resource not found for the segment."}})
            return
        user = self.simulator.find_user(unquote(segment))
        if user is None:
            self._send(404, _not_found(segment))
            return
        self.simulator.revoke(user)
        if self.simulator.respond_no_content:
            self._send(204, None)
        else:
            self._send(200, {"@odata.context": f"{self.simulator.url}/{version}/$metadata#Edm.Boolean", "value": True})

    def _get_user(self, match: re.Match[str]) -> None:
        _version, segment = match.groups()
        user = self.simulator.find_user(unquote(segment))
        if user is None:
            self._send(404, _not_found(segment))
        else:
            self._send(200, {"id": user.object_id, "userPrincipalName": user.user_principal_name})

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("request-id", str(uuid.uuid4()))
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _not_found(segment: str) -> dict[str, Any]:
    return {"error": {"code": "Request_ResourceNotFound", "message": f"Resource '{unquote(segment)}' does not exist."}}


def _code_for(status: int) -> str:
    return {
        400: "BadRequest",
        401: "InvalidAuthenticationToken",
        403: "Authorization_RequestDenied",
        404: "Request_ResourceNotFound",
        429: "TooManyRequests",
        500: "InternalServerError",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "GatewayTimeout",
    }.get(status, "UnknownError")
