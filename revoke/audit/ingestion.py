"""Sending an invocation's audit events to the workspace table, through the Logs Ingestion API.

Once per invocation, after its work: the events it emitted go to the data collection rule's
stream with Microsoft's client (`azure-monitor-ingestion`, imported on the first delivery only,
so the cold start never pays for it). Delivery never costs a containment:

* it waits at most the seconds it is given (the caller gives min(10 s, the invocation's time
  left)), the token fetch included; the upload runs on a thread of its own and is left behind,
  unconfirmed, when that time is up, so a stalled or trickling endpoint costs those seconds only;
* azure-core's retry policy sleeps a whole `Retry-After` whatever time is left, so the one used
  here retries only when the wait fits before the deadline (and a POST never after a timeout,
  so nothing is sent twice); redirects are not followed, the token stays with the rule's endpoint;
* a refusal or failure is one WARNING naming the workspace ingestion and the HTTP status or the
  exception's type, never the events (they are already in the function's log), and the health
  check shows the last delivery (`WorkspaceIngestion.last`).

Events are sent in uploads of at most 1,000,000 bytes as the client serialises them, under the
API's 1 MB per call whichever way a megabyte is counted (Azure Monitor service limits, Logs
Ingestion API), so the client never has to split one further.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ServiceRequestTimeoutError, ServiceResponseTimeoutError

from revoke.deadline import Deadline
from revoke.errors import RevokeError
from revoke.settings import AuditIngestion
from revoke.untrusted import bounded, printable

if TYPE_CHECKING:
    from azure.core.pipeline.transport import RequestsTransport

logger = logging.getLogger(__name__)

WORKSPACE_INGESTION = "Log Analytics workspace ingestion"
# The longest an invocation waits for its events to be delivered, its token included.
DELIVERY_SECONDS = 10.0
MAX_UPLOAD_BYTES = 1_000_000
CONNECT_TIMEOUT_SECONDS = 3.05
# A throttled or unavailable upload (429 with Retry-After, 500, 503, 504) is tried again this many
# times at most, and only when the wait fits before the deadline.
UPLOAD_RETRIES = 2
# The token the client asks for is the one given; it is only asked for within one delivery.
_TOKEN_HELD_SECONDS = 3600
# What the rule's endpoint answers on success (Logs Ingestion API, DataCollectionRules.json 2023-01-01: 204).
_ERROR_CODE_HEADER = "x-ms-error-code"

TokenFor = Callable[[Deadline], str]


@dataclass(frozen=True)
class Delivery:
    """How one invocation's delivery ended: `sent` events confirmed, or why not."""

    ok: bool
    events: int
    at: datetime
    detail: str | None = None
    unconfirmed: int = 0  # events no 204 confirmed: all of them when none came in time

    def __post_init__(self) -> None:
        if not self.ok and not self.unconfirmed:
            object.__setattr__(self, "unconfirmed", self.events)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "failed",
            "time": self.at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "events": self.events,
            "detail": self.detail,
        }


class WorkspaceIngestion:
    """One per process (and one per CLI run): the rule's endpoint, its token, and a kept-alive connection."""

    def __init__(self, target: AuditIngestion, token_for: TokenFor) -> None:
        self._target = target
        self._token_for = token_for
        self._transport: RequestsTransport | None = None
        self._last: Delivery | None = None
        self._lock = threading.Lock()

    @property
    def last(self) -> Delivery | None:
        """The last delivery attempted; None if there was none yet."""
        with self._lock:
            return self._last

    def deliver(self, events: Sequence[dict[str, Any]], seconds: float) -> Delivery | None:
        """Send `events`, waiting at most `seconds`; None when there were none. Never raises."""
        if not events:
            return None
        outcome: Future[Delivery] = Future()
        seconds = max(0.0, seconds)
        worker = threading.Thread(
            target=self._send_into, args=(list(events), seconds, outcome), name="audit-ingestion", daemon=True
        )
        worker.start()
        try:
            delivery = outcome.result(timeout=seconds)
        except FutureTimeout:
            delivery = Delivery(False, len(events), _now(), _no_answer(seconds))
        with self._lock:
            self._last = delivery
        if delivery.ok:
            logger.info("Sent %d audit event(s) to the %s", delivery.events, WORKSPACE_INGESTION)
        else:
            logger.warning(
                "%s failed for %d of %d audit event(s) (%s); they are in the function's log",
                WORKSPACE_INGESTION,
                delivery.unconfirmed,
                delivery.events,
                delivery.detail,
            )
        return delivery

    def _send_into(self, events: list[dict[str, Any]], seconds: float, outcome: Future[Delivery]) -> None:
        unconfirmed = 0
        try:
            failure, unconfirmed = self._send(events, Deadline(seconds), seconds)
        except RevokeError as problem:  # no token: the identity's own short reason
            failure = str(problem)
        except Exception as problem:  # whatever the client raised: its type only, never its text
            failure = type(problem).__name__
        outcome.set_result(Delivery(failure is None, len(events), _now(), failure, unconfirmed))

    def _send(self, events: list[dict[str, Any]], deadline: Deadline, seconds: float) -> tuple[str | None, int]:
        """(None, 0) when every upload was answered 204; otherwise what went wrong first, and how many
        events no 204 confirmed."""
        from azure.monitor.ingestion import LogsIngestionClient, LogsUploadError  # first use only

        token = self._token_for(deadline)
        client = LogsIngestionClient(
            self._target.endpoint,
            _GivenToken(token),
            credential_scopes=[self._target.scope],
            transport=self._shared_transport(),
            retry_policy=_retry_within(deadline),
            permit_redirects=False,
            logging_enable=False,
        )
        failures: list[str] = []
        unconfirmed = 0

        def failed(error: LogsUploadError) -> None:
            nonlocal unconfirmed
            failures.append(_what_failed(error.error, seconds))
            unconfirmed += len(error.failed_logs)

        for batch in upload_batches(events):
            remaining = deadline.remaining()
            if remaining <= 0:
                failures.append(_no_answer(seconds))
                unconfirmed += len(batch)
                continue
            client.upload(
                rule_id=self._target.rule_id,
                stream_name=self._target.stream,
                logs=batch,
                on_error=failed,
                timeout=remaining,
                connection_timeout=min(CONNECT_TIMEOUT_SECONDS, remaining),
                read_timeout=remaining,
            )
        return (failures[0], unconfirmed) if failures else (None, 0)

    def _shared_transport(self) -> RequestsTransport:
        from azure.core.pipeline.transport import RequestsTransport

        with self._lock:
            if self._transport is None:
                # Environment settings stay on: REQUESTS_CA_BUNDLE and a proxy apply as the
                # deployment sets them (requests' merge of environment settings).
                self._transport = RequestsTransport()
            return self._transport


def upload_batches(
    events: Sequence[dict[str, Any]], limit: int = MAX_UPLOAD_BYTES
) -> Iterator[list[MutableMapping[str, Any]]]:
    """`events` in order, in lists whose JSON, as the client serialises it, is at most `limit` bytes.

    An event larger than `limit` on its own still goes alone: the API refuses it, and says so.
    """
    batch: list[MutableMapping[str, Any]] = []
    size = 2  # the brackets
    for event in events:
        length = len(json.dumps(event).encode("utf-8"))
        added = length + (2 if batch else 0)  # ", " between items
        if batch and size + added > limit:
            yield batch
            batch, size, added = [], 2, length
        batch.append(event)
        size += added
    if batch:
        yield batch


class _GivenToken:
    """The token fetched for this delivery, as azure-core's bearer policy asks for one."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + _TOKEN_HELD_SECONDS)


def _retry_within(deadline: Deadline) -> Any:
    """azure-core's retry policy, kept inside `deadline`: no wait that does not fit is started."""
    from azure.core.pipeline.policies import RetryPolicy

    class RetryWithinDeadline(RetryPolicy):  # type: ignore[type-arg]
        def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
            if not super().is_retry(settings, response):
                return False
            wait = self.get_retry_after(response)
            return deadline.allows_wait(self.get_backoff_time(settings) if wait is None else wait)

        def _sleep_backoff(self, settings: dict[str, Any], transport: Any) -> None:
            backoff = min(self.get_backoff_time(settings), deadline.remaining())
            if backoff > 0:
                transport.sleep(backoff)

    return RetryWithinDeadline(retry_total=UPLOAD_RETRIES, retry_backoff_factor=0.5, retry_backoff_max=2)


def _what_failed(error: BaseException, seconds: float) -> str:
    """The HTTP status and the service's error code, that the time ran out, or the exception's type:
    never a message, which could quote the events or the request."""
    if isinstance(error, (ServiceRequestTimeoutError, ServiceResponseTimeoutError)):
        return _no_answer(seconds)
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        headers = getattr(response, "headers", None) or {}
        code = headers.get(_ERROR_CODE_HEADER) if hasattr(headers, "get") else None
        return f"HTTP {status}" + (f" {bounded(printable(str(code)), 64)}" if code else "")
    return type(error).__name__


def _no_answer(seconds: float) -> str:
    return f"no answer within {seconds:.1f} s"


def _now() -> datetime:
    return datetime.now(UTC)
