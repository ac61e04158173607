"""`POST /api/release`: undo a containment after a false positive (revoke.containment.release).

Only translation happens here. `caller_refusal` is the one gate at the top of the handler,
before the body is read: the callers work puts its check of the `Containment.Release` app role
there (a 401/403 reply, or None to go on). Today it admits every caller the function key admits.
"""

from __future__ import annotations

import logging
import uuid

import azure.functions as func

from revoke.app import runtime, triggers
from revoke.app.replies import HttpReply, error_reply, http_reply
from revoke.errors import SettingsError

logger = logging.getLogger(__name__)

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]


@blueprint.function_name("release_http")
@blueprint.route(route="release", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def release_http(req: func.HttpRequest) -> func.HttpResponse:
    refusal = caller_refusal(req)
    if refusal is not None:
        return triggers._http_response(refusal)
    try:
        reply = http_reply(runtime.release_service().handle(req.get_body(), trigger="http"))
    except SettingsError as problem:
        logger.error("Refusing release requests: %s", problem)
        reply = error_reply(500, "configuration_error", problem.public_message, str(uuid.uuid4()))
    except Exception:
        logger.exception("Unexpected failure in the release trigger")
        reply = error_reply(500, "internal_error", "the request failed unexpectedly; see the logs", str(uuid.uuid4()))
    # The same response builder as every other route (the tests check its answers against the OpenAPI file).
    return triggers._http_response(reply)


def caller_refusal(req: func.HttpRequest) -> HttpReply | None:
    """Why this caller may not release anyone, as the reply to send; None: go on.

    The function key is checked by the host before this runs. The caller's Entra identity and
    its `Containment.Release` role are checked here once the callers work is merged.
    """
    return None
