"""Users synced from Active Directory: which Active Directory actions Defender for Identity takes
(REVOKE_ONPREM_ACTIONS), and when the check after the next directory sync runs (REVOKE_VERIFY_*)."""

from __future__ import annotations

from revoke.actions import ONPREM_ORDER, ONPREM_SETTING_NAMES, ActiveDirectoryAction
from revoke.errors import SettingsError
from revoke.settings.names import SettingNames
from revoke.settings.values import parse_integer

# Microsoft Entra Connect runs a sync cycle every 30 minutes by default
# (https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler):
# one cycle and five minutes' margin, so the check reads what that cycle left.
DEFAULT_VERIFY_AFTER_SECONDS = 2100
# Azure Storage keeps a message invisible for at most 7 days.
MAX_VERIFY_AFTER_SECONDS = 7 * 24 * 3600
VERIFY_OFF = "off"


def parse_onprem_actions(raw: str | None) -> tuple[ActiveDirectoryAction, ...]:
    """Empty (the default): no Active Directory action. `disableAccount`, optionally with `forcePasswordReset`."""
    if raw is None:
        return ()
    name = SettingNames.ONPREM_ACTIONS
    expected = "empty, disableAccount, or disableAccount,forcePasswordReset"
    chosen = set()
    for item in raw.split(","):
        if not item.strip():
            continue
        action = ONPREM_SETTING_NAMES.get(item.strip().lower())
        if action is None:
            raise SettingsError(
                name, f"{item.strip()!r} is not disableAccount or forcePasswordReset", expected=expected
            )
        chosen.add(action)
    if chosen and ActiveDirectoryAction.DISABLE not in chosen:
        # A password reset alone leaves the account enabled: the next sync still re-enables it in the cloud.
        raise SettingsError(name, "forcePasswordReset needs disableAccount beside it", expected=expected)
    return tuple(action for action in ONPREM_ORDER if action in chosen)


def parse_verify_after(raw: str | None) -> int | None:
    """Seconds after a containment to check it again; None: `off`."""
    if raw is not None and raw.lower() == VERIFY_OFF:
        return None
    return parse_integer(
        SettingNames.VERIFY_AFTER_SECONDS, raw, DEFAULT_VERIFY_AFTER_SECONDS, 0, MAX_VERIFY_AFTER_SECONDS
    )
