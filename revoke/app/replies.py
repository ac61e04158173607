"""Turns a ContainmentReport into what each trigger answers: an HTTP reply or a queue disposition."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from revoke.containment.core import ContainmentReport
from revoke.containment.verdict import TargetOutcome
from revoke.errors import InvalidCallerToken, RequestRejected

RETRY_AFTER_FLOOR_SECONDS = 5
# A target that ended as asked: contained, or released by a release request (or a dry run of either).
DONE = frozenset({TargetOutcome.CONTAINED, TargetOutcome.RELEASED, TargetOutcome.DRY_RUN})


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def body_text(self) -> str:
        return json.dumps(self.body, separators=(",", ":"))


class QueueDisposition(StrEnum):
    COMPLETE = "complete"  # every target is final: the message is done
    RETRY = "retry"  # a target was deferred: raise so the host delivers it again
    POISON = "poison"  # a person must look: copy the message to <queue>-poison, unchanged


def error_reply(status: int, code: str, message: str, correlation_id: str) -> HttpReply:
    return HttpReply(status, {"error": {"code": code, "message": message}, "correlationId": correlation_id})


def rejection_reply(rejection: RequestRejected, correlation_id: str) -> HttpReply:
    """A refused request; a 401 says, as RFC 6750 asks, that a bearer token is what is missing."""
    reply = error_reply(rejection.http_status, rejection.code, rejection.message, correlation_id)
    if isinstance(rejection, InvalidCallerToken):
        # The reason is one of the fixed codes in revoke.policy.callers, never text from the token.
        challenge = f'Bearer error="invalid_token", error_description="{rejection.reason}"'
        reply.headers["WWW-Authenticate"] = challenge
    return reply


def http_reply(report: ContainmentReport) -> HttpReply:
    """The HTTP status and body; the first rule that applies wins."""
    if report.rejection is not None:
        return _with_comment(rejection_reply(report.rejection, report.correlation_id), report)
    outcomes = report.outcomes()
    if report.not_contained_here:
        # A release may only undo what this deployment contained; it contained none of these.
        message = "; ".join(sorted({_refusal(r.detail) for r in report.results}))
        reply = error_reply(409, "not_contained_here", f"nothing was released: {message}", report.correlation_id)
        return _with_comment(reply, report)
    if outcomes == {TargetOutcome.REFUSED}:
        message = "; ".join(sorted({_refusal(r.detail) for r in report.results}))
        reply = error_reply(422, "refused_by_policy", f"nothing was done: {message}", report.correlation_id)
        return _with_comment(reply, report)
    if TargetOutcome.DEFERRED in outcomes:
        return HttpReply(503, _results_body(report, "failed"), {"Retry-After": str(retry_after_seconds(report))})
    if outcomes <= DONE:
        return HttpReply(200, _results_body(report, "succeeded"))
    if outcomes == {TargetOutcome.FAILED}:
        codes = sorted({r.detail or "unknown" for r in report.results})
        body = _results_body(report, "failed")
        body["error"] = {"code": "graph_refused", "message": f"Graph refused every target: {', '.join(codes)}"}
        return HttpReply(502, body)
    return HttpReply(207, _results_body(report, "partial"))


def queue_disposition(report: ContainmentReport) -> QueueDisposition:
    outcomes = report.outcomes()
    # A target whose protection could not be read was refused, fail closed; the next delivery may read it
    # (after maxDequeueCount deliveries the host moves the message to the poison queue, unchanged).
    if TargetOutcome.DEFERRED in outcomes or report.unverified:
        return QueueDisposition.RETRY
    # An over-limit request is kept for a person to split or replay, not dropped; so is one whose
    # targets the action budget refused: a burst past the budget is for a person to judge, and a
    # redelivery every minute would only refuse again (docs/DEPLOY.md, "The action budget").
    if report.rejection is not None or report.over_limit or report.over_budget or TargetOutcome.FAILED in outcomes:
        return QueueDisposition.POISON
    return QueueDisposition.COMPLETE


def retry_after_seconds(report: ContainmentReport) -> int:
    waits = [r.retry_after for r in report.results if r.outcome is TargetOutcome.DEFERRED and r.retry_after]
    return max([RETRY_AFTER_FLOOR_SECONDS, *(math.ceil(w) for w in waits)])


def _refusal(detail: str | None) -> str:
    # A target's detail names the action ("revokeSignInSessions: protected user ..."); every action was refused alike.
    return detail.split(": ", 1)[-1] if detail else "refused"


def _results_body(report: ContainmentReport, status: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "correlationId": report.correlation_id,
        "status": status,
        "dryRun": report.dry_run,
        "results": [result.as_json() for result in report.results],
        "skipped": [{"entity": s.entity, "reason": s.reason} for s in report.skipped],
    }
    return _with_comment(HttpReply(200, _with_follow_ups(body, report)), report).body


def _with_comment(reply: HttpReply, report: ContainmentReport) -> HttpReply:
    """Every answer says what became of the incident comment, when one was due, whatever its status."""
    if report.comment is not None:
        reply.body["incidentComment"] = {"status": report.comment.status, "detail": report.comment.detail}
    return reply


def _with_follow_ups(body: dict[str, Any], report: ContainmentReport) -> dict[str, Any]:
    """The incident tasks and the check after the next directory sync, when either was due."""
    if report.tasks is not None:
        tasks = report.tasks
        body["incidentTasks"] = {
            "wanted": tasks.wanted,
            "created": tasks.created,
            "notCreated": list(tasks.not_created),
            "overLimit": tasks.over_limit,
        }
    if report.verification is not None:
        verification = report.verification
        body["verification"] = {"status": verification.status, "detail": verification.detail, "due": verification.due}
    return body
