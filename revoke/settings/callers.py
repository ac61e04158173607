"""Who may call the HTTP API: an Entra ID token for it or only the function key, and the authority,
tenant and audiences such a token is checked against."""

from __future__ import annotations

import re
import uuid
from enum import StrEnum

from revoke.errors import SettingsError
from revoke.settings.names import SettingNames
from revoke.settings.values import parse_choice


class CallerAuth(StrEnum):
    """How an HTTP caller is told apart: an Entra ID token for this API, or only the function key."""

    ENTRA = "entra"
    KEY = "key"


DEFAULT_AUTH_AUTHORITY = "https://login.microsoftonline.com"
_AUDIENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:/_-]{0,254}")


def parse_caller_auth(raw: str | None) -> CallerAuth:
    return parse_choice(SettingNames.CALLER_AUTH, raw, CallerAuth.ENTRA)


def parse_tenant_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        expected = "the Entra tenant id (a GUID)"
        raise SettingsError(SettingNames.AUTH_TENANT_ID, f"{raw!r} is not {expected}", expected=expected) from None


def parse_audiences(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    audiences = tuple(dict.fromkeys(item.strip() for item in raw.split(",") if item.strip()))
    expected = "a comma-separated list of the API's client id and/or its api:// identifier URI"
    for audience in audiences:
        if not _AUDIENCE.fullmatch(audience):
            raise SettingsError(SettingNames.AUTH_AUDIENCE, f"{audience!r} is not an audience", expected=expected)
    return audiences
