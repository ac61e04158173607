"""`POST /api/release`: undo a containment after a false positive (revoke.containment.release).

Only translation happens here. The caller is named by its Entra ID token and must hold the
`Containment.Release` app role before the body is read (revoke.containment.release); with
REVOKE_CALLER_AUTH=key, the function key and REVOKE_RELEASE_ACTIONS alone decide.
"""

from __future__ import annotations

import azure.functions as func

from revoke.app import runtime, triggers
from revoke.app.evidence import audit_delivery

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]


@blueprint.function_name("release_http")
@blueprint.route(route="release", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def release_http(req: func.HttpRequest) -> func.HttpResponse:
    with audit_delivery():
        return triggers.answer(req, runtime.release_service, "release")
