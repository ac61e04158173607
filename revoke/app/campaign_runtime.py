"""The process-wide campaign engine: settings, storage, Graph wire, the directory the break-glass guard
asks, and comments, built once and shared."""

from __future__ import annotations

from revoke.app.runtime import COMMENT_CONNECTIONS, managed_identity_credential, once, record_writer, shared_records
from revoke.audit.redaction import protect_logs
from revoke.campaigns.comments import CampaignComments
from revoke.campaigns.engine import CampaignEngine
from revoke.campaigns.graph_io import BATCHES_IN_FLIGHT, CampaignGraph
from revoke.campaigns.queue import KeptMessages, StorageDelayQueue
from revoke.campaigns.store import CampaignStore
from revoke.errors import CampaignsOff, SettingsError
from revoke.graph.client import GraphClient
from revoke.graph.tokens import TokenSource
from revoke.graph.transport import GraphTransport, pooled_session
from revoke.settings import HostStorageNames, Settings


def engine() -> CampaignEngine:
    """The shared engine; CampaignsOff before any storage client is built when campaigns are off."""
    return once("campaign engine", _engine)


def _engine() -> CampaignEngine:
    protect_logs()
    settings = Settings.from_environment()
    if not settings.campaigns:
        raise CampaignsOff("campaigns are not enabled in this deployment (REVOKE_CAMPAIGNS)")
    return build_engine(settings)


def build_engine(settings: Settings) -> CampaignEngine:
    credential = managed_identity_credential(settings)
    storage = settings.host_storage
    if storage.connection_string is not None:
        store = CampaignStore.from_connection_string(storage.connection_string)
        queue = StorageDelayQueue.from_connection_string(storage.connection_string, settings.campaign_queue_name)
        keeper = KeptMessages.from_connection_string(storage.connection_string, settings.poison_queue_name)
    elif storage.endpoint is not None and storage.queue_endpoint is not None:
        from azure.identity import ManagedIdentityCredential

        storage_identity = ManagedIdentityCredential(client_id=storage.client_id)
        store = CampaignStore.from_endpoint(storage.endpoint, storage_identity)
        queue = StorageDelayQueue.from_endpoint(storage.queue_endpoint, settings.campaign_queue_name, storage_identity)
        keeper = KeptMessages.from_endpoint(storage.queue_endpoint, settings.poison_queue_name, storage_identity)
    else:
        missing = HostStorageNames.ACCOUNT_NAME if storage.endpoint is None else HostStorageNames.QUEUE_SERVICE_URI
        raise SettingsError(
            missing, "is not set", expected="the host storage account, for the campaign queue and table"
        )
    transport = GraphTransport(settings.graph_endpoint, pooled_session(BATCHES_IN_FLIGHT * 2))
    tokens = TokenSource(credential, settings.graph_scope)
    graph = CampaignGraph(settings, transport, tokens)
    directory = GraphClient(settings, credential, tokens=tokens)  # what the break-glass guard asks Graph
    comments = None
    if settings.comments_on and settings.sentinel_workspace is not None:
        from revoke.sentinel.incident_comment import IncidentCommenter

        commenter = IncidentCommenter(settings.arm_endpoint, credential, pooled_session(COMMENT_CONNECTIONS))
        comments = CampaignComments(commenter, settings.sentinel_workspace)
    records = record_writer(shared_records(settings))  # what a release may undo (REVOKE_CONTAINMENT_RECORDS)
    return CampaignEngine(settings, store, graph, queue, directory, keeper, comments, records=records)
