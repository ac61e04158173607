"""The simulator's HTTP server: 127.0.0.1 only, real sockets, a record of every request.

`GraphSimulator` is what tests hold; `_Handler` reads each HTTP request and hands it to
the concern that answers it, each in a module of its own:

    users.py                GET and PATCH /users/{id}, revokeSignInSessions, invalidateAllRefreshTokens;
                            a synced user's Active Directory account, and the directory sync;
                            which users a look-up's $filter names
    identity_protection.py  riskyUsers/confirmCompromised and riskyUsers/dismiss
    defender_identity.py    Defender for Identity's identity accounts: list, get, invokeAction
    directory.py            listings of users (a look-up by $filter, the on-premises SID filter), group and role
                            members; Graph's write quota
    batching.py             POST /{version}/$batch
    identity_endpoint.py    the managed-identity endpoint and the tokens it issues
    arm.py                  Azure Resource Manager (its own port): Sentinel incident comments and tasks
    ingestion.py            the Logs Ingestion API (its own port, HTTPS: tls.py): the audit table's rule
    faults.py               the faults tests inject, and the plan that spends them
    wire.py                 what they share: RecordedRequest, Answer, Route, Exchange
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar, cast
from urllib.parse import urlsplit

import requests

from graphsim.arm import ARM_PATH, Arm
from graphsim.batching import BATCH_PATH, Batches
from graphsim.defender_identity import DefenderIdentity
from graphsim.directory import Directory
from graphsim.faults import Fault, FaultPlan
from graphsim.identity_endpoint import GRAPH_RESOURCE, IDENTITY_API_VERSION, IDENTITY_PATH, IdentityEndpoint
from graphsim.identity_protection import IdentityProtection
from graphsim.ingestion import LogsIngestion
from graphsim.tls import authority_bundle, server_context
from graphsim.users import DIRECTORY_SYNC_PATH, SimulatedUser, Users, filter_values, user_segment
from graphsim.wire import UNAUTHORIZED, Answer, RecordedRequest, unsupported

T = TypeVar("T")

# The loopback ports served, by name, each with its serving thread's name; ARM's is its own (graphsim.arm),
# and so is the Logs Ingestion API's, which alone is served over TLS (graphsim.ingestion).
_PORTS = {"graph": "graphsim", "arm": "graphsim-arm", "ingestion": "graphsim-ingestion"}
_TLS_PORTS = frozenset({"ingestion"})


class _Kept(Generic[T]):
    """A simulator attribute one of its collaborators keeps: `sim.revocations` is `sim.users.revocations`."""

    def __init__(self, collaborator: str, name: str = "") -> None:
        self._collaborator = collaborator
        self._name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = self._name or name

    def __get__(self, simulator: object, owner: type | None = None) -> T:
        return cast(T, getattr(getattr(simulator, self._collaborator), self._name))

    def __set__(self, simulator: object, value: T) -> None:
        setattr(getattr(simulator, self._collaborator), self._name, value)


class GraphSimulator:
    """Start with `with GraphSimulator() as sim:`; point the app at `sim.environment()`."""

    # What tests read and set, kept by the collaborator that serves it.
    revocations: _Kept[Counter[str]] = _Kept("users")
    disabled: _Kept[set[str]] = _Kept("users")
    enabled: _Kept[Counter[str]] = _Kept("users")
    active_directory_disabled: _Kept[set[str]] = _Kept("users")
    password_resets: _Kept[Counter[str]] = _Kept("users")
    directory_syncs: _Kept[int] = _Kept("users")
    respond_no_content: _Kept[bool] = _Kept("users")
    confirmed_compromised: _Kept[Counter[str]] = _Kept("identity_protection")
    risk_dismissed: _Kept[Counter[str]] = _Kept("identity_protection")
    dismiss_calls: _Kept[list[float]] = _Kept("identity_protection")
    licensed_for_risk: _Kept[bool] = _Kept("identity_protection")
    identity_protection_interval: _Kept[float] = _Kept("identity_protection", "interval")
    identity_protection_throttled: _Kept[int] = _Kept("identity_protection", "throttled")
    shuffle_batch_responses: _Kept[bool] = _Kept("batches", "shuffle_responses")
    batch_requests: _Kept[int] = _Kept("batches", "received")
    identity_header: _Kept[str] = _Kept("identity_endpoint")
    identity_object_id: _Kept[str] = _Kept("identity_endpoint")
    app_roles: _Kept[list[str]] = _Kept("identity_endpoint")
    token_claims: _Kept[dict[str, Any]] = _Kept("identity_endpoint")
    token_requests: _Kept[int] = _Kept("identity_endpoint")
    issued_tokens: _Kept[list[str]] = _Kept("identity_endpoint")
    comments: _Kept[dict[tuple[str, str], list[str]]] = _Kept("arm")
    tasks: _Kept[dict[tuple[str, str], list[dict[str, Any]]]] = _Kept("arm")
    arm_requests: _Kept[list[RecordedRequest]] = _Kept("arm", "requests")

    def __init__(
        self, *, latency: float = 0.0, respond_no_content: bool = False, shuffle_batch_responses: bool = False
    ) -> None:
        self.latency = latency
        self.requests: list[RecordedRequest] = []  # Graph's and the identity endpoint's, sub-requests included
        self._lock = threading.Lock()
        self._servers: dict[str, ThreadingHTTPServer] = {}  # port name -> its server, while running
        self.faults = FaultPlan()
        self.identity_endpoint = IdentityEndpoint()
        self.users = Users(self, respond_no_content=respond_no_content)
        self.identity_protection = IdentityProtection(self.users)
        self.defender_identity = DefenderIdentity(self.users)
        self.directory = Directory(self)  # groups, roles, paged listings, the write quota
        self.batches = Batches(self, shuffle_responses=shuffle_batch_responses)
        self.arm = Arm(self)
        self.ingestion = LogsIngestion(self)
        # Every Graph request the simulator answers, by the concern that answers it.
        self._routes = [
            *self.directory.routes(),
            *self.users.routes(),
            *self.identity_protection.routes(),
            *self.defender_identity.routes(),
        ]

    # --- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> GraphSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for port in _PORTS:
            self._servers[port] = self._serve(port)

    def stop(self) -> None:
        for server in self._servers.values():
            try:
                server.shutdown()
            finally:
                server.server_close()
        self._servers.clear()

    def _serve(self, port: str) -> ThreadingHTTPServer:
        handler = type("BoundHandler", (_Handler,), {"simulator": self, "port": port})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        if port in _TLS_PORTS:
            # The handshake happens on the handler's first read, on its own thread, not in accept().
            server.socket = server_context().wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        threading.Thread(target=server.serve_forever, args=(0.05,), name=_PORTS[port], daemon=True).start()
        return server

    def _origin(self, port: str) -> str:
        assert port in self._servers, "the simulator is not running"
        scheme = "https" if port in _TLS_PORTS else "http"
        return f"{scheme}://127.0.0.1:{self._servers[port].server_address[1]}"

    @property
    def url(self) -> str:
        return self._origin("graph")

    @property
    def arm_url(self) -> str:
        """The ARM endpoint to configure the app with (an origin); its tokens' audience differs from Graph's."""
        return self._origin("arm")

    @property
    def ingestion_url(self) -> str:
        """The audit table's rule endpoint (its `logsIngestion`): https, its authority in `ingestion_environment()`."""
        return self._origin("ingestion")

    def ingestion_environment(self) -> dict[str, str]:
        """The app settings that send the audit events to the simulated rule, and trust its certificate."""
        return {
            "REVOKE_AUDIT_DCR_ENDPOINT": self.ingestion_url,
            "REVOKE_AUDIT_DCR_ID": self.ingestion.rule_id,
            "REVOKE_AUDIT_STREAM": self.ingestion.stream,
            "REQUESTS_CA_BUNDLE": str(authority_bundle()),
        }

    def environment(self) -> dict[str, str]:
        """The app settings that point the function app and azure-identity at this simulator."""
        return {
            "IDENTITY_ENDPOINT": self.url + IDENTITY_PATH,
            "IDENTITY_HEADER": self.identity_header,
            "REVOKE_GRAPH_ENDPOINT": self.url,
        }

    # --- the tenant ------------------------------------------------------------------
    def add_user(
        self, user_principal_name: str, object_id: str | None = None, *, synced: bool = False, **kind: Any
    ) -> SimulatedUser:
        """A user; a UPN with #EXT# is a B2B guest, `kind` sets the sign-in properties (graphsim.faults)."""
        return self.users.add(user_principal_name, object_id, synced=synced, **kind)

    def add_users(self, names: Iterable[str]) -> list[SimulatedUser]:
        return [self.add_user(name) for name in names]

    def user_ids(self) -> list[str]:
        return self.users.ids()

    def find_user(self, key: str) -> SimulatedUser | None:
        return self.users.find(key)

    def directory_sync(self) -> dict[str, list[str]]:
        """One Entra Connect sync cycle: synced users take their Active Directory account's state (graphsim.users)."""
        return self.users.directory_sync()

    def identity_protection_used_by_another_app(self) -> None:
        """Another app of the tenant just used Identity Protection's turn: the next second is taken."""
        self.identity_protection.used_by_another_app()

    # --- faults ----------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        self.faults.inject(fault)

    def inject_randomly(self, rate: float, faults: list[Fault], seed: int) -> None:
        """Answer a `rate` share of Graph requests with one of `faults`, picked by a seeded RNG."""
        self.faults.inject_randomly(rate, faults, seed)

    def inject_arm(self, fault: Fault) -> None:
        """A fault for ARM requests, matched on their path as sent (`identity` and `batch_envelope` unused)."""
        self.faults.inject_arm(fault)

    def inject_ingestion(self, fault: Fault) -> None:
        """A fault for the Logs Ingestion endpoint, matched on the path as sent (`identity` and `batch_envelope` unused)."""
        self.faults.inject_ingestion(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    # --- what was received, and tokens -------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def graph_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if not r.path.startswith(IDENTITY_PATH)]

    def issue_token(self, resource: str = GRAPH_RESOURCE) -> str:
        """A JWT-shaped access token: its claims (`aud`, `roles`) as Entra ID issues them, signature random."""
        return self.identity_endpoint.issue(resource)

    def request_token(self, resource: str = "https://graph.microsoft.com") -> str:
        """A token fetched over HTTP the way a managed-identity client asks, for callers outside the app."""
        response = requests.get(
            self.url + IDENTITY_PATH,
            params={"api-version": IDENTITY_API_VERSION, "resource": resource},
            headers={"X-IDENTITY-HEADER": self.identity_header},
            timeout=5,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    # --- Graph's answers ----------------------------------------------------------------
    def perform(self, method: str, path: str, body: Any = None, query: str = "") -> Answer:
        """Carry out one authorized Graph request (single or inside a batch) and say what Graph answers."""
        if (throttled := self.directory.admit(method, path)) is not None:
            return throttled
        for route in self._routes:
            if route.method == method and (match := route.pattern.match(path)):
                return route.handle(match, body, query)
        return unsupported(method, path)


class _Handler(BaseHTTPRequestHandler):
    simulator: GraphSimulator
    port: str  # which of _PORTS it serves: on "arm", every request is an ARM request
    protocol_version = "HTTP/1.1"
    drip = 0.0  # seconds between the bytes of this request's answer (Fault.drip)
    _arrived = 0.0  # time.monotonic() when the request being served arrived
    _latency_due = False  # the round trip's latency is still to be waited before answering

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

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self._arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if self.port == "ingestion":
            self.simulator.ingestion.serve(self, path, body)
            return
        # ARM's paths are served on Graph's port too, so a token for the wrong audience is refused as ARM refuses it.
        if self.port == "arm" or ARM_PATH.match(path):
            self.simulator.arm.serve(self, path, body)
        elif self.command == "POST" and path == DIRECTORY_SYNC_PATH:
            # The simulator's own control, not Graph: no token, not recorded as a Graph request.
            self.answer(Answer(200, self.simulator.directory_sync()))
        elif self.command == "POST" and (batch := BATCH_PATH.match(path)):
            self.simulator.batches.serve(self, batch.group(1), path, body)
        else:
            self._serve_single(path, body)

    def authorized(self) -> bool:
        token = self.bearer()
        # A token for Azure Resource Manager is no Graph token, whoever issued it.
        return self.simulator.identity_endpoint.is_valid(token) and not self.simulator.arm.is_arm_token(token)

    def bearer(self) -> str:
        return self.headers.get("Authorization", "").removeprefix("Bearer ")

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    # --- one request per HTTP request ------------------------------------------------
    def _serve_single(self, path: str, body: bytes) -> None:
        sim = self.simulator
        is_identity = path == IDENTITY_PATH
        authorized = self.authorized()
        values = filter_values(path, urlsplit(self.path).query)
        sim.record(RecordedRequest(self.command, self.path, user_segment(path), authorized, body, False, values))
        fault = sim.faults.take(path, identity=is_identity, method=self.command)
        if self.open_with(fault, identity=is_identity):
            return
        if is_identity:
            self._identity()
        elif not authorized:
            self.answer(UNAUTHORIZED)
        else:
            answer = sim.perform(self.command, path, _json_body(body), urlsplit(self.path).query)
            self.answer(fault.replace(answer) if fault is not None and fault.replace is not None else answer)

    # --- the managed-identity endpoint -----------------------------------------------
    def _identity(self) -> None:
        endpoint = self.simulator.identity_endpoint
        self.answer(endpoint.answer(self.headers.get("X-IDENTITY-HEADER"), urlsplit(self.path).query))

    # --- the wire ----------------------------------------------------------------------
    def pause(self, faults: list[Fault | None], *, identity: bool) -> None:
        """The longest injected delay now; else one round trip's latency, made up when the answer goes out.

        The latency is the time from the request's arrival to its answer, the simulator's own
        work included (as Graph's is in a real round trip): its threads share one interpreter,
        so work added on top would grow with the requests in flight, which Graph's does not.
        """
        delays = [fault.delay for fault in faults if fault is not None and fault.delay]
        if delays:
            time.sleep(max(delays))
        elif not identity and self.simulator.latency:
            self._latency_due = True

    def open_with(self, fault: Fault | None, *, identity: bool) -> bool:
        self.pause([fault], identity=identity)
        self.drip = fault.drip if fault is not None else 0.0
        if fault is not None and fault.drop:
            self.drop()
            return True
        if fault is not None and fault.status is not None:
            self.answer_fault(fault)
            return True
        return False

    def drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def answer(self, answer: Answer) -> None:
        self._send(answer.status, answer.body, answer.headers)

    def answer_fault(self, fault: Fault) -> None:
        if fault.raw_body is None:
            self.answer(fault.answer())
            return
        raw = (
            fault.raw_body.replace("{token}", self.simulator.issue_token())
            if "{token}" in fault.raw_body
            else fault.raw_body
        )
        self._send_raw(fault.status or 500, raw.encode(), fault.headers)

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        content_type = {"Content-Type": "application/json"} if payload else {}
        self._send_raw(status, payload, {**content_type, **(headers or {})})

    def _send_raw(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        if self._latency_due:
            self._latency_due = False
            time.sleep(max(0.0, self.simulator.latency - (time.monotonic() - self._arrived)))
        self.send_response(status)
        # Graph names its request id `request-id`; Azure Resource Manager, `x-ms-request-id`.
        self.send_header("x-ms-request-id" if self.port == "arm" else "request-id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.drip and not payload:
            self._drip_head()
            return
        self.end_headers()
        if not self.drip:
            self.wfile.write(payload)
            return
        self._trickle(payload)

    def _drip_head(self) -> None:
        """An answer without a body (a 204) trickles out its status line and headers instead."""
        buffered: list[bytes] = getattr(self, "_headers_buffer", [])  # what send_header() collected
        head = b"".join([*buffered, b"\r\n"])
        buffered.clear()
        self._trickle(head)

    def _trickle(self, data: bytes) -> None:
        """`data` a byte at a time, `drip` seconds apart: a proxy or a sick server trickling the answer out."""
        try:
            for offset in range(len(data)):
                self.wfile.write(data[offset : offset + 1])
                self.wfile.flush()
                time.sleep(self.drip)
        except OSError:
            self.close_connection = True  # the client stopped listening


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
