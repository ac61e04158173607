"""The containment actions: what each asks Graph to do, and the Graph permission it needs.

For each target they run in this order: revoke the sessions, disable the account, confirm
the compromise. A deployment allows a set of them (REVOKE_ACTIONS); a request may ask for
a subset.
"""

from __future__ import annotations

from enum import StrEnum


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


ORDER = (ContainmentAction.REVOKE_SESSIONS, ContainmentAction.DISABLE_ACCOUNT, ContainmentAction.CONFIRM_COMPROMISED)

_APP_ROLES = {
    ContainmentAction.REVOKE_SESSIONS: ("User.RevokeSessions.All",),
    # Microsoft documents this pair as the least privilege for changing accountEnabled.
    ContainmentAction.DISABLE_ACCOUNT: ("User.EnableDisableAccount.All", "User.Read.All"),
    ContainmentAction.CONFIRM_COMPROMISED: ("IdentityRiskyUser.ReadWrite.All",),
}


def in_order(actions: set[ContainmentAction] | frozenset[ContainmentAction]) -> tuple[ContainmentAction, ...]:
    return tuple(action for action in ORDER if action in actions)
