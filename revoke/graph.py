"""Microsoft Graph client: revokes one user's sessions and reports exactly what Graph said."""

from __future__ import annotations

import logging
from typing import Any

import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError

from revoke.errors import GraphError, IdentityUnavailable, TransientGraphError
from revoke.identifiers import UserIdentifier
from revoke.outcomes import GraphResult, Outcome
from revoke.settings import Settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 15.0
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class GraphClient:
    """One per process: a pooled HTTP session and a cached credential, shared by all invocations."""

    def __init__(
        self, settings: Settings, credential: TokenCredential, session: requests.Session | None = None
    ) -> None:
        self._settings = settings
        self._credential = credential
        self._session = session or _pooled_session(settings.max_parallel)

    def action_url(self, user: UserIdentifier) -> str:
        action = self._settings.action
        return f"{self._settings.graph_endpoint}/{action.api_version}/users/{user.path_segment}/{action.value}"

    def revoke_sessions(self, user: UserIdentifier) -> GraphResult:
        """Call the revocation action for `user`; never raises for a Graph or network failure."""
        try:
            response = self._post(self.action_url(user))
        except GraphError as error:
            outcome = Outcome.DEFERRED if error.transient else Outcome.FAILED
            return GraphResult(outcome, error.status, error.request_id, error.detail, retry_after=error.retry_after)
        return _result_of(response)

    def _post(self, url: str) -> requests.Response:
        token = self._token()
        try:
            return self._session.post(
                url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            )
        except requests.Timeout:
            raise TransientGraphError("Graph did not answer in time") from None
        except requests.RequestException as problem:
            raise TransientGraphError(f"could not reach Graph: {type(problem).__name__}") from None

    def _token(self) -> str:
        try:
            return self._credential.get_token(self._settings.graph_scope).token
        except AzureError as problem:
            # The message can name the endpoint but never holds the identity header or a token.
            raise IdentityUnavailable(f"no token from the managed identity: {type(problem).__name__}") from None


def _result_of(response: requests.Response) -> GraphResult:
    status = response.status_code
    request_id = response.headers.get("request-id")
    if 200 <= status < 300:
        return GraphResult(Outcome.REVOKED, status, request_id)
    code = _graph_error_code(response)
    if status == 404:
        return GraphResult(Outcome.NOT_FOUND, status, request_id, code)
    if status in TRANSIENT_STATUSES:
        return GraphResult(Outcome.DEFERRED, status, request_id, code, retry_after=_retry_after(response))
    return GraphResult(Outcome.FAILED, status, request_id, code)


def _graph_error_code(response: requests.Response) -> str:
    """Graph's own error code (e.g. Authorization_RequestDenied), never its free text."""
    try:
        body: Any = response.json()
        code = body["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
    return str(code)[:128]


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _pooled_session(parallel: int) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=max(parallel, 4))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
