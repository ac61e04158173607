"""Writing a containment's comment on its Microsoft Sentinel incident, through Azure Resource Manager.

    PUT {incident ARM id}/comments/{commentId}?api-version=2024-09-01
    {"properties": {"message": "<p>...</p>"}}          -> 201 created, 200 updated

as the Function App's managed identity (scope `{arm_endpoint}/.default`), on the same token
source, wire and retry loop as the Graph calls: transient answers are retried within the
invocation's deadline, a 401 gets one fresh token, a redirect is never followed. The
comment id is derived from the request (`revoke.incidents.comment_id`), so a redelivered
request updates its own comment instead of adding another, and retrying the PUT is safe.

The comment is a courtesy to the analyst, never part of the containment: `post` does not
raise, and every failure comes back as a `CommentResult` with its own audit event.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import requests
from azure.core.credentials import TokenCredential

from revoke.audit.collector import ContextPool
from revoke.audit.events import RequestContext, audit_event
from revoke.deadline import Deadline
from revoke.errors import GraphError, GraphUnreachable, TransientGraphError, Unconfirmed
from revoke.graph.sending import CallSender
from revoke.graph.tokens import TokenSource
from revoke.graph.transport import GraphCall, GraphReply, GraphTransport
from revoke.identifiers import is_object_id
from revoke.incidents import is_incident_id
from revoke.outcomes import CommentResult, CommentStatus
from revoke.sentinel.comment_text import MAX_COMMENT_CHARACTERS

logger = logging.getLogger(__name__)

# The SecurityInsights stable version the comment is written with (IncidentComments_CreateOrUpdate).
DEFAULT_API_VERSION = "2024-09-01"
COMMENT_ACTION = "incidentComment"  # the audit event's "action"
MAX_DETAIL_LENGTH = 1024  # the audit schema's limit for "detail"

_STABLE_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")


def skipped(detail: str) -> CommentResult:
    """No comment was sent: comments are off, or the incident is not one the service may comment on."""
    return CommentResult("skipped", detail=detail)


class IncidentCommenter:
    """One per process: the ARM token, a pooled session, and the retry loop for comments."""

    def __init__(
        self,
        arm_endpoint: str,
        credential: TokenCredential,
        session: requests.Session,
        api_version: str = DEFAULT_API_VERSION,
        tokens: TokenSource | None = None,
    ) -> None:
        if not _STABLE_API_VERSION.fullmatch(api_version):
            raise ValueError(f"not a stable api-version (YYYY-MM-DD): {api_version!r}")
        endpoint = arm_endpoint.rstrip("/")
        self._api_version = api_version
        tokens = tokens or TokenSource(credential, f"{endpoint}/.default")
        # CallSender batches only when given several calls; a comment is one call, so
        # this pool never starts a thread.
        unused = ContextPool(max_workers=1, thread_name_prefix="arm-comment")
        self._sender = CallSender(GraphTransport(endpoint, session), tokens, unused, window=1)

    def post(self, incident_id: str, comment_id: str, message: str, deadline: Deadline) -> CommentResult:
        """Create or update the comment `comment_id` on the incident; never raises.

        `incident_id` must be normalised (`revoke.incidents.incident_in_workspace`) and
        `comment_id` a lower-case GUID (`revoke.incidents.comment_id`); anything else is
        refused before a request is made.
        """
        if not is_incident_id(incident_id) or not (is_object_id(comment_id) and comment_id == comment_id.lower()):
            return skipped("not a normalised Sentinel incident id and comment id")
        if len(message) > MAX_COMMENT_CHARACTERS:
            return CommentResult("failed", detail=f"message over {MAX_COMMENT_CHARACTERS} characters; not sent")
        call = GraphCall(
            "PUT",
            f"{incident_id}/comments/{comment_id}?api-version={self._api_version}",
            body={"properties": {"message": message}},
            check=comment_saved,
            version="",  # ARM's version is the api-version query parameter
        )
        try:
            reply = self.send(call, deadline)
        except Exception as problem:  # a comment must never break the containment that wrote it
            logger.error("Could not write the incident comment: %s", type(problem).__name__)
            return CommentResult("failed", detail=f"unexpected error: {type(problem).__name__}")
        return comment_result(reply)

    @property
    def api_version(self) -> str:
        return self._api_version

    def send(self, call: GraphCall, deadline: Deadline) -> GraphReply:
        """One ARM call on the comments' token, wire and retry loop (incident tasks use it too)."""
        [reply] = self._sender.send_all([call], deadline)  # one call: never batched
        return reply


def comment_saved(reply: GraphReply) -> GraphError | None:
    """Only a 200 (updated) or 201 (created) carrying the comment resource confirms it was saved."""
    if reply.status not in (200, 201):
        return Unconfirmed(f"HTTP {reply.status} does not confirm the comment was saved", status=reply.status)
    if not isinstance(reply.body, dict) or "error" in reply.body:
        return Unconfirmed(f"HTTP {reply.status} without the comment resource", status=reply.status)
    return None


def comment_result(reply: GraphReply) -> CommentResult:
    if reply.succeeded:
        status: CommentStatus = "commented"
    elif reply.transient:
        status = "deferred"
    else:
        status = "failed"
    return CommentResult(
        status,
        http_status=reply.status,
        detail=None if status == "commented" else arm_detail(reply),
        attempts=reply.attempts,
        request_id=reply.request_id,
        duration_ms=reply.duration_ms,
    )


def arm_detail(reply: GraphReply) -> str | None:
    error = reply.error
    # The wire's own messages name Graph, the service it was first written for.
    if isinstance(error, GraphUnreachable):
        return "could not connect to Azure Resource Manager"
    if type(error) is TransientGraphError:
        return "Azure Resource Manager did not answer (timed out, or the connection dropped)"
    return reply.error_code


def comment_audit_event(context: RequestContext, result: CommentResult) -> dict[str, Any]:
    """The comment's own audit event, action `incidentComment`."""
    detail = result.detail[:MAX_DETAIL_LENGTH] if result.detail is not None else None
    return audit_event(
        context,
        result.status,
        action=COMMENT_ACTION,
        user=None,
        graph_status=result.http_status,
        graph_request_id=result.request_id,
        attempts=result.attempts,
        duration_ms=result.duration_ms,
        detail=detail,
    )
