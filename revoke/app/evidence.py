"""Every invocation's audit events, also sent to the workspace table where the SOC looks (REVOKE_AUDIT_*).

Each trigger that can act runs its work inside `audit_delivery()`: the events the invocation emits,
on its own thread or on the pools it hands work to, are collected, and sent once when the work,
incident comment included, is done, waiting at most min(10 s, the invocation's time left). With
the settings unset, nothing is collected and nothing is sent: the events are in the function's
log, as always. The CLI does the same with the responder's credential (`cli_audit_delivery`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from azure.core.credentials import TokenCredential

from revoke.app import runtime
from revoke.audit.collector import collecting
from revoke.deadline import Deadline
from revoke.settings import HTTP_FRONT_END_LIMIT_SECONDS, Settings

if TYPE_CHECKING:
    from revoke.app.responder import Responder
    from revoke.audit.ingestion import Delivery, WorkspaceIngestion

# The least time the host gives any invocation: Azure's front end ends an HTTP request after 230 s;
# the queue host allows host.json's functionTimeout (5 min).
HOST_LIMIT_SECONDS = float(HTTP_FRONT_END_LIMIT_SECONDS)


@contextmanager
def audit_delivery() -> Iterator[None]:
    """Collect every audit event of the invocation run inside, and send them to the workspace table
    when it ends, however it ends; the wait fits within the host's limit on the invocation."""
    invocation = Deadline(HOST_LIMIT_SECONDS)
    ingestion = runtime.shared_ingestion()
    if ingestion is None:
        yield
        return
    with _delivering(ingestion, invocation):
        yield


@contextmanager
def cli_audit_delivery(
    settings: Settings, credential: TokenCredential, responder: Responder, kept: str | None
) -> Iterator[None]:
    """The CLI's events, the responder named in each as in its local copy, sent with the responder's
    own credential; when they cannot be sent, one line on standard error says so and where the local
    copy is (`kept`: the --audit-log file, or None for standard error)."""
    target = settings.audit_ingestion
    if target is None:
        yield
        return
    from revoke.app.responder import caller_fields
    from revoke.audit.ingestion import WorkspaceIngestion
    from revoke.audit.redaction import remember

    def token_for(deadline: Deadline) -> str:
        token = credential.get_token(target.scope).token
        remember(token)
        return token

    ingestion = WorkspaceIngestion(target, token_for)
    with _delivering(ingestion, Deadline(HOST_LIMIT_SECONDS), caller_fields(responder)) as outcome:
        yield
    if outcome and outcome[0] is not None and not outcome[0].ok:
        where = f"in {kept}" if kept else "above, on standard error"
        print(
            f"warning: the audit events were not sent to the Log Analytics workspace ({outcome[0].detail}); "
            f"the local copy is {where}",
            file=sys.stderr,
        )


@contextmanager
def _delivering(
    ingestion: WorkspaceIngestion, invocation: Deadline, stamp: dict[str, Any] | None = None
) -> Iterator[list[Delivery | None]]:
    """The block's events, each updated with `stamp`, sent once it ends; how it went, in the list yielded."""
    from revoke.audit.ingestion import DELIVERY_SECONDS

    outcome: list[Delivery | None] = []
    with collecting() as collector:
        try:
            yield outcome
        finally:
            events = [{**event, **(stamp or {})} for event in collector.close()]
            outcome.append(ingestion.deliver(events, min(DELIVERY_SECONDS, invocation.remaining())))
