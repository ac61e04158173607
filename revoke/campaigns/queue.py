"""The campaign queue: where the schedule, the chunks and the finishing check wait for their time.

A message is sent with `send_message(visibility_timeout=...)`, so it stays invisible until
its slot in the schedule (the queue output binding cannot delay a message). The delay is whole
seconds (Azure Storage's unit), rounded down: a chunk comes up to a second early and waits out
the rest itself, so no chunk starts a second late. The Functions host reads the queue with
`messageEncoding: none` (host.json), so bodies are plain JSON.
"""

from __future__ import annotations

import json
import math
from contextlib import suppress
from typing import Any, Protocol

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

MAX_VISIBILITY_SECONDS = 7 * 24 * 3600  # Azure Storage's limit on a message's initial invisibility


class DelayQueue(Protocol):
    def send(self, message: dict[str, Any], delay_seconds: float) -> None: ...


class StorageDelayQueue:
    def __init__(self, client: QueueClient) -> None:
        self._client = client

    @classmethod
    def from_connection_string(cls, connection: str, queue_name: str) -> StorageDelayQueue:
        client = QueueClient.from_connection_string(connection, queue_name)
        with suppress(ResourceExistsError):  # the usual case: it is there already
            client.create_queue()
        return cls(client)

    @classmethod
    def from_endpoint(cls, endpoint: str, queue_name: str, credential: TokenCredential) -> StorageDelayQueue:
        """In Azure the queue exists before the app starts (infra), and the identity may only send to it."""
        return cls(QueueClient(endpoint, queue_name, credential=credential))

    def send(self, message: dict[str, Any], delay_seconds: float) -> None:
        delay = min(MAX_VISIBILITY_SECONDS, max(0, math.floor(delay_seconds)))
        self._client.send_message(json.dumps(message, separators=(",", ":")), visibility_timeout=delay)


class KeptMessages:
    """A queue where messages are kept as they came, for a person to look at (the request queue's poison queue)."""

    def __init__(self, client: QueueClient) -> None:
        self._client = client
        self.name: str = client.queue_name

    @classmethod
    def from_connection_string(cls, connection: str, queue_name: str) -> KeptMessages:
        client = QueueClient.from_connection_string(connection, queue_name)
        with suppress(ResourceExistsError):
            client.create_queue()
        return cls(client)

    @classmethod
    def from_endpoint(cls, endpoint: str, queue_name: str, credential: TokenCredential) -> KeptMessages:
        return cls(QueueClient(endpoint, queue_name, credential=credential))

    def keep(self, body: str) -> None:
        self._client.send_message(body)
