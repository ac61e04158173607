"""Reads a release request: a person asking, by name, to undo a containment.

Only a direct request is accepted, never an alert: an alert says someone may be
compromised, never that they are not. Its fields are exactly `users`, `actions`,
`reason`, `correlationId` and `incidentId` (any case); anything else refuses the request
(`unknown_field`, naming it, as a direct request does), so a misspelt field never changes what is done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from revoke.actions import ReleaseAction, parse_release_actions
from revoke.errors import InvalidField, NoResolvableAccount, TooManyAccounts
from revoke.identifiers import UserIdentifier, parse_user_identifier
from revoke.intake.payloads import read_reason, refuse_unknown_fields
from revoke.settings import MAX_ACCOUNTS
from revoke.untrusted import bounded

RELEASE_FIELDS = ("users", "actions", "reason", "correlationId", "incidentId")
MAX_TEXT_LENGTH = 512


@dataclass(frozen=True)
class ReleaseRequest:
    targets: tuple[UserIdentifier, ...]
    actions: tuple[ReleaseAction, ...]  # asked for by name; empty: all the deployment allows
    reason: str | None = None
    incident_id: str | None = None


def read_release_request(document: Mapping[str, Any], *, require_reason: bool = False) -> ReleaseRequest:
    """The users and actions a release names; RequestRejected (400/413/422) saying why not, and
    ReasonRequired (400) without a reason when `require_reason` (REVOKE_REQUIRE_REASON)."""
    refuse_unknown_fields(document, RELEASE_FIELDS, "a release")
    known = {name.lower(): name for name in RELEASE_FIELDS}
    fields: dict[str, Any] = {known[key.lower()]: value for key, value in document.items()}
    users = fields.get("users")
    if not isinstance(users, list):
        raise InvalidField("users must be a list of object ids or UPNs (a release names its users; never an alert)")
    if len(users) > MAX_ACCOUNTS:
        raise TooManyAccounts(f"the request names more than {MAX_ACCOUNTS} accounts; split it")
    targets: dict[str, UserIdentifier] = {}
    for raw in users:
        user = parse_user_identifier(raw)
        targets.setdefault(user.key, user)
    if not targets:
        raise NoResolvableAccount("the release names no user")
    actions = fields.get("actions")
    if actions is not None and (
        not isinstance(actions, list) or not actions or not all(isinstance(a, str) for a in actions)
    ):
        raise InvalidField("actions must be a non-empty list of release action names")
    return ReleaseRequest(
        tuple(targets.values()),
        parse_release_actions(actions or ()),
        read_reason(fields.get("reason"), required=require_reason, asked="these accounts should be released"),
        _text(fields, "incidentId"),
    )


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidField(f"{name} must be a string")
    return bounded(value, MAX_TEXT_LENGTH)
