"""Who is at the terminal: the credential the CLI signs in with, and what its token says.

The CLI acts as the responder signed in with `az login` (or a service principal from the
environment). It asks for a token once before anything else, so a missing sign-in is one
clear message, not a chain of library errors; and it reads the token's `oid`, `upn`,
`appid`, `scp` and `wids` claims to name the responder in the audit trail and to say which
directory role a delegated caller needs. The claims are read, not verified: the token came
from our own credential a moment ago, and nothing is authorised on the strength of them.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential

from revoke.settings import Settings

NO_CREDENTIAL = "no credential: sign in with `az login` (or set AZURE_CLIENT_ID for a service principal)"
# The App Service managed-identity endpoint: present on Azure, or pointed at graphsim locally.
IDENTITY_ENDPOINT = "IDENTITY_ENDPOINT"


class NoCredential(Exception):
    """No credential on this machine could give a token; `str()` says what to do."""


@dataclass(frozen=True)
class Responder:
    """The signed-in caller as its token names it; any part may be unknown."""

    object_id: str | None = None
    upn: str | None = None
    app_id: str | None = None
    delegated: bool = False  # a user's token (scp), not an application's (roles)


def caller_fields(responder: Responder) -> dict[str, str | None]:
    """The audit event's fields that name the responder, as the CLI writes them in each event."""
    return {"callerAppId": responder.app_id, "callerObjectId": responder.object_id, "callerUpn": responder.upn}


def developer_credential(settings: Settings) -> TokenCredential:
    """`az login` and friends; a managed identity only where its endpoint is configured.

    DefaultAzureCredential would otherwise probe the instance metadata endpoint on a laptop
    and retry it for seconds before saying there is no credential.
    """
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(
        managed_identity_client_id=settings.client_id,
        exclude_managed_identity_credential=not os.environ.get(IDENTITY_ENDPOINT),
    )


def sign_in(credential: TokenCredential, scope: str) -> tuple[str, Responder]:
    """A token for `scope` and who it names; NoCredential when no credential gives one."""
    # azure-identity logs every credential it tried, at WARNING, before it raises: the one
    # line below says what to do instead (the library's text can also quote an endpoint's answer).
    library = logging.getLogger("azure.identity")
    level = library.level
    library.setLevel(logging.CRITICAL)
    try:
        token = credential.get_token(scope).token
    except Exception:
        raise NoCredential(NO_CREDENTIAL) from None
    finally:
        library.setLevel(level)
    return token, responder_in(claims_in(token) or {})


# An access token longer than this is not read: Entra ID's are a few kilobytes.
MAX_TOKEN_CHARACTERS = 64 * 1024


def claims_in(token: str) -> dict[str, Any] | None:
    """A JWT's claims, or None for anything that is not a readable, reasonably sized JSON object.

    Whoever answers as the identity endpoint chooses the token: a payload megabytes long, or
    nested deeper than the parser's recursion limit, is unreadable, never a crash.
    """
    if len(token) > MAX_TOKEN_CHARACTERS:
        return None
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


def responder_in(claims: dict[str, Any]) -> Responder:
    def text(name: str) -> str | None:
        value = claims.get(name)
        return value[:256] if isinstance(value, str) and value else None

    return Responder(
        object_id=text("oid"),
        upn=text("upn") or text("preferred_username") or text("unique_name"),
        app_id=text("appid") or text("azp"),
        delegated=isinstance(claims.get("scp"), str),
    )
