"""Microsoft Sentinel: the one workspace whose incidents the service may comment on, and the
Resource Manager endpoint it writes them through."""

from __future__ import annotations

from revoke.errors import SettingsError
from revoke.incidents import is_workspace_id
from revoke.settings.names import SettingNames

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"


def parse_workspace(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not is_workspace_id(raw):
        expected = "a Log Analytics workspace ARM id (/subscriptions/.../workspaces/NAME)"
        raise SettingsError(SettingNames.SENTINEL_WORKSPACE, f"{raw!r} is not {expected}", expected=expected)
    return raw
