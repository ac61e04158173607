"""The audit trail: one line of JSON on the `revoke.audit` logger for every action taken or account skipped,
also handed to the invocation's collector when its events go to a workspace table (revoke.audit.collector)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from revoke.audit.collector import collect
from revoke.outcomes import Outcome

AUDIT_LOGGER_NAME = "revoke.audit"
SCHEMA_ID = "revoke.audit/4"
SCHEMA_PATH = Path(__file__).with_name("audit_event.schema.json")

audit_logger = logging.getLogger(AUDIT_LOGGER_NAME)
_ROUTINE = frozenset(
    {
        "revoked", "disabled", "confirmed", "enabled", "dismissed", "password_reset", "dry_run", "not_found",
        "commented", "created", "scheduled", "verified",
    }
)  # fmt: skip
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
_SOURCE = __file__  # where every audit record says it was made


@dataclass(frozen=True)
class RequestContext:
    """What every audit event of one request shares."""

    trigger: str
    correlation_id: str
    alert_id: str | None = None
    incident_id: str | None = None
    reason: str | None = None
    # Who asked, from the caller's Entra ID token (azp/appid and oid); None on the queue path,
    # which Storage RBAC guards, for the CLI, and for a function-key caller (REVOKE_CALLER_AUTH=key).
    caller_app_id: str | None = None
    caller_object_id: str | None = None


def audit_event(
    context: RequestContext,
    outcome: Outcome | str,
    *,
    action: str | None,
    user: str | None,
    graph_status: int | None = None,
    graph_request_id: str | None = None,
    attempts: int = 0,
    duration_ms: float | None = None,
    detail: str | None = None,
    contained: bool | None = None,
) -> dict[str, Any]:
    """The event as a dict; every key is always present, absent values are None."""
    return {
        "schema": SCHEMA_ID,
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "outcome": str(outcome),
        "action": action,
        "user": user,
        "trigger": context.trigger,
        "correlationId": context.correlation_id,
        "alertId": context.alert_id,
        "incidentId": context.incident_id,
        "reason": context.reason,
        "callerAppId": context.caller_app_id,
        "callerObjectId": context.caller_object_id,
        "graphStatus": graph_status,
        "graphRequestId": graph_request_id,
        "attempts": attempts,
        "durationMs": None if duration_ms is None else round(duration_ms, 1),
        "detail": detail,
        "contained": contained,
    }


def emit(event: dict[str, Any]) -> None:
    # WARNING for outcomes a responder must look at, so they stand out in Application Insights.
    level = logging.INFO if event["outcome"] in _ROUTINE else logging.WARNING
    if audit_logger.isEnabledFor(level):
        # The record is made and handled as Logger.log would, but without its search of the stack
        # for the caller's file and line, which every event would pay for and no reader of the trail
        # uses: a request of 1,000 users writes 1,000 events.
        message = _COMPACT_JSON.encode(event)
        audit_logger.handle(audit_logger.makeRecord(AUDIT_LOGGER_NAME, level, _SOURCE, 0, message, (), None))
    collect(event)
