"""The campaign triggers: four HTTP routes and the campaign queue (and its poison queue).

Each HTTP handler is one line of work inside `_answer`, which first names the caller by its
Entra ID token and requires Containment.Campaign (preview and start also require each
action's role; a start, with two-person approval, another caller than the preview's). The
per-hour action budget does not apply to the targets of a started campaign: the roles, the
second approver, the preview and REVOKE_MAX_CAMPAIGN_USERS guard it instead.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import azure.functions as func
from azure.core.exceptions import AzureError

from revoke.app import runtime, triggers
from revoke.app.evidence import audit_delivery
from revoke.app.replies import HttpReply, error_reply, rejection_reply
from revoke.app.triggers import STORAGE_CONNECTION
from revoke.deadline import Deadline
from revoke.errors import CallerRefused, GraphError, RequestRejected, SettingsError
from revoke.policy.roles import ROLE_CAMPAIGN, Caller
from revoke.settings import campaign_queue_name_from, max_dequeue_count, poison_queue_of

if TYPE_CHECKING:  # the engine and its Storage clients are imported with the first campaign call
    from revoke.campaigns.engine import CampaignEngine

logger = logging.getLogger(__name__)

CAMPAIGN_QUEUE_NAME = campaign_queue_name_from(os.environ)
CAMPAIGN_POISON_QUEUE_NAME = poison_queue_of(CAMPAIGN_QUEUE_NAME)

# A campaign route names its caller within this (the signing keys may have to be fetched).
CALLER_CHECK_SECONDS = 10.0

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]


@blueprint.function_name("campaign_preview")
@blueprint.route(route="campaigns", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def campaign_preview(req: func.HttpRequest) -> func.HttpResponse:
    """Preview: the scope's members counted by kind, a campaignId; nothing sent to Graph's write side."""
    with audit_delivery():
        return _answer(req, lambda engine, caller: HttpReply(200, engine.preview(req.get_body(), caller)))


@blueprint.function_name("campaign_start")
@blueprint.route(route="campaigns/{campaignId}/start", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def campaign_start(req: func.HttpRequest) -> func.HttpResponse:
    with audit_delivery():
        return _answer(req, lambda engine, caller: _accepted(engine.start(_campaign_id(req), caller)))


@blueprint.function_name("campaign_status")
@blueprint.route(route="campaigns/{campaignId}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def campaign_status(req: func.HttpRequest) -> func.HttpResponse:
    with audit_delivery():
        return _answer(req, lambda engine, caller: HttpReply(200, engine.status(_campaign_id(req))))


@blueprint.function_name("campaign_cancel")
@blueprint.route(route="campaigns/{campaignId}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def campaign_cancel(req: func.HttpRequest) -> func.HttpResponse:
    with audit_delivery():
        return _answer(req, lambda engine, caller: _accepted(engine.cancel(_campaign_id(req), caller)))


@blueprint.function_name("campaign_queue")
@blueprint.queue_trigger(arg_name="msg", queue_name=CAMPAIGN_QUEUE_NAME, connection=STORAGE_CONNECTION)
def campaign_queue(msg: func.QueueMessage) -> None:
    """One schedule, chunk or finishing check; an exception makes the host deliver it again (then poison it)."""
    with audit_delivery():
        message = _message(msg)
        if message is not None:
            _engine().handle(message, message_id=msg.id or "")


@blueprint.function_name("campaign_poison")
@blueprint.queue_trigger(arg_name="msg", queue_name=CAMPAIGN_POISON_QUEUE_NAME, connection=STORAGE_CONNECTION)
def campaign_poison(msg: func.QueueMessage) -> None:
    """A campaign message the host gave up on: its open targets are reported failed, with why."""
    with audit_delivery():
        message = _message(msg)
        if message is not None:
            _engine().poisoned(message, max_dequeue_count())


def _answer(req: func.HttpRequest, operation: Callable[[CampaignEngine, Caller], HttpReply]) -> func.HttpResponse:
    correlation = str(uuid.uuid4())
    caller: Caller | None = None
    try:
        engine = _engine()
        caller = runtime.authenticator(req.headers)(Deadline(CALLER_CHECK_SECONDS))
        caller.require(ROLE_CAMPAIGN)
        reply = operation(engine, caller)
    except CallerRefused as refusal:
        from revoke.policy.callers import audit_refusal  # PyJWT's module: not imported when the app is indexed

        audit_refusal("http", refusal, correlation, caller)
        reply = rejection_reply(refusal, correlation)
    except RequestRejected as rejection:
        reply = error_reply(rejection.http_status, rejection.code, rejection.message, correlation)
    except GraphError as error:
        if error.transient:
            reply = error_reply(
                503, "graph_unavailable", f"Graph did not list the members: {error.detail}", correlation
            )
            reply.headers["Retry-After"] = str(max(5, int(error.retry_after or 5)))
        else:
            reply = error_reply(502, "graph_refused", f"Graph refused to list the members: {error.detail}", correlation)
    except SettingsError as problem:
        logger.error("Refusing campaign requests: %s", problem)
        reply = error_reply(500, "configuration_error", problem.public_message, correlation)
    except AzureError as problem:
        logger.error("Campaign storage failed: %s", type(problem).__name__)
        reply = error_reply(503, "storage_unavailable", "the campaign's storage did not answer", correlation)
        reply.headers["Retry-After"] = "5"
    except Exception:
        logger.exception("Unexpected failure in a campaign route")
        reply = error_reply(500, "internal_error", "the request failed unexpectedly; see the logs", correlation)
    # Through the module, so a test's check of every response (tests/openapi_contract.py) sees these too.
    return triggers._http_response(reply)


def _engine() -> CampaignEngine:
    """The shared engine, its module imported on first use: indexing the app builds no Storage client."""
    from revoke.app import campaign_runtime

    return campaign_runtime.engine()


def _accepted(body: dict[str, Any]) -> HttpReply:
    return HttpReply(202, body, {"Location": f"/api/campaigns/{body['campaignId']}"})


def _campaign_id(req: func.HttpRequest) -> str:
    return str(req.route_params.get("campaignId", ""))


def _message(msg: func.QueueMessage) -> dict[str, Any] | None:
    """The campaign message `msg` carries; anything else is kept for a person (`CampaignEngine.stray`), never dropped."""
    from revoke.campaigns.engine import campaign_message

    body = msg.get_body()
    try:
        message = campaign_message(json.loads(body))
    except ValueError:
        message = None
    if message is None:
        _engine().stray(body.decode("utf-8", errors="replace"), msg.id or "")
    return message
