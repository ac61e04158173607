"""What one request may reach: how many accounts and bytes it may hold, how many users it may act
on, and the users it must never act on."""

from __future__ import annotations

from revoke.errors import SettingsError
from revoke.identifiers import parse_user_identifier
from revoke.settings.names import SettingNames

# More accounts than this in one payload is not an incident to contain in one call: the
# request is rejected before the rest is validated (REVOKE_MAX_USERS can be at most this).
MAX_ACCOUNTS = 1000
DEFAULT_MAX_USERS = 25
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MIN_MAX_BODY_BYTES = 1024
# The costliest 2 MiB body takes the parser about 0.7 s of CPU and 100 MB; more would hold a
# worker for seconds per request (docs/RELIABILITY.md, `python -m bench.body_ceiling`).
MAX_BODY_BYTES_CEILING = 2 * 1024 * 1024


def parse_protected_users(raw: str | None) -> frozenset[str]:
    if raw is None:
        return frozenset()
    protected = set()
    for item in raw.split(","):
        if not item.strip():
            continue
        try:
            protected.add(parse_user_identifier(item.strip()).key)
        except ValueError as problem:
            raise SettingsError(
                SettingNames.PROTECTED_USERS,
                str(problem),
                expected="a comma-separated list of Entra object ids (GUIDs) and UPNs",
            ) from None
    return frozenset(protected)
