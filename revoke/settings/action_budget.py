"""The action budget: how many targets each action may be sent for in any rolling hour, across
every instance and both triggers (docs/DEPLOY.md, "The action budget")."""

from __future__ import annotations

from revoke.actions import ActiveDirectoryAction, ContainmentAction, ReleaseAction
from revoke.errors import SettingsError
from revoke.settings.names import SettingNames
from revoke.settings.values import parse_integer

# Every action the budget counts, by the name REVOKE_ACTION_BUDGET and the audit trail give it,
# with its default limit; an action is budgeted by being listed here. Revoking sessions is
# cheap to undo (users sign in again); disabling stops people working; a confirmation raises
# their risk for good. A release is held as tightly as what it undoes: re-enabling accounts
# in bulk is what a leaked release credential would do. The Active Directory actions
# (REVOKE_ONPREM_ACTIONS) stop people working as disabling does, and get its limit.
DEFAULT_ACTION_BUDGET: tuple[tuple[str, int], ...] = (
    (ContainmentAction.REVOKE_SESSIONS.value, 200),
    (ContainmentAction.DISABLE_ACCOUNT.value, 50),
    (ContainmentAction.CONFIRM_COMPROMISED.value, 100),
    (ReleaseAction.ENABLE_ACCOUNT.value, 50),
    (ReleaseAction.DISMISS_RISK.value, 100),
    (ActiveDirectoryAction.DISABLE.value, 50),
    (ActiveDirectoryAction.FORCE_PASSWORD_RESET.value, 50),
    (ActiveDirectoryAction.ENABLE.value, 50),
)
MAX_ACTION_BUDGET = 100_000
# The share of each action's hourly units only the request queue (Sentinel incidents) may take:
# HTTP callers together take the rest, so a leaked caller credential cannot spend what the next
# incident needs (docs/DEPLOY.md, "The action budget").
DEFAULT_QUEUE_BUDGET_SHARE = 0.25
BUDGET_OFF = "off"


def parse_action_budget(raw: str | None) -> tuple[tuple[str, int], ...] | None:
    """`off`, or `action=N` pairs naming budgeted actions (any case); an action not named keeps its default."""
    if raw is None:
        return DEFAULT_ACTION_BUDGET
    if raw.lower() == BUDGET_OFF:
        return None
    name = SettingNames.ACTION_BUDGET
    known = {action.lower(): action for action, _ in DEFAULT_ACTION_BUDGET}
    expected = (
        f"off, or action=N pairs such as disableAccount=50 (N from 0 to {MAX_ACTION_BUDGET}; "
        f"actions: {', '.join(known.values())})"
    )
    limits = dict(DEFAULT_ACTION_BUDGET)
    for pair in raw.split(","):
        if not pair.strip():
            continue
        action_name, equals, count = pair.partition("=")
        action = known.get(action_name.strip().lower())
        if action is None or not equals:
            raise SettingsError(name, f"{pair.strip()!r} is not action=N", expected=expected)
        limits[action] = parse_integer(name, count.strip(), 0, 0, MAX_ACTION_BUDGET)
    return tuple(limits.items())
