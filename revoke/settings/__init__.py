"""App settings: every name defined once, read once into a frozen `Settings`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from revoke.actions import ActiveDirectoryAction, ContainmentAction, ReleaseAction
from revoke.errors import SettingsError
from revoke.settings.action_budget import (
    BUDGET_OFF,
    DEFAULT_ACTION_BUDGET,
    DEFAULT_QUEUE_BUDGET_SHARE,
    MAX_ACTION_BUDGET,
    parse_action_budget,
)
from revoke.settings.audit import DEFAULT_AUDIT_STREAM, AuditIngestion, audit_ingestion_from
from revoke.settings.callers import (
    DEFAULT_AUTH_AUTHORITY,
    CallerAuth,
    parse_audiences,
    parse_caller_auth,
    parse_tenant_id,
)
from revoke.settings.campaigns import (
    DEFAULT_CAMPAIGN_PREVIEW_TTL_SECONDS,
    DEFAULT_CAMPAIGN_QUOTA_SHARE,
    DEFAULT_MAX_CAMPAIGN_USERS,
    MAX_CAMPAIGN_PREVIEW_TTL_SECONDS,
    MAX_CAMPAIGN_USERS_CEILING,
    MIN_CAMPAIGN_PREVIEW_TTL_SECONDS,
    CampaignApproval,
    parse_campaign_approval,
)
from revoke.settings.graph import (
    DEFAULT_ACTIONS,
    DEFAULT_GRAPH_ENDPOINT,
    DEFAULT_GRAPH_WRITE_QUOTA,
    DEFAULT_MAX_PARALLEL,
    DEFAULT_RETRY_BUDGET_SECONDS,
    HTTP_FRONT_END_LIMIT_SECONDS,
    MAX_RETRY_BUDGET_SECONDS,
    MIN_RETRY_BUDGET_SECONDS,
    RETRY_BUDGET_SLACK_SECONDS,
    RevocationAction,
    parse_actions,
    parse_client_id,
    parse_release_actions,
    parse_retry_budget,
    parse_revocation_action,
    parse_write_quota,
)
from revoke.settings.hybrid import (
    DEFAULT_VERIFY_AFTER_SECONDS,
    MAX_VERIFY_AFTER_SECONDS,
    VERIFY_OFF,
    parse_onprem_actions,
    parse_verify_after,
)
from revoke.settings.limits import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_USERS,
    MAX_ACCOUNTS,
    MAX_BODY_BYTES_CEILING,
    MIN_MAX_BODY_BYTES,
    parse_protected_users,
)
from revoke.settings.names import HostStorageNames, SettingNames
from revoke.settings.protection import (
    MAX_PROTECTED_OBJECTS,
    check_protected_count,
    parse_protected_groups,
    parse_protected_roles,
)
from revoke.settings.queues import (
    DEFAULT_CAMPAIGN_QUEUE_NAME,
    DEFAULT_QUEUE_NAME,
    DEFAULT_VERIFY_QUEUE_NAME,
    POISON_SUFFIX,
    campaign_queue_name_from,
    distinct_queues,
    max_dequeue_count,
    poison_queue_of,
    queue_name_from,
    verify_queue_name_from,
)
from revoke.settings.sentinel import DEFAULT_ARM_ENDPOINT, parse_workspace
from revoke.settings.storage import HostStorage, host_storage_from
from revoke.settings.values import parse_boolean, parse_endpoint, parse_integer, parse_number

__all__ = [
    "BUDGET_OFF",
    "DEFAULT_ACTIONS",
    "DEFAULT_ACTION_BUDGET",
    "DEFAULT_ARM_ENDPOINT",
    "DEFAULT_AUDIT_STREAM",
    "DEFAULT_AUTH_AUTHORITY",
    "DEFAULT_CAMPAIGN_PREVIEW_TTL_SECONDS",
    "DEFAULT_CAMPAIGN_QUEUE_NAME",
    "DEFAULT_CAMPAIGN_QUOTA_SHARE",
    "DEFAULT_GRAPH_ENDPOINT",
    "DEFAULT_GRAPH_WRITE_QUOTA",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CAMPAIGN_USERS",
    "DEFAULT_MAX_PARALLEL",
    "DEFAULT_MAX_USERS",
    "DEFAULT_QUEUE_BUDGET_SHARE",
    "DEFAULT_QUEUE_NAME",
    "DEFAULT_RETRY_BUDGET_SECONDS",
    "DEFAULT_VERIFY_AFTER_SECONDS",
    "DEFAULT_VERIFY_QUEUE_NAME",
    "HTTP_FRONT_END_LIMIT_SECONDS",
    "MAX_ACCOUNTS",
    "MAX_ACTION_BUDGET",
    "MAX_BODY_BYTES_CEILING",
    "MAX_CAMPAIGN_USERS_CEILING",
    "MAX_PROTECTED_OBJECTS",
    "MAX_RETRY_BUDGET_SECONDS",
    "MAX_VERIFY_AFTER_SECONDS",
    "MIN_MAX_BODY_BYTES",
    "MIN_RETRY_BUDGET_SECONDS",
    "POISON_SUFFIX",
    "RETRY_BUDGET_SLACK_SECONDS",
    "VERIFY_OFF",
    "AuditIngestion",
    "CallerAuth",
    "CampaignApproval",
    "HostStorage",
    "HostStorageNames",
    "RevocationAction",
    "SettingNames",
    "Settings",
    "campaign_queue_name_from",
    "max_dequeue_count",
    "poison_queue_of",
    "queue_name_from",
    "verify_queue_name_from",
]


@dataclass(frozen=True)
class Settings:
    """Every app setting, read and checked once (`from_environment`).

    The fields keep the order they have always been read in: when two settings are wrong, the
    one reported is the first here. Each value's default and reader live in the module of its
    concern (graph, limits, queues, sentinel, callers, action_budget, storage, campaigns,
    audit).
    """

    graph_endpoint: str = DEFAULT_GRAPH_ENDPOINT
    action: RevocationAction = RevocationAction.REVOKE_SIGN_IN_SESSIONS
    actions: tuple[ContainmentAction, ...] = DEFAULT_ACTIONS
    dry_run: bool = False
    protected_users: frozenset[str] = frozenset()
    max_users: int = DEFAULT_MAX_USERS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    queue_name: str = DEFAULT_QUEUE_NAME
    retry_budget_seconds: float = DEFAULT_RETRY_BUDGET_SECONDS
    max_parallel: int = DEFAULT_MAX_PARALLEL
    client_id: str | None = None
    incident_comments: bool = True
    sentinel_workspace: str | None = None
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    release_actions: tuple[ReleaseAction, ...] = ()  # none: nothing can be released
    caller_auth: CallerAuth = CallerAuth.ENTRA
    auth_authority: str = DEFAULT_AUTH_AUTHORITY
    auth_tenant_id: str | None = None
    auth_audiences: tuple[str, ...] = ()
    # Targets per action per rolling hour; None: REVOKE_ACTION_BUDGET=off.
    action_budget: tuple[tuple[str, int], ...] | None = DEFAULT_ACTION_BUDGET
    queue_budget_share: float = DEFAULT_QUEUE_BUDGET_SHARE  # of each action's units, kept for the request queue
    host_storage: HostStorage = HostStorage()  # noqa: RUF009 - frozen, so one shared default is safe
    campaigns: bool = False
    campaign_queue_name: str = DEFAULT_CAMPAIGN_QUEUE_NAME
    max_campaign_users: int = DEFAULT_MAX_CAMPAIGN_USERS
    graph_write_quota: tuple[int, float] = DEFAULT_GRAPH_WRITE_QUOTA  # (writes, seconds)
    campaign_quota_share: float = DEFAULT_CAMPAIGN_QUOTA_SHARE
    # The workspace table every audit event is also sent to; None: the function's log only.
    audit_ingestion: AuditIngestion | None = None
    require_reason: bool = True  # a direct request and a release must say why (REVOKE_REQUIRE_REASON)
    protected_groups: frozenset[str] = frozenset()  # group object ids: their members, at any depth
    protected_roles: frozenset[str] = frozenset()  # directory role template ids: their active holders
    # A record per contained user in the host's Table Storage, which a release must find (REVOKE_CONTAINMENT_RECORDS).
    containment_records: bool = True

    @property
    def protected_by_membership(self) -> bool:
        """Whether group or role membership protects users, which Graph is asked about for every target."""
        return bool(self.protected_groups or self.protected_roles)

    # Active Directory actions for synced users (none: a synced user disabled in Entra ID alone is not contained).
    onprem_actions: tuple[ActiveDirectoryAction, ...] = ()
    verify_after_seconds: int | None = DEFAULT_VERIFY_AFTER_SECONDS  # None: REVOKE_VERIFY_AFTER_SECONDS=off
    verify_queue_name: str = DEFAULT_VERIFY_QUEUE_NAME
    campaign_approval: CampaignApproval = CampaignApproval.TWO_PERSON
    campaign_preview_ttl_seconds: int = DEFAULT_CAMPAIGN_PREVIEW_TTL_SECONDS

    @property
    def graph_scope(self) -> str:
        return f"{self.graph_endpoint}/.default"

    @property
    def arm_scope(self) -> str:
        """The token scope of Azure Resource Manager (the incident comments and tasks)."""
        return f"{self.arm_endpoint.rstrip('/')}/.default"

    @property
    def poison_queue_name(self) -> str:
        return poison_queue_of(self.queue_name)

    @property
    def comments_on(self) -> bool:
        """Incident comments need the switch on and the one workspace they may be written in."""
        return self.incident_comments and self.sentinel_workspace is not None

    @property
    def disables_active_directory(self) -> bool:
        """Whether Defender for Identity disables a synced user's Active Directory account (REVOKE_ONPREM_ACTIONS)."""
        return ActiveDirectoryAction.DISABLE in self.onprem_actions

    @property
    def auth_issuer(self) -> str:
        """The `iss` of a v2.0 access token the tenant issues."""
        return f"{self.auth_authority}/{self.auth_tenant_id}/v2.0"

    def budget_for(self, action: str) -> int | None:
        """How many targets the action named `action` may be sent for per rolling hour; None: no budget."""
        if self.action_budget is None:
            return None
        return dict(self.action_budget)[action]

    @property
    def campaign_writes_per_second(self) -> float:
        """The pace a campaign aims for: its share of Graph's write quota."""
        writes, seconds = self.graph_write_quota
        return writes / seconds * self.campaign_quota_share

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def value(name: str) -> str | None:
            raw = env.get(name, "").strip()
            return raw or None

        names = SettingNames
        settings = cls(
            graph_endpoint=parse_endpoint(names.GRAPH_ENDPOINT, value(names.GRAPH_ENDPOINT), DEFAULT_GRAPH_ENDPOINT),
            action=parse_revocation_action(value(names.ACTION)),
            actions=parse_actions(value(names.ACTIONS)),
            dry_run=parse_boolean(names.DRY_RUN, value(names.DRY_RUN), default=False),
            protected_users=parse_protected_users(value(names.PROTECTED_USERS)),
            max_users=parse_integer(names.MAX_USERS, value(names.MAX_USERS), DEFAULT_MAX_USERS, 1, MAX_ACCOUNTS),
            max_body_bytes=parse_integer(
                names.MAX_BODY_BYTES,
                value(names.MAX_BODY_BYTES),
                DEFAULT_MAX_BODY_BYTES,
                MIN_MAX_BODY_BYTES,
                MAX_BODY_BYTES_CEILING,
            ),
            queue_name=queue_name_from(env),
            retry_budget_seconds=parse_retry_budget(value(names.RETRY_BUDGET_SECONDS)),
            max_parallel=parse_integer(names.MAX_PARALLEL, value(names.MAX_PARALLEL), DEFAULT_MAX_PARALLEL, 1, 64),
            client_id=parse_client_id(value(names.CLIENT_ID)),
            incident_comments=parse_boolean(names.INCIDENT_COMMENTS, value(names.INCIDENT_COMMENTS), default=True),
            sentinel_workspace=parse_workspace(value(names.SENTINEL_WORKSPACE)),
            arm_endpoint=parse_endpoint(names.ARM_ENDPOINT, value(names.ARM_ENDPOINT), DEFAULT_ARM_ENDPOINT),
            release_actions=parse_release_actions(value(names.RELEASE_ACTIONS)),
            caller_auth=parse_caller_auth(value(names.CALLER_AUTH)),
            auth_authority=parse_endpoint(names.AUTH_AUTHORITY, value(names.AUTH_AUTHORITY), DEFAULT_AUTH_AUTHORITY),
            auth_tenant_id=parse_tenant_id(value(names.AUTH_TENANT_ID)),
            auth_audiences=parse_audiences(value(names.AUTH_AUDIENCE)),
            action_budget=parse_action_budget(value(names.ACTION_BUDGET)),
            queue_budget_share=parse_number(
                names.QUEUE_BUDGET_SHARE,
                value(names.QUEUE_BUDGET_SHARE),
                DEFAULT_QUEUE_BUDGET_SHARE,
                0.0,
                1.0,
                float,
                "a share of each action's budget",
            ),
            host_storage=host_storage_from(value),
            campaigns=parse_boolean(names.CAMPAIGNS, value(names.CAMPAIGNS), default=False),
            campaign_queue_name=campaign_queue_name_from(env),
            max_campaign_users=parse_integer(
                names.MAX_CAMPAIGN_USERS,
                value(names.MAX_CAMPAIGN_USERS),
                DEFAULT_MAX_CAMPAIGN_USERS,
                1,
                MAX_CAMPAIGN_USERS_CEILING,
            ),
            graph_write_quota=parse_write_quota(value(names.GRAPH_WRITE_QUOTA)),
            campaign_quota_share=parse_number(
                names.CAMPAIGN_QUOTA_SHARE,
                value(names.CAMPAIGN_QUOTA_SHARE),
                DEFAULT_CAMPAIGN_QUOTA_SHARE,
                0.05,
                1.0,
                float,
                "a share of the write quota",
            ),
            audit_ingestion=audit_ingestion_from(value),
            require_reason=parse_boolean(names.REQUIRE_REASON, value(names.REQUIRE_REASON), default=True),
            protected_groups=parse_protected_groups(value(names.PROTECTED_GROUPS)),
            protected_roles=parse_protected_roles(value(names.PROTECTED_ROLES)),
            containment_records=parse_boolean(
                names.CONTAINMENT_RECORDS, value(names.CONTAINMENT_RECORDS), default=True
            ),
            onprem_actions=parse_onprem_actions(value(names.ONPREM_ACTIONS)),
            verify_after_seconds=parse_verify_after(value(names.VERIFY_AFTER_SECONDS)),
            verify_queue_name=verify_queue_name_from(env),
            campaign_approval=parse_campaign_approval(value(names.CAMPAIGN_APPROVAL)),
            campaign_preview_ttl_seconds=parse_integer(
                names.CAMPAIGN_PREVIEW_TTL_SECONDS,
                value(names.CAMPAIGN_PREVIEW_TTL_SECONDS),
                DEFAULT_CAMPAIGN_PREVIEW_TTL_SECONDS,
                MIN_CAMPAIGN_PREVIEW_TTL_SECONDS,
                MAX_CAMPAIGN_PREVIEW_TTL_SECONDS,
            ),
        )
        distinct_queues(
            (
                (names.QUEUE_NAME, settings.queue_name),
                (names.CAMPAIGN_QUEUE_NAME, settings.campaign_queue_name),
                (names.VERIFY_QUEUE_NAME, settings.verify_queue_name),
            )
        )
        check_protected_count(settings.protected_groups, settings.protected_roles)
        if settings.release_actions and not settings.containment_records:
            # A release may only undo what this deployment contained, which only the records can tell.
            raise SettingsError(
                names.RELEASE_ACTIONS,
                f"release actions need {names.CONTAINMENT_RECORDS}=true",
                expected=f"empty while {names.CONTAINMENT_RECORDS} is false",
            )
        return settings
