"""After the actions: one comment on the request's Microsoft Sentinel incident, saying what was done.

The comment never touches containment: it is written after every target has its verdict,
its failure changes no outcome and never makes a queue message run again, and it has its
own audit event. The incident id comes from the payload, so the comment is written only on
an incident of the one workspace this deployment serves (REVOKE_SENTINEL_WORKSPACE), with an
id that is the same on every delivery of the request, so a redelivery updates it.
"""

from __future__ import annotations

from revoke.audit.events import RequestContext, emit
from revoke.containment.core import ContainmentReport
from revoke.deadline import Deadline
from revoke.incidents import comment_id, incident_in_workspace
from revoke.outcomes import CommentResult
from revoke.sentinel.comment_text import CommentSummary, CommentTarget, render_comment
from revoke.sentinel.incident_comment import IncidentCommenter, comment_audit_event, skipped

# A comment after a containment that used its whole budget still gets this long.
COMMENT_FLOOR_SECONDS = 5.0
NO_COMMENT = "no comment written"
_OUTSIDE = "the incident is not one of REVOKE_SENTINEL_WORKSPACE's"
OUTSIDE_WORKSPACE = f"{_OUTSIDE}: {NO_COMMENT}"
INCIDENT_NUMBER = (
    "incidentId {number} is an incident number, not the incident's ARM id "
    "(/subscriptions/.../providers/Microsoft.SecurityInsights/incidents/{{name}}, the incident trigger's object.id)"
)
NOT_AN_INCIDENT_ID = "incidentId is not a Sentinel incident's ARM id"


class IncidentReporter:
    def __init__(self, commenter: IncidentCommenter, workspace_id: str) -> None:
        self._commenter = commenter
        self._workspace_id = workspace_id

    @property
    def commenter(self) -> IncidentCommenter:
        """The ARM writer, which the incident tasks share (revoke.sentinel.incident_tasks)."""
        return self._commenter

    def comment(self, report: ContainmentReport, context: RequestContext, deadline: Deadline) -> CommentResult | None:
        """Comment on the report's incident, if it names one; audited; never raises."""
        if report.incident_id is None or not (report.results or report.skipped):
            return None
        message = render_comment(summary_of(report, context.caller_app_id, context.reason))
        return self.post(report.incident_id, report.correlation_id, message, context, deadline)

    def post(
        self, incident_id: str, key: str, message: str, context: RequestContext, deadline: Deadline
    ) -> CommentResult:
        """`message` as the comment named after `key` on the incident, if it is one of the workspace's
        (skipped, saying why, if not); at least COMMENT_FLOOR_SECONDS to do it; audited; never raises."""
        incident = incident_in_workspace(incident_id, self._workspace_id)
        if incident is None:
            result = skipped(why_not_commented(incident_id))
        else:
            time_left = Deadline(max(deadline.remaining(), COMMENT_FLOOR_SECONDS))
            result = self._commenter.post(incident, comment_id(key, incident), message, time_left)
        emit(comment_audit_event(context, result))
        return result


def why_not_commented(incident_id: str, consequence: str = NO_COMMENT) -> str:
    """Why an incident id gets no comment (or, as `consequence` says, no task): a number where the
    ARM id belongs, not an id, or another workspace."""
    if incident_id.strip().isdigit() and len(incident_id.strip()) <= 20:
        why = INCIDENT_NUMBER.format(number=incident_id.strip())
    elif "/providers/microsoft.securityinsights/incidents/" not in incident_id.lower():
        why = NOT_AN_INCIDENT_ID
    else:
        why = _OUTSIDE
    return f"{why}: {consequence}"


def summary_of(
    report: ContainmentReport, caller_app_id: str | None = None, reason: str | None = None
) -> CommentSummary:
    """What the comment says; `caller_app_id` names the calling app when the request was authenticated,
    `reason` why it was asked for."""
    targets = tuple(
        CommentTarget(
            result.user,
            result.contained,
            result.outcome.value,
            tuple((r.action, r.result.outcome.value, r.result.detail) for r in result.actions),
            result.detail,
        )
        for result in report.results
    )
    skipped_accounts = tuple((entity.entity, entity.reason) for entity in report.skipped)
    return CommentSummary(
        report.correlation_id,
        report.dry_run,
        targets,
        skipped_accounts,
        report.release,
        caller_app_id,
        reason,
        notes_of(report),
    )


def notes_of(report: ContainmentReport) -> tuple[str, ...]:
    """What followed the verdicts, as the comment says it: the incident tasks, the check after the next sync."""
    notes = []
    tasks = report.tasks
    if tasks is not None:
        note = f"Tasks for a person: {tasks.created} of {tasks.wanted} added to this incident."
        if tasks.over_limit:
            note += f" {tasks.over_limit} not added: an incident holds at most 40 tasks."
        notes.append(" ".join([note, *(f"Not added: {why}." for why in tasks.not_created[:5])]))
    verification = report.verification
    if verification is not None and verification.status == "scheduled":
        notes.append(
            f"Each account disabled here is checked again at {verification.due}, after the next directory sync; "
            "an account found enabled again is commented here (nothing is done again by itself)."
        )
    elif verification is not None:
        notes.append(f"Check after the next directory sync: {verification.detail}.")
    return tuple(notes)
