"""The process-wide pieces of the check after the next directory sync (revoke.containment.verification):
the verify queue, on which a containment schedules the check, and the Verification that reads each user
again when its message arrives. Built on first use, so indexing the app builds no Storage client."""

from __future__ import annotations

import json
import math
from contextlib import suppress
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from revoke.app.runtime import incident_reporter, once, shared_credential, shared_tokens
from revoke.audit.redaction import protect_logs
from revoke.containment.verification import Verification
from revoke.deadline import Deadline
from revoke.graph.account_states import AccountStateReader
from revoke.graph.client import GraphClient
from revoke.graph.defender_identity import DefenderForIdentity
from revoke.settings import HostStorageNames, SettingNames, Settings
from revoke.settings.hybrid import MAX_VERIFY_AFTER_SECONDS

# A message outlives its invisibility by a day, so it is still there when it becomes visible.
TIME_TO_LIVE_MARGIN_SECONDS = 24 * 3600
MAX_STORAGE_CALL_SECONDS = 10.0


class StorageVerifyQueue:
    """The verify queue in the host storage account; messages are JSON text (host.json: messageEncoding none).

    The Storage client retries nothing: its backoff starts at 15 seconds, past what is left of an
    invocation. One attempt, bounded by the invocation's deadline; a failure is reported, not retried.
    """

    def __init__(self, client: QueueClient) -> None:
        self._client = client

    @classmethod
    def from_connection_string(cls, connection: str, queue_name: str) -> StorageVerifyQueue:
        client = QueueClient.from_connection_string(connection, queue_name, retry_total=0)
        with suppress(ResourceExistsError):  # on a developer's machine; in Azure, infra creates it
            client.create_queue()
        return cls(client)

    @classmethod
    def from_endpoint(cls, endpoint: str, queue_name: str, credential: TokenCredential) -> StorageVerifyQueue:
        """In Azure the queue exists before the app starts (infra), and the identity may only send to it."""
        return cls(QueueClient(endpoint, queue_name, credential=credential, retry_total=0))

    def send(self, message: dict[str, Any], delay_seconds: int, deadline: Deadline) -> None:
        """Store `message`, invisible for `delay_seconds`, within `deadline`; raises if it was not stored."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise TimeoutError("no time left to schedule the check")
        wait = min(MAX_STORAGE_CALL_SECONDS, remaining)
        delay = min(MAX_VERIFY_AFTER_SECONDS, max(0, delay_seconds))
        self._client.send_message(
            json.dumps(message, separators=(",", ":")),
            visibility_timeout=delay,
            time_to_live=delay + TIME_TO_LIVE_MARGIN_SECONDS,
            timeout=max(1, math.floor(wait)),
            connection_timeout=wait,
            read_timeout=wait,
        )


def shared_verify_queue(settings: Settings) -> StorageVerifyQueue:
    """The process's verify queue, reached with the host's connection string or its identity."""
    return once("verify queue", lambda: verify_queue_for(settings))


def verify_queue_for(settings: Settings) -> StorageVerifyQueue:
    storage = settings.host_storage
    if storage.connection_string is not None:
        return StorageVerifyQueue.from_connection_string(storage.connection_string, settings.verify_queue_name)
    if storage.queue_endpoint is not None:
        from azure.identity import ManagedIdentityCredential

        identity = ManagedIdentityCredential(client_id=storage.client_id)
        return StorageVerifyQueue.from_endpoint(storage.queue_endpoint, settings.verify_queue_name, identity)
    # Said as it is (a RuntimeError's text is shown): a responder's terminal usually has no host storage.
    raise RuntimeError(
        f"no host storage connection ({HostStorageNames.CONNECTION} or {HostStorageNames.ACCOUNT_NAME}) for the "
        f"verify queue; where there is none, set {SettingNames.VERIFY_AFTER_SECONDS}=off"
    )


def verification() -> Verification:
    """The shared Verification, built from the app settings on first use."""

    def build() -> Verification:
        protect_logs()
        return verification_with(Settings.from_environment())

    return once("verification", build)


def verification_with(settings: Settings) -> Verification:
    credential = shared_credential(settings)
    sender = GraphClient(settings, credential, tokens=shared_tokens(settings, settings.graph_scope)).sender
    comments = None
    reporter = incident_reporter(settings, credential, shared_tokens(settings, settings.arm_scope))
    if reporter is not None:
        from revoke.sentinel.verification_comment import RevertedCommenter

        comments = RevertedCommenter(reporter)
    return Verification(settings, AccountStateReader(sender), DefenderForIdentity(sender), comments)
