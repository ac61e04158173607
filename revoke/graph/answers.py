"""What Graph must answer before we say a call did what it asked, and what each answer means.

The outcome our users read first is the per-user one, so only an answer that confirms the
action counts: anything else is retried (deferred) or reported as failed, never as done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from revoke.errors import GraphError, PermanentGraphError, Unconfirmed
from revoke.graph.transport import GraphReply
from revoke.identifiers import UserIdentifier, is_object_id, is_sid
from revoke.outcomes import ActionResult, Memberships, Outcome, UserLookup
from revoke.untrusted import printable


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
# The user properties that say where the account is mastered, and name its Active Directory
# account when it is synced; read with User.Read.All, like the kind properties. The user resource:
# onPremisesSyncEnabled is true for a synced user, false for one no longer synced, null for one
# never synced (https://learn.microsoft.com/graph/api/resources/user).
ON_PREMISES_PROPERTIES = (
    "onPremisesSyncEnabled",
    "onPremisesSecurityIdentifier",
    "onPremisesSamAccountName",
    "onPremisesDomainName",
)
MAX_ON_PREMISES_NAME = 256  # a sAMAccountName holds 20 characters, a DNS domain 253
# Everything a look-up reads ($select): both names, where the user signs in, and where the
# account is mastered. The one list; `user_lookup` below reads each of them.
LOOKUP_PROPERTIES = ("id", "userPrincipalName", *KIND_PROPERTIES, *ON_PREMISES_PROPERTIES)
LOOKUP_SELECT = "$select=" + ",".join(LOOKUP_PROPERTIES)  # the query part every look-up sends
EXTERNAL_MARKER = "#ext#"
ANOTHER_USER = "Graph's look-up answer names another user than the one asked for"


def lookup_answers(asked: UserIdentifier) -> Callable[[GraphReply], GraphError | None]:
    """The check for a read of one user by path: a clean 200 holding both names, and one of them `asked`'s.

    An answer about someone else (a proxy's cache, a fault) must never stand in for the user
    asked about: it fails closed, as a refusal, so nobody acts on what it says. (Look-ups of many
    users at once match each user in the answer to a name asked: revoke.graph.lookups.)
    """

    def answers_what_was_asked(reply: GraphReply) -> GraphError | None:
        problem = lookup_complete(reply)
        if problem is not None:
            return problem
        named = reply.body["id"] if asked.kind == "object_id" else reply.body["userPrincipalName"]
        if named.lower() != asked.key:
            return PermanentGraphError(ANOTHER_USER, status=200)
        return None

    return answers_what_was_asked


def by_sid_filter(sid: str) -> str:
    """The `$filter` that finds what was synced from the on-premises account `sid`, encoded for a URL."""
    if not is_sid(sid):
        raise ValueError("not a SID")  # never sent: every SID is checked when the payload is read
    return "$filter=" + quote(f"onPremisesSecurityIdentifier eq '{sid}'", safe="'")


def same_sid(value: Any, sid: str) -> bool:
    """Whether an answer's `value` names the SID `sid` (SIDs compare without case)."""
    return isinstance(value, str) and value.upper() == sid.upper()


def at_most_one_about_the_sid(
    reply: GraphReply, sid: str, *, listing: str, another: str, several: str
) -> GraphError | None:
    """The check for a list filtered by SID: a 200 list of objects, each naming `sid`, at most one.

    An empty list is an answer (nothing was synced from that account). An item naming another SID
    fails closed, as the look-ups' "answers what was asked" rule does; two items cannot say which one.
    """
    if reply.status != 200:
        return Unconfirmed(f"HTTP {reply.status} is not a list of {listing}", status=reply.status)
    items = reply.body.get("value") if isinstance(reply.body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return Unconfirmed(f"the answer to the SID look-up is not a list of {listing}", status=200)
    if any(not same_sid(item.get("onPremisesSecurityIdentifier"), sid) for item in items):
        return PermanentGraphError(another, status=200)
    if len(items) > 1:
        return PermanentGraphError(several, status=200)
    return None


NOT_ASKED_ID = "Graph's membership answer names an id that was not asked about"


def memberships_answer(asked: Sequence[str]) -> Callable[[GraphReply], GraphError | None]:
    """The check for `checkMemberObjects` with the ids `asked`: 200 `{"value": [...]}`, each one an id asked.

    An answer naming an id that was not asked is about something else (a proxy's cache, a fault):
    it fails closed, so the user it was asked for is never taken as unprotected on its strength.
    """
    wanted = {identifier.lower() for identifier in asked}

    def answers_what_was_asked(reply: GraphReply) -> GraphError | None:
        if reply.status != 200:
            return Unconfirmed(f"HTTP {reply.status} is not a membership answer", status=reply.status)
        body = reply.body
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return Unconfirmed("Graph's membership answer is unreadable", status=200)
        if any(item.lower() not in wanted for item in value):
            return PermanentGraphError(NOT_ASKED_ID, status=200)
        return None

    return answers_what_was_asked


def memberships(reply: GraphReply) -> Memberships:
    """What one `checkMemberObjects` reply says (checked by `memberships_answer` first)."""
    if reply.succeeded:
        return Memberships(member_of=frozenset(item.lower() for item in reply.body["value"]))
    if reply.status == 404 and reply.error is None:
        return Memberships(missing=True)
    return Memberships(error=reply.failure("membership check failed"))


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


def mastered_where(body: dict[str, Any]) -> dict[str, Any]:
    """The look-up's on-premises fields (UserLookup's), from a user resource; only what Graph said.

    `synced` is None when the answer does not carry onPremisesSyncEnabled (a proxy, a permission
    that cannot read it) or carries something other than true, false or null: it cannot tell.
    A SID that is not well formed is left out, so nothing is ever sent for it.
    """
    sync = body.get("onPremisesSyncEnabled", "absent")
    synced = True if sync is True else False if sync is None or sync is False else None
    sid = body.get("onPremisesSecurityIdentifier")
    return {
        "synced": synced,
        "on_premises_sid": sid.upper() if isinstance(sid, str) and is_sid(sid.upper()) else None,
        "on_premises_sam_account_name": _on_premises_name(body.get("onPremisesSamAccountName")),
        "on_premises_domain_name": _on_premises_name(body.get("onPremisesDomainName")),
    }


def _on_premises_name(value: Any) -> str | None:
    if not isinstance(value, str) or not value or len(value) > MAX_ON_PREMISES_NAME:
        return None
    return printable(value)


def lookup_complete(reply: GraphReply) -> GraphError | None:
    """A look-up counts only as a clean 200 holding both names."""
    if reply.status != 200:
        return Unconfirmed(f"HTTP {reply.status} is not a look-up answer", status=reply.status)
    body = reply.body
    if not isinstance(body, dict):
        return Unconfirmed("Graph's answer to the look-up is unreadable", status=200)
    object_id, upn = body.get("id"), body.get("userPrincipalName")
    if isinstance(object_id, str) and is_object_id(object_id) and isinstance(upn, str) and upn:
        return None
    return PermanentGraphError("the look-up answer lacks the user's id or userPrincipalName", status=200)


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
    return ActionResult(
        outcome, reply.status, reply.request_id, detail, reply.attempts, reply.retry_after, reply.duration_ms
    )


def user_lookup(user: dict[str, Any]) -> UserLookup:
    """A user object from a look-up's answer, already matched to the name asked (revoke.graph.lookups)."""
    return UserLookup(
        object_id=user["id"].lower(),
        user_principal_name=user["userPrincipalName"],
        external=signs_in_elsewhere(user),
        **mastered_where(user),
    )


def _error_code(body: dict[str, Any]) -> str:
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return str(code)[:128] if code else "unknown"
