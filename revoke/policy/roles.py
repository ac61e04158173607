"""The app roles a caller may hold, what each grants, and the typed `Caller` the token check returns.

Kept apart from the token check (`revoke.policy.callers`) so that the containment core and
other routes can name roles and check them without importing PyJWT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from revoke.actions import ContainmentAction
from revoke.errors import CallerNotPermitted

ROLE_REVOKE = "Containment.Revoke"
ROLE_DISABLE = "Containment.Disable"
ROLE_CONFIRM_COMPROMISED = "Containment.ConfirmCompromised"
ROLE_RELEASE = "Containment.Release"
ROLE_CAMPAIGN = "Containment.Campaign"
ALL_ROLES = (ROLE_REVOKE, ROLE_DISABLE, ROLE_CONFIRM_COMPROMISED, ROLE_RELEASE, ROLE_CAMPAIGN)

# The app role each containment action needs (the legacy invalidateAllRefreshTokens is revocation).
ACTION_ROLES = {
    ContainmentAction.REVOKE_SESSIONS: ROLE_REVOKE,
    ContainmentAction.DISABLE_ACCOUNT: ROLE_DISABLE,
    ContainmentAction.CONFIRM_COMPROMISED: ROLE_CONFIRM_COMPROMISED,
}


@dataclass(frozen=True)
class Caller:
    """Who sent a request, and the app roles it holds; `identified` is False for function-key callers."""

    app_id: str | None
    object_id: str | None
    roles: frozenset[str]
    identified: bool = True

    def holds(self, role: str) -> bool:
        return role in self.roles

    def require(self, *roles: str) -> None:
        """CallerNotPermitted naming every role in `roles` the caller lacks."""
        missing = tuple(role for role in roles if role not in self.roles)
        if missing:
            raise CallerNotPermitted(missing, f"the caller lacks the app role {', '.join(missing)}")

    def may(self, action: ContainmentAction) -> bool:
        return self.holds(ACTION_ROLES[action])

    def permitted(self, actions: Iterable[ContainmentAction]) -> tuple[ContainmentAction, ...]:
        return tuple(action for action in actions if self.may(action))


# Whoever holds the function key, when REVOKE_CALLER_AUTH=key: today's behaviour, every action.
FUNCTION_KEY_HOLDER = Caller(None, None, frozenset(ALL_ROLES), identified=False)


def roles_for(actions: Iterable[ContainmentAction]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ACTION_ROLES[action] for action in actions))
