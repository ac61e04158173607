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
