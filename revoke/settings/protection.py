"""Protection by group and by directory role: the users this deployment must never act on because of
who they are in the directory, beside those REVOKE_PROTECTED_USERS names one by one."""

from __future__ import annotations

import uuid

from revoke.errors import SettingsError
from revoke.settings.names import SettingNames

# Membership is checked with Graph's checkMemberObjects, which takes up to 20 ids a call
# (directoryObject: checkMemberObjects); more ids cost more calls per user, so the total is bounded.
MAX_PROTECTED_OBJECTS = 60


def parse_protected_objects(name: str, raw: str | None, kind: str) -> frozenset[str]:
    """Comma-separated GUIDs (group object ids, or directory role template ids), lower-cased."""
    if raw is None:
        return frozenset()
    expected = f"a comma-separated list of {kind} (GUIDs)"
    found = set()
    for item in raw.split(","):
        if not item.strip():
            continue
        try:
            found.add(str(uuid.UUID(item.strip())))
        except ValueError:
            raise SettingsError(name, f"{item.strip()!r} is not a GUID", expected=expected) from None
    return frozenset(found)


def parse_protected_groups(raw: str | None) -> frozenset[str]:
    return parse_protected_objects(SettingNames.PROTECTED_GROUPS, raw, "group object ids")


def parse_protected_roles(raw: str | None) -> frozenset[str]:
    return parse_protected_objects(SettingNames.PROTECTED_ROLES, raw, "directory role template ids")


def check_protected_count(groups: frozenset[str], roles: frozenset[str]) -> None:
    if len(groups) + len(roles) > MAX_PROTECTED_OBJECTS:
        raise SettingsError(
            SettingNames.PROTECTED_GROUPS,
            f"{len(groups)} groups and {len(roles)} roles are more than {MAX_PROTECTED_OBJECTS} in all",
            expected=f"at most {MAX_PROTECTED_OBJECTS} groups and roles together (with {SettingNames.PROTECTED_ROLES})",
        )
