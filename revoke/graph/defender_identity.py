"""Microsoft Defender for Identity through Graph v1.0: find a synced user's identity account by its
on-premises SID, act on its Active Directory account, and read whether that account is enabled.

    GET  /security/identities/identityAccounts?$filter=onPremisesSecurityIdentifier eq '{sid}'
         (SecurityIdentitiesAccount.Read.All)
    POST /security/identities/identityAccounts/{id}/invokeAction
         {"accountId": "<the activeDirectory account's identifier>", "action": "disable",
          "identityProvider": "activeDirectory"}    (SecurityIdentitiesActions.ReadWrite.All)
    GET  /security/identities/identityAccounts/{id}

Global service only, and only for domain controllers running the Defender for Identity sensor
(https://learn.microsoft.com/graph/api/security-identityaccounts-invokeaction). The pages give
two shapes for the same answer (graphsim/defender_identity.py quotes them): a single result
bare or wrapped in `"value"`, the provider named `identityProvider` or `provider`, in any
letter case. Both are read. Only an answer about the SID or account asked counts: an answer
about another account fails closed, as a refusal, as the user look-ups do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from revoke.deadline import Deadline
from revoke.errors import GraphError, PermanentGraphError, Unconfirmed
from revoke.graph.answers import action_result, at_most_one_about_the_sid, by_sid_filter, same_sid
from revoke.graph.sending import CallSender
from revoke.graph.transport import GraphCall, GraphReply
from revoke.outcomes import ActionResult, Outcome

IDENTITY_ACCOUNTS = "/security/identities/identityAccounts"
ACTIVE_DIRECTORY = "activedirectory"  # the identityProvider value, compared without regard to case
ANOTHER_ACCOUNT = "Defender for Identity's answer names another account than the one asked for"
SEVERAL_ACCOUNTS = "Defender for Identity lists more than one identity account for this SID"
UNKNOWN_ACCOUNT = (
    "Defender for Identity knows no account with this SID (is its sensor on the domain controllers?): "
    "disable the Active Directory account by hand"
)
NO_ACTIVE_DIRECTORY_ACCOUNT = "Defender for Identity's identity account has no Active Directory account to act on"
_ID = re.compile(r"[A-Za-z0-9-]{1,128}")

ResultCallback = Callable[[int, ActionResult], None]


@dataclass(frozen=True)
class IdentityAccount:
    """A synced user's identity account in Defender for Identity, or why it is not known.

    `identity_id` addresses the identity account; `account_id` is its Active Directory
    account's identifier, which invokeAction takes; `enabled` is its `isEnabled`.
    """

    sid: str
    identity_id: str | None = None
    account_id: str | None = None
    enabled: bool | None = None
    unknown: bool = False  # Defender for Identity answered, and knows no such account
    error: GraphError | None = None

    @property
    def found(self) -> bool:
        return self.identity_id is not None and self.account_id is not None


class DefenderForIdentity:
    """Beside the GraphClient, on its sender: the same token, pool, deadline and retry loop."""

    def __init__(self, sender: CallSender) -> None:
        self._sender = sender

    def find(self, sids: Sequence[str], deadline: Deadline) -> list[IdentityAccount]:
        """Each SID's identity account, in order; never raises for Graph failures."""
        calls = [_find_call(sid) for sid in sids]
        return [account_of(sid, reply) for sid, reply in zip(sids, self._sender.send_all(calls, deadline), strict=True)]

    def invoke(
        self,
        accounts: Sequence[IdentityAccount],
        action: str,
        done: Outcome,
        deadline: Deadline,
        on_result: ResultCallback,
    ) -> None:
        """`action` (disable, enable, forcePasswordReset) on each account's Active Directory account;
        `on_result(i, result)` as each is final, `done` the outcome of a confirmed one."""
        calls = [_invoke_call(account, action) for account in accounts]
        self._sender.send_all(calls, deadline, lambda i, reply: on_result(i, action_result(reply, done)))

    def read(self, accounts: Sequence[IdentityAccount], deadline: Deadline) -> list[IdentityAccount]:
        """Each identity account again, as it is now (isEnabled), by its id; only an answer about it counts."""
        calls = [
            GraphCall("GET", f"{IDENTITY_ACCOUNTS}/{quote(str(a.identity_id), safe='')}", check=_about(a))
            for a in accounts
        ]
        replies = self._sender.send_all(calls, deadline)
        return [_reread(account, reply) for account, reply in zip(accounts, replies, strict=True)]


def _find_call(sid: str) -> GraphCall:
    return GraphCall("GET", f"{IDENTITY_ACCOUNTS}?{by_sid_filter(sid)}", check=_listed_for(sid))


def _invoke_call(account: IdentityAccount, action: str) -> GraphCall:
    body = {"accountId": account.account_id, "action": action, "identityProvider": "activeDirectory"}
    path = f"{IDENTITY_ACCOUNTS}/{quote(str(account.identity_id), safe='')}/invokeAction"
    return GraphCall("POST", path, body, check=_invoked(str(account.account_id), action))


# --- what an answer must say ---------------------------------------------------------------
def _listed_for(sid: str) -> Callable[[GraphReply], GraphError | None]:
    """A list answer: 200 with a `value` list, every item about `sid` (an empty list is an answer too)."""

    def about_the_sid(reply: GraphReply) -> GraphError | None:
        return at_most_one_about_the_sid(
            reply, sid, listing="identity accounts", another=ANOTHER_ACCOUNT, several=SEVERAL_ACCOUNTS
        )

    return about_the_sid


def _invoked(account_id: str, action: str) -> Callable[[GraphReply], GraphError | None]:
    """invokeAction answers 200 with an invokeActionResult: its accountId and action must be the ones asked."""

    def confirms(reply: GraphReply) -> GraphError | None:
        if reply.status != 200:
            return Unconfirmed(f"HTTP {reply.status} does not confirm the Active Directory action", status=reply.status)
        result = _entity(reply.body)
        if result is None or "error" in result:
            return Unconfirmed("Defender for Identity's answer does not say the action was taken", status=200)
        named, taken = result.get("accountId"), result.get("action")
        if not isinstance(named, str) or not isinstance(taken, str):
            return Unconfirmed("Defender for Identity's answer does not name the account and the action", status=200)
        provider = result.get("identityProvider", result.get("provider"))
        if named.lower() != account_id.lower() or (isinstance(provider, str) and provider.lower() != ACTIVE_DIRECTORY):
            return PermanentGraphError(ANOTHER_ACCOUNT, status=200)
        if taken.lower() != action.lower():
            return PermanentGraphError(f"Defender for Identity answered with another action ({taken[:32]})", status=200)
        return None

    return confirms


def _about(account: IdentityAccount) -> Callable[[GraphReply], GraphError | None]:
    def the_same_account(reply: GraphReply) -> GraphError | None:
        if reply.status != 200:
            return Unconfirmed(f"HTTP {reply.status} is not an identity account", status=reply.status)
        entity = _entity(reply.body)
        if entity is None or not isinstance(entity.get("isEnabled"), bool):
            return Unconfirmed("Defender for Identity's answer does not say whether the account is enabled", status=200)
        named = entity.get("id")
        if not isinstance(named, str) or named.lower() != str(account.identity_id).lower():
            return PermanentGraphError(ANOTHER_ACCOUNT, status=200)
        if not same_sid(entity.get("onPremisesSecurityIdentifier"), account.sid):
            return PermanentGraphError(ANOTHER_ACCOUNT, status=200)
        return None

    return the_same_account


# --- reading the answers ---------------------------------------------------------------------
def account_of(sid: str, reply: GraphReply) -> IdentityAccount:
    """The identity account a checked list answer holds for `sid`, or why there is none."""
    if not reply.succeeded:
        return IdentityAccount(sid, error=reply.failure("the identity account could not be listed"))
    items = reply.body["value"]
    if not items:
        return IdentityAccount(sid, unknown=True)
    return _account(sid, items[0])


def _reread(account: IdentityAccount, reply: GraphReply) -> IdentityAccount:
    if not reply.succeeded:
        failure = reply.failure("the identity account could not be read")
        return IdentityAccount(account.sid, account.identity_id, account.account_id, error=failure)
    entity = _entity(reply.body)
    assert entity is not None  # checked by _about
    return IdentityAccount(account.sid, account.identity_id, account.account_id, enabled=entity["isEnabled"])


def _account(sid: str, item: dict[str, Any]) -> IdentityAccount:
    identity_id = item.get("id")
    if not _is_id(identity_id):
        return IdentityAccount(sid, error=PermanentGraphError("the identity account has no usable id", status=200))
    accounts = item.get("accounts")
    listed = accounts if isinstance(accounts, list) else []
    active_directory = [
        account
        for account in listed
        if isinstance(account, dict)
        and str(account.get("identityProvider", account.get("provider", ""))).lower() == ACTIVE_DIRECTORY
    ]
    if len(active_directory) != 1 or not _is_id(active_directory[0].get("identifier")):
        return IdentityAccount(sid, error=PermanentGraphError(NO_ACTIVE_DIRECTORY_ACCOUNT, status=200))
    enabled = item.get("isEnabled")
    return IdentityAccount(
        sid,
        identity_id=str(identity_id),
        account_id=str(active_directory[0]["identifier"]),
        enabled=enabled if isinstance(enabled, bool) else None,
    )


def _entity(body: Any) -> dict[str, Any] | None:
    """A single result, bare or (as the documented examples show it) wrapped in `value`."""
    if not isinstance(body, dict):
        return None
    wrapped = body.get("value")
    return wrapped if isinstance(wrapped, dict) else body


def _is_id(value: Any) -> bool:
    """An id to put in a path or a body: ASCII letters, digits and dashes (GUIDs, as the pages show them)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None
