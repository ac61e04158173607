"""How the service calls Microsoft Graph: as which identity, at which endpoint, with which actions,
and how long, how widely and how fast it may keep calling."""

from __future__ import annotations

import uuid
from enum import StrEnum

from revoke.actions import ContainmentAction, ReleaseAction, in_order, release_in_order
from revoke.errors import SettingsError
from revoke.settings.names import SettingNames
from revoke.settings.values import parse_number


class RevocationAction(StrEnum):
    """The Microsoft Graph action used to revoke a user's sessions."""

    REVOKE_SIGN_IN_SESSIONS = "revokeSignInSessions"
    INVALIDATE_ALL_REFRESH_TOKENS = "invalidateAllRefreshTokens"

    @property
    def api_version(self) -> str:
        # invalidateAllRefreshTokens only ever existed on the beta endpoint.
        return "v1.0" if self is RevocationAction.REVOKE_SIGN_IN_SESSIONS else "beta"


DEFAULT_GRAPH_ENDPOINT = "https://graph.microsoft.com"
DEFAULT_ACTIONS = (ContainmentAction.REVOKE_SESSIONS,)
DEFAULT_RETRY_BUDGET_SECONDS = 60.0
# Azure's front end ends an HTTP request after 230 s whatever the function does, and the
# queue host stops an invocation at host.json's functionTimeout (5 min, tested to stay above
# this). A budget must leave room for the last attempt, the token fetch and the audit after
# the final wait, or the caller gets a dropped connection instead of a 503 and Retry-After.
HTTP_FRONT_END_LIMIT_SECONDS = 230
RETRY_BUDGET_SLACK_SECONDS = 30
MIN_RETRY_BUDGET_SECONDS = 1
MAX_RETRY_BUDGET_SECONDS = HTTP_FRONT_END_LIMIT_SECONDS - RETRY_BUDGET_SLACK_SECONDS
DEFAULT_MAX_PARALLEL = 8
# Graph's documented identity write quota per app and tenant: 3,000 writes per 2 min 30 s.
DEFAULT_GRAPH_WRITE_QUOTA = (3000, 150.0)


def parse_client_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise SettingsError(
            SettingNames.CLIENT_ID, f"{raw!r} is not a client id (GUID)", expected="a client id (GUID)"
        ) from None


def parse_revocation_action(raw: str | None) -> RevocationAction:
    if raw is None:
        return RevocationAction.REVOKE_SIGN_IN_SESSIONS
    for action in RevocationAction:
        if action.value.lower() == raw.lower():
            return action
    choices = ", ".join(action.value for action in RevocationAction)
    raise SettingsError(SettingNames.ACTION, f"{raw!r} is not one of {choices}", expected=f"one of {choices}")


def parse_actions(raw: str | None) -> tuple[ContainmentAction, ...]:
    if raw is None:
        return DEFAULT_ACTIONS
    choices = ", ".join(action.value for action in ContainmentAction)
    chosen = set()
    for name in raw.split(","):
        if not name.strip():
            continue
        action = ContainmentAction.parse(name)
        if action is None:
            raise SettingsError(
                SettingNames.ACTIONS, f"{name.strip()!r} is not one of {choices}", expected=f"a list of {choices}"
            )
        chosen.add(action)
    if not chosen:
        raise SettingsError(SettingNames.ACTIONS, "names no action", expected=f"a list of {choices}")
    return in_order(chosen)


def parse_release_actions(raw: str | None) -> tuple[ReleaseAction, ...]:
    """Empty (the default) or "none": no release action is allowed."""
    if raw is None or raw.lower() == "none":
        return ()
    choices = ", ".join(action.value for action in ReleaseAction)
    chosen = set()
    for name in raw.split(","):
        if not name.strip():
            continue
        action = ReleaseAction.parse(name)
        if action is None:
            raise SettingsError(
                SettingNames.RELEASE_ACTIONS,
                f"{name.strip()!r} is not one of {choices}",
                expected=f"none, or a list of {choices}",
            )
        chosen.add(action)
    return release_in_order(chosen)


def parse_retry_budget(raw: str | None) -> float:
    name = SettingNames.RETRY_BUDGET_SECONDS
    low, high = MIN_RETRY_BUDGET_SECONDS, MAX_RETRY_BUDGET_SECONDS
    return parse_number(name, raw, DEFAULT_RETRY_BUDGET_SECONDS, low, high, float, "a number of seconds")


def parse_write_quota(raw: str | None) -> tuple[int, float]:
    """`writes/seconds`, as Graph documents its limit (3000/150)."""
    if raw is None:
        return DEFAULT_GRAPH_WRITE_QUOTA
    expected = "writes/seconds, such as 3000/150"
    writes, _, seconds = raw.partition("/")
    try:
        quota = (int(writes), float(seconds))
    except ValueError:
        raise SettingsError(SettingNames.GRAPH_WRITE_QUOTA, f"{raw!r} is not {expected}", expected=expected) from None
    if not (1 <= quota[0] <= 1_000_000 and 0.1 <= quota[1] <= 86_400):
        raise SettingsError(SettingNames.GRAPH_WRITE_QUOTA, f"{raw!r} is out of range", expected=expected)
    return quota
