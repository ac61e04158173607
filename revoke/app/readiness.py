"""Should an operator trust this deployment? Settings, a Graph token, and the permissions in it.

The most common failure of a containment playbook is a permission that is missing until the
first real incident. This check asks for a token the way an invocation does and reads the
app roles Microsoft Entra ID put in it (the `roles` claim; a delegated token's `scp` for the
CLI), so a missing role is named before it is needed. It never returns the token or any
other claim.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from revoke.actions import ContainmentAction
from revoke.app.responder import claims_in
from revoke.campaigns.request import SCOPE_APP_ROLES
from revoke.containment.action_run import revocation_alone
from revoke.deadline import Deadline
from revoke.errors import BudgetUnavailable, GraphError, SettingsError
from revoke.graph.tokens import TokenSource
from revoke.settings import CallerAuth, RevocationAction, SettingNames, Settings

if TYPE_CHECKING:
    from revoke.policy.budget import ActionBudget

READINESS_SECONDS = 10.0
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


KEY_AUTH_WARNING = (
    f"{SettingNames.CALLER_AUTH} is key: callers are not identified; whoever holds the function key may "
    "take every allowed action, and the audit cannot say who asked"
)
BUDGET_OFF_WARNING = f"{SettingNames.ACTION_BUDGET} is off: nothing caps how many accounts may be acted on per hour"
NO_SECOND_APPROVER_WARNING = (
    f"{SettingNames.CAMPAIGN_APPROVAL} is two-person and {SettingNames.CALLER_AUTH} is key: no caller is "
    f"identified, so no campaign can start (identify callers, or set {SettingNames.CAMPAIGN_APPROVAL}=single)"
)


def check_readiness(
    environ: Mapping[str, str] | None,
    tokens_for: TokensFor,
    budget_for: Callable[[Settings], ActionBudget | None] | None = None,
) -> Readiness:
    """Whether the deployment can contain; `tokens_for` gives the process's own token sources, so
    a health probe reuses the credential and cached tokens the invocations use. `budget_for`
    builds the action budget whose store is reached (the function); None skips it (the CLI)."""
    deadline = Deadline(READINESS_SECONDS)
    try:
        settings = Settings.from_environment(environ)
    except SettingsError as problem:
        return Readiness((Check("settings", False, problem.public_message),))
    checks = [Check("settings", True)]
    policy_warnings = _policy_warnings(settings)
    checks += _policy_checks(settings, budget_for, deadline)
    actions = tuple(action.value for action in settings.actions)
    if settings.dry_run:
        checks.append(Check("dryRun", False, DRY_RUN))
    try:
        token = tokens_for(settings, settings.graph_scope).token(deadline)
    except GraphError as problem:
        checks.append(Check("graphToken", False, problem.detail))
        return Readiness(tuple(checks), actions, warnings=policy_warnings)
    checks.append(Check("graphToken", True))
    claims = claims_in(token)
    if claims is None:
        checks.append(Check("graphPermissions", False, CLAIMS_UNREADABLE))
        return Readiness(tuple(checks), actions, warnings=policy_warnings)
    if isinstance(claims.get("scp"), str) and not claims.get("roles"):
        return _delegated(settings, claims, checks, actions)
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
    warnings = policy_warnings + _warnings(settings, held)
    return Readiness(tuple(checks), actions, tuple(sorted(held)), missing, warnings)


def _policy_checks(
    settings: Settings, budget_for: Callable[[Settings], ActionBudget | None] | None, deadline: Deadline
) -> list[Check]:
    """Callers can be identified (entra), and the action budget's store answers (fail closed otherwise)."""
    checks = []
    if settings.caller_auth is CallerAuth.ENTRA:
        unset = [
            name
            for name, value in (
                (SettingNames.AUTH_TENANT_ID, settings.auth_tenant_id),
                (SettingNames.AUTH_AUDIENCE, settings.auth_audiences),
            )
            if not value
        ]
        detail = f"{', '.join(unset)} not set: every HTTP caller is refused" if unset else None
        checks.append(Check("callerAuth", not unset, detail))
    budget = budget_for(settings) if budget_for is not None else None
    if budget is not None:
        try:
            budget.check(deadline)
            checks.append(Check("actionBudget", True))
        except BudgetUnavailable as problem:
            checks.append(Check("actionBudget", False, f"{problem}: every target is deferred until it answers"))
    return checks


def _policy_warnings(settings: Settings) -> tuple[str, ...]:
    warnings = []
    if settings.caller_auth is CallerAuth.KEY:
        warnings.append(KEY_AUTH_WARNING)
    if settings.action_budget is None:
        warnings.append(BUDGET_OFF_WARNING)
    if settings.campaigns and settings.caller_auth is CallerAuth.KEY and settings.campaign_approval == "two-person":
        warnings.append(NO_SECOND_APPROVER_WARNING)
    return tuple(warnings)


# Directory roles (their template ids, as a delegated token's `wids` claim lists them) that let
# a signed-in user take each action; the first of each is the least privileged Microsoft documents.
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
SECURITY_ADMINISTRATOR = "194ae4cb-b126-40b2-bd5b-6091b380977d"
PRIVILEGED_AUTHENTICATION_ADMINISTRATOR = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
DIRECTORY_ROLE_NAMES = {
    USER_ADMINISTRATOR: "User Administrator",
    SECURITY_ADMINISTRATOR: "Security Administrator",
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: "Privileged Authentication Administrator",
    GLOBAL_ADMINISTRATOR: "Global Administrator",
}
_USER_ROLES = (USER_ADMINISTRATOR, PRIVILEGED_AUTHENTICATION_ADMINISTRATOR, GLOBAL_ADMINISTRATOR)
_RISK_ROLES = (SECURITY_ADMINISTRATOR, GLOBAL_ADMINISTRATOR)
DELEGATED_ROLES = {
    "revokeSignInSessions": _USER_ROLES,
    "disableAccount": _USER_ROLES,
    "confirmCompromised": _RISK_ROLES,
    "enableAccount": _USER_ROLES,
    "dismissRisk": _RISK_ROLES,
}


def _delegated(settings: Settings, claims: dict[str, Any], checks: list[Check], actions: tuple[str, ...]) -> Readiness:
    """A signed-in user's token: what it may do is the user's directory roles (`wids`).

    Its scopes are the signing-in app's (the Azure CLI's are broad and fixed), so none is
    flagged as too broad: the user cannot change them, and the directory role is what limits them.
    """
    wids = claims.get("wids")
    held = {w.lower() for w in wids if isinstance(w, str)} if isinstance(wids, list) else set()
    wanted = [*actions, *(action.value for action in settings.release_actions)]
    needed: dict[str, list[str]] = {}
    for action in wanted:
        roles = DELEGATED_ROLES.get(action, _USER_ROLES)
        if not held & set(roles):
            needed.setdefault(DIRECTORY_ROLE_NAMES[roles[0]], []).append(action)
    detail = "; ".join(f"the signed-in user needs {role} (for {', '.join(a)})" for role, a in needed.items())
    checks.append(Check("directoryRoles", not needed, detail or None))
    names = tuple(sorted(DIRECTORY_ROLE_NAMES.get(w, w) for w in held))
    return Readiness(tuple(checks), actions, names, tuple(sorted(needed)))


def permissions_in(token: str) -> frozenset[str]:
    """The app roles (or, for a delegated token, the scopes) a JWT access token carries; none if unreadable."""
    claims = claims_in(token)
    return frozenset() if claims is None else permissions_of(claims)


def permissions_of(claims: dict[str, Any]) -> frozenset[str]:
    roles = claims.get("roles")
    held = {role for role in roles if isinstance(role, str)} if isinstance(roles, list) else set()
    scopes = claims.get("scp")
    if isinstance(scopes, str):
        held.update(scopes.split())
    return frozenset(held)


def needed_roles(settings: Settings) -> frozenset[str]:
    roles = {role for action in settings.actions for role in action.app_roles}
    roles |= {role for action in settings.release_actions for role in action.app_roles}
    if settings.campaigns:  # every scope's listing (revoke/campaigns/request.py)
        roles |= {role for scope_roles in SCOPE_APP_ROLES.values() for role in scope_roles}
    return frozenset(roles)


def needs_lookup(settings: Settings) -> bool:
    # Guests named by object id are looked up when revocation is the only containing action.
    guests_by_id = revocation_alone(settings.actions)
    confirming = ContainmentAction.CONFIRM_COMPROMISED in settings.actions
    # A release looks every user up first.
    return bool(settings.protected_users) or guests_by_id or confirming or bool(settings.release_actions)


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
