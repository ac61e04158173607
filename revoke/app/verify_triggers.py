"""The check after the next directory sync: its queue trigger (revoke.containment.verification).

Only translation happens here; the queue client, Graph and the check itself are imported when
the first message arrives, so indexing the app stays cheap. A message the check could not read
every account for is left for redelivery, except on its last delivery, when what could not be
read is audited as such.
"""

from __future__ import annotations

import json
import logging
import os

import azure.functions as func

from revoke.app.evidence import audit_delivery
from revoke.app.triggers import STORAGE_CONNECTION
from revoke.audit.events import RequestContext, audit_event, emit
from revoke.settings import max_dequeue_count, verify_queue_name_from

logger = logging.getLogger(__name__)

VERIFY_QUEUE_NAME = verify_queue_name_from(os.environ)
NOT_A_CHECK = "a message on the verify queue that is not a check this service scheduled; dropped"

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]


@blueprint.function_name("revoke_verify")
@blueprint.queue_trigger(arg_name="msg", queue_name=VERIFY_QUEUE_NAME, connection=STORAGE_CONNECTION)
def revoke_verify(msg: func.QueueMessage) -> None:
    """Read each user the request disabled again and audit what became of them; never acts."""
    with audit_delivery():
        _check(msg)


def _check(msg: func.QueueMessage) -> None:
    from revoke.app import verify_runtime
    from revoke.containment.verification import NotAVerification

    try:
        message = json.loads(msg.get_body())
        if not isinstance(message, dict):
            raise NotAVerification("not a JSON object")
        outcomes = verify_runtime.verification().check(message, final=(msg.dequeue_count or 1) >= max_dequeue_count())
    except (ValueError, NotAVerification) as problem:  # NotAVerification is a ValueError, as is bad JSON
        logger.warning("Verify queue message %s: %s", msg.id, type(problem).__name__)
        emit(
            audit_event(
                RequestContext("queue", msg.id or "verify"), "rejected", action=None, user=None, detail=NOT_A_CHECK
            )
        )
        return
    logger.info("Verify queue message %s (delivery %s): %s", msg.id, msg.dequeue_count, ", ".join(outcomes))
