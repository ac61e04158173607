"""Tables in the host's storage account (AzureWebJobsStorage), which the action budget and the
containment records keep: one client per table, with no retries of its own, and each call bounded
by what is left of the invocation's deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from azure.core.credentials import TokenCredential

from revoke.deadline import Deadline
from revoke.settings import HostStorage

if TYPE_CHECKING:
    from azure.data.tables import TableClient

CALL_CEILING_SECONDS = 5.0  # one Table call never waits longer, whatever the deadline allows
MIN_CALL_SECONDS = 0.2  # less than this left, and a call is not started


def host_table(
    store: HostStorage,
    name: str,
    credential_for_storage: Callable[[str | None], TokenCredential],
    no_connection: Exception,
) -> TableClient:
    """The table `name`, reached by the account's endpoint and identity, or its connection string;
    `no_connection` is raised when the host has neither. The caller's loop, bounded by the
    deadline, is the only retry."""
    from azure.data.tables import TableClient

    options: dict[str, Any] = {"retry_total": 0}
    if store.endpoint is not None:
        return TableClient(store.endpoint, name, credential=credential_for_storage(store.client_id), **options)
    if store.connection_string is None:
        raise no_connection
    return TableClient.from_connection_string(store.connection_string, name, **options)


def call_timeouts(deadline: Deadline, out_of_time: Callable[[], Exception]) -> dict[str, Any]:
    """The timeouts of one Table call: what is left of the deadline, at most CALL_CEILING_SECONDS;
    `out_of_time()` is raised when less than MIN_CALL_SECONDS is left."""
    seconds = min(deadline.remaining(), CALL_CEILING_SECONDS)
    if seconds < MIN_CALL_SECONDS:
        raise out_of_time()
    return {"connection_timeout": seconds, "read_timeout": seconds}
