"""Faults that need more than `Fault`'s fields: users of every kind, answers about someone else,
a black-holed address, and tokens no reader should choke on.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import time
from typing import Any

from graphsim.server import Fault
from graphsim.users import SimulatedUser

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


def answers_about(user: SimulatedUser, *, times: int | None = None) -> Fault:
    """Every look-up (a GET of /users/...) is answered 200 with `user`'s properties, whoever was asked for."""
    return Fault(
        status=200,
        body=user.properties(),
        match=lambda path: path.startswith(("/v1.0/users/", "/beta/users/")) and path.count("/") == 3,
        times=times,
    )


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
