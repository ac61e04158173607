"""Should an operator trust this deployment? Settings, a Graph token, and the permissions in it.

The most common failure of a containment playbook is a permission that is missing until the
first real incident. This check asks for a token the way an invocation does and reads the
app roles Microsoft Entra ID put in it (the `roles` claim; a delegated token's `scp` for the
CLI), so a missing role is named before it is needed. It never returns the token or any
other claim.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from revoke.actions import ContainmentAction
from revoke.containment.action_run import revocation_alone
from revoke.deadline import Deadline
from revoke.errors import GraphError, SettingsError
from revoke.graph.tokens import TokenSource
from revoke.settings import RevocationAction, SettingNames, Settings

READINESS_SECONDS = 10.0
# An access token longer than this is not read: Entra ID's are a few kilobytes.
MAX_TOKEN_CHARACTERS = 64 * 1024
CLAIMS_UNREADABLE = "the Graph token's claims could not be read, so its permissions are unknown"
DELEGATED_ONLY = (
    f"{SettingNames.ACTION}=invalidateAllRefreshTokens needs a delegated token (an scp claim), and this one is "
    f"app-only: set {SettingNames.ACTION}=revokeSignInSessions"
)
DRY_RUN = f"{SettingNames.DRY_RUN} is on: requests are audited but nothing is sent to Graph, so no one is contained"
# The process's token for a scope (the one its invocations use), given the settings.
TokensFor = Callable[[Settings, str], TokenSource]
# Either serves the look-ups of names: protected users named the other way, and UPNs that
# confirmCompromised needs as object ids.
LOOKUP_ROLES = ("User.ReadBasic.All", "User.Read.All")
# Where a user signs in (userType, externalUserState, creationType, identities) is no basic
# profile property: when revocation alone must tell an external user, only this role reads it.
KIND_ROLE = "User.Read.All"
# Roles that let a compromised function do far more than contain: flagged, never needed.
BROAD_ROLES = frozenset(
    {
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
        "User.ManageIdentities.All",
        "RoleManagement.ReadWrite.Directory",
        "AppRoleAssignment.ReadWrite.All",
        "Application.ReadWrite.All",
        "IdentityRiskyUser.ReadWrite.All",
    }
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str | None = None


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]
    actions: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    missing_roles: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not_ready",
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "actions": list(self.actions),
            "roles": list(self.roles),
            "missingRoles": list(self.missing_roles),
            "warnings": list(self.warnings),
        }


def check_readiness(environ: Mapping[str, str] | None, tokens_for: TokensFor) -> Readiness:
    """Whether the deployment can contain; `tokens_for` gives the process's own token sources, so
    a health probe reuses the credential and cached tokens the invocations use."""
    deadline = Deadline(READINESS_SECONDS)
    try:
        settings = Settings.from_environment(environ)
    except SettingsError as problem:
        return Readiness((Check("settings", False, problem.public_message),))
    checks = [Check("settings", True)]
    actions = tuple(action.value for action in settings.actions)
    if settings.dry_run:
        checks.append(Check("dryRun", False, DRY_RUN))
    try:
        token = tokens_for(settings, settings.graph_scope).token(deadline)
    except GraphError as problem:
        checks.append(Check("graphToken", False, problem.detail))
        return Readiness(tuple(checks), actions)
    checks.append(Check("graphToken", True))
    claims = claims_in(token)
    if claims is None:
        checks.append(Check("graphPermissions", False, CLAIMS_UNREADABLE))
        return Readiness(tuple(checks), actions)
    held = permissions_of(claims)
    missing = _missing(settings, held)
    detail = f"missing {', '.join(missing)}" if missing else None
    checks.append(Check("graphPermissions", not missing, detail))
    if settings.action is RevocationAction.INVALIDATE_ALL_REFRESH_TOKENS and "scp" not in claims:
        checks.append(Check("revokeAction", False, DELEGATED_ONLY))
    if settings.comments_on:
        try:
            tokens_for(settings, f"{settings.arm_endpoint.rstrip('/')}/.default").token(deadline)
            checks.append(Check("armToken", True))
        except GraphError as problem:
            checks.append(Check("armToken", False, problem.detail))
    return Readiness(tuple(checks), actions, tuple(sorted(held)), missing, _warnings(settings, held))


def permissions_in(token: str) -> frozenset[str]:
    """The app roles (or, for a delegated token, the scopes) a JWT access token carries; none if unreadable."""
    claims = claims_in(token)
    return frozenset() if claims is None else permissions_of(claims)


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


def permissions_of(claims: dict[str, Any]) -> frozenset[str]:
    roles = claims.get("roles")
    held = {role for role in roles if isinstance(role, str)} if isinstance(roles, list) else set()
    scopes = claims.get("scp")
    if isinstance(scopes, str):
        held.update(scopes.split())
    return frozenset(held)


def needed_roles(settings: Settings) -> frozenset[str]:
    return frozenset(role for action in settings.actions for role in action.app_roles)


def needs_lookup(settings: Settings) -> bool:
    # Guests named by object id are looked up when revocation is the only containing action.
    guests_by_id = revocation_alone(settings.actions)
    return bool(settings.protected_users) or guests_by_id or ContainmentAction.CONFIRM_COMPROMISED in settings.actions


def _missing(settings: Settings, held: frozenset[str]) -> tuple[str, ...]:
    missing = set(needed_roles(settings) - held)
    if revocation_alone(settings.actions) and KIND_ROLE not in held:
        missing.add(KIND_ROLE)  # without it no revocation alone is ever reported contained
    elif needs_lookup(settings) and not held & set(LOOKUP_ROLES):
        missing.add(LOOKUP_ROLES[0])
    return tuple(sorted(missing))


def _warnings(settings: Settings, held: frozenset[str]) -> tuple[str, ...]:
    needed = needed_roles(settings) | set(LOOKUP_ROLES)
    broad = sorted((held & BROAD_ROLES) - needed)
    return tuple(f"{role} is broader than this deployment needs; remove it" for role in broad)
