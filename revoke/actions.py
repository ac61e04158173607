"""The containment actions: what each asks Graph to do, and the Graph permission it needs.

For each target they run in this order: disable the account, revoke the sessions, confirm
the compromise. Microsoft documents this order for a compromised account: revoking first
leaves a window in which a stolen password or refresh token mints new tokens. A deployment allows a set of them (REVOKE_ACTIONS); a request may ask for
a subset.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from revoke.errors import ActionNotAllowed, InvalidField
from revoke.untrusted import quoted


class ContainmentAction(StrEnum):
    REVOKE_SESSIONS = "revokeSignInSessions"
    DISABLE_ACCOUNT = "disableAccount"
    CONFIRM_COMPROMISED = "confirmCompromised"

    @property
    def app_roles(self) -> tuple[str, ...]:
        """The least-privileged Microsoft Graph application permissions for the action."""
        return _APP_ROLES[self]

    @classmethod
    def parse(cls, name: str) -> ContainmentAction | None:
        """The action `name` names, ignoring case; None if it names none."""
        return next((action for action in cls if action.value.lower() == name.strip().lower()), None)


ORDER = (ContainmentAction.DISABLE_ACCOUNT, ContainmentAction.REVOKE_SESSIONS, ContainmentAction.CONFIRM_COMPROMISED)
# The actions that can contain a user (confirmCompromised records a risk signal only).
CONTAINING = frozenset({ContainmentAction.DISABLE_ACCOUNT, ContainmentAction.REVOKE_SESSIONS})

_APP_ROLES = {
    ContainmentAction.REVOKE_SESSIONS: ("User.RevokeSessions.All",),
    # Microsoft documents this pair as the least privilege for changing accountEnabled.
    ContainmentAction.DISABLE_ACCOUNT: ("User.EnableDisableAccount.All", "User.Read.All"),
    ContainmentAction.CONFIRM_COMPROMISED: ("IdentityRiskyUser.ReadWrite.All",),
}


def in_order(actions: Iterable[ContainmentAction]) -> tuple[ContainmentAction, ...]:
    chosen = set(actions)
    return tuple(action for action in ORDER if action in chosen)


def parse_actions(names: Iterable[str]) -> tuple[ContainmentAction, ...]:
    """The actions `names` asks for, in order; InvalidField naming the first unknown one."""
    actions = []
    for name in names:
        action = ContainmentAction.parse(name)
        if action is None:
            known = ", ".join(known.value for known in ContainmentAction)
            raise InvalidField(f"unknown action {quoted(name)}; known: {known}")
        actions.append(action)
    return in_order(actions)


def allowed_subset(
    requested: Iterable[ContainmentAction], allowed: tuple[ContainmentAction, ...]
) -> tuple[ContainmentAction, ...]:
    """`requested` if the deployment allows all of it; else ActionNotAllowed naming what it does not."""
    chosen = in_order(requested)
    refused = [action.value for action in chosen if action not in allowed]
    if refused:
        raise ActionNotAllowed(
            f"this deployment does not allow {', '.join(refused)} (REVOKE_ACTIONS allows "
            f"{', '.join(action.value for action in allowed)})"
        )
    return chosen


class ActiveDirectoryAction(StrEnum):
    """What Microsoft Defender for Identity is asked to do to a synced user's Active Directory account.

    A user synced from Active Directory gets its accountEnabled back from there at the next
    directory sync, so the cloud disable alone does not hold (docs/CONTAINED.md). With
    REVOKE_ONPREM_ACTIONS set, these run for synced users only, through Graph's
    identityAccounts invokeAction, each audited and budgeted under its own name.
    """

    DISABLE = "disableActiveDirectoryAccount"
    FORCE_PASSWORD_RESET = "forceActiveDirectoryPasswordReset"  # noqa: S105 - an action's name
    ENABLE = "enableActiveDirectoryAccount"  # a release's, never a containment's

    @property
    def invoked_as(self) -> str:
        """The invokeAction `action` value (https://learn.microsoft.com/graph/api/security-identityaccounts-invokeaction)."""
        return _INVOKED_AS[self]


_INVOKED_AS = {
    ActiveDirectoryAction.DISABLE: "disable",
    ActiveDirectoryAction.FORCE_PASSWORD_RESET: "forcePasswordReset",
    ActiveDirectoryAction.ENABLE: "enable",
}
# List identityAccounts (by SID) needs the first; invokeAction the second (both documented as least privilege).
ACTIVE_DIRECTORY_APP_ROLES = ("SecurityIdentitiesAccount.Read.All", "SecurityIdentitiesActions.ReadWrite.All")
# REVOKE_ONPREM_ACTIONS names these by the containment action they complete: disableAccount and forcePasswordReset.
ONPREM_SETTING_NAMES = {
    "disableaccount": ActiveDirectoryAction.DISABLE,
    "forcepasswordreset": ActiveDirectoryAction.FORCE_PASSWORD_RESET,
}
ONPREM_ORDER = (ActiveDirectoryAction.DISABLE, ActiveDirectoryAction.FORCE_PASSWORD_RESET)


class ReleaseAction(StrEnum):
    """The actions that undo a containment (a false positive): allowed by REVOKE_RELEASE_ACTIONS."""

    ENABLE_ACCOUNT = "enableAccount"
    DISMISS_RISK = "dismissRisk"

    @property
    def app_roles(self) -> tuple[str, ...]:
        return _RELEASE_APP_ROLES[self]

    @classmethod
    def parse(cls, name: str) -> ReleaseAction | None:
        return next((action for action in cls if action.value.lower() == name.strip().lower()), None)


RELEASE_ORDER = (ReleaseAction.ENABLE_ACCOUNT, ReleaseAction.DISMISS_RISK)

_RELEASE_APP_ROLES = {
    # The same pair that disables an account enables it again.
    ReleaseAction.ENABLE_ACCOUNT: ("User.EnableDisableAccount.All", "User.Read.All"),
    ReleaseAction.DISMISS_RISK: ("IdentityRiskyUser.ReadWrite.All",),
}


def release_in_order(actions: Iterable[ReleaseAction]) -> tuple[ReleaseAction, ...]:
    chosen = set(actions)
    return tuple(action for action in RELEASE_ORDER if action in chosen)


def parse_release_actions(names: Iterable[str]) -> tuple[ReleaseAction, ...]:
    """The release actions `names` asks for, in order; InvalidField naming the first unknown one."""
    actions = []
    for name in names:
        action = ReleaseAction.parse(name)
        if action is None:
            known = ", ".join(known.value for known in ReleaseAction)
            raise InvalidField(f"unknown release action {quoted(name)}; known: {known}")
        actions.append(action)
    return release_in_order(actions)


def allowed_release_subset(
    requested: Iterable[ReleaseAction], allowed: tuple[ReleaseAction, ...]
) -> tuple[ReleaseAction, ...]:
    """`requested` (all allowed when empty) if the deployment allows it; else ActionNotAllowed."""
    if not allowed:
        raise ActionNotAllowed("this deployment allows no release action (REVOKE_RELEASE_ACTIONS is empty)")
    chosen = release_in_order(requested) or allowed
    refused = [action.value for action in chosen if action not in allowed]
    if refused:
        raise ActionNotAllowed(
            f"this deployment does not allow {', '.join(refused)} (REVOKE_RELEASE_ACTIONS allows "
            f"{', '.join(action.value for action in allowed)})"
        )
    return chosen
