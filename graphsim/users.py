"""The tenant's users and what Graph does to one: look it up (GET), disable or enable it (PATCH),
revoke its sessions (revokeSignInSessions, beta invalidateAllRefreshTokens).

A revocation resets the user's `signInSessionsValidFromDateTime` to the time of the call
("by resetting the signInSessionsValidFromDateTime user property to the current date-time":
learn.microsoft.com/graph/api/user-revokesigninsessions); a GET shows it, and `accountEnabled`,
when `$select` names them (learn.microsoft.com/graph/api/resources/user).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from graphsim.wire import Answer, Route, graph_error

if TYPE_CHECKING:
    from graphsim.server import GraphSimulator

_ACTION_PATH = re.compile(r"^/(v1\.0|beta)/users/([^/]+)/(revokeSignInSessions|invalidateAllRefreshTokens)$")
_USER_PATH = re.compile(r"^/(v1\.0|beta)/users/([^/]+)$")


@dataclass(frozen=True)
class SimulatedUser:
    object_id: str
    user_principal_name: str
    synced: bool = False  # mastered in on-premises Active Directory: Graph refuses to disable it
    # Where the user signs in, as Graph's user resource says it (see the kinds in graphsim.faults).
    user_type: str = "Member"
    external_user_state: str | None = None
    creation_type: str | None = None
    identities: tuple[tuple[str, str], ...] = ()  # (signInType, issuer); empty: this tenant's own

    def properties(self) -> dict[str, Any]:
        """The user resource's properties this simulator knows, by their Graph names."""
        identities = self.identities or (("userPrincipalName", "contoso.onmicrosoft.com"),)
        return {
            "id": self.object_id,
            "userPrincipalName": self.user_principal_name,
            "userType": self.user_type,
            "externalUserState": self.external_user_state,
            "creationType": self.creation_type,
            "identities": [
                {
                    "signInType": kind,
                    "issuer": issuer,
                    "issuerAssignedId": None if kind == "federated" else self.user_principal_name,
                }
                for kind, issuer in identities
            ],
        }


def user_segment(path: str) -> str | None:
    """The decoded user segment of a /users/{id} path (an action on the user included), else None."""
    match = _ACTION_PATH.match(path) or _USER_PATH.match(path)
    return unquote(match.group(2)) if match else None


class Users:
    """The users of the simulated tenant, found by object id or UPN, and what was done to them."""

    def __init__(self, simulator: GraphSimulator, *, respond_no_content: bool = False) -> None:
        self._sim = simulator
        self.respond_no_content = respond_no_content  # a revocation answers 204 instead of 200 {"value": true}
        self.revocations: Counter[str] = Counter()  # object id -> revocations performed
        self.disabled: set[str] = set()  # object ids of accounts Graph disabled
        self.enabled: Counter[str] = Counter()  # object id -> times Graph enabled the account again
        self.sessions_valid_from: dict[str, str] = {}  # object id -> signInSessionsValidFromDateTime
        self._by_key: dict[str, SimulatedUser] = {}  # lower-cased object id and UPN -> the user
        self._lock = threading.Lock()

    def add(self, user_principal_name: str, object_id: str | None, *, synced: bool, **kind: Any) -> SimulatedUser:
        if "#ext#" in user_principal_name.lower() and not kind:
            kind = {
                "user_type": "Guest",
                "external_user_state": "Accepted",
                "creation_type": "Invitation",
                "identities": (("federated", "ExternalAzureAD"),),
            }
        user = SimulatedUser(object_id or str(uuid.uuid4()), user_principal_name, synced, **kind)
        with self._lock:
            self._by_key[user.object_id.lower()] = user
            self._by_key[user_principal_name.lower()] = user
        return user

    def ids(self) -> list[str]:
        with self._lock:
            return list(dict.fromkeys(user.object_id for user in self._by_key.values()))

    def find(self, key: str) -> SimulatedUser | None:
        with self._lock:
            return self._by_key.get(key.lower())

    def properties_of(self, user: SimulatedUser) -> dict[str, Any]:
        """Every property of `user` the simulator knows, its state included (enabled, sessions valid from)."""
        with self._lock:
            return {
                **user.properties(),
                "accountEnabled": user.object_id not in self.disabled,
                "signInSessionsValidFromDateTime": self.sessions_valid_from.get(user.object_id),
            }

    def routes(self) -> list[Route]:
        return [
            Route("POST", _ACTION_PATH, self._revoke),
            Route("GET", _USER_PATH, self._get),
            Route("PATCH", _USER_PATH, self._update),
        ]

    def _revoke(self, match: re.Match[str], body: Any, query: str) -> Answer:
        version, segment, action = match.groups()
        if action == "invalidateAllRefreshTokens" and version != "beta":
            return graph_error(400, "BadRequest", "Resource not found for the segment.")
        user = self.find(unquote(segment))
        if user is None:
            return _not_found(segment)
        with self._lock:
            self.revocations[user.object_id] += 1
            self.sessions_valid_from[user.object_id] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.respond_no_content:
            return Answer(204)
        return Answer(200, {"@odata.context": f"{self._sim.url}/{version}/$metadata#Edm.Boolean", "value": True})

    def _get(self, match: re.Match[str], body: Any, query: str) -> Answer:
        segment = match.group(2)
        user = self.find(unquote(segment))
        if user is None:
            return _not_found(segment)
        properties = self.properties_of(user)
        selected = parse_qs(query).get("$select")
        # As Graph: the properties $select names (null where unset); without it, the default set.
        names = selected[0].split(",") if selected else ["id", "userPrincipalName"]
        return Answer(200, {name: properties.get(name) for name in names})

    def _update(self, match: re.Match[str], body: Any, query: str) -> Answer:
        segment = match.group(2)
        if isinstance(body, dict) and body.get("accountEnabled") is True and len(body) == 1:
            return self._enable(segment)
        if not isinstance(body, dict) or body.get("accountEnabled") is not False or len(body) != 1:
            return graph_error(400, "BadRequest", "only accountEnabled is simulated")
        user = self.find(unquote(segment))
        if user is None:
            return _not_found(segment)
        if user.synced:
            message = (
                "Unable to update the specified properties for on-premises mastered Directory Sync objects "
                "or objects currently undergoing migration."
            )
            return graph_error(400, "Request_BadRequest", message)
        with self._lock:
            self.disabled.add(user.object_id)
        return Answer(204)

    def _enable(self, segment: str) -> Answer:
        """`PATCH /users/{id}` `{"accountEnabled": true}`: the account of a released user signs in again."""
        user = self.find(unquote(segment))
        if user is None:
            return _not_found(segment)
        if user.synced:
            message = "Unable to update the specified properties for on-premises mastered Directory Sync objects."
            return graph_error(400, "Request_BadRequest", message)
        with self._lock:
            self.disabled.discard(user.object_id)
            self.enabled[user.object_id] += 1
        return Answer(204)


def _not_found(segment: str) -> Answer:
    return graph_error(404, "Request_ResourceNotFound", f"Resource '{unquote(segment)}' does not exist.")
