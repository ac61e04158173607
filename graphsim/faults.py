"""Injected faults: what one is (`Fault`), the plan that spends each on the requests it matches
(`FaultPlan`), and ready-made ones that need more than `Fault`'s fields.

The ready-made ones: users of every kind, answers about someone else, a black-holed address,
and tokens no reader should choke on.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphsim.users import USER_PATH, USERS_PATH, SimulatedUser
from graphsim.wire import Answer


@dataclass
class Fault:
    """An injected failure: answer `status` (with `headers`), drop the connection, or stall.

    `match` picks the requests it applies to (by their path), `method` (None: any) by their
    method, so a fault for a PATCH of /users/{id} spares the look-up's GET of the same path;
    `times` is how many it spends itself on (None: every matching request).

    Inside a `$batch`, a fault applies to each sub-request, matched on its full path
    (`/v1.0/users/{id}/revokeSignInSessions`): a `status` becomes that item's answer
    inside a 200 batch. A response cannot be half delivered, so a sub-request's `drop`
    drops the whole batch (and nothing in it is performed) and its `delay` delays the
    whole batch. With `batch_envelope=True` the fault applies to the `$batch` POST itself
    instead (a whole-batch 503, a dropped batch) and never to a sub-request.

    Answers that a misbehaving Graph, identity endpoint or proxy gives: `raw_body` is sent
    as it is (HTML, truncated or empty JSON), with every `{token}` in it replaced by a
    freshly issued access token, so a test can see whether the token reaches a log.
    `rewrite` (with `batch_envelope=True`) performs the batch for real and then sends
    `rewrite(envelope)` instead of the true answer: Graph did the work but the client
    cannot read that it did. `replace` (for a request or a sub-request) performs it for real
    and answers `replace(answer)` instead: an answer about someone else, or a look-up's
    collection with a user added, repeated or left out.
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    raw_body: str | None = None
    rewrite: Callable[[dict[str, Any]], Any] | None = None
    replace: Callable[[Answer], Answer] | None = None
    drop: bool = False
    delay: float = 0.0
    match: Callable[[str], bool] = lambda path: True
    times: int | None = 1
    drip: float = 0.0  # send the answer (performed as usual) one byte per `drip` seconds
    identity: bool = False  # applies to the managed-identity endpoint instead of Graph
    batch_envelope: bool = False  # applies to a $batch POST itself instead of its sub-requests
    method: str | None = None  # applies to requests of this method only (None: any)

    def answer(self) -> Answer:
        """What Graph answers in the request's place: `status` with `body`, or Graph's error for the status."""
        body = self.body
        if body is None and not 200 <= (self.status or 500) < 400:
            body = {"error": {"code": _code_for(self.status or 500), "message": "injected by the simulator"}}
        return Answer(self.status or 500, body, self.headers)


class FaultPlan:
    """The faults injected into one simulator: each is taken by the next request it applies to."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._random_faults: tuple[float, random.Random, list[Fault]] | None = None
        self._arm_faults: list[Fault] = []
        self._ingestion_faults: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def inject_randomly(self, rate: float, faults: list[Fault], seed: int) -> None:
        with self._lock:
            self._random_faults = (rate, random.Random(seed), faults)

    def inject_arm(self, fault: Fault) -> None:
        with self._lock:
            self._arm_faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._random_faults = None
            self._arm_faults.clear()
            self._ingestion_faults.clear()

    def take(
        self, path: str, *, identity: bool, batch_envelope: bool = False, method: str | None = None
    ) -> Fault | None:
        """The fault for a Graph or identity request (or a `$batch` POST itself) to `path`, if any."""

        def applies(fault: Fault) -> bool:
            same_method = fault.method is None or method is None or fault.method == method
            return fault.identity == identity and fault.batch_envelope == batch_envelope and same_method

        with self._lock:
            for fault in self._faults:
                if applies(fault) and fault.match(path):
                    return _spend(fault, self._faults)
            if self._random_faults and not identity:
                rate, rng, choices = self._random_faults
                candidates = [fault for fault in choices if applies(fault)]
                if candidates and rng.random() < rate:
                    return rng.choice(candidates)
        return None

    def inject_ingestion(self, fault: Fault) -> None:
        with self._lock:
            self._ingestion_faults.append(fault)

    def take_ingestion(self, path: str) -> Fault | None:
        return self._take_first(self._ingestion_faults, path)

    def take_arm(self, path: str) -> Fault | None:
        return self._take_first(self._arm_faults, path)

    def _take_first(self, faults: list[Fault], path: str) -> Fault | None:
        """The first of `faults` that matches `path`, one of its times spent; None if none does."""
        with self._lock:
            for fault in faults:
                if fault.match(path):
                    return _spend(fault, faults)
        return None


def _spend(fault: Fault, faults: list[Fault]) -> Fault:
    """`fault`, one of its `times` spent: it leaves `faults` when none is left."""
    if fault.times is not None:
        fault.times -= 1
        if fault.times <= 0:
            faults.remove(fault)
    return fault


# A B2B collaboration user invited as a member: signed in by their home tenant, and no #EXT# in the UPN.
EXTERNAL_MEMBER: dict[str, Any] = {
    "user_type": "Member",
    "external_user_state": "Accepted",
    "creation_type": "Invitation",
    "identities": (("federated", "ExternalAzureAD"),),
}
# A guest of the tenant who signs in with a Google account (social identity provider).
SOCIAL_GUEST: dict[str, Any] = {
    "user_type": "Guest",
    "external_user_state": None,
    "creation_type": None,
    "identities": (("federated", "google.com"),),
}
# An internal guest: userType Guest, but credentials of this tenant's own; revocation reaches them.
INTERNAL_GUEST: dict[str, Any] = {
    "user_type": "Guest",
    "external_user_state": None,
    "creation_type": None,
    "identities": (("userPrincipalName", "contoso.onmicrosoft.com"),),
}


def is_lookup(path: str) -> bool:
    """A look-up's path: one user (`/users/{id}`, which a PATCH shares) or users by `$filter` (`/users`)."""
    return USER_PATH.fullmatch(path) is not None or USERS_PATH.fullmatch(path) is not None


def is_lookup_by_filter(path: str) -> bool:
    """The path of a look-up by `$filter` (`/users`, which a listing of every user shares)."""
    return USERS_PATH.fullmatch(path) is not None


def answers_about(user: SimulatedUser, *, times: int | None = None) -> Fault:
    """Every look-up is answered 200 about `user`, whoever was asked for: a GET of one user with
    `user`'s properties, a look-up by filter with a collection holding `user` alone. A fault sees
    only the path, so a PATCH of `/users/{id}` is performed and answered so too (which confirms nothing)."""

    def about(answer: Answer) -> Answer:
        listing = isinstance(answer.body, dict) and "value" in answer.body
        return Answer(200, {"value": [user.properties()]} if listing else user.properties())

    return Fault(replace=about, match=is_lookup, times=times)


def edits_lookups(edit: Callable[[list[Any]], list[Any]], *, paged: bool = False, times: int | None = None) -> Fault:
    """Look-ups by filter are performed, then answered with `edit(the users found)`: a user not
    asked added, one repeated or left out. `paged` adds an `@odata.nextLink` (to another host)."""

    def edited(answer: Answer) -> Answer:
        if answer.status != 200 or not isinstance(answer.body, dict) or "value" not in answer.body:
            return answer
        body = {**answer.body, "value": edit(list(answer.body["value"]))}
        if paged:
            body["@odata.nextLink"] = "https://graph.example.net/v1.0/users?$skiptoken=next"
        return Answer(200, body, answer.headers)

    return Fault(replace=edited, match=is_lookup_by_filter, times=times)


def token_answer(access_token: str, *, times: int | None = None) -> Fault:
    """The managed-identity endpoint answers 200 with `access_token`, well formed otherwise."""
    body = {
        "access_token": access_token,
        "expires_on": str(int(time.time()) + 3600),
        "resource": "https://graph.microsoft.com",
        "token_type": "Bearer",
        "client_id": "00000000-0000-0000-0000-000000000000",
    }
    return Fault(status=200, raw_body=json.dumps(body), identity=True, times=times)


def jwt_with_claims(claims_json: str) -> str:
    """A JWT-shaped token whose payload is `claims_json`, as it is (nested, huge or odd)."""
    header = _base64url(b'{"typ":"JWT","alg":"RS256"}')
    return f"{header}.{_base64url(claims_json.encode())}.{_base64url(b'signature')}"


def nested_claims(depth: int) -> str:
    """JSON nested `depth` arrays deep: more than the parser's recursion limit allows."""
    return '{"roles":' + "[" * depth + "]" * depth + "}"


def huge_claims(megabytes: int) -> str:
    """A claims object megabytes long."""
    return json.dumps({"roles": ["User.RevokeSessions.All"], "padding": "x" * (megabytes * 1024 * 1024)})


class BlackHole:
    """A loopback address whose connects never complete: its listen backlog is full and never accepted.

    Linux drops a SYN for a full accept queue, so a client's connect waits for its own timeout.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._fillers: list[socket.socket] = []

    def __enter__(self) -> BlackHole:
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(self._listener.getsockname())
            self._fillers.append(filler)
        time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        for filler in self._fillers:
            filler.close()
        self._listener.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


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
