"""The process-wide service: settings, credential and Graph session, built once and shared.

The Python worker runs invocations on a thread pool, so building is guarded by a lock;
after that the objects are only read. The health check shares the service's credential and
token sources: a probe every few seconds neither builds a credential nor fetches a token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from azure.core.credentials import TokenCredential

from revoke.audit.redaction import protect_logs
from revoke.containment.core import Authenticate, Containment
from revoke.deadline import Deadline
from revoke.errors import SettingsError
from revoke.graph.client import GraphClient
from revoke.graph.tokens import IDENTITY_ANSWERS, TokenSource
from revoke.graph.transport import pooled_session
from revoke.policy.roles import FUNCTION_KEY_HOLDER, Caller
from revoke.settings import CallerAuth, Settings

if TYPE_CHECKING:  # imported where used: a cold start needs neither
    from azure.data.tables import TableClient

    from revoke.app.readiness import Readiness
    from revoke.audit.ingestion import Delivery, WorkspaceIngestion
    from revoke.containment.follow_up import ContainmentFollowUps
    from revoke.containment.records import RecordTable, RecordWriter
    from revoke.containment.release import Release
    from revoke.containment.verification import VerifyQueue
    from revoke.policy.budget import ActionBudget
    from revoke.sentinel.incident_report import IncidentReporter

COMMENT_CONNECTIONS = 4
# A health check's caller is identified within this (the keys may have to be fetched).
HEALTH_AUTH_SECONDS = 10.0

_lock = threading.RLock()
# The process's shared parts, by name, once built: the containment and release services, the
# campaign engine, the credential, a token source per scope, the action budget, the containment
# records, the audit delivery, the verify queue and its check.
# A part may be None (off); it is still built once. Each is built under a lock of its own, so a
# part whose making waits (a queue created on a developer's machine) holds up no other.
_built: dict[str, Any] = {}
_building: dict[str, threading.RLock] = {}
_Part = TypeVar("_Part")


def once(name: str, build: Callable[[], _Part]) -> _Part:
    """The process's part `name`, built by `build` the first time it is asked for."""
    with _lock:
        if name in _built:
            built: _Part = _built[name]
            return built
        guard = _building.setdefault(name, threading.RLock())
    with guard:
        with _lock:
            if name in _built:
                made: _Part = _built[name]
                return made
        part = build()
        with _lock:
            _built[name] = part
        return part


def managed_identity_credential(settings: Settings) -> TokenCredential:
    # Imported when chosen, so importing the function app stays cheap.
    from azure.identity import ManagedIdentityCredential

    # azure-identity's default policy retries the identity endpoint for minutes; keep its
    # waiting inside the invocation's retry budget so a stuck endpoint defers, not hangs.
    timeout = identity_timeout_seconds(settings)
    return ManagedIdentityCredential(
        client_id=settings.client_id,
        retry_total=1,
        retry_backoff_factor=0.2,
        retry_backoff_max=1,
        connection_timeout=timeout,
        read_timeout=timeout,
        raw_response_hook=IDENTITY_ANSWERS.record,  # so a refusal can name the status, and only that
    )


def identity_timeout_seconds(settings: Settings) -> float:
    return max(0.5, min(5.0, settings.retry_budget_seconds / 4))


def containment_for_cli(settings: Settings, credential: TokenCredential) -> Containment:
    """The CLI's containment: the responder's credential for Graph and for the records' table, no budget."""
    protect_logs()
    table = record_table(settings, lambda _: credential)
    return containment_with(settings, credential, records=record_writer(table))


def containment_with(
    settings: Settings,
    credential: TokenCredential,
    graph_tokens: TokenSource | None = None,
    arm_tokens: TokenSource | None = None,
    budget: ActionBudget | None = None,
    records: RecordWriter | None = None,
) -> Containment:
    """A Containment on `credential`: Graph, and what the settings turn on (comments and tasks,
    the containment records, Defender for Identity, the check after the next directory sync)."""
    from revoke.graph.sid_lookup import SidDirectory

    graph = GraphClient(settings, credential, tokens=graph_tokens)
    identity_accounts = None
    if settings.onprem_actions:
        from revoke.graph.defender_identity import DefenderForIdentity

        identity_accounts = DefenderForIdentity(graph.sender)
    reporter = incident_reporter(settings, credential, arm_tokens)
    return Containment(
        settings,
        graph,
        reporter,
        budget,
        records,
        identity_accounts=identity_accounts,
        follow_ups=follow_ups(settings, reporter),
        sid_users=SidDirectory(graph.sender),
    )


def follow_ups(settings: Settings, reporter: IncidentReporter | None) -> ContainmentFollowUps | None:
    """Incident tasks beside the comments, and the check after the next sync on the verify queue;
    None when both are off, so such a deployment never imports them."""
    tasks = None
    if reporter is not None and settings.sentinel_workspace is not None:
        from revoke.sentinel.incident_tasks import IncidentTasks

        tasks = IncidentTasks(reporter.commenter, settings.sentinel_workspace)
    if tasks is None and settings.verify_after_seconds is None:
        return None
    from revoke.containment.follow_up import ContainmentFollowUps

    return ContainmentFollowUps(settings, tasks, partial(verify_queue, settings))


def verify_queue(settings: Settings) -> VerifyQueue:
    """The process's verify queue, built when a containment first schedules a check (Storage's client then)."""
    from revoke.app.verify_runtime import shared_verify_queue

    return shared_verify_queue(settings)


def incident_reporter(
    settings: Settings, credential: TokenCredential, tokens: TokenSource | None = None
) -> IncidentReporter | None:
    """Comments on Sentinel incidents, when they are on and a workspace is set."""
    if not settings.comments_on or settings.sentinel_workspace is None:
        return None
    from revoke.sentinel.incident_comment import IncidentCommenter
    from revoke.sentinel.incident_report import IncidentReporter

    session = pooled_session(COMMENT_CONNECTIONS)
    commenter = IncidentCommenter(settings.arm_endpoint, credential, session, tokens=tokens)
    return IncidentReporter(commenter, settings.sentinel_workspace)


def action_budget(settings: Settings, credential_for: Callable[[Settings], TokenCredential]) -> ActionBudget | None:
    """The tenant-wide budget in the host storage account, or None when REVOKE_ACTION_BUDGET=off."""
    if settings.action_budget is None:
        return None
    from revoke.policy.budget import ActionBudget  # Table Storage's client, only when a budget is kept

    return ActionBudget(settings, partial(budget_store_table, settings, credential_for))


def storage_credential(
    settings: Settings, credential_for: Callable[[Settings], TokenCredential]
) -> Callable[[str | None], TokenCredential]:
    """The identity the host storage is reached with: the connection's own client id, or the app's."""

    def for_client(client_id: str | None) -> TokenCredential:
        return credential_for(replace(settings, client_id=client_id or settings.client_id))

    return for_client


def budget_store_table(settings: Settings, credential_for: Callable[[Settings], TokenCredential]) -> TableClient:
    """The budget's table, reached with the host's connection string or its identity."""
    from revoke.policy.budget import budget_table

    return budget_table(settings.host_storage, storage_credential(settings, credential_for))


def record_table(settings: Settings, credential_for: Callable[[Settings], TokenCredential]) -> RecordTable | None:
    """The containment records' table in the host storage account, or None when REVOKE_CONTAINMENT_RECORDS=false."""
    if not settings.containment_records:
        return None
    from revoke.containment.records import RecordTable, records_table

    return RecordTable(partial(records_table, settings.host_storage, storage_credential(settings, credential_for)))


def record_writer(table: RecordTable | None) -> RecordWriter | None:
    if table is None:
        return None
    from revoke.containment.records import RecordWriter

    return RecordWriter(table)


def shared_records(settings: Settings) -> RecordTable | None:
    """The process's containment records, which containments, releases and the health check share."""
    return once("records", lambda: record_table(settings, managed_identity_credential))


def readiness(headers: Mapping[str, str]) -> Readiness:
    """The health check, with the credential an invocation uses, for a caller the settings let in."""
    from revoke.app.readiness import check_readiness
    from revoke.policy.callers import admit_to_route

    protect_logs()
    try:
        settings = Settings.from_environment()
    except SettingsError:
        settings = None  # the check below names the setting to fix
    if settings is not None:
        # entra without a tenant or an audience is reported by the check below.
        with suppress(SettingsError):
            admit_to_route(headers, settings, Deadline(HEALTH_AUTH_SECONDS))
    return check_readiness(None, shared_tokens, shared_budget, shared_records, _last_delivery)


def _last_delivery() -> Delivery | None:
    ingestion = shared_ingestion()
    return None if ingestion is None else ingestion.last


def shared_budget(settings: Settings) -> ActionBudget | None:
    """The process's action budget, which the invocations and the health check share."""
    return once("budget", lambda: action_budget(settings, managed_identity_credential))


def shared_credential(settings: Settings) -> TokenCredential:
    """The process's one managed-identity credential."""
    return once("credential", lambda: managed_identity_credential(settings))


def shared_tokens(settings: Settings, scope: str) -> TokenSource:
    """The process's token source for `scope`, on the process's one credential."""
    return once(f"tokens for {scope}", lambda: TokenSource(shared_credential(settings), scope))


def shared_ingestion() -> WorkspaceIngestion | None:
    """The process's delivery of audit events to the workspace table; None when it is off, or when
    the settings cannot be read (each trigger then reports the setting to fix; nothing is kept)."""
    with _lock:
        if "ingestion" in _built:
            delivery: WorkspaceIngestion | None = _built["ingestion"]
            return delivery
    protect_logs()
    try:
        settings = Settings.from_environment()
    except SettingsError:
        return None
    return once("ingestion", lambda: workspace_ingestion(settings))


def workspace_ingestion(settings: Settings) -> WorkspaceIngestion | None:
    target = settings.audit_ingestion
    if target is None:
        return None
    from revoke.audit.ingestion import WorkspaceIngestion

    return WorkspaceIngestion(target, shared_tokens(settings, target.scope).token)


def authenticator(headers: Mapping[str, str]) -> Authenticate:
    """Names the caller of one HTTP request, within the invocation's deadline (revoke.policy.callers).

    With REVOKE_CALLER_AUTH=key the function key alone lets a caller in, holding every role (what
    `identify_caller` answers too): PyJWT and the token check are imported only by a deployment
    that checks tokens, with its first HTTP request.
    """
    settings = service().settings
    if settings.caller_auth is CallerAuth.KEY:
        return _function_key_holder
    from revoke.policy.callers import identify_caller

    return partial(identify_caller, dict(headers), settings)


def _function_key_holder(deadline: Deadline) -> Caller:
    return FUNCTION_KEY_HOLDER


def service() -> Containment:
    """The shared Containment for triggers, created on first use from the app settings."""
    return once("containment", _containment)


def _containment() -> Containment:
    protect_logs()
    settings = Settings.from_environment()
    return containment_with(
        settings,
        shared_credential(settings),
        shared_tokens(settings, settings.graph_scope),
        shared_tokens(settings, settings.arm_scope),
        shared_budget(settings),
        record_writer(shared_records(settings)),
    )


def release_service() -> Release:
    """The shared Release for the release route, created on first use from the app settings."""
    return once("release", _release)


def _release() -> Release:
    protect_logs()
    settings = Settings.from_environment()
    credential = shared_credential(settings)
    directory = GraphClient(settings, credential, tokens=shared_tokens(settings, settings.graph_scope))
    return release_with(settings, credential, shared_records(settings), shared_budget(settings), directory)


def release_for_cli(settings: Settings, credential: TokenCredential) -> Release:
    """The CLI's release: the responder's credential for Graph and the records' table; no budget, as for containment."""
    protect_logs()
    return release_with(settings, credential, record_table(settings, lambda _: credential))


def release_with(
    settings: Settings,
    credential: TokenCredential,
    records: RecordTable | None,
    budget: ActionBudget | None = None,
    directory: GraphClient | None = None,
) -> Release:
    from revoke.containment.records import ReleaseRecords
    from revoke.containment.release import Release
    from revoke.graph.release_calls import ReleaseGraph

    graph = ReleaseGraph(settings, credential, directory=directory)
    identity_accounts = None
    if settings.disables_active_directory:
        from revoke.graph.defender_identity import DefenderForIdentity

        identity_accounts = DefenderForIdentity(graph.sender)
    return Release(
        settings,
        graph,
        incident_reporter(settings, credential),
        identity_accounts=identity_accounts,
        records=ReleaseRecords(records) if records is not None else None,
        budget=budget,
    )


def reset() -> None:
    """Forget the shared services so the next invocation reads the settings again."""
    with _lock:
        _built.clear()
        from revoke.containment.protection import MEMBERSHIPS
        from revoke.policy.keys import forget_signing_keys

        forget_signing_keys()
        MEMBERSHIPS.clear()
