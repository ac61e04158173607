"""The Azure Functions triggers: translate a request or message, call the core, map the result.

Only this module and its siblings for release and campaigns import azure.functions; nothing here decides anything.
Every trigger that can act runs inside `audit_delivery()` (revoke.app.evidence), so its audit events
also reach the workspace table when that is configured; the health check acts on nothing and does not.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from typing import Protocol

import azure.functions as func

from revoke.app import runtime
from revoke.app.evidence import audit_delivery
from revoke.app.replies import (
    HttpReply,
    QueueDisposition,
    error_reply,
    http_reply,
    queue_disposition,
    rejection_reply,
)
from revoke.containment.core import Authenticate, ContainmentReport
from revoke.errors import CallerRefused, RetryLater, SettingsError
from revoke.intake.payloads import decode_queue_body
from revoke.settings import poison_queue_of, queue_name_from

logger = logging.getLogger(__name__)

# The queue binding is fixed when the worker indexes the functions, so it is read at import.
QUEUE_NAME = queue_name_from(os.environ)
POISON_QUEUE_NAME = poison_queue_of(QUEUE_NAME)
STORAGE_CONNECTION = "AzureWebJobsStorage"

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]


@blueprint.function_name("revoke_http")
@blueprint.route(route="revoke", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def revoke_http(req: func.HttpRequest) -> func.HttpResponse:
    with audit_delivery():
        return answer(req, runtime.service, "revoke")


class RequestHandler(Protocol):
    def handle(self, body: bytes, *, trigger: str, authenticate: Authenticate | None = None) -> ContainmentReport: ...


def answer(req: func.HttpRequest, service: Callable[[], RequestHandler], route: str) -> func.HttpResponse:
    """One HTTP request through a shared service (containment or release), its caller named by its token."""
    try:
        report = service().handle(req.get_body(), trigger="http", authenticate=runtime.authenticator(req.headers))
        reply = http_reply(report)
    except SettingsError as problem:
        # The value stays in the log: the caller learns which setting to fix, not what it holds.
        logger.error("Refusing %s requests: %s", route, problem)
        reply = error_reply(500, "configuration_error", problem.public_message, str(uuid.uuid4()))
    except Exception:
        logger.exception("Unexpected failure in the %s trigger", route)
        reply = error_reply(500, "internal_error", "the request failed unexpectedly; see the logs", str(uuid.uuid4()))
    return _http_response(reply)


@blueprint.function_name("health")
@blueprint.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health_http(req: func.HttpRequest) -> func.HttpResponse:
    """200 when the deployment can contain (settings, token, permissions), 503 when it cannot."""
    try:
        readiness = runtime.readiness(req.headers)
        reply = HttpReply(200 if readiness.ready else 503, readiness.as_json())
    except CallerRefused as refusal:
        reply = rejection_reply(refusal, str(uuid.uuid4()))
    except Exception:
        logger.exception("Unexpected failure in the health check")
        reply = error_reply(
            500, "internal_error", "the health check failed unexpectedly; see the logs", str(uuid.uuid4())
        )
    return _http_response(reply)


@blueprint.function_name("revoke_queue")
@blueprint.queue_trigger(arg_name="msg", queue_name=QUEUE_NAME, connection=STORAGE_CONNECTION)
@blueprint.queue_output(arg_name="poison", queue_name=POISON_QUEUE_NAME, connection=STORAGE_CONNECTION)
def revoke_queue(msg: func.QueueMessage, poison: func.Out[str]) -> None:
    with audit_delivery():
        _handle_queue_message(msg, poison)


def _handle_queue_message(msg: func.QueueMessage, poison: func.Out[str]) -> None:
    body = msg.get_body()
    # Without a correlationId in the message, its id names the request: the same on every delivery,
    # so a redelivery updates the incident comment the first delivery wrote instead of adding one.
    report = runtime.service().handle(decode_queue_body(body), trigger="queue", correlation_id=msg.id or None)
    disposition = queue_disposition(report)
    logger.info(
        "Queue message %s (delivery %s): %s, correlation id %s",
        msg.id,
        msg.dequeue_count,
        disposition.value,
        report.correlation_id,
    )
    for skipped in report.skipped:
        logger.warning("Correlation id %s: skipped %s: %s", report.correlation_id, skipped.entity, skipped.reason)
    if disposition is QueueDisposition.POISON:
        # Unchanged, so an operator can fix the cause and put it back as it was.
        poison.set(body.decode("utf-8", errors="replace"))
    elif disposition is QueueDisposition.RETRY:
        raise RetryLater(f"deferred targets; correlation id {report.correlation_id}")


def _http_response(reply: HttpReply) -> func.HttpResponse:
    correlation_id = reply.body.get("correlationId")
    headers = {**({"X-Correlation-Id": str(correlation_id)} if correlation_id else {}), **reply.headers}
    return func.HttpResponse(reply.body_text(), status_code=reply.status, headers=headers, mimetype="application/json")
