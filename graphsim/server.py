"""The simulator's HTTP server: 127.0.0.1 only, real sockets, a record of every request."""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar, cast
from urllib.parse import urlsplit

import requests

from graphsim.arm import ARM_PATH, Arm
from graphsim.directory import Directory
from graphsim.faults import Fault, FaultPlan
from graphsim.identity_endpoint import GRAPH_RESOURCE, IDENTITY_API_VERSION, IDENTITY_PATH, IdentityEndpoint
from graphsim.identity_protection import IdentityProtection
from graphsim.users import SimulatedUser, Users, user_segment
from graphsim.wire import UNAUTHORIZED, Answer, RecordedRequest, Route, unsupported

T = TypeVar("T")

MAX_BATCH_REQUESTS = 20  # Microsoft Graph JSON batching: at most 20 requests in one $batch
_BATCH_PATH = re.compile(r"^/(v1\.0|beta)/\$batch$")


@dataclass(frozen=True)
class BatchItem:
    """One sub-request of a `$batch` body, as the client sent it."""

    id: str
    method: str
    url: str  # relative to the version, e.g. /users/{id}/revokeSignInSessions
    headers: dict[str, str]
    body: Any

    def full_path(self, version: str) -> str:
        return f"/{version}/{self.url.removeprefix('/')}"


class BadBatch(ValueError):
    """The `$batch` body as a whole is refused; Graph answers 400 and performs nothing."""


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
    respond_no_content: _Kept[bool] = _Kept("users")
    confirmed_compromised: _Kept[Counter[str]] = _Kept("identity_protection")
    risk_dismissed: _Kept[Counter[str]] = _Kept("identity_protection")
    dismiss_calls: _Kept[list[float]] = _Kept("identity_protection")
    licensed_for_risk: _Kept[bool] = _Kept("identity_protection")
    identity_protection_interval: _Kept[float] = _Kept("identity_protection", "interval")
    identity_protection_throttled: _Kept[int] = _Kept("identity_protection", "throttled")
    identity_header: _Kept[str] = _Kept("identity_endpoint")
    identity_object_id: _Kept[str] = _Kept("identity_endpoint")
    app_roles: _Kept[list[str]] = _Kept("identity_endpoint")
    token_claims: _Kept[dict[str, Any]] = _Kept("identity_endpoint")
    token_requests: _Kept[int] = _Kept("identity_endpoint")
    issued_tokens: _Kept[list[str]] = _Kept("identity_endpoint")
    comments: _Kept[dict[tuple[str, str], list[str]]] = _Kept("arm")
    arm_requests: _Kept[list[RecordedRequest]] = _Kept("arm", "requests")

    def __init__(
        self, *, latency: float = 0.0, respond_no_content: bool = False, shuffle_batch_responses: bool = False
    ) -> None:
        self.latency = latency
        self.users = Users(self, respond_no_content=respond_no_content)
        # Graph does not keep a batch's responses in request order; shuffling makes clients match by id.
        self.shuffle_batch_responses = shuffle_batch_responses
        self.requests: list[RecordedRequest] = []
        self.identity_protection = IdentityProtection(self.users)
        self.batch_requests = 0  # $batch POSTs received
        self.identity_endpoint = IdentityEndpoint()
        self.faults = FaultPlan()
        self._shuffler = random.Random(0)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._arm_server: ThreadingHTTPServer | None = None
        self.arm = Arm(self)  # Microsoft Sentinel incident comments
        self.directory = Directory(self)  # groups, roles, paged listings, the write quota
        self._routes = self._graph_routes()

    # --- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> GraphSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._server = self._serve("graphsim", serves_arm=False)
        self._arm_server = self._serve("graphsim-arm", serves_arm=True)

    def stop(self) -> None:
        for server in (self._server, self._arm_server):
            if server is not None:
                try:
                    server.shutdown()
                finally:
                    server.server_close()
        self._server = self._arm_server = None

    def _serve(self, name: str, *, serves_arm: bool) -> ThreadingHTTPServer:
        handler = type("BoundHandler", (_Handler,), {"simulator": self, "serves_arm": serves_arm})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True).start()
        return server

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
    def add_user(
        self, user_principal_name: str, object_id: str | None = None, *, synced: bool = False, **kind: Any
    ) -> SimulatedUser:
        """A user; a UPN with #EXT# is a B2B guest, `kind` sets the sign-in properties (graphsim.faults)."""
        return self.users.add(user_principal_name, object_id, synced=synced, **kind)

    def identity_protection_used_by_another_app(self) -> None:
        """Another app of the tenant just used Identity Protection's turn: the next second is taken."""
        self.identity_protection.used_by_another_app()

    def add_users(self, names: Iterable[str]) -> list[SimulatedUser]:
        return [self.add_user(name) for name in names]

    def user_ids(self) -> list[str]:
        return self.users.ids()

    def find_user(self, key: str) -> SimulatedUser | None:
        return self.users.find(key)

    # --- faults ----------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        self.faults.inject(fault)

    def inject_randomly(self, rate: float, faults: list[Fault], seed: int) -> None:
        """Answer a `rate` share of Graph requests with one of `faults`, picked by a seeded RNG."""
        self.faults.inject_randomly(rate, faults, seed)

    def inject_arm(self, fault: Fault) -> None:
        """A fault for ARM requests, matched on their path as sent (`identity` and `batch_envelope` unused)."""
        self.faults.inject_arm(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    # --- what was received -------------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def record_batch(self, envelope: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(envelope)
            self.batch_requests += 1

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

    def order_batch_responses(self, responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Request order, or (when shuffling) an order guaranteed to differ from it."""
        if not self.shuffle_batch_responses or len(responses) < 2:
            return responses
        with self._lock:
            shuffled = self._shuffler.sample(responses, len(responses))
        return shuffled if shuffled != responses else responses[1:] + responses[:1]

    @property
    def arm_url(self) -> str:
        """The ARM endpoint to configure the app with (an origin); its tokens' audience differs from Graph's."""
        assert self._arm_server is not None, "the simulator is not running"
        return f"http://127.0.0.1:{self._arm_server.server_address[1]}"

    # --- Graph's answers ----------------------------------------------------------------
    def perform(self, method: str, path: str, body: Any = None, query: str = "") -> Answer:
        """Carry out one authorized Graph request (single or inside a batch) and say what Graph answers."""
        if (throttled := self.directory.admit(method, path)) is not None:
            return throttled
        for route in self._routes:
            if route.method == method and (match := route.pattern.match(path)):
                return route.handle(match, body, query)
        return unsupported(method, path)

    def _graph_routes(self) -> list[Route]:
        return [
            *self.directory.routes(),
            *self.users.routes(),
            *self.identity_protection.routes(),
        ]


class _Handler(BaseHTTPRequestHandler):
    simulator: GraphSimulator
    serves_arm: bool  # the ARM port: every request is an ARM request
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
        # ARM's paths are served on Graph's port too, so a token for the wrong audience is refused as ARM refuses it.
        if self.serves_arm or ARM_PATH.match(path):
            self.simulator.arm.serve(self, path, body)
        elif self.command == "POST" and (batch := _BATCH_PATH.match(path)):
            self._serve_batch(batch.group(1), path, body)
        else:
            self._serve_single(path, body)

    def authorized(self) -> bool:
        token = self.bearer()
        # A token for Azure Resource Manager is no Graph token, whoever issued it.
        return self.simulator.identity_endpoint.is_valid(token) and not self.simulator.arm.is_arm_token(token)

    def bearer(self) -> str:
        return self.headers.get("Authorization", "").removeprefix("Bearer ")

    # --- one request per HTTP request ------------------------------------------------
    def _serve_single(self, path: str, body: bytes) -> None:
        sim = self.simulator
        is_identity = path == IDENTITY_PATH
        authorized = self.authorized()
        sim.record(RecordedRequest(self.command, self.path, user_segment(path), authorized, body))
        fault = sim.faults.take(path, identity=is_identity)
        self.pause([fault], identity=is_identity)
        self.drip = fault.drip if fault is not None else 0.0
        if fault is not None and fault.drop:
            self.drop()
        elif fault is not None and fault.status is not None:
            self.answer_fault(fault)
        elif is_identity:
            self._identity()
        elif not authorized:
            self.answer(UNAUTHORIZED)
        else:
            self.answer(sim.perform(self.command, path, _json_body(body), urlsplit(self.path).query))

    # --- JSON batching: POST /{version}/$batch ---------------------------------------
    def _serve_batch(self, version: str, path: str, body: bytes) -> None:
        sim = self.simulator
        authorized = self.authorized()
        sim.record_batch(RecordedRequest(self.command, self.path, None, authorized, body))
        envelope_fault = sim.faults.take(path, identity=False, batch_envelope=True)
        self.drip = envelope_fault.drip if envelope_fault is not None else 0.0
        if envelope_fault is not None and (envelope_fault.drop or envelope_fault.status is not None):
            self.pause([envelope_fault], identity=False)
            self.drop() if envelope_fault.drop else self.answer_fault(envelope_fault)
            return
        try:
            items = _parse_batch(body)
        except BadBatch as problem:
            self.pause([envelope_fault], identity=False)
            self.answer(Answer(400, {"error": {"code": "BadRequest", "message": str(problem)}}))
            return
        for item in items:
            sent = item.full_path(version)
            recorded_body = b"" if item.body is None else json.dumps(item.body).encode()
            segment = user_segment(urlsplit(sent).path)
            sim.record(RecordedRequest(item.method, sent, segment, authorized, recorded_body, in_batch=True))
        if not authorized:
            self.pause([envelope_fault], identity=False)
            self.answer(UNAUTHORIZED)
            return
        item_faults = [sim.faults.take(urlsplit(item.full_path(version)).path, identity=False) for item in items]
        self.pause([envelope_fault, *item_faults], identity=False)
        if any(fault is not None and fault.drop for fault in item_faults):
            self.drop()
            return
        responses = [self._batch_response(version, item, fault) for item, fault in zip(items, item_faults, strict=True)]
        envelope: dict[str, Any] = {"responses": sim.order_batch_responses(responses)}
        if envelope_fault is not None and envelope_fault.rewrite is not None:
            self.answer(Answer(200, envelope_fault.rewrite(envelope)))
        else:
            self.answer(Answer(200, envelope))

    def _batch_response(self, version: str, item: BatchItem, fault: Fault | None) -> dict[str, Any]:
        if fault is not None and fault.status is not None and fault.raw_body is not None:
            # Inside a batch, a body that is not JSON travels as a string (as Graph sends base64 content).
            answer = Answer(fault.status, fault.raw_body or None, fault.headers)
        elif fault is not None and fault.status is not None:
            answer = fault.answer()
        elif item.body is not None and not any(name.lower() == "content-type" for name in item.headers):
            message = "Content-Type header is required when a request in a batch has a body."
            answer = Answer(400, {"error": {"code": "BadRequest", "message": message}})
        else:
            sent = urlsplit(item.full_path(version))
            answer = self.simulator.perform(item.method, sent.path, item.body, sent.query)
        headers = {"Content-Type": "application/json"} if answer.body is not None else {}
        response: dict[str, Any] = {"id": item.id, "status": answer.status, "headers": {**headers, **answer.headers}}
        if answer.body is not None:
            response["body"] = answer.body
        return response

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
        self.send_header("x-ms-request-id" if self.serves_arm else "request-id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not self.drip:
            self.wfile.write(payload)
            return
        try:  # a proxy or a sick server trickling the answer out
            for offset in range(len(payload)):
                self.wfile.write(payload[offset : offset + 1])
                self.wfile.flush()
                time.sleep(self.drip)
        except OSError:
            self.close_connection = True  # the client stopped listening


def _parse_batch(body: bytes) -> list[BatchItem]:
    """The sub-requests of a `$batch` body, or `BadBatch` for anything Graph refuses as a whole."""
    try:
        document = json.loads(body)
    except ValueError:
        raise BadBatch("Unable to read the batch body as JSON.") from None
    requests = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(requests, list):
        raise BadBatch("The batch body needs a 'requests' array.")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise BadBatch("Number of requests inside batch exceed the limit.")
    items = [_batch_item(raw) for raw in requests]
    ids = [item.id.lower() for item in items]  # Graph compares ids without regard to case
    if len(set(ids)) != len(ids):
        raise BadBatch("Request ids inside a batch must be unique.")
    return items


def _batch_item(raw: Any) -> BatchItem:
    if not isinstance(raw, dict):
        raise BadBatch("Each request inside a batch must be an object.")
    item_id, method, url, headers = raw.get("id"), raw.get("method"), raw.get("url"), raw.get("headers", {})
    if not (isinstance(item_id, str) and item_id and isinstance(method, str) and isinstance(url, str) and url):
        raise BadBatch("Each request inside a batch needs a string 'id', 'method' and 'url'.")
    if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
        raise BadBatch("A request's 'headers' inside a batch must be an object of strings.")
    return BatchItem(item_id, method.upper(), url, headers, raw.get("body"))


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
