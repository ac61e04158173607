"""The App Service managed-identity endpoint (`GET /msi/token`) and the access tokens it issues,
which the simulator's Graph and ARM accept while they are in its list of issued tokens.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from graphsim.wire import Answer

IDENTITY_PATH = "/msi/token"
IDENTITY_API_VERSION = "2019-08-01"
GRAPH_RESOURCE = "https://graph.microsoft.com"
TOKEN_LIFETIME_SECONDS = 3600
_JWT_HEADER = b'{"typ":"JWT","alg":"RS256","kid":"graphsim"}'


class IdentityEndpoint:
    """The app's managed identity: its secret header, its object id, and every token issued to it."""

    def __init__(self) -> None:
        self.identity_header = secrets.token_hex(16)
        self.identity_object_id = str(uuid.uuid4())
        # In the tokens it issues: revocation, and User.Read.All to learn where each user signs in.
        self.app_roles: list[str] = ["User.RevokeSessions.All", "User.Read.All"]
        # More claims for the tokens it issues, e.g. a signed-in user's upn, scp and wids.
        self.token_claims: dict[str, Any] = {}
        self.token_requests = 0
        self.issued_tokens: list[str] = []  # a token is valid while it is here
        self._audiences: dict[str, str] = {}
        self._lock = threading.Lock()

    def answer(self, identity_header: str | None, query: str) -> Answer:
        """What the endpoint answers a token request with this X-IDENTITY-HEADER and query string."""
        arguments = parse_qs(query)
        if identity_header != self.identity_header:
            return Answer(401, {"error": "unauthorized", "error_description": "missing or wrong X-IDENTITY-HEADER"})
        if arguments.get("api-version") != [IDENTITY_API_VERSION] or not arguments.get("resource"):
            return Answer(400, {"error": "invalid_request", "error_description": "api-version and resource required"})
        now = int(time.time())
        return Answer(
            200,
            {
                "access_token": self.issue(arguments["resource"][0]),
                "expires_on": str(now + TOKEN_LIFETIME_SECONDS),
                "resource": arguments["resource"][0],
                "token_type": "Bearer",
                "client_id": (arguments.get("client_id") or ["00000000-0000-0000-0000-000000000000"])[0],
            },
        )

    def issue(self, resource: str = GRAPH_RESOURCE) -> str:
        """A JWT-shaped access token: its claims (`aud`, `roles`) as Entra ID issues them, signature random."""
        now = int(time.time())
        claims = {
            "aud": resource,
            "iss": "https://sts.windows.net/graphsim/",
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "oid": self.identity_object_id,
            "roles": list(self.app_roles),
            "uti": secrets.token_urlsafe(12),
            **self.token_claims,
        }
        token = ".".join(
            _base64url(part) for part in (_JWT_HEADER, json.dumps(claims).encode(), secrets.token_bytes(32))
        )
        with self._lock:
            self.token_requests += 1
            self.issued_tokens.append(token)
            self._audiences[token] = resource
        return token

    def is_valid(self, token: str) -> bool:
        with self._lock:
            return token in self.issued_tokens

    def audience(self, token: str) -> str | None:
        """The resource `token` was issued for, if it was issued here."""
        with self._lock:
            return self._audiences.get(token)


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
