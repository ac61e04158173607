"""The Graph access token every invocation in the process shares.

One fetch at a time goes to the identity endpoint, on a thread of its own; each caller
waits for it only as long as its own invocation's deadline allows. No lock is held
across the network call, so a stalled identity endpoint costs every invocation at most
its own budget, and the fetch that finishes late still fills the cache for the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import ServiceRequestError, ServiceResponseError, ServiceResponseTimeoutError
from azure.core.pipeline import PipelineResponse

from revoke.audit.collector import ContextPool
from revoke.audit.redaction import remember
from revoke.deadline import Deadline
from revoke.errors import IdentityUnavailable, OutOfTime

logger = logging.getLogger(__name__)

# Renew a cached token this long before it expires, so no call goes out with a dying one.
REFRESH_MARGIN_SECONDS = 300


class IdentityAnswers:
    """The HTTP status of the identity endpoint's last answer in this process.

    azure-identity's error for a refused token request carries no status, and its message
    can quote the endpoint's answer. Given to the credential as azure-core's
    `raw_response_hook`, this keeps only the status, so a failure can say what the endpoint
    answered and nothing more. (After a refusal azure-identity may fail the next requests
    without asking the endpoint again, so the last status stands for them.)
    """

    def __init__(self) -> None:
        self.status: int | None = None

    def record(self, response: PipelineResponse) -> None:  # type: ignore[type-arg]
        self.status = response.http_response.status_code


IDENTITY_ANSWERS = IdentityAnswers()


def what_it_answered(problem: Exception, status: int | None) -> str:
    """What the identity endpoint answered, from the kind of failure or the status it sent; never its text."""
    if isinstance(problem, ServiceResponseTimeoutError) or "timeout" in type(problem).__name__.lower():
        return "the identity endpoint gave no answer in time"
    if isinstance(problem, (ServiceRequestError, ServiceResponseError)):
        return "the identity endpoint gave no answer (the connection failed)"
    if status is not None and status >= 400:
        return f"the identity endpoint answered HTTP {status}"
    return type(problem).__name__


class TokenSource:
    """One per process and Graph endpoint: the cached token, and at most one fetch in flight."""

    def __init__(self, credential: TokenCredential, scope: str) -> None:
        self._credential = credential
        self._scope = scope
        self._lock = threading.Lock()
        self._cached: AccessToken | None = None
        self._fetch: Future[AccessToken] | None = None
        self._renew = False
        self._fetcher = ContextPool(max_workers=1, thread_name_prefix="token-fetch")

    def token(self, deadline: Deadline) -> str:
        """A usable token, or IdentityUnavailable / OutOfTime; never waits past `deadline`."""
        started = False
        with self._lock:
            if self._cached is not None and _seconds_left(self._cached) > REFRESH_MARGIN_SECONDS:
                return self._cached.token
            if self._fetch is None or self._fetch.done():
                if deadline.remaining() <= 0:
                    raise OutOfTime("the time budget ran out before a token could be asked for")
                self._fetch = self._fetcher.submit(self._ask, fresh=self._renew)
                self._renew = False
                started = True
            fetch = self._fetch
        if started:
            # Outside the lock: a fetch that is already done runs the callback on this thread.
            fetch.add_done_callback(self._keep)
        try:
            return fetch.result(timeout=deadline.remaining()).token
        except FutureTimeout:
            raise IdentityUnavailable(
                "no token from the managed identity: the identity endpoint gave no answer in time"
            ) from None

    def renew(self) -> None:
        """Graph said 401: forget the token; the next fetch skips the credential's own cache."""
        with self._lock:
            self._cached = None
            self._renew = True

    def _keep(self, fetch: Future[AccessToken]) -> None:
        if fetch.exception() is None:
            token = fetch.result()
            remember(token.token, _expires_on(token))
            with self._lock:
                self._cached = token

    def _ask(self, *, fresh: bool) -> AccessToken:
        try:
            if fresh:
                # A claims value makes azure-identity skip its cache and ask the identity endpoint again.
                token = self._credential.get_token(self._scope, claims="{}")
            else:
                token = self._credential.get_token(self._scope)
        except Exception as problem:
            # azure-identity and MSAL raise AzureError, ValueError, KeyError and more for a bad
            # answer; every one means "no token". Only the type is kept: a message can quote
            # the endpoint's answer, and that answer can hold a token.
            answered = what_it_answered(problem, IDENTITY_ANSWERS.status)
            logger.warning("No token from the managed identity: %s (%s)", type(problem).__name__, answered)
            raise IdentityUnavailable(f"no token from the managed identity: {answered}") from None
        if not isinstance(token.token, str) or not token.token or _seconds_left(token) <= 0:
            raise IdentityUnavailable("the managed identity returned an empty or expired token")
        return token


def _expires_on(token: AccessToken) -> float:
    try:
        return float(token.expires_on)
    except (TypeError, ValueError):
        return time.time()


def _seconds_left(token: AccessToken) -> float:
    try:
        return float(token.expires_on) - time.time()
    except (TypeError, ValueError):
        return 0.0
