"""What `POST /api/campaigns` asks for: one scope, the actions, and the context every audit event carries.

    {"scope": {"group": "<object id>"} | {"directoryRole": "<role template id>"} | {"allUsers": true},
     "actions": ["revokeSignInSessions", "disableAccount"],
     "reason": "...", "correlationId": "...", "incidentId": "<Sentinel incident ARM id>", "dryRun": false}

Everything is checked before any Graph call: an unknown field, a second scope, an id that
is not a GUID or an action the deployment does not allow is refused with InvalidField. A
request without a correlationId gets one, as every other route's does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from revoke.actions import ContainmentAction, allowed_subset, parse_actions
from revoke.errors import InvalidField
from revoke.identifiers import is_object_id
from revoke.intake.payloads import correlation_id_in, load_document
from revoke.untrusted import bounded, printable, quoted

# A campaign can disable or revoke; confirmCompromised marks a user at risk, which at the
# scale of a group or a tenant says nothing true about any one of them.
CAMPAIGN_ACTIONS = (ContainmentAction.REVOKE_SESSIONS, ContainmentAction.DISABLE_ACCOUNT)
SCOPE_KINDS = ("group", "directoryRole", "allUsers")
# The Graph application roles each scope's listing needs (infra/app/graph-permissions.bicep
# grants them all when campaigns are on): the members, and each one's accountEnabled and userType.
SCOPE_APP_ROLES = {
    "group": ("GroupMember.Read.All", "User.Read.All"),
    "directoryRole": ("RoleManagement.Read.Directory", "User.Read.All"),
    "allUsers": ("User.Read.All",),
}
MAX_REASON_LENGTH = 512
MAX_INCIDENT_ID_LENGTH = 512
MAX_CAMPAIGN_BODY_BYTES = 16 * 1024
_FIELDS = frozenset({"scope", "actions", "reason", "correlationId", "incidentId", "dryRun"})


@dataclass(frozen=True)
class Scope:
    """Whose accounts a campaign contains: `kind` is one of SCOPE_KINDS; `id` a lower-case GUID, or None for allUsers."""

    kind: str
    id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"allUsers": True} if self.kind == "allUsers" else {self.kind: self.id}


@dataclass(frozen=True)
class CampaignRequest:
    scope: Scope
    actions: tuple[ContainmentAction, ...]
    reason: str
    correlation_id: str
    incident_id: str | None = None
    # Who started the campaign (the caller's Entra ID token): every audit event of it names them.
    caller_app_id: str | None = None
    caller_object_id: str | None = None
    dry_run: bool = False  # asked for a dry run: nothing is sent to Graph, whatever REVOKE_DRY_RUN says

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope.as_json(),
            "actions": [action.value for action in self.actions],
            "reason": self.reason,
            "correlationId": self.correlation_id,
            "incidentId": self.incident_id,
            "callerAppId": self.caller_app_id,
            "callerObjectId": self.caller_object_id,
            "dryRun": self.dry_run,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> CampaignRequest:
        """A request this module wrote (`as_json`), read back from storage."""
        return cls(
            read_scope(document["scope"]),
            tuple(ContainmentAction(name) for name in document["actions"]),
            document["reason"],
            document["correlationId"],
            document.get("incidentId"),
            document.get("callerAppId"),
            document.get("callerObjectId"),
            bool(document.get("dryRun", False)),
        )


def read_campaign_request(body: bytes, allowed: tuple[ContainmentAction, ...]) -> CampaignRequest:
    """The request in `body`, or a RequestRejected saying what is wrong with it."""
    document = load_document(body, MAX_CAMPAIGN_BODY_BYTES)
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise InvalidField(f"unknown field {quoted(unknown[0])}; a campaign takes {', '.join(sorted(_FIELDS))}")
    scope = read_scope(document.get("scope"))
    actions = _actions(document.get("actions"), allowed)
    reason = document.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidField("reason is required: say why every one of these accounts must be contained")
    correlation_id = correlation_id_in(document) or str(uuid.uuid4())
    incident_id = document.get("incidentId")
    if incident_id is not None and (not isinstance(incident_id, str) or len(incident_id) > MAX_INCIDENT_ID_LENGTH):
        raise InvalidField("incidentId must be a Microsoft Sentinel incident ARM id")
    dry_run = document.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise InvalidField("dryRun must be true or false")
    reason_text = bounded(printable(reason.strip()), MAX_REASON_LENGTH)
    return CampaignRequest(scope, actions, reason_text, correlation_id, incident_id, dry_run=dry_run)


def read_scope(raw: Any) -> Scope:
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in SCOPE_KINDS:
        raise InvalidField('scope must be exactly one of {"group": id}, {"directoryRole": id}, {"allUsers": true}')
    kind, value = next(iter(raw.items()))
    if kind == "allUsers":
        if value is not True:
            raise InvalidField("scope allUsers must be true")
        return Scope(kind)
    if not isinstance(value, str) or not is_object_id(value):
        what = "a group's object id" if kind == "group" else "a directory role's template id"
        raise InvalidField(f"scope {kind} must be {what} (a GUID)")
    return Scope(kind, value.lower())


def _actions(raw: Any, allowed: tuple[ContainmentAction, ...]) -> tuple[ContainmentAction, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(name, str) for name in raw):
        raise InvalidField("actions must be a list naming revokeSignInSessions and/or disableAccount")
    actions = parse_actions(raw)
    refused = [action.value for action in actions if action not in CAMPAIGN_ACTIONS]
    if refused:
        raise InvalidField(f"a campaign cannot take {', '.join(refused)}; only revokeSignInSessions, disableAccount")
    return allowed_subset(actions, allowed)
