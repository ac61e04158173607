"""The wire to Microsoft Graph: one call, or one JSON batch, sent once, and what came back.

Nothing here retries or waits (see `revoke.graph.sending`). Whatever Graph, a proxy or the
network answers, each call gets exactly one `GraphReply`; a redirect is never followed,
because following it could send the call, and the token, somewhere else.

Every request ends by the invocation's deadline: the connect timeout is never longer than
the time left, no library retries a connect behind our back, and the whole answer, not
each read of it, must arrive in time: a body that trickles in is cut off at the deadline.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from revoke.deadline import Deadline, parse_retry_after
from revoke.errors import (
    GraphError,
    GraphUnreachable,
    OutOfTime,
    PermanentGraphError,
    Redirected,
    TransientGraphError,
    Unconfirmed,
)
from revoke.graph.pacing import Pacer
from revoke.graph.watchdog import READS

logger = logging.getLogger(__name__)

BATCH_LIMIT = 20  # Graph's limit on requests in one JSON batch
CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 15.0
MIN_READ_TIMEOUT_SECONDS = 0.5
POOL_FLOOR = 16  # kept-alive connections for single-target calls from concurrent invocations
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
CUT_OFF = "the answer did not arrive whole within the time budget"


class Unreadable:
    """A body that was sent but is not JSON (truncated, HTML): unlike an empty body, it confirms nothing."""

    def __repr__(self) -> str:
        return "<unreadable body>"


UNREADABLE = Unreadable()


@dataclass(slots=True)
class GraphReply:
    """Graph's answer to one call, or the failure that stood in for one; one object per call."""

    status: int | None
    body: Any = None
    request_id: str | None = None
    retry_after: float | None = None
    error: GraphError | None = None
    attempts: int = 0
    duration_ms: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def transient(self) -> bool:
        return self.error.transient if self.error else self.status in TRANSIENT_STATUSES

    @property
    def error_code(self) -> str | None:
        if self.error is not None:
            return self.error.detail
        try:
            return str(self.body["error"]["code"])[:128]
        except (TypeError, KeyError, IndexError):
            return None if self.status is None or self.status < 400 else f"HTTP {self.status}"

    def failure(self, fallback: str) -> GraphError:
        """Why this reply is not an answer: its own error, or one made from Graph's error code
        (`fallback` when it gave none), transient when the status is."""
        if self.error is not None:
            return self.error
        kind = TransientGraphError if self.transient else PermanentGraphError
        return kind(self.error_code or fallback, status=self.status, request_id=self.request_id)


def any_success(reply: GraphReply) -> GraphError | None:
    return None


@dataclass(frozen=True)
class GraphCall:
    """One Graph request; `check` says whether a 2xx answer really confirms it (None: it does)."""

    method: str
    path: str  # relative to the API version, e.g. /users/{id}/revokeSignInSessions
    body: dict[str, Any] | None = None
    check: Callable[[GraphReply], GraphError | None] = any_success
    version: str = "v1.0"  # Graph's API version; empty for a service whose paths carry none (ARM)
    pacer: Pacer | None = None  # a service limit kept per tenant: each attempt waits its turn, alone

    @property
    def reads(self) -> bool:
        """A look-up: it changes nothing, and must never take a containing call's place."""
        return self.method == "GET"


class GraphTransport:
    """Sends calls on one pooled session; one per process."""

    def __init__(self, endpoint: str, session: requests.Session) -> None:
        self._endpoint = endpoint  # e.g. https://graph.microsoft.com
        self._session = session

    def send(self, call: GraphCall, token: str, deadline: Deadline) -> GraphReply:
        url = f"{self._endpoint}/{call.version}{call.path}" if call.version else self._endpoint + call.path
        try:
            response, content = self._request(call.method, url, token, deadline, call.body)
        except GraphError as error:
            return GraphReply(None, error=error, retry_after=error.retry_after)
        # Graph names its request id `request-id`; Azure Resource Manager, `x-ms-request-id`.
        request_id = response.headers.get("request-id") or response.headers.get("x-ms-request-id")
        return _reply(response.status_code, _body_of(content), request_id, response.headers)

    def send_batch(
        self, calls: Sequence[tuple[int, GraphCall]], token: str, deadline: Deadline
    ) -> dict[int, GraphReply]:
        """One `$batch` of at most BATCH_LIMIT calls of one API version, keyed by the caller's index for each."""
        body = {"requests": [_batch_item(index, call) for index, call in calls]}
        indexes = [index for index, _ in calls]
        url = f"{self._endpoint}/{calls[0][1].version}/$batch"
        try:
            response, content = self._request("POST", url, token, deadline, body)
        except GraphError as error:
            return {index: GraphReply(None, error=error, retry_after=error.retry_after) for index in indexes}
        return read_batch(response.status_code, response.headers, _body_of(content), indexes)

    def _request(
        self, method: str, url: str, token: str, deadline: Deadline, json_body: dict[str, Any] | None
    ) -> tuple[requests.Response, bytes]:
        """The response and its whole body, or a GraphError; never later than `deadline`."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise OutOfTime("the time budget ran out before the call could be sent")
        connect_timeout = min(CONNECT_TIMEOUT_SECONDS, remaining)
        read_timeout = max(MIN_READ_TIMEOUT_SECONDS, min(READ_TIMEOUT_SECONDS, remaining))
        try:
            response = self._session.send(
                self._prepared(method, url, token, json_body),
                timeout=(connect_timeout, read_timeout),
                allow_redirects=False,
                stream=True,  # the body is read below, against the deadline for the whole answer
            )
            return response, _whole_body(response, deadline)
        except requests.ConnectTimeout:
            raise GraphUnreachable("could not connect to Graph in time") from None
        except requests.Timeout:
            raise TransientGraphError("Graph did not answer in time") from None
        except requests.ConnectionError as problem:
            if _never_connected(problem):
                raise GraphUnreachable("could not connect to Graph") from None
            raise TransientGraphError("the connection to Graph dropped") from None
        except requests.RequestException as problem:
            raise TransientGraphError(f"could not reach Graph: {type(problem).__name__}") from None

    def _prepared(
        self, method: str, url: str, token: str, json_body: dict[str, Any] | None
    ) -> requests.PreparedRequest:
        """The request as `Session.request` would prepare it on this session (its default headers; no
        environment, cookies or netrc: `trust_env` is off and Graph sets no cookie), without the merging
        of per-request settings that costs a batch about 0.2 ms of CPU for nothing it sends."""
        headers = {**self._session.headers, "Authorization": f"Bearer {token}"}
        body = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(json_body, allow_nan=False).encode()
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=url, headers=headers, data=body, params="")
        return prepared


def read_batch(status: int, headers: Mapping[str, str], body: Any, indexes: Sequence[int]) -> dict[int, GraphReply]:
    """Each call's reply from a `$batch` answer, however malformed; every index gets one."""
    envelope_id = headers.get("request-id")
    if status != 200:
        # Only a 200 carries per-call answers. Any other status is the answer to every call in it,
        # except a 2xx, which would read as success for calls nobody confirmed.
        if 200 <= status < 300:
            return _all(indexes, Unconfirmed(f"Graph answered the batch with HTTP {status}, not 200"))
        return {index: _reply(status, body, envelope_id, headers) for index in indexes}
    responses = body.get("responses") if isinstance(body, dict) else None
    if not isinstance(responses, list):
        return _all(indexes, Unconfirmed("Graph's batch answer has no list of responses"))
    items = [item for item in responses if isinstance(item, dict) and isinstance(item.get("id"), str)]
    counts = Counter(item["id"] for item in items)
    by_id = {item["id"]: item for item in items}
    replies = {}
    for index in indexes:
        key = str(index)
        if counts[key] == 0:
            replies[index] = GraphReply(None, error=Unconfirmed("Graph's batch answer left this call out"))
        elif counts[key] > 1:
            replies[index] = GraphReply(None, error=Unconfirmed("Graph's batch answer answered this call twice"))
        else:
            replies[index] = _batch_item_reply(by_id[key], envelope_id)
    return replies


def _batch_item_reply(item: dict[str, Any], envelope_id: str | None) -> GraphReply:
    status, raw_headers = item.get("status"), item.get("headers", {})
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return GraphReply(None, error=Unconfirmed("Graph's batch answer has no valid status for this call"))
    if raw_headers is None:
        raw_headers = {}
    if not isinstance(raw_headers, dict):
        return GraphReply(None, error=Unconfirmed("Graph's batch answer has unreadable headers for this call"))
    headers = {str(name).lower(): str(value) for name, value in raw_headers.items()}
    return _reply(status, item.get("body"), headers.get("request-id") or envelope_id, headers)


def _reply(status: int, body: Any, request_id: str | None, headers: Mapping[str, str]) -> GraphReply:
    retry_after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
    error = Redirected(f"HTTP {status}: redirect not followed", status=status) if 300 <= status < 400 else None
    return GraphReply(status, body, request_id, retry_after, error)


def _all(indexes: Sequence[int], error: GraphError) -> dict[int, GraphReply]:
    return {index: GraphReply(None, error=error) for index in indexes}


def _batch_item(index: int, call: GraphCall) -> dict[str, Any]:
    item: dict[str, Any] = {"id": str(index), "method": call.method, "url": call.path}
    if call.body is not None:
        item["body"] = call.body
        item["headers"] = {"Content-Type": "application/json"}
    return item


def pooled_session(pool_size: int) -> requests.Session:
    """One keep-alive pool per process, big enough for every batch in flight and a burst of invocations.

    urllib3 retries nothing, not even a connect: a retried connect would wait past the
    invocation's deadline unseen. Every retry goes through `revoke.graph.sending`, which
    knows the deadline.
    """
    session = requests.Session()
    # Only the configured Graph endpoint is ever called: no per-request search of the
    # environment for proxies or of ~/.netrc for credentials (that search costs ~0.2 ms CPU).
    session.trust_env = False
    # Redirects are refused per request (allow_redirects=False). `max_redirects = 0` must not
    # be set as well: requests then raises TooManyRedirects on reading any 3xx answer, and a
    # redirect would read as a connection failure (retried) instead of a refusal (Redirected).
    never = Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0, raise_on_redirect=False)
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=1, pool_maxsize=max(pool_size, POOL_FLOOR), max_retries=never
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _never_connected(problem: requests.ConnectionError) -> bool:
    cause = problem.args[0] if problem.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


def _whole_body(response: requests.Response, deadline: Deadline) -> bytes:
    """The body, read before the deadline; a body still arriving then is cut off (TransientGraphError).

    requests' read timeout bounds each read, so a body that trickles in a byte at a time never
    trips it; the watchdog shuts the socket at the deadline instead, and the connection is not
    reused.
    """
    watch = READS.watch(deadline.remaining(), response.raw.shutdown)
    try:
        content = response.content
    except (requests.RequestException, OSError, ValueError):
        response.close()
        if watch.fired:
            raise TransientGraphError(CUT_OFF) from None
        raise
    finally:
        watch.cancel()
    if watch.fired:
        response.close()
        raise TransientGraphError(CUT_OFF)
    return content


def _body_of(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return UNREADABLE
