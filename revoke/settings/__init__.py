"""App settings: every name defined once, read once into a frozen `Settings`."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address, ip_address

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

from revoke.actions import ContainmentAction, ReleaseAction, in_order, release_in_order
from revoke.errors import SettingsError
from revoke.identifiers import parse_user_identifier
from revoke.incidents import is_workspace_id

# More accounts than this in one payload is not an incident to contain in one call: the
# request is rejected before the rest is validated (REVOKE_MAX_USERS can be at most this).
MAX_ACCOUNTS = 1000


class SettingNames:
    """The environment variables (app settings) the service reads, and nothing else."""

    GRAPH_ENDPOINT = "REVOKE_GRAPH_ENDPOINT"
    ACTION = "REVOKE_ACTION"
    ACTIONS = "REVOKE_ACTIONS"
    RELEASE_ACTIONS = "REVOKE_RELEASE_ACTIONS"
    INCIDENT_COMMENTS = "REVOKE_INCIDENT_COMMENTS"
    SENTINEL_WORKSPACE = "REVOKE_SENTINEL_WORKSPACE"
    ARM_ENDPOINT = "REVOKE_ARM_ENDPOINT"
    DRY_RUN = "REVOKE_DRY_RUN"
    PROTECTED_USERS = "REVOKE_PROTECTED_USERS"
    MAX_USERS = "REVOKE_MAX_USERS"
    MAX_BODY_BYTES = "REVOKE_MAX_BODY_BYTES"
    QUEUE_NAME = "REVOKE_QUEUE_NAME"
    RETRY_BUDGET_SECONDS = "REVOKE_RETRY_BUDGET_SECONDS"
    MAX_PARALLEL = "REVOKE_MAX_PARALLEL"
    CALLER_AUTH = "REVOKE_CALLER_AUTH"
    AUTH_AUTHORITY = "REVOKE_AUTH_AUTHORITY"
    AUTH_TENANT_ID = "REVOKE_AUTH_TENANT_ID"
    AUTH_AUDIENCE = "REVOKE_AUTH_AUDIENCE"
    ACTION_BUDGET = "REVOKE_ACTION_BUDGET"
    CAMPAIGNS = "REVOKE_CAMPAIGNS"
    CAMPAIGN_QUEUE_NAME = "REVOKE_CAMPAIGN_QUEUE_NAME"
    MAX_CAMPAIGN_USERS = "REVOKE_MAX_CAMPAIGN_USERS"
    GRAPH_WRITE_QUOTA = "REVOKE_GRAPH_WRITE_QUOTA"
    CAMPAIGN_QUOTA_SHARE = "REVOKE_CAMPAIGN_QUOTA_SHARE"
    CLIENT_ID = "AZURE_CLIENT_ID"

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return tuple(value for key, value in vars(cls).items() if key.isupper())


class HostStorageNames:
    """The Functions host's own storage connection, which the action budget and campaigns share (not REVOKE_* settings)."""

    CONNECTION = "AzureWebJobsStorage"
    TABLE_SERVICE_URI = "AzureWebJobsStorage__tableServiceUri"
    QUEUE_SERVICE_URI = "AzureWebJobsStorage__queueServiceUri"
    ACCOUNT_NAME = "AzureWebJobsStorage__accountName"
    CLIENT_ID = "AzureWebJobsStorage__clientId"


class CallerAuth(StrEnum):
    """How an HTTP caller is told apart: an Entra ID token for this API, or only the function key."""

    ENTRA = "entra"
    KEY = "key"


@dataclass(frozen=True)
class HostStorage:
    """The host storage account, where the action budget and campaigns are kept: by connection
    string, or by identity at its Table and Queue endpoints."""

    connection_string: str | None = field(default=None, repr=False)  # holds the account key
    endpoint: str | None = None  # https://{account}.table.core.windows.net, used with the managed identity
    queue_endpoint: str | None = None  # https://{account}.queue.core.windows.net, likewise
    client_id: str | None = None


class RevocationAction(StrEnum):
    """The Microsoft Graph action used to revoke a user's sessions."""

    REVOKE_SIGN_IN_SESSIONS = "revokeSignInSessions"
    INVALIDATE_ALL_REFRESH_TOKENS = "invalidateAllRefreshTokens"

    @property
    def api_version(self) -> str:
        # invalidateAllRefreshTokens only ever existed on the beta endpoint.
        return "v1.0" if self is RevocationAction.REVOKE_SIGN_IN_SESSIONS else "beta"


DEFAULT_GRAPH_ENDPOINT = "https://graph.microsoft.com"
DEFAULT_QUEUE_NAME = "revoke-requests"
POISON_SUFFIX = "-poison"
DEFAULT_MAX_USERS = 25
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MIN_MAX_BODY_BYTES = 1024
# The costliest 2 MiB body takes the parser about 0.7 s of CPU and 100 MB; more would hold a
# worker for seconds per request (docs/RELIABILITY.md, `python -m bench.body_ceiling`).
MAX_BODY_BYTES_CEILING = 2 * 1024 * 1024
DEFAULT_RETRY_BUDGET_SECONDS = 60.0
# Azure's front end ends an HTTP request after 230 s whatever the function does, and the
# queue host stops an invocation at host.json's functionTimeout (5 min, tested to stay above
# this). A budget must leave room for the last attempt, the token fetch and the audit after
# the final wait, or the caller gets a dropped connection instead of a 503 and Retry-After.
HTTP_FRONT_END_LIMIT_SECONDS = 230
RETRY_BUDGET_SLACK_SECONDS = 30
MIN_RETRY_BUDGET_SECONDS = 1
MAX_RETRY_BUDGET_SECONDS = HTTP_FRONT_END_LIMIT_SECONDS - RETRY_BUDGET_SLACK_SECONDS
DEFAULT_MAX_PARALLEL = 8
DEFAULT_ACTIONS = (ContainmentAction.REVOKE_SESSIONS,)
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
DEFAULT_AUTH_AUTHORITY = "https://login.microsoftonline.com"
# Targets each action may be sent for in any rolling hour, across every instance and both
# triggers (docs/DEPLOY.md, "The action budget"). Revoking sessions is cheap to undo (users
# sign in again); disabling stops people working; a confirmation raises their risk for good.
DEFAULT_ACTION_BUDGET = (
    (ContainmentAction.REVOKE_SESSIONS, 200),
    (ContainmentAction.DISABLE_ACCOUNT, 50),
    (ContainmentAction.CONFIRM_COMPROMISED, 100),
)
MAX_ACTION_BUDGET = 100_000
BUDGET_OFF = "off"
_TABLE_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
# Campaigns (revoke.campaigns): off unless enabled, since they act on a whole group, role or tenant.
DEFAULT_CAMPAIGN_QUEUE_NAME = "revoke-campaigns"
# A campaign of more users than this is refused at start; 10,000 users take about 10 minutes
# per action at the default pace. A tenant-wide campaign needs the setting raised on purpose.
DEFAULT_MAX_CAMPAIGN_USERS = 10_000
MAX_CAMPAIGN_USERS_CEILING = 1_000_000
# Graph's documented identity write quota per app and tenant: 3,000 writes per 2 min 30 s.
DEFAULT_GRAPH_WRITE_QUOTA = (3000, 150.0)
DEFAULT_CAMPAIGN_QUOTA_SHARE = 0.8
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


@dataclass(frozen=True)
class Settings:
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
    action_budget: tuple[tuple[ContainmentAction, int], ...] | None = DEFAULT_ACTION_BUDGET
    host_storage: HostStorage = HostStorage()

    @property
    def auth_issuer(self) -> str:
        """The `iss` of a v2.0 access token the tenant issues."""
        return f"{self.auth_authority}/{self.auth_tenant_id}/v2.0"

    def budget_for(self, action: ContainmentAction) -> int | None:
        """How many targets `action` may be sent for per rolling hour; None: no budget."""
        if self.action_budget is None:
            return None
        return dict(self.action_budget)[action]

    campaigns: bool = False
    campaign_queue_name: str = DEFAULT_CAMPAIGN_QUEUE_NAME
    max_campaign_users: int = DEFAULT_MAX_CAMPAIGN_USERS
    graph_write_quota: tuple[int, float] = DEFAULT_GRAPH_WRITE_QUOTA  # (writes, seconds)
    campaign_quota_share: float = DEFAULT_CAMPAIGN_QUOTA_SHARE

    @property
    def campaign_writes_per_second(self) -> float:
        """The pace a campaign aims for: its share of Graph's write quota."""
        writes, seconds = self.graph_write_quota
        return writes / seconds * self.campaign_quota_share

    @property
    def graph_scope(self) -> str:
        return f"{self.graph_endpoint}/.default"

    @property
    def comments_on(self) -> bool:
        """Incident comments need the switch on and the one workspace they may be written in."""
        return self.incident_comments and self.sentinel_workspace is not None

    @property
    def poison_queue_name(self) -> str:
        return poison_queue_of(self.queue_name)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def value(name: str) -> str | None:
            raw = env.get(name, "").strip()
            return raw or None

        names = SettingNames
        return cls(
            graph_endpoint=_endpoint(names.GRAPH_ENDPOINT, value(names.GRAPH_ENDPOINT), DEFAULT_GRAPH_ENDPOINT),
            action=_action(value(names.ACTION)),
            actions=_actions(value(names.ACTIONS)),
            dry_run=_boolean(names.DRY_RUN, value(names.DRY_RUN), default=False),
            protected_users=_protected_users(value(names.PROTECTED_USERS)),
            max_users=_integer(names.MAX_USERS, value(names.MAX_USERS), DEFAULT_MAX_USERS, 1, MAX_ACCOUNTS),
            max_body_bytes=_integer(
                names.MAX_BODY_BYTES,
                value(names.MAX_BODY_BYTES),
                DEFAULT_MAX_BODY_BYTES,
                MIN_MAX_BODY_BYTES,
                MAX_BODY_BYTES_CEILING,
            ),
            queue_name=queue_name_from(env),
            retry_budget_seconds=_seconds(value(names.RETRY_BUDGET_SECONDS)),
            max_parallel=_integer(names.MAX_PARALLEL, value(names.MAX_PARALLEL), DEFAULT_MAX_PARALLEL, 1, 64),
            client_id=_client_id(value(names.CLIENT_ID)),
            incident_comments=_boolean(names.INCIDENT_COMMENTS, value(names.INCIDENT_COMMENTS), default=True),
            sentinel_workspace=_workspace(value(names.SENTINEL_WORKSPACE)),
            arm_endpoint=_endpoint(names.ARM_ENDPOINT, value(names.ARM_ENDPOINT), DEFAULT_ARM_ENDPOINT),
            release_actions=_release_actions(value(names.RELEASE_ACTIONS)),
            caller_auth=_caller_auth(value(names.CALLER_AUTH)),
            auth_authority=_endpoint(names.AUTH_AUTHORITY, value(names.AUTH_AUTHORITY), DEFAULT_AUTH_AUTHORITY),
            auth_tenant_id=_tenant_id(value(names.AUTH_TENANT_ID)),
            auth_audiences=_audiences(value(names.AUTH_AUDIENCE)),
            action_budget=_action_budget(value(names.ACTION_BUDGET)),
            host_storage=_host_storage(value),
            campaigns=_boolean(names.CAMPAIGNS, value(names.CAMPAIGNS), default=False),
            campaign_queue_name=campaign_queue_name_from(env),
            max_campaign_users=_integer(
                names.MAX_CAMPAIGN_USERS,
                value(names.MAX_CAMPAIGN_USERS),
                DEFAULT_MAX_CAMPAIGN_USERS,
                1,
                MAX_CAMPAIGN_USERS_CEILING,
            ),
            graph_write_quota=_write_quota(value(names.GRAPH_WRITE_QUOTA)),
            campaign_quota_share=_number(
                names.CAMPAIGN_QUOTA_SHARE,
                value(names.CAMPAIGN_QUOTA_SHARE),
                DEFAULT_CAMPAIGN_QUOTA_SHARE,
                0.05,
                1.0,
                float,
                "a share of the write quota",
            ),
        )


def poison_queue_of(queue_name: str) -> str:
    """Where the queue trigger puts messages a person must look at."""
    return queue_name + POISON_SUFFIX


def queue_name_from(environ: Mapping[str, str]) -> str:
    """The request queue's name; the trigger binding needs it at import time."""
    return _queue_name(SettingNames.QUEUE_NAME, environ, DEFAULT_QUEUE_NAME)


def campaign_queue_name_from(environ: Mapping[str, str]) -> str:
    """The campaign queue's name; its trigger binding needs it at import time too."""
    return _queue_name(SettingNames.CAMPAIGN_QUEUE_NAME, environ, DEFAULT_CAMPAIGN_QUEUE_NAME)


def _queue_name(setting: str, environ: Mapping[str, str], default: str) -> str:
    name = environ.get(setting, "").strip() or default
    # Azure Storage queue names: 3-63 chars, lowercase letters, digits and single hyphens.
    # The poison queue adds "-poison", so the name itself may use at most 56.
    valid = (
        3 <= len(name) <= 56
        and name[0].isalnum()
        and name[-1].isalnum()
        and "--" not in name
        and all(c.isdigit() or ("a" <= c <= "z") or c == "-" for c in name)
    )
    if not valid:
        raise SettingsError(
            setting,
            f"{name!r} is not a storage queue name (3-56 lowercase letters, digits, single hyphens)",
            expected="a storage queue name of 3-56 lowercase letters, digits and single hyphens",
        )
    return name


def _write_quota(raw: str | None) -> tuple[int, float]:
    """`writes/seconds`, as Graph documents its limit (3000/150)."""
    if raw is None:
        return DEFAULT_GRAPH_WRITE_QUOTA
    expected = "writes/seconds, such as 3000/150"
    writes, _, seconds = raw.partition("/")
    try:
        quota = (int(writes), float(seconds))
    except ValueError:
        raise SettingsError(SettingNames.GRAPH_WRITE_QUOTA, f"{raw!r} is not {expected}", expected=expected) from None
    if not (1 <= quota[0] <= 1_000_000 and 0.1 <= quota[1] <= 86_400):
        raise SettingsError(SettingNames.GRAPH_WRITE_QUOTA, f"{raw!r} is out of range", expected=expected)
    return quota


def _endpoint(name: str, raw: str | None, default: str) -> str:
    """A Graph or ARM origin as urllib3 will read it, rebuilt from what urllib3 parsed.

    The token goes wherever urllib3 connects, so the check reads the value the same way:
    a URL that another parser reads differently (a backslash, userinfo) names two hosts,
    and only `scheme://host[:port]` is accepted.
    """
    if raw is None:
        return default
    endpoint = raw.removesuffix("/")
    origin = _origin(endpoint) if all(" " < c < "\x7f" and c != "\\" for c in endpoint) else None
    if origin is None:
        expected = f"an https origin such as {default} (plain http only on loopback)"
        raise SettingsError(name, f"{raw!r} must be {expected}", expected=expected)
    return origin


def _workspace(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not is_workspace_id(raw):
        expected = "a Log Analytics workspace ARM id (/subscriptions/.../workspaces/NAME)"
        raise SettingsError(SettingNames.SENTINEL_WORKSPACE, f"{raw!r} is not {expected}", expected=expected)
    return raw


def _origin(endpoint: str) -> str | None:
    """`scheme://host[:port]` as urllib3 parses `endpoint`, or None if it holds anything more."""
    try:
        parts = parse_url(endpoint)
    except LocationParseError:
        return None
    host = parts.host
    if (
        host is None
        or parts.auth is not None
        or parts.path
        or parts.query is not None
        or parts.fragment is not None
        or not _is_host_name(host)
    ):
        return None
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        return None
    return str(Url(scheme=parts.scheme, host=host, port=parts.port).url)


def _is_host_name(host: str) -> bool:
    """A DNS name or an IP literal, so no resolver reads it differently from urllib3."""
    if host.startswith("["):
        return host.endswith("]") and _ip(host[1:-1]) is not None
    return _ip(host) is not None or all(_HOST_LABEL.fullmatch(label) for label in host.split("."))


def _is_loopback(host: str) -> bool:
    address = _ip(host.removeprefix("[").removesuffix("]"))
    return host == "localhost" or (address is not None and address.is_loopback)


def _ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None


def _action(raw: str | None) -> RevocationAction:
    if raw is None:
        return RevocationAction.REVOKE_SIGN_IN_SESSIONS
    for action in RevocationAction:
        if action.value.lower() == raw.lower():
            return action
    choices = ", ".join(action.value for action in RevocationAction)
    raise SettingsError(SettingNames.ACTION, f"{raw!r} is not one of {choices}", expected=f"one of {choices}")


def _actions(raw: str | None) -> tuple[ContainmentAction, ...]:
    if raw is None:
        return DEFAULT_ACTIONS
    choices = ", ".join(action.value for action in ContainmentAction)
    chosen = set()
    for name in raw.split(","):
        if not name.strip():
            continue
        action = ContainmentAction.parse(name)
        if action is None:
            raise SettingsError(
                SettingNames.ACTIONS, f"{name.strip()!r} is not one of {choices}", expected=f"a list of {choices}"
            )
        chosen.add(action)
    if not chosen:
        raise SettingsError(SettingNames.ACTIONS, "names no action", expected=f"a list of {choices}")
    return in_order(chosen)


def _release_actions(raw: str | None) -> tuple[ReleaseAction, ...]:
    """Empty (the default) or "none": no release action is allowed."""
    if raw is None or raw.lower() == "none":
        return ()
    choices = ", ".join(action.value for action in ReleaseAction)
    chosen = set()
    for name in raw.split(","):
        if not name.strip():
            continue
        action = ReleaseAction.parse(name)
        if action is None:
            raise SettingsError(
                SettingNames.RELEASE_ACTIONS,
                f"{name.strip()!r} is not one of {choices}",
                expected=f"none, or a list of {choices}",
            )
        chosen.add(action)
    return release_in_order(chosen)


def _boolean(name: str, raw: str | None, *, default: bool) -> bool:
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise SettingsError(name, f"{raw!r} is not true or false", expected="true or false")


def _integer(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    return int(_number(name, raw, default, low, high, int, "a whole number"))


def _seconds(raw: str | None) -> float:
    name = SettingNames.RETRY_BUDGET_SECONDS
    low, high = MIN_RETRY_BUDGET_SECONDS, MAX_RETRY_BUDGET_SECONDS
    return _number(name, raw, DEFAULT_RETRY_BUDGET_SECONDS, low, high, float, "a number of seconds")


def _number(
    name: str, raw: str | None, default: float, low: float, high: float, parse: type[int] | type[float], kind: str
) -> float:
    if raw is None:
        return default
    expected = f"{kind} from {low} to {high}"
    try:
        number = parse(raw)
    except ValueError:
        raise SettingsError(name, f"{raw!r} is not {kind}", expected=expected) from None
    if not low <= number <= high:
        raise SettingsError(name, f"{number} is outside {low}..{high}", expected=expected)
    return number


def _protected_users(raw: str | None) -> frozenset[str]:
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


def _client_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise SettingsError(
            SettingNames.CLIENT_ID, f"{raw!r} is not a client id (GUID)", expected="a client id (GUID)"
        ) from None


def _caller_auth(raw: str | None) -> CallerAuth:
    if raw is None:
        return CallerAuth.ENTRA
    for mode in CallerAuth:
        if mode.value == raw.lower():
            return mode
    raise SettingsError(SettingNames.CALLER_AUTH, f"{raw!r} is not entra or key", expected="entra or key")


def _tenant_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        expected = "the Entra tenant id (a GUID)"
        raise SettingsError(SettingNames.AUTH_TENANT_ID, f"{raw!r} is not {expected}", expected=expected) from None


_AUDIENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:/_-]{0,254}")


def _audiences(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    audiences = tuple(dict.fromkeys(item.strip() for item in raw.split(",") if item.strip()))
    expected = "a comma-separated list of the API's client id and/or its api:// identifier URI"
    for audience in audiences:
        if not _AUDIENCE.fullmatch(audience):
            raise SettingsError(SettingNames.AUTH_AUDIENCE, f"{audience!r} is not an audience", expected=expected)
    return audiences


def _action_budget(raw: str | None) -> tuple[tuple[ContainmentAction, int], ...] | None:
    """`off`, or `action=N` pairs; an action not named keeps its default."""
    if raw is None:
        return DEFAULT_ACTION_BUDGET
    if raw.lower() == BUDGET_OFF:
        return None
    name = SettingNames.ACTION_BUDGET
    expected = f"off, or action=N pairs such as disableAccount=50 (N from 0 to {MAX_ACTION_BUDGET})"
    limits = dict(DEFAULT_ACTION_BUDGET)
    for pair in raw.split(","):
        if not pair.strip():
            continue
        action_name, equals, count = pair.partition("=")
        action = ContainmentAction.parse(action_name)
        if action is None or not equals:
            raise SettingsError(name, f"{pair.strip()!r} is not action=N", expected=expected)
        limits[action] = _integer(name, count.strip(), 0, 0, MAX_ACTION_BUDGET)
    return tuple((action, limits[action]) for action in in_order(limits))


def _host_storage(value: Callable[[str], str | None]) -> HostStorage:
    """The host's storage connection as the Functions host reads it, for the Table and Queue services."""
    names = HostStorageNames
    client_id = value(names.CLIENT_ID)
    account = value(names.ACCOUNT_NAME)
    if account is not None and not _TABLE_ACCOUNT.fullmatch(account):
        expected = "a storage account name (3-24 lowercase letters and digits)"
        raise SettingsError(names.ACCOUNT_NAME, f"{account!r} is not {expected}", expected=expected)
    table_uri, queue_uri = value(names.TABLE_SERVICE_URI), value(names.QUEUE_SERVICE_URI)
    if table_uri is None and queue_uri is None and account is None:
        return HostStorage(connection_string=value(names.CONNECTION), client_id=client_id)

    def service(uri: str | None, setting: str, kind: str) -> str | None:
        if uri is not None:
            return _endpoint(setting, uri, f"https://ACCOUNT.{kind}.core.windows.net")
        return f"https://{account}.{kind}.core.windows.net" if account is not None else None

    return HostStorage(
        endpoint=service(table_uri, names.TABLE_SERVICE_URI, "table"),
        queue_endpoint=service(queue_uri, names.QUEUE_SERVICE_URI, "queue"),
        client_id=client_id,
    )
