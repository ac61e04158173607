"""What Graph must answer before we say a call did what it asked, and what each answer means.

The outcome our users read first is the per-user one, so only an answer that confirms the
action counts: anything else is retried (deferred) or reported as failed, never as done.
"""

from __future__ import annotations

from typing import Any

from revoke.errors import GraphError, PermanentGraphError, Unconfirmed
from revoke.graph.transport import GraphReply
from revoke.outcomes import ActionResult, Outcome, UserLookup


def revocation_confirmed(reply: GraphReply) -> GraphError | None:
    """revokeSignInSessions answers 200 `{"value": true}` (or, per the docs, 204 / an empty 200)."""
    if reply.status == 204:
        return None
    if reply.status != 200:
        return Unconfirmed(f"HTTP {reply.status} does not confirm the revocation", status=reply.status)
    body = reply.body
    if body is None:
        return None
    if not isinstance(body, dict):
        return Unconfirmed("Graph's answer to the revocation is unreadable", status=200)
    if "error" in body:
        return Unconfirmed(f"HTTP 200 carrying an error: {_error_code(body)}", status=200)
    if body.get("value") is True:
        return None
    if body.get("value") is False:
        return PermanentGraphError("Graph answered that it did not revoke the sessions (value false)", status=200)
    return Unconfirmed("Graph's answer to the revocation does not say it was done", status=200)


def disable_confirmed(reply: GraphReply) -> GraphError | None:
    return account_enabled_confirmed(reply, enabled=False)


def account_enabled_confirmed(reply: GraphReply, *, enabled: bool) -> GraphError | None:
    """`PATCH /users/{id}` answers 204; a 200 counts only if it shows `accountEnabled` as asked."""
    if reply.status == 204:
        return None
    if reply.status == 200 and isinstance(reply.body, dict) and reply.body.get("accountEnabled") is enabled:
        return None
    done = "enabled" if enabled else "disabled"
    return Unconfirmed(f"HTTP {reply.status} does not confirm the account was {done}", status=reply.status)


def compromise_confirmed(reply: GraphReply) -> GraphError | None:
    """`riskyUsers/confirmCompromised` answers 204 No Content."""
    if reply.status == 204 or (reply.status == 200 and reply.body is None):
        return None
    return Unconfirmed(f"HTTP {reply.status} does not confirm the compromise was recorded", status=reply.status)


# The user properties that say where a user signs in (docs/RELIABILITY.md, "Who is external").
KIND_PROPERTIES = ("userType", "externalUserState", "creationType", "identities")
# Everything a look-up reads ($select): both names, and where the user signs in. The one list;
# `user_lookup` below reads each of them.
LOOKUP_PROPERTIES = ("id", "userPrincipalName", *KIND_PROPERTIES)
EXTERNAL_MARKER = "#ext#"


def signs_in_elsewhere(body: dict[str, Any]) -> bool | None:
    """Whether another tenant or identity provider signs the user in; None when the answer cannot tell.

    External: a UPN carrying #EXT#, an invitation (externalUserState set, or creationType
    Invitation), or an identity whose signInType is `federated`. An internal guest, who signs
    in with this tenant's own credentials, is not external: revocation reaches them.
    """
    upn = body.get("userPrincipalName")
    if isinstance(upn, str) and EXTERNAL_MARKER in upn.lower():
        return True
    if not all(name in body for name in KIND_PROPERTIES):
        return None  # not answered (a permission that cannot read them, a proxy): cannot tell
    state, creation, identities = body["externalUserState"], body["creationType"], body["identities"]
    if (isinstance(state, str) and state) or creation == "Invitation":
        return True
    if not isinstance(identities, list) or not all(isinstance(identity, dict) for identity in identities):
        return None
    return any(identity.get("signInType") == "federated" for identity in identities)


def action_result(reply: GraphReply, done: Outcome = Outcome.REVOKED) -> ActionResult:
    """What one call's final reply means for its target; `done` is the word for a confirmed success."""
    if reply.succeeded:
        outcome = done
    elif reply.status == 404 and reply.error is None:
        outcome = Outcome.NOT_FOUND
    elif reply.transient:
        outcome = Outcome.DEFERRED
    else:
        outcome = Outcome.FAILED
    detail = None if outcome is done else reply.error_code
    if outcome is Outcome.FAILED and _synced_account_refused(reply):
        detail = SYNCED_ACCOUNT
    return ActionResult(
        outcome, reply.status, reply.request_id, detail, reply.attempts, reply.retry_after, reply.duration_ms
    )


def user_lookup(user: dict[str, Any]) -> UserLookup:
    """A user object from a look-up's answer, already matched to the name asked (revoke.graph.lookups)."""
    return UserLookup(
        object_id=user["id"].lower(),
        user_principal_name=user["userPrincipalName"],
        external=signs_in_elsewhere(user),
    )


SYNCED_ACCOUNT = (
    "Graph cannot disable an account synced from on-premises Active Directory: "
    "disable it in Active Directory; it stays enabled in Entra ID until the next sync"
)


def _synced_account_refused(reply: GraphReply) -> bool:
    """Graph's 400 for changing a property of a directory-synced user names on-premises mastering."""
    if reply.status != 400 or not isinstance(reply.body, dict):
        return False
    error = reply.body.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return isinstance(message, str) and "on-premises" in message.lower()


def _error_code(body: dict[str, Any]) -> str:
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return str(code)[:128] if code else "unknown"
