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
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar, cast
from urllib.parse import parse_qs, urlsplit

import requests

from graphsim.directory import Directory
from graphsim.faults import Fault, FaultPlan
from graphsim.identity_endpoint import GRAPH_RESOURCE, IDENTITY_API_VERSION, IDENTITY_PATH, IdentityEndpoint
from graphsim.identity_protection import IdentityProtection
from graphsim.users import SimulatedUser, Users, user_segment
from graphsim.wire import UNAUTHORIZED, Answer, RecordedRequest, Route, unsupported

T = TypeVar("T")

MAX_BATCH_REQUESTS = 20  # Microsoft Graph JSON batching: at most 20 requests in one $batch
_BATCH_PATH = re.compile(r"^/(v1\.0|beta)/\$batch$")

# --- Azure Resource Manager: Microsoft Sentinel incident comments ---------------------
# ARM is served on a port of its own, so its origin (`arm_url`), which the app takes as
# REVOKE_ARM_ENDPOINT, and with it the audience of the tokens the app asks for it, differ
# from Graph's (`url`).
ARM_RESOURCE = "https://management.azure.com"
# The audiences ARM accepts besides the simulator's own `arm_url`.
ARM_AUDIENCES = frozenset(
    {ARM_RESOURCE, ARM_RESOURCE + "/", "https://management.core.windows.net", "https://management.core.windows.net/"}
)
# Stable SecurityInsights versions that serve IncidentComments_CreateOrUpdate.
ARM_COMMENT_API_VERSIONS = frozenset(
    {"2023-02-01", "2023-11-01", "2024-03-01", "2024-09-01", "2025-03-01", "2025-06-01", "2025-09-01"}
)
MAX_COMMENT_CHARACTERS = 30_000  # Microsoft Sentinel service limits: characters per comment
_ARM_PATH = re.compile(r"^(/subscriptions(?:/.*)?)$", re.IGNORECASE)
_ARM_COMMENT_PATH = re.compile(
    r"^(/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.OperationalInsights/workspaces/[^/]+"
    r"/providers/Microsoft\.SecurityInsights/incidents/[^/]+)/comments/([^/]+)$",
    re.IGNORECASE,
)


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
        # Azure Resource Manager: (incident id lower-cased, comment id lower-cased) -> every message PUT there.
        self.comments: dict[tuple[str, str], list[str]] = {}
        self.arm_requests: list[RecordedRequest] = []
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

    # --- Azure Resource Manager: incident comments ------------------------------------
    @property
    def arm_url(self) -> str:
        """The ARM endpoint to configure the app with (an origin); its tokens' audience differs from Graph's."""
        assert self._arm_server is not None, "the simulator is not running"
        return f"http://127.0.0.1:{self._arm_server.server_address[1]}"

    def is_arm_token(self, token: str) -> bool:
        """Issued here for Azure Resource Manager (audience `arm_url` or one of ARM's own)."""
        audience = self.identity_endpoint.audience(token)
        return audience is not None and (audience in ARM_AUDIENCES or audience == self.arm_url)

    def record_arm(self, request: RecordedRequest) -> None:
        with self._lock:
            self.arm_requests.append(request)

    def perform_arm(self, method: str, path: str, query: str, body: bytes) -> Answer:
        """Carry out one authorized ARM request; only an incident comment's PUT is served."""
        route = _ARM_PATH.match(path)
        comment = _ARM_COMMENT_PATH.match(route.group(1)) if route else None
        if comment is None:
            return _arm_error(404, "NotFound", f"no such resource: {path}")
        if method != "PUT":
            return _arm_error(405, "MethodNotAllowed", f"{method} is not served here")
        versions = parse_qs(query).get("api-version")
        if not versions:
            return _arm_error(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
        if versions != [versions[0]] or versions[0] not in ARM_COMMENT_API_VERSIONS:
            return _arm_error(400, "NoRegisteredProviderFound", f"No registered api-version {versions[0]!r}.")
        message = _comment_message(body)
        if message is None:
            return _arm_error(400, "BadRequest", 'The body must be {"properties": {"message": string}}.')
        if len(message) > MAX_COMMENT_CHARACTERS:
            return _arm_error(
                400, "BadRequest", f"Comment length should not exceed {MAX_COMMENT_CHARACTERS} characters"
            )
        incident, comment_id = comment.group(1), comment.group(2)
        key = (incident.lower(), comment_id.lower())
        with self._lock:
            created = key not in self.comments
            self.comments.setdefault(key, []).append(message)
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        resource = {
            "id": f"{incident}/comments/{comment_id}",
            "name": comment_id,
            "type": "Microsoft.SecurityInsights/Incidents/Comments",
            "etag": f'"{uuid.uuid4()}"',
            "properties": {
                "message": message,
                "createdTimeUtc": now,
                "lastModifiedTimeUtc": now,
                "author": {"objectId": self.identity_object_id, "name": "graphsim", "userPrincipalName": None},
            },
        }
        return Answer(201 if created else 200, resource)

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
    _drip = 0.0  # seconds between the bytes of this request's answer (Fault.drip)
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
        if self.serves_arm or _ARM_PATH.match(path):
            self._serve_arm(path, body)
        elif self.command == "POST" and (batch := _BATCH_PATH.match(path)):
            self._serve_batch(batch.group(1), path, body)
        else:
            self._serve_single(path, body)

    def _authorized(self) -> bool:
        token = self._bearer()
        # A token for Azure Resource Manager is no Graph token, whoever issued it.
        return self.simulator.identity_endpoint.is_valid(token) and not self.simulator.is_arm_token(token)

    def _bearer(self) -> str:
        return self.headers.get("Authorization", "").removeprefix("Bearer ")

    # --- Azure Resource Manager: one request per HTTP request --------------------------
    def _serve_arm(self, path: str, body: bytes) -> None:
        sim = self.simulator
        token = self._bearer()
        issued, for_arm = sim.identity_endpoint.is_valid(token), sim.is_arm_token(token)
        sim.record_arm(RecordedRequest(self.command, self.path, None, issued and for_arm, body))
        fault = sim.faults.take_arm(path)
        self._pause([fault], identity=False)
        self._drip = fault.drip if fault is not None else 0.0
        if fault is not None and fault.drop:
            self._drop()
        elif fault is not None and fault.status is not None:
            self._answer_fault(fault)
        elif not issued:
            self._answer(_arm_error(401, "InvalidAuthenticationToken", "The access token is invalid."))
        elif not for_arm:
            message = "The access token has been obtained for wrong audience or resource."
            self._answer(_arm_error(401, "InvalidAuthenticationTokenAudience", message))
        else:
            self._answer(sim.perform_arm(self.command, path, urlsplit(self.path).query, body))

    # --- one request per HTTP request ------------------------------------------------
    def _serve_single(self, path: str, body: bytes) -> None:
        sim = self.simulator
        is_identity = path == IDENTITY_PATH
        authorized = self._authorized()
        sim.record(RecordedRequest(self.command, self.path, user_segment(path), authorized, body))
        fault = sim.faults.take(path, identity=is_identity)
        self._pause([fault], identity=is_identity)
        self._drip = fault.drip if fault is not None else 0.0
        if fault is not None and fault.drop:
            self._drop()
        elif fault is not None and fault.status is not None:
            self._answer_fault(fault)
        elif is_identity:
            self._identity()
        elif not authorized:
            self._answer(UNAUTHORIZED)
        else:
            self._answer(sim.perform(self.command, path, _json_body(body), urlsplit(self.path).query))

    # --- JSON batching: POST /{version}/$batch ---------------------------------------
    def _serve_batch(self, version: str, path: str, body: bytes) -> None:
        sim = self.simulator
        authorized = self._authorized()
        sim.record_batch(RecordedRequest(self.command, self.path, None, authorized, body))
        envelope_fault = sim.faults.take(path, identity=False, batch_envelope=True)
        self._drip = envelope_fault.drip if envelope_fault is not None else 0.0
        if envelope_fault is not None and (envelope_fault.drop or envelope_fault.status is not None):
            self._pause([envelope_fault], identity=False)
            self._drop() if envelope_fault.drop else self._answer_fault(envelope_fault)
            return
        try:
            items = _parse_batch(body)
        except BadBatch as problem:
            self._pause([envelope_fault], identity=False)
            self._answer(Answer(400, {"error": {"code": "BadRequest", "message": str(problem)}}))
            return
        for item in items:
            sent = item.full_path(version)
            recorded_body = b"" if item.body is None else json.dumps(item.body).encode()
            segment = user_segment(urlsplit(sent).path)
            sim.record(RecordedRequest(item.method, sent, segment, authorized, recorded_body, in_batch=True))
        if not authorized:
            self._pause([envelope_fault], identity=False)
            self._answer(UNAUTHORIZED)
            return
        item_faults = [sim.faults.take(urlsplit(item.full_path(version)).path, identity=False) for item in items]
        self._pause([envelope_fault, *item_faults], identity=False)
        if any(fault is not None and fault.drop for fault in item_faults):
            self._drop()
            return
        responses = [self._batch_response(version, item, fault) for item, fault in zip(items, item_faults, strict=True)]
        envelope: dict[str, Any] = {"responses": sim.order_batch_responses(responses)}
        if envelope_fault is not None and envelope_fault.rewrite is not None:
            self._answer(Answer(200, envelope_fault.rewrite(envelope)))
        else:
            self._answer(Answer(200, envelope))

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
        self._answer(endpoint.answer(self.headers.get("X-IDENTITY-HEADER"), urlsplit(self.path).query))

    # --- the wire ----------------------------------------------------------------------
    def _pause(self, faults: list[Fault | None], *, identity: bool) -> None:
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

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _answer(self, answer: Answer) -> None:
        self._send(answer.status, answer.body, answer.headers)

    def _answer_fault(self, fault: Fault) -> None:
        if fault.raw_body is None:
            self._answer(fault.answer())
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
        if not self._drip:
            self.wfile.write(payload)
            return
        try:  # a proxy or a sick server trickling the answer out
            for offset in range(len(payload)):
                self.wfile.write(payload[offset : offset + 1])
                self.wfile.flush()
                time.sleep(self._drip)
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


def _arm_error(status: int, code: str, message: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}})


def _comment_message(body: bytes) -> str | None:
    """`properties.message` of a comment PUT body, or None if the body is not one."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    properties = document.get("properties") if isinstance(document, dict) else None
    message = properties.get("message") if isinstance(properties, dict) else None
    return message if isinstance(message, str) else None
