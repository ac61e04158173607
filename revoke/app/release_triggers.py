"""`POST /api/release`: undo a containment after a false positive (revoke.containment.release).

Only translation happens here. The caller is named by its Entra ID token and must hold the
`Containment.Release` app role before the body is read (revoke.containment.release); with
REVOKE_CALLER_AUTH=key, the function key and REVOKE_RELEASE_ACTIONS alone decide.
"""

from __future__ import annotations

import logging
import uuid

import azure.functions as func

from revoke.app import runtime, triggers
from revoke.app.replies import error_reply, http_reply
from revoke.errors import SettingsError

logger = logging.getLogger(__name__)

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]


@blueprint.function_name("release_http")
@blueprint.route(route="release", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def release_http(req: func.HttpRequest) -> func.HttpResponse:
    try:
        service = runtime.release_service()
        reply = http_reply(
            service.handle(req.get_body(), trigger="http", authenticate=runtime.authenticator(req.headers))
        )
    except SettingsError as problem:
        logger.error("Refusing release requests: %s", problem)
        reply = error_reply(500, "configuration_error", problem.public_message, str(uuid.uuid4()))
    except Exception:
        logger.exception("Unexpected failure in the release trigger")
        reply = error_reply(500, "internal_error", "the request failed unexpectedly; see the logs", str(uuid.uuid4()))
    # The same response builder as every other route (the tests check its answers against the OpenAPI file).
    return triggers._http_response(reply)
