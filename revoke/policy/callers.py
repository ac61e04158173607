"""Who is calling: an Entra ID access token for this API, validated with PyJWT, read into one `Caller`.

With REVOKE_CALLER_AUTH=entra every HTTP route needs `Authorization: Bearer <token>` on top
of the function key: RS256 only, signed by a key the tenant publishes (`revoke.policy.keys`),
`iss` the tenant's v2.0 issuer, `tid` the tenant, `aud` one of REVOKE_AUTH_AUDIENCE, `exp` and
`nbf` with at most LEEWAY_SECONDS of leeway. The caller's app roles (the `roles` claim) say
which actions it may ask for. Any failure is `InvalidCallerToken` with a short reason code;
the token is never logged, kept or echoed. With REVOKE_CALLER_AUTH=key the function key alone
lets a caller in, holding every role: today's behaviour, which the health check warns about.

Other routes reuse the check: `identify_caller(headers, settings, deadline)` returns the
Caller, and `caller.require(ROLE)` raises `CallerNotPermitted` naming the missing role.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

import jwt

from revoke.audit.events import RequestContext, audit_event, emit
from revoke.deadline import Deadline
from revoke.errors import CallerNotPermitted, CallerRefused, InvalidCallerToken, SettingsError
from revoke.outcomes import Outcome
from revoke.policy.keys import KeysUnavailable, UnknownKey, signing_keys
from revoke.policy.roles import (
    ACTION_ROLES,
    ALL_ROLES,
    FUNCTION_KEY_HOLDER,
    ROLE_CAMPAIGN,
    ROLE_CONFIRM_COMPROMISED,
    ROLE_DISABLE,
    ROLE_RELEASE,
    ROLE_REVOKE,
    Caller,
    roles_for,
)
from revoke.settings import CallerAuth, SettingNames, Settings

logger = logging.getLogger(__name__)

__all__ = [
    "ACTION_ROLES",
    "ALL_ROLES",
    "FUNCTION_KEY_HOLDER",
    "ROLE_CAMPAIGN",
    "ROLE_CONFIRM_COMPROMISED",
    "ROLE_DISABLE",
    "ROLE_RELEASE",
    "ROLE_REVOKE",
    "Caller",
    "admit_to_route",
    "audit_refusal",
    "identify_caller",
    "roles_for",
]

ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 60
MAX_TOKEN_LENGTH = 16 * 1024
REQUIRED_CLAIMS = ["exp", "nbf", "iss", "aud", "tid", "oid"]
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")  # alg none: no signature
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+)")
_CLAIM_TEXT = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def admit_to_route(headers: Mapping[str, str], settings: Settings, deadline: Deadline, *roles: str) -> Caller:
    """The caller of a route that takes no action of its own (health): a valid token holding one
    of `roles` (any Containment role when none are named). Refusals are audited as `rejected`."""
    wanted = roles or ALL_ROLES
    try:
        caller = identify_caller(headers, settings, deadline)
        if not any(caller.holds(role) for role in wanted):
            raise CallerNotPermitted(tuple(wanted), f"the caller holds none of the app roles {', '.join(wanted)}")
    except CallerRefused as refusal:
        audit_refusal("http", refusal)
        raise
    return caller


def audit_refusal(
    trigger: str, refusal: CallerRefused, correlation_id: str | None = None, caller: Caller | None = None
) -> str:
    """The `rejected` audit event of a refused caller (named when its token was valid); returns the correlation id."""
    context = RequestContext(
        trigger,
        correlation_id or str(uuid.uuid4()),
        caller_app_id=caller.app_id if caller else None,
        caller_object_id=caller.object_id if caller else None,
    )
    emit(audit_event(context, Outcome.REJECTED, action=None, user=None, detail=f"{refusal.code}: {refusal.message}"))
    return context.correlation_id


def identify_caller(headers: Mapping[str, str], settings: Settings, deadline: Deadline) -> Caller:
    """The caller the request's token names, or InvalidCallerToken; with `key` auth, the key holder."""
    if settings.caller_auth is CallerAuth.KEY:
        return FUNCTION_KEY_HOLDER
    if settings.auth_tenant_id is None or not settings.auth_audiences:
        missing = SettingNames.AUTH_TENANT_ID if settings.auth_tenant_id is None else SettingNames.AUTH_AUDIENCE
        raise SettingsError(missing, "is not set", expected="set when REVOKE_CALLER_AUTH is entra")
    token = _bearer_token(headers)
    claims = _verified_claims(token, settings, deadline)
    app_id = claims.get("azp") or claims.get("appid")
    object_id = claims.get("oid")
    if not _is_claim_text(app_id) or not _is_claim_text(object_id):
        raise _refused("missing_claim", "the token names no calling app (azp or appid) and object (oid)")
    roles = claims.get("roles", [])
    held = frozenset(role for role in roles if role in ALL_ROLES) if isinstance(roles, list) else frozenset()
    return Caller(str(app_id), str(object_id), held)


def _bearer_token(headers: Mapping[str, str]) -> str:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if not value:
        raise _refused("missing_token", "send Authorization: Bearer <an Entra ID access token for this API>")
    match = _BEARER.fullmatch(value.strip())
    if match is None or len(match.group(1)) > MAX_TOKEN_LENGTH or not _JWT.fullmatch(match.group(1)):
        raise _refused("malformed_token", "the Authorization header holds no bearer JWT")
    return match.group(1)


def _verified_claims(token: str, settings: Settings, deadline: Deadline) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _refused("malformed_token", "the token's header cannot be read") from None
    if header.get("alg") not in ALGORITHMS:
        raise _refused("alg_not_allowed", "the token is not signed with RS256")
    kid = header.get("kid")
    if not isinstance(kid, str) or not _is_claim_text(kid):
        raise _refused("malformed_token", "the token names no signing key (kid)")
    assert settings.auth_tenant_id is not None
    try:
        key = signing_keys(settings.auth_authority, settings.auth_tenant_id).key_for(kid, deadline)
    except UnknownKey:
        raise _refused("unknown_key", "the token is not signed by a key the tenant publishes") from None
    except KeysUnavailable:
        raise _refused("keys_unavailable", "the tenant's signing keys could not be fetched; try again later") from None
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=list(settings.auth_audiences),
            issuer=settings.auth_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS, "strict_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise _refused("expired", "the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise _refused("not_yet_valid", "the token is not valid yet (nbf)") from None
    except jwt.InvalidAudienceError:
        raise _refused("wrong_audience", "the token is not for this API (aud)") from None
    except jwt.InvalidIssuerError:
        raise _refused("wrong_issuer", "the token is not from this tenant's issuer (iss)") from None
    except jwt.MissingRequiredClaimError as missing:
        raise _refused("missing_claim", f"the token has no {missing.claim} claim") from None
    except jwt.InvalidSignatureError:
        raise _refused("bad_signature", "the token's signature does not verify") from None
    except jwt.PyJWTError:
        raise _refused("invalid_token", "the token cannot be validated") from None
    if claims.get("tid") != settings.auth_tenant_id:
        raise _refused("wrong_tenant", "the token is not from this tenant (tid)")
    return claims


def _is_claim_text(value: Any) -> bool:
    return isinstance(value, str) and _CLAIM_TEXT.fullmatch(value) is not None


def _refused(reason: str, message: str) -> InvalidCallerToken:
    logger.warning("Caller refused: %s", reason)
    return InvalidCallerToken(reason, message)
