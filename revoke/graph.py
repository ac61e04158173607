"""Microsoft Graph client: sends many calls at once and reports exactly what Graph said to each.

Several targets go out as JSON batches (at most 20 calls each, `max_parallel` batches in
flight); one target uses the plain call. Transient answers (429, 5xx, timeouts, dropped
connections) are retried per call, honouring Retry-After, within the invocation's
`Deadline`; a 401 gets one fresh token. That loop is ours, not urllib3's adapter-level
Retry, because a throttled call inside a 200 batch is invisible to urllib3, a Retry-After
longer than the invocation's budget must end the call rather than sleep, and the audit
trail needs the real attempt count for each call. urllib3's Retry still serves where it
fits: re-opening a connection that failed before anything was sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import requests
from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from revoke.budget import MAX_ATTEMPTS, Deadline, backoff_seconds, parse_retry_after
from revoke.errors import (
    GraphError,
    GraphUnreachable,
    IdentityUnavailable,
    PermanentGraphError,
    TransientGraphError,
)
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, Outcome, UserLookup
from revoke.settings import Settings

logger = logging.getLogger(__name__)

BATCH_LIMIT = 20  # Graph's limit on requests in one JSON batch
CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 15.0
TOKEN_REFRESH_MARGIN_SECONDS = 300
POOL_FLOOR = 16  # kept-alive connections for single-target calls from concurrent invocations
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

ResultCallback = Callable[[int, ActionResult], None]


@dataclass(frozen=True)
class GraphCall:
    method: str
    path: str  # relative to the API version, e.g. /users/{id}/revokeSignInSessions


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
    def transient(self) -> bool:
        return self.error.transient if self.error else self.status in TRANSIENT_STATUSES

    @property
    def error_code(self) -> str | None:
        if self.error is not None:
            return self.error.detail
        try:
            return str(self.body["error"]["code"])[:128]
        except (TypeError, KeyError):
            return None if self.status is None or self.status < 400 else f"HTTP {self.status}"


class GraphClient:
    """One per process: a pooled session, one token, and a bounded pool of batch senders."""

    def __init__(
        self, settings: Settings, credential: TokenCredential, session: requests.Session | None = None
    ) -> None:
        self._settings = settings
        self._credential = credential
        self._session = session or pooled_session(settings.max_parallel)
        self._version = settings.action.api_version
        self._token: AccessToken | None = None
        self._renew_requested = False
        self._token_lock = threading.Lock()
        self._senders = ThreadPoolExecutor(max_workers=settings.max_parallel, thread_name_prefix="graph-batch")

    # --- what the service asks ---------------------------------------------------------
    def revoke_all(
        self, users: Sequence[UserIdentifier], deadline: Deadline, on_result: ResultCallback | None = None
    ) -> list[ActionResult]:
        """Revoke every user's sessions; results in the order given. Never raises for Graph failures.

        `on_result(i, result)` is called, on this thread, as soon as user `i`'s result is
        final, so the caller can audit it while other batches are still in flight.
        """
        action = self._settings.action.value
        calls = [GraphCall("POST", f"/users/{user.path_segment}/{action}") for user in users]

        results: dict[int, ActionResult] = {}

        def settled(index: int, reply: GraphReply) -> None:
            results[index] = _revocation_result(reply)
            if on_result is not None:
                on_result(index, results[index])

        self.send_all(calls, deadline, settled)
        return [results[index] for index in range(len(calls))]

    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]:
        """Each user's object id and UPN, so a protected user is recognised in either form."""
        calls = [GraphCall("GET", f"/users/{user.path_segment}?$select=id,userPrincipalName") for user in users]
        return [_lookup_result(reply) for reply in self.send_all(calls, deadline)]

    # --- how calls are sent -------------------------------------------------------------
    def send_all(
        self,
        calls: Sequence[GraphCall],
        deadline: Deadline,
        on_final: Callable[[int, GraphReply], None] | None = None,
    ) -> list[GraphReply]:
        """Send every call, retrying transient answers per call while the deadline allows."""
        started = time.perf_counter()
        final: dict[int, GraphReply] = {}
        tries = dict.fromkeys(range(len(calls)), 0)
        attempts = dict.fromkeys(range(len(calls)), 0)  # requests that reached Graph
        pending = list(range(len(calls)))
        refreshed = False
        while pending:
            retry: list[int] = []
            waits: list[float] = []
            unauthorized = False
            for index, reply in self._send_once([(index, calls[index]) for index in pending], deadline):
                tries[index] += 1
                attempts[index] += 0 if reply.error is not None and not reply.error.reached_graph else 1
                if reply.status == 401 and not refreshed:
                    unauthorized = True
                    retry.append(index)  # one fresh token, one more attempt
                    continue
                if reply.transient and tries[index] < MAX_ATTEMPTS:
                    wait = reply.retry_after if reply.retry_after is not None else backoff_seconds(tries[index])
                    if deadline.allows_wait(wait):
                        retry.append(index)
                        waits.append(wait)
                        continue
                reply.attempts = attempts[index]
                reply.duration_ms = (time.perf_counter() - started) * 1000
                final[index] = reply
                if on_final is not None:
                    on_final(index, reply)
            if unauthorized:
                self._renew_token()
                refreshed = True
            if waits:
                time.sleep(max(waits))
            pending = retry
        return [final[index] for index in range(len(calls))]

    def _send_once(self, calls: list[tuple[int, GraphCall]], deadline: Deadline) -> Iterator[tuple[int, GraphReply]]:
        """Each call's reply, batch by batch as the batches come back."""
        if len(calls) == 1:
            index, call = calls[0]
            yield index, self._send_plain(call, deadline)
            return
        chunks = [calls[i : i + BATCH_LIMIT] for i in range(0, len(calls), BATCH_LIMIT)]
        in_flight = [self._senders.submit(self._send_batch, chunk, deadline) for chunk in chunks]
        for done in as_completed(in_flight):
            yield from done.result().items()

    def _send_plain(self, call: GraphCall, deadline: Deadline) -> GraphReply:
        url = f"{self._settings.graph_endpoint}/{self._version}{call.path}"
        try:
            response = self._request(call.method, url, deadline)
        except GraphError as error:
            return GraphReply(None, error=error, retry_after=error.retry_after)
        return GraphReply(
            response.status_code,
            _json_or_none(response),
            response.headers.get("request-id"),
            parse_retry_after(response.headers.get("Retry-After")),
        )

    def _send_batch(self, chunk: list[tuple[int, GraphCall]], deadline: Deadline) -> dict[int, GraphReply]:
        url = f"{self._settings.graph_endpoint}/{self._version}/$batch"
        body = {"requests": [{"id": str(index), "method": call.method, "url": call.path} for index, call in chunk]}
        try:
            response = self._request("POST", url, deadline, json_body=body)
        except GraphError as error:
            return {index: GraphReply(None, error=error) for index, _ in chunk}
        envelope_id = response.headers.get("request-id")
        answers = _json_or_none(response)
        if response.status_code != 200 or not isinstance(answers, dict):
            # The whole batch failed: every call in it gets that answer.
            if response.status_code == 200:
                unreadable = TransientGraphError("Graph sent an unreadable batch response")
                return {index: GraphReply(None, error=unreadable) for index, _ in chunk}
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return {index: GraphReply(response.status_code, answers, envelope_id, retry_after) for index, _ in chunk}
        by_id = {str(item.get("id")): item for item in answers.get("responses", []) if isinstance(item, dict)}
        replies = {}
        for index, _ in chunk:
            item = by_id.get(str(index))
            if item is None:
                replies[index] = GraphReply(None, error=TransientGraphError("Graph's batch response left a call out"))
                continue
            headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            status = item.get("status")
            replies[index] = GraphReply(
                status if isinstance(status, int) else None,
                item.get("body"),
                headers.get("request-id") or envelope_id,
                parse_retry_after(headers.get("retry-after")),
                None if isinstance(status, int) else TransientGraphError("Graph's batch item had no status"),
            )
        return replies

    def _request(
        self, method: str, url: str, deadline: Deadline, json_body: dict[str, Any] | None = None
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self._access_token()}"}
        read_timeout = max(0.5, min(READ_TIMEOUT_SECONDS, deadline.remaining()))
        try:
            return self._session.request(
                method, url, headers=headers, json=json_body, timeout=(CONNECT_TIMEOUT_SECONDS, read_timeout)
            )
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

    # --- the token ----------------------------------------------------------------------
    def _access_token(self) -> str:
        with self._token_lock:
            if self._token is None or self._token.expires_on - time.time() < TOKEN_REFRESH_MARGIN_SECONDS:
                self._token = self._fetch_token(fresh=self._renew_requested)
                self._renew_requested = False
            return self._token.token

    def _renew_token(self) -> None:
        """Graph said 401: the next call asks the identity endpoint for a new token."""
        with self._token_lock:
            self._token = None
            self._renew_requested = True

    def _fetch_token(self, *, fresh: bool) -> AccessToken:
        try:
            if fresh:
                # A claims value makes azure-identity skip its cache and ask the identity endpoint again.
                return self._credential.get_token(self._settings.graph_scope, claims="{}")
            return self._credential.get_token(self._settings.graph_scope)
        except AzureError as problem:
            # The message can name the endpoint but never holds the identity header or a token.
            raise IdentityUnavailable(f"no token from the managed identity: {type(problem).__name__}") from None


def pooled_session(parallel: int) -> requests.Session:
    """One keep-alive pool per process, big enough for every batch in flight and a burst of invocations.

    urllib3's Retry on the adapter handles what it can see whole: a connection that could
    not be opened, so the request never reached Graph (nothing to audit as an attempt).
    Everything Graph answered, or may have received, goes through `GraphClient.send_all`.
    """
    session = requests.Session()
    # Only the configured Graph endpoint is ever called: no per-request search of the
    # environment for proxies or of ~/.netrc for credentials (that search costs ~0.2 ms CPU).
    session.trust_env = False
    connect_only = Retry(total=2, connect=2, read=0, redirect=0, status=0, other=0, backoff_factor=0.1)
    pool_size = max(parallel, POOL_FLOOR)
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=connect_only)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _revocation_result(reply: GraphReply) -> ActionResult:
    status = reply.status
    if status is not None and 200 <= status < 300:
        outcome = Outcome.REVOKED
    elif status == 404:
        outcome = Outcome.NOT_FOUND
    elif reply.transient:
        outcome = Outcome.DEFERRED
    else:
        outcome = Outcome.FAILED
    detail = None if outcome is Outcome.REVOKED else reply.error_code
    return ActionResult(outcome, status, reply.request_id, detail, reply.attempts, reply.retry_after, reply.duration_ms)


def _lookup_result(reply: GraphReply) -> UserLookup:
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.status == 200 and isinstance(body.get("id"), str):
        return UserLookup(object_id=body["id"].lower(), user_principal_name=str(body.get("userPrincipalName", "")))
    if reply.status == 404:
        return UserLookup(missing=True)
    error = reply.error or (TransientGraphError if reply.transient else PermanentGraphError)(
        reply.error_code or "lookup failed", status=reply.status, request_id=reply.request_id
    )
    return UserLookup(error=error)


def _never_connected(problem: requests.ConnectionError) -> bool:
    cause = problem.args[0] if problem.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


def _json_or_none(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
