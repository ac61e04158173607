"""The process-wide service: settings, credential and Graph session, built once and shared.

The Python worker runs invocations on a thread pool, so building is guarded by a lock;
after that the objects are only read. The health check shares the service's credential and
token sources: a probe every few seconds neither builds a credential nor fetches a token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from azure.core.credentials import TokenCredential

from revoke.audit.redaction import protect_logs
from revoke.containment.core import Containment
from revoke.graph.client import GraphClient
from revoke.graph.tokens import TokenSource
from revoke.graph.transport import pooled_session
from revoke.settings import Settings

if TYPE_CHECKING:  # imported where used: a cold start needs neither
    from revoke.app.readiness import Readiness
    from revoke.sentinel.incident_report import IncidentReporter

COMMENT_CONNECTIONS = 4

_lock = threading.RLock()
_service: Containment | None = None
_credential: TokenCredential | None = None
_token_sources: dict[str, TokenSource] = {}  # by scope: one cached token per resource, per process


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
    )


def identity_timeout_seconds(settings: Settings) -> float:
    return max(0.5, min(5.0, settings.retry_budget_seconds / 4))


def developer_credential(settings: Settings) -> TokenCredential:
    """For the CLI: whatever the responder is signed in with (az login), or a managed identity."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=settings.client_id)


def developer_tokens() -> Callable[[Settings, str], TokenSource]:
    """For the CLI's check: token sources on one developer credential, built when first asked for."""
    credentials: dict[str, TokenCredential] = {}

    def tokens_for(settings: Settings, scope: str) -> TokenSource:
        if "signed-in" not in credentials:
            credentials["signed-in"] = developer_credential(settings)
        return TokenSource(credentials["signed-in"], scope)

    return tokens_for


def containment_for_cli(settings: Settings) -> Containment:
    protect_logs()
    credential = developer_credential(settings)
    return Containment(settings, GraphClient(settings, credential), incident_reporter(settings, credential))


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


def readiness() -> Readiness:
    """The health check, with the credential and token sources the invocations use."""
    from revoke.app.readiness import check_readiness

    protect_logs()
    return check_readiness(None, shared_tokens)


def shared_tokens(settings: Settings, scope: str) -> TokenSource:
    """The process's token source for `scope`, on the process's one credential."""
    global _credential
    with _lock:
        if _credential is None:
            _credential = managed_identity_credential(settings)
        if scope not in _token_sources:
            _token_sources[scope] = TokenSource(_credential, scope)
        return _token_sources[scope]


def service() -> Containment:
    """The shared Containment for triggers, created on first use from the app settings."""
    global _service
    if _service is None:
        with _lock:
            if _service is None:
                protect_logs()
                settings = Settings.from_environment()
                graph_tokens = shared_tokens(settings, settings.graph_scope)
                arm_tokens = shared_tokens(settings, f"{settings.arm_endpoint.rstrip('/')}/.default")
                assert _credential is not None
                _service = Containment(
                    settings,
                    GraphClient(settings, _credential, tokens=graph_tokens),
                    incident_reporter(settings, _credential, arm_tokens),
                )
    return _service


def reset() -> None:
    """Forget the shared service so the next invocation reads the settings again."""
    global _service, _credential
    with _lock:
        _service = None
        _credential = None
        _token_sources.clear()
