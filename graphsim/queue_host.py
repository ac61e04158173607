"""A stand-in for the Functions queue host, on real Azure Storage queues (Azurite), as Microsoft documents its contract.

For each queue it polls: receive up to `batch_size` messages, each invisible for
`lease_seconds` while it runs; call the registered function with an
`azure.functions.QueueMessage` carrying the message's id, body and dequeue count; delete
the message when the function returns; when it raises, make the message visible again
after `retry_delay_seconds` (host.json `visibilityTimeout`), or, on its `maxDequeueCount`-th
failed delivery, move it to `<queue>-poison` and delete it. A message whose dequeue count is
already past `maxDequeueCount` when it is received (its worker died every time) goes to the
poison queue unrun. A worker that dies leaves its messages on the queue: they come back
when their lease runs out, as they do in Azure.

The real host leases a message for 10 minutes and renews it; tests scale the lease down
so a killed worker's messages return in seconds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import azure.functions as func
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as HostQueueMessage
from azure.storage.queue import QueueClient
from azure.storage.queue import QueueMessage as StoredMessage

logger = logging.getLogger(__name__)

HOST_JSON = json.loads((Path(__file__).resolve().parent.parent / "host.json").read_text())["extensions"]["queues"]
MAX_DEQUEUE_COUNT = int(HOST_JSON["maxDequeueCount"])
BATCH_SIZE = int(HOST_JSON["batchSize"])
POISON_SUFFIX = "-poison"

QueueFunction = Callable[[func.QueueMessage], None]


class QueueHost:
    def __init__(
        self,
        connection: str,
        functions: dict[str, QueueFunction],
        *,
        lease_seconds: int = 10,
        retry_delay_seconds: int = 1,
        batch_size: int = BATCH_SIZE,
        max_dequeue_count: int = MAX_DEQUEUE_COUNT,
    ) -> None:
        self._functions = functions
        self._clients = {name: QueueClient.from_connection_string(connection, name) for name in functions}
        for name in list(functions):
            self._clients.setdefault(
                name + POISON_SUFFIX, QueueClient.from_connection_string(connection, name + POISON_SUFFIX)
            )
        for client in self._clients.values():
            with suppress(ResourceExistsError):
                client.create_queue()
        self._lease = lease_seconds
        self._retry_delay = retry_delay_seconds
        self._batch = batch_size
        self._max_dequeue = max_dequeue_count
        self._pool = ThreadPoolExecutor(max_workers=batch_size * max(1, len(functions)), thread_name_prefix="host")
        self.invocations = 0
        self.failures = 0
        self.poisoned = 0

    def poll_once(self) -> int:
        """Receive and run one batch from every queue; the number of messages run."""
        futures = []
        for name, function in self._functions.items():
            client = self._clients[name]
            for message in client.receive_messages(
                messages_per_page=self._batch, visibility_timeout=self._lease, max_messages=self._batch
            ):
                futures.append(self._pool.submit(self._deliver, name, client, function, message))
        for future in futures:
            future.result()
        return len(futures)

    def run_until(self, done: Callable[[], bool], timeout: float, idle_sleep: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("the queues did not reach the expected state in time")
            if self.poll_once() == 0:
                time.sleep(idle_sleep)

    def run_forever(self, idle_sleep: float = 0.1) -> None:
        while True:
            if self.poll_once() == 0:
                time.sleep(idle_sleep)

    def _deliver(self, name: str, client: QueueClient, function: QueueFunction, message: StoredMessage) -> None:
        body = message.content
        count = message.dequeue_count or 1
        if count > self._max_dequeue:
            self._to_poison(name, client, message, body)
            return
        raw = body.encode() if isinstance(body, str) else body
        host_message = HostQueueMessage(
            id=message.id,
            body=raw,
            dequeue_count=count,  # type: ignore[no-untyped-call]
            pop_receipt=message.pop_receipt,
        )
        self.invocations += 1
        try:
            function(host_message)
        except Exception as problem:
            self.failures += 1
            logger.info("Function for %s raised %s (delivery %s)", name, type(problem).__name__, count)
            if count >= self._max_dequeue:
                self._to_poison(name, client, message, body)
            else:
                with suppress(ResourceNotFoundError):
                    client.update_message(message, visibility_timeout=self._retry_delay)
            return
        with suppress(ResourceNotFoundError):
            client.delete_message(message)

    def _to_poison(self, name: str, client: QueueClient, message: StoredMessage, body: str) -> None:
        self.poisoned += 1
        self._clients[name + POISON_SUFFIX].send_message(body)
        with suppress(ResourceNotFoundError):
            client.delete_message(message)
