"""Whom a containment disabled, and what the check after the next directory sync must read for each
(revoke.containment.verification schedules it). Kept apart so that a containment without the check
does not import it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from revoke.actions import ActiveDirectoryAction, ContainmentAction
from revoke.containment.verdict import TargetResult, record_of
from revoke.identifiers import UserIdentifier
from revoke.outcomes import Outcome, UserLookup, clean_object_id

if TYPE_CHECKING:
    from revoke.graph.defender_identity import IdentityAccount


@dataclass(frozen=True)
class DisabledUser:
    """A user the request disabled: how the request named them, the name to read them by, and the
    Defender for Identity account whose Active Directory account was disabled too, if it was."""

    user: str
    address: str  # object id; the UPN when no clean look-up gave one
    identity_account: str | None = None
    sid: str | None = None

    def as_json(self) -> dict[str, Any]:
        account = {"id": self.identity_account, "sid": self.sid} if self.identity_account else None
        return {"user": self.user, "address": self.address, "identityAccount": account}


def disabled_users(
    results: Sequence[TargetResult],
    targets: Sequence[UserIdentifier],
    lookups: Mapping[int, UserLookup],
    accounts: Mapping[int, IdentityAccount],
) -> tuple[DisabledUser, ...]:
    """Every target Graph confirmed disabled, with what the check after the next sync must read."""
    disabled = []
    for i, result in enumerate(results):
        if not _confirmed(result, ContainmentAction.DISABLE_ACCOUNT):
            continue
        lookup = lookups.get(i)
        address = clean_object_id(lookup) or targets[i].value
        account = accounts.get(i) if _confirmed(result, ActiveDirectoryAction.DISABLE) else None
        if account is not None and account.found:
            disabled.append(DisabledUser(result.user, address, account.identity_id, account.sid))
        else:
            disabled.append(DisabledUser(result.user, address))
    return tuple(disabled)


def _confirmed(result: TargetResult, action: str) -> bool:
    return record_of(result.actions, action, Outcome.DISABLED) is not None
