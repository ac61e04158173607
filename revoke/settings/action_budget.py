"""The action budget: how many targets each action may be sent for in any rolling hour, across
every instance and both triggers (docs/DEPLOY.md, "The action budget")."""

from __future__ import annotations

from revoke.actions import ContainmentAction, in_order
from revoke.errors import SettingsError
from revoke.settings.names import SettingNames
from revoke.settings.values import parse_integer

# Revoking sessions is cheap to undo (users sign in again); disabling stops people working;
# a confirmation raises their risk for good.
DEFAULT_ACTION_BUDGET = (
    (ContainmentAction.REVOKE_SESSIONS, 200),
    (ContainmentAction.DISABLE_ACCOUNT, 50),
    (ContainmentAction.CONFIRM_COMPROMISED, 100),
)
MAX_ACTION_BUDGET = 100_000
BUDGET_OFF = "off"


def parse_action_budget(raw: str | None) -> tuple[tuple[ContainmentAction, int], ...] | None:
    """`off`, or `action=N` pairs; an action not named keeps its default."""
    if raw is None:
        return DEFAULT_ACTION_BUDGET
    if raw.lower() == BUDGET_OFF:
        return None
    name = SettingNames.ACTION_BUDGET
    expected = f"off, or action=N pairs such as disableAccount=50 (N from 0 to {MAX_ACTION_BUDGET})"
    limits = dict(DEFAULT_ACTION_BUDGET)
    for pair in raw.split(","):
        if not pair.strip():
            continue
        action_name, equals, count = pair.partition("=")
        action = ContainmentAction.parse(action_name)
        if action is None or not equals:
            raise SettingsError(name, f"{pair.strip()!r} is not action=N", expected=expected)
        limits[action] = parse_integer(name, count.strip(), 0, 0, MAX_ACTION_BUDGET)
    return tuple((action, limits[action]) for action in in_order(limits))
