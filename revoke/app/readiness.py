"""Should an operator trust this deployment? Settings, a Graph token, and the permissions in it.

The most common failure of a containment playbook is a permission that is missing until the
first real incident. This check asks for a token the way an invocation does and reads the
app roles Microsoft Entra ID put in it (the `roles` claim; a delegated token's `scp` for the
CLI), so a missing role is named before it is needed. It never returns the token or any
other claim.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from revoke.actions import ACTIVE_DIRECTORY_APP_ROLES, ActiveDirectoryAction, ContainmentAction
from revoke.app.responder import claims_in
from revoke.campaigns.request import SCOPE_APP_ROLES
from revoke.containment.action_run import revocation_alone
from revoke.deadline import Deadline
from revoke.errors import BudgetUnavailable, GraphError, RecordsUnavailable, SettingsError
from revoke.graph.tokens import TokenSource
from revoke.permissions import not_served, serves
from revoke.settings import CallerAuth, CampaignApproval, RevocationAction, SettingNames, Settings

if TYPE_CHECKING:
    from revoke.audit.ingestion import Delivery
    from revoke.containment.records import RecordTable
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
# Group and role membership (REVOKE_PROTECTED_GROUPS, REVOKE_PROTECTED_ROLES): checkMemberObjects
# for other users needs both of these, the least privileged Graph's reference names
# (directoryObject: checkMemberObjects, "Memberships for other users"); User.Read.All alone
# serves instead, as the same page lists it among the higher privileged permissions.
MEMBERSHIP_ROLES = ("User.ReadBasic.All", "GroupMember.Read.All")
MEMBERSHIP_ALTERNATIVE = "User.Read.All"
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
    # The last delivery of audit events to the workspace table, when it is configured; never a check:
    # the events are in the function's log whatever happened to them there.
    audit_delivery: dict[str, Any] | None = None

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "ready" if self.ready else "not_ready",
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "actions": list(self.actions),
            "roles": list(self.roles),
            "missingRoles": list(self.missing_roles),
            "warnings": list(self.warnings),
        }
        if self.audit_delivery is not None:
            body["auditDelivery"] = self.audit_delivery
        return body


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
    records_for: Callable[[Settings], RecordTable | None] | None = None,
    last_delivery: Callable[[], Delivery | None] | None = None,
    *,
    cli: bool = False,
) -> Readiness:
    """Whether the deployment can contain; `tokens_for` gives the process's own token sources, so
    a health probe reuses the credential and cached tokens the invocations use. `budget_for` and
    `records_for` build the action budget and the containment records whose store is reached
    (the function); None skips them. `last_delivery` gives the process's last delivery of audit
    events to the workspace table (the function); None leaves it out (the CLI, which delivers
    nothing before the check). `cli` judges only what `python -m revoke` needs: not how HTTP
    callers are identified, nor the budget, which the CLI does not draw on."""
    deadline = Deadline(READINESS_SECONDS)
    try:
        settings = Settings.from_environment(environ)
    except SettingsError as problem:
        return Readiness((Check("settings", False, problem.public_message),))
    readiness = _readiness(settings, tokens_for, budget_for, records_for, deadline, cli=cli)
    return readiness if last_delivery is None else with_audit_delivery(readiness, settings, last_delivery())


def _readiness(
    settings: Settings,
    tokens_for: TokensFor,
    budget_for: Callable[[Settings], ActionBudget | None] | None,
    records_for: Callable[[Settings], RecordTable | None] | None,
    deadline: Deadline,
    *,
    cli: bool,
) -> Readiness:
    checks = [Check("settings", True)]
    policy_warnings = () if cli else _policy_warnings(settings)
    if not cli:
        checks += _policy_checks(settings, budget_for, deadline)
    checks += _records_check(settings, records_for, deadline)
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
            tokens_for(settings, settings.arm_scope).token(deadline)
            checks.append(Check("armToken", True))
        except GraphError as problem:
            checks.append(Check("armToken", False, problem.detail))
    warnings = policy_warnings + _warnings(settings, held)
    return Readiness(tuple(checks), actions, tuple(sorted(held)), missing, warnings)


def with_audit_delivery(readiness: Readiness, settings: Settings, delivery: Delivery | None) -> Readiness:
    """`readiness` with the last delivery to the workspace table, and a warning if it failed; as it
    is when delivery is off. Never a check: the events are in the function's log whatever happened."""
    if settings.audit_ingestion is None:
        return readiness
    from revoke.audit.ingestion import WORKSPACE_INGESTION

    if delivery is None:
        return replace(readiness, audit_delivery={"status": "never", "time": None, "events": 0, "detail": None})
    shown = delivery.as_json()
    if delivery.ok:
        return replace(readiness, audit_delivery=shown)
    warning = (
        f"{WORKSPACE_INGESTION}: the last delivery of audit events failed at {shown['time']} "
        f"({delivery.detail}); they are in the function's log"
    )
    return replace(readiness, audit_delivery=shown, warnings=(*readiness.warnings, warning))


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


RECORDS_DOWN = "containments are not recorded, and every release is deferred until it answers"


def _records_check(
    settings: Settings, records_for: Callable[[Settings], RecordTable | None] | None, deadline: Deadline
) -> list[Check]:
    """The containment records answer: without them a containment stands unrecorded and no release can act."""
    table = records_for(settings) if records_for is not None else None
    if table is None:
        return []
    try:
        table.check(deadline)
    except RecordsUnavailable as problem:
        return [Check("containmentRecords", False, f"{problem}: {RECORDS_DOWN}")]
    return [Check("containmentRecords", True)]


def _policy_warnings(settings: Settings) -> tuple[str, ...]:
    warnings = []
    if settings.caller_auth is CallerAuth.KEY:
        warnings.append(KEY_AUTH_WARNING)
    if settings.action_budget is None:
        warnings.append(BUDGET_OFF_WARNING)
    if (
        settings.campaigns
        and settings.caller_auth is CallerAuth.KEY
        and settings.campaign_approval is CampaignApproval.TWO_PERSON
    ):
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
    # identityAccounts: "Security Administrator is the least privileged role supported"
    # (https://learn.microsoft.com/graph/api/security-identityaccounts-invokeaction).
    **{action.value: _RISK_ROLES for action in ActiveDirectoryAction},
}


def _delegated(settings: Settings, claims: dict[str, Any], checks: list[Check], actions: tuple[str, ...]) -> Readiness:
    """A signed-in user's token: what it may do is the user's directory roles (`wids`).

    Its scopes are the signing-in app's (the Azure CLI's are broad and fixed), so none is
    flagged as too broad: the user cannot change them, and the directory role is what limits them.
    """
    wids = claims.get("wids")
    held = {w.lower() for w in wids if isinstance(w, str)} if isinstance(wids, list) else set()
    wanted = [
        *actions,
        *(action.value for action in settings.release_actions),
        *(action.value for action in settings.onprem_actions),
    ]
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
    if settings.onprem_actions:
        # Find the identity account by SID, then act on it: each named when it is missing.
        roles |= set(ACTIVE_DIRECTORY_APP_ROLES)
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
    """The needed roles nothing held serves: a broader role Microsoft documents for the same
    calls counts (revoke.permissions), and is only warned about as broader than needed."""
    missing = set(not_served(held, needed_roles(settings)))
    if revocation_alone(settings.actions) and not serves(held, KIND_ROLE):
        missing.add(KIND_ROLE)  # without it no revocation alone is ever reported contained
    elif needs_lookup(settings) and not any(serves(held, role) for role in LOOKUP_ROLES):
        missing.add(LOOKUP_ROLES[0])
    if settings.protected_by_membership and not serves(held, MEMBERSHIP_ALTERNATIVE):
        missing.update(not_served(held, MEMBERSHIP_ROLES))  # without it every target is refused, unchecked
    return tuple(sorted(missing))


def _warnings(settings: Settings, held: frozenset[str]) -> tuple[str, ...]:
    needed = needed_roles(settings) | set(LOOKUP_ROLES) | set(MEMBERSHIP_ROLES)
    broad = sorted((held & BROAD_ROLES) - needed)
    return tuple(f"{role} is broader than this deployment needs; remove it" for role in broad)
