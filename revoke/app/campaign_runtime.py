"""The process-wide campaign engine: settings, storage, Graph wire and comments, built once and shared."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from revoke.app.runtime import COMMENT_CONNECTIONS, managed_identity_credential
from revoke.audit.redaction import protect_logs
from revoke.campaigns.comments import CampaignComments
from revoke.campaigns.engine import CampaignEngine
from revoke.campaigns.graph_io import BATCHES_IN_FLIGHT, CampaignGraph
from revoke.campaigns.queue import StorageDelayQueue
from revoke.campaigns.store import CampaignStore
from revoke.errors import CampaignsOff
from revoke.graph.tokens import TokenSource
from revoke.graph.transport import GraphTransport, pooled_session
from revoke.settings import Settings

# The host's storage connection, as the queue trigger uses it: a connection string (Azurite,
# local runs) or, in Azure, the identity-based form (`__accountName`, `__clientId`).
STORAGE_CONNECTION = "AzureWebJobsStorage"

_lock = threading.Lock()
_engine: CampaignEngine | None = None


def engine() -> CampaignEngine:
    """The shared engine; CampaignsOff before any storage client is built when campaigns are off."""
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                protect_logs()
                settings = Settings.from_environment()
                if not settings.campaigns:
                    raise CampaignsOff("campaigns are not enabled in this deployment (REVOKE_CAMPAIGNS)")
                _engine = build_engine(settings, os.environ)
    return _engine


def build_engine(settings: Settings, environ: Mapping[str, str]) -> CampaignEngine:
    credential = managed_identity_credential(settings)
    connection = environ.get(STORAGE_CONNECTION, "").strip()
    if connection:
        store = CampaignStore.from_connection_string(connection)
        queue = StorageDelayQueue.from_connection_string(connection, settings.campaign_queue_name)
    else:
        from azure.identity import ManagedIdentityCredential

        account = environ.get(f"{STORAGE_CONNECTION}__accountName", "")
        storage_identity = ManagedIdentityCredential(client_id=environ.get(f"{STORAGE_CONNECTION}__clientId"))
        store = CampaignStore.from_account(account, storage_identity)
        queue = StorageDelayQueue.from_account(account, settings.campaign_queue_name, storage_identity)
    transport = GraphTransport(settings.graph_endpoint, pooled_session(BATCHES_IN_FLIGHT * 2))
    graph = CampaignGraph(settings, transport, TokenSource(credential, settings.graph_scope))
    comments = None
    if settings.comments_on and settings.sentinel_workspace is not None:
        from revoke.sentinel.incident_comment import IncidentCommenter

        commenter = IncidentCommenter(settings.arm_endpoint, credential, pooled_session(COMMENT_CONNECTIONS))
        comments = CampaignComments(commenter, settings.sentinel_workspace)
    return CampaignEngine(settings, store, graph, queue, comments)


def reset() -> None:
    global _engine
    with _lock:
        _engine = None
