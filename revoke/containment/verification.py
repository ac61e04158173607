"""The check after the next directory sync: is every account a request disabled still disabled?

A user synced from Active Directory is enabled again in Entra ID by the next directory sync
unless their Active Directory account is disabled too (Entra Connect syncs every 30 minutes by
default: https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler),
and anyone with the rights can enable an account by hand. So after a containment that disabled
someone, a message waits on REVOKE_VERIFY_QUEUE_NAME for REVOKE_VERIFY_AFTER_SECONDS (one sync
cycle and a margin), invisible until then (`send_message(visibility_timeout=...)`, as campaigns
pace themselves). When it arrives, each user is read again: Entra ID's `accountEnabled`, and,
where Defender for Identity disabled the Active Directory account, that identity account's
`isEnabled`. Each user gets one audit event, `verified` (still disabled everywhere it was
disabled) or `reverted` (enabled again; the detail says where), or `failed` when it could not
be read. A revert is commented on the incident. Nothing is ever done again by itself: whether to
contain again is a person's call.

If the message cannot be scheduled, the answer and an audit event say so; no verdict changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from revoke.audit.events import RequestContext, audit_event, emit
from revoke.containment.disabled import DisabledUser
from revoke.deadline import Deadline
from revoke.errors import RetryLater, SettingsError
from revoke.graph.defender_identity import IdentityAccount
from revoke.identifiers import is_object_id, is_sid, parse_user_identifier
from revoke.outcomes import AccountState, CommentResult, VerificationResult
from revoke.settings import Settings

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "revoke.verify/1"
VERIFY_ACTION = "verifyContainment"  # the audit events' action
MAX_USERS_PER_MESSAGE = 100  # a queue message holds at most 64 KiB; a user takes about 250 bytes
VERIFY_REASON = "check after the next directory sync"
SCHEDULE_FLOOR_SECONDS = 5.0  # scheduling after a containment that used its whole budget still gets this long
_MAX_TEXT = 512


# --- scheduling -------------------------------------------------------------------------------
class VerifyQueue(Protocol):
    def send(self, message: dict[str, Any], delay_seconds: int, deadline: Deadline) -> None:
        """Put `message` on the verify queue, invisible for `delay_seconds`; raise if it was not stored."""


def verification_messages(
    disabled: Sequence[DisabledUser], context: RequestContext, incident_id: str | None, due: datetime
) -> list[dict[str, Any]]:
    """The messages for `disabled`, at most MAX_USERS_PER_MESSAGE users each."""
    return [
        {
            "type": MESSAGE_TYPE,
            "correlationId": context.correlation_id,
            "incidentId": incident_id,
            "due": due.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "users": [user.as_json() for user in disabled[start : start + MAX_USERS_PER_MESSAGE]],
        }
        for start in range(0, len(disabled), MAX_USERS_PER_MESSAGE)
    ]


def schedule(
    settings: Settings,
    queue_for: Callable[[], VerifyQueue] | None,
    disabled: Sequence[DisabledUser],
    context: RequestContext,
    incident_id: str | None,
    deadline: Deadline,
) -> VerificationResult | None:
    """Schedule the check for `disabled` (None when there is nothing to check or the check is off), audited.

    `queue_for` gives the verify queue, built on first use; None: this process has none (the CLI without
    a host storage connection)."""
    delay = settings.verify_after_seconds
    if delay is None or not disabled:
        return None
    due = datetime.now(UTC) + timedelta(seconds=delay)
    messages = verification_messages(disabled, context, incident_id, due)
    time_left = Deadline(max(deadline.remaining(), SCHEDULE_FLOOR_SECONDS))
    try:
        if queue_for is None:
            raise RuntimeError("no verify queue: the host storage connection is not configured")
        queue = queue_for()
        for message in messages:
            queue.send(message, delay, time_left)
    except Exception as problem:  # a check that cannot be scheduled never changes a verdict
        logger.error("Could not schedule the check after the next directory sync: %s", type(problem).__name__)
        # The settings' own messages name what to fix; a Storage error's text could quote a URL or a key.
        why = problem.public_message if isinstance(problem, SettingsError) else None
        why = why or (str(problem) if type(problem) is RuntimeError else type(problem).__name__)
        detail = f"could not schedule the check after the next directory sync ({why}); the verdicts stand"
        result = VerificationResult("failed", detail[:_MAX_TEXT])
    else:
        shown = due.isoformat(timespec="seconds").replace("+00:00", "Z")
        detail = f"{len(disabled)} disabled account(s) checked again at {shown}, after the next directory sync"
        result = VerificationResult("scheduled", detail, shown)
    emit(audit_event(context, result.status, action=VERIFY_ACTION, user=None, detail=result.detail))
    return result


# --- checking --------------------------------------------------------------------------------
class AccountStates(Protocol):
    def read(self, addresses: Sequence[str], deadline: Deadline) -> list[AccountState]: ...


class IdentityAccountReader(Protocol):
    def read(self, accounts: Sequence[IdentityAccount], deadline: Deadline) -> list[IdentityAccount]: ...


@dataclass(frozen=True)
class Reverted:
    """A user found enabled again, and where: `Entra ID`, `Active Directory`, or both."""

    user: str
    where: tuple[str, ...]


class RevertedComments(Protocol):
    def reverted(
        self, incident_id: str, correlation_id: str, reverted: Sequence[Reverted], deadline: Deadline
    ) -> CommentResult | None: ...


class NotAVerification(ValueError):
    """A message on the verify queue that is not one this service wrote."""


@dataclass(frozen=True)
class Check:
    """One verification message, read back."""

    correlation_id: str
    incident_id: str | None
    users: tuple[DisabledUser, ...]


def read_check(message: Mapping[str, Any]) -> Check:
    """The message as written by `verification_messages`; NotAVerification for anything else."""
    if message.get("type") != MESSAGE_TYPE or not isinstance(message.get("users"), list):
        raise NotAVerification("not a verification message")
    correlation_id, incident_id = message.get("correlationId"), message.get("incidentId")
    if not isinstance(correlation_id, str) or not 0 < len(correlation_id) <= 128:
        raise NotAVerification("no correlation id")
    if incident_id is not None and not (isinstance(incident_id, str) and len(incident_id) <= _MAX_TEXT):
        raise NotAVerification("an incident id that is not text")
    users = tuple(_user(item) for item in message["users"][:MAX_USERS_PER_MESSAGE])
    if not users:
        raise NotAVerification("no users")
    return Check(correlation_id, incident_id, users)


def _user(item: Any) -> DisabledUser:
    if not isinstance(item, dict) or not isinstance(item.get("user"), str) or not isinstance(item.get("address"), str):
        raise NotAVerification("a user without a name")
    try:
        address = parse_user_identifier(item["address"])
    except ValueError:
        raise NotAVerification("a user address that is no object id or UPN") from None
    account = item.get("identityAccount")
    if account is None:
        return DisabledUser(item["user"][:256], address.value)
    if not isinstance(account, dict) or not is_object_id(str(account.get("id"))) or not is_sid(str(account.get("sid"))):
        raise NotAVerification("an identity account without its id and SID")
    return DisabledUser(item["user"][:256], address.value, str(account["id"]), str(account["sid"]))


class Verification:
    """Reads each user again and audits what it found; comments on the incident when someone was reverted."""

    def __init__(
        self,
        settings: Settings,
        states: AccountStates,
        identity_accounts: IdentityAccountReader | None = None,
        comments: RevertedComments | None = None,
    ) -> None:
        self._settings = settings
        self._states = states
        self._identity_accounts = identity_accounts
        self._comments = comments

    def check(self, message: Mapping[str, Any], *, final: bool) -> list[str]:
        """Each user's outcome (verified, reverted, failed), audited. RetryLater (nothing audited) when a
        read failed for a reason that may pass and this is not the message's last delivery."""
        deadline = Deadline(self._settings.retry_budget_seconds)
        check = read_check(message)
        context = RequestContext("queue", check.correlation_id, incident_id=check.incident_id, reason=VERIFY_REASON)
        states = self._states.read([user.address for user in check.users], deadline)
        accounts = self._accounts(check.users, deadline)
        errors = [state.error for state in states] + [account.error for account in accounts.values()]
        transient = [error for error in errors if error is not None and error.transient]
        if transient and not final:
            raise RetryLater(
                f"the check after the next directory sync could not read every account; {check.correlation_id}"
            )
        outcomes: list[str] = []
        reverted: list[Reverted] = []
        for i, user in enumerate(check.users):
            outcome, detail, where = _judged(states[i], accounts.get(i))
            if where:
                reverted.append(Reverted(user.user, where))
            outcomes.append(outcome)
            emit(audit_event(context, outcome, action=VERIFY_ACTION, user=user.user, detail=detail))
        if reverted and check.incident_id is not None and self._comments is not None:
            self._comments.reverted(check.incident_id, check.correlation_id, reverted, deadline)
        return outcomes

    def _accounts(self, users: Sequence[DisabledUser], deadline: Deadline) -> dict[int, IdentityAccount]:
        wanted = [i for i, user in enumerate(users) if user.identity_account is not None]
        if not wanted or self._identity_accounts is None:
            return {}
        asked = [IdentityAccount(str(users[i].sid), identity_id=users[i].identity_account) for i in wanted]
        return dict(zip(wanted, self._identity_accounts.read(asked, deadline), strict=True))


def _judged(state: AccountState, account: IdentityAccount | None) -> tuple[str, str, tuple[str, ...]]:
    """(outcome, detail, where it was enabled again) for one user."""
    where = tuple(
        place
        for place, enabled in (("Entra ID", state.enabled), ("Active Directory", account.enabled if account else None))
        if enabled is True
    )
    if where:
        return "reverted", f"enabled again in {' and '.join(where)}: contain the user again", where
    unread = [
        f"{place}: {error.detail}"
        for place, error in (("Entra ID", state.error), ("Active Directory", account.error if account else None))
        if error is not None
    ]
    if state.enabled is False and (account is None or account.enabled is False):
        kept = "in Entra ID and in Active Directory" if account is not None else "in Entra ID"
        return "verified", f"still disabled {kept} after the directory sync", ()
    reasons = "; ".join(unread) or "the answer did not say whether the account is enabled"
    return "failed", f"could not read whether the account is still disabled ({reasons})"[:_MAX_TEXT], ()
