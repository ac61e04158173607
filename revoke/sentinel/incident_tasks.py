"""Incident tasks for what a person must finish (revoke.containment.handoff), through Azure Resource Manager.

    PUT {incident ARM id}/tasks/{taskId}?api-version=2024-03-01
    {"properties": {"title": "...", "description": "...", "status": "New"}}      -> 201 created, 200 updated

IncidentTasks_CreateOrUpdate, stable since 2024-03-01 (azure-rest-api-specs,
Microsoft.SecurityInsights/stable/2024-03-01/examples/incidents/tasks/IncidentTasks_CreateOrUpdate.json),
on the comments' token, wire and retry loop (revoke.sentinel.incident_comment): the same rules,
the same one workspace, a redirect never followed. The task id is derived from the incident, the
user and the step (revoke.incidents.task_id), so a retry or a second request updates the task it
wrote instead of adding another. An incident holds at most 40 tasks (Microsoft Sentinel service
limits: https://learn.microsoft.com/azure/sentinel/sentinel-service-limits): past 40 none is sent,
and the comment says how many were left out. Like the comment, tasks never change a verdict, and
each has an audit event (action `incidentTask`).
"""

from __future__ import annotations

import logging

from revoke.audit.events import RequestContext, audit_event, emit
from revoke.containment.core import ContainmentReport
from revoke.containment.handoff import Handoff
from revoke.deadline import Deadline
from revoke.errors import GraphError, Unconfirmed
from revoke.graph.transport import GraphCall, GraphReply
from revoke.incidents import incident_in_workspace, task_id
from revoke.outcomes import TasksResult
from revoke.sentinel.comment_text import inert
from revoke.sentinel.incident_comment import MAX_DETAIL_LENGTH, IncidentCommenter, arm_detail
from revoke.sentinel.incident_report import COMMENT_FLOOR_SECONDS, why_not_commented

logger = logging.getLogger(__name__)

MAX_TASKS_PER_INCIDENT = 40  # Microsoft Sentinel service limits: tasks per incident
# The first stable SecurityInsights version with IncidentTasks; the comments' may be newer, never older.
TASK_API_VERSION = "2024-03-01"
TASK_ACTION = "incidentTask"  # the audit event's "action"
MAX_TITLE_CHARACTERS = 256
MAX_DESCRIPTION_CHARACTERS = 5000  # Microsoft Sentinel service limits: characters per description
OVER_LIMIT = f"not created: an incident holds at most {MAX_TASKS_PER_INCIDENT} tasks"


class IncidentTasks:
    """Writes a containment's handoffs as tasks on its incident, in the one workspace comments go to."""

    def __init__(self, commenter: IncidentCommenter, workspace_id: str) -> None:
        self._commenter = commenter
        self._workspace_id = workspace_id
        version = commenter.api_version
        self._api_version = version if version >= TASK_API_VERSION else TASK_API_VERSION

    def create(self, report: ContainmentReport, context: RequestContext, deadline: Deadline) -> TasksResult | None:
        """A task per handoff on the report's incident, each audited; None when none was due. Never raises."""
        if report.incident_id is None or not report.handoffs:
            return None
        incident = incident_in_workspace(report.incident_id, self._workspace_id)
        if incident is None:
            why = why_not_commented(report.incident_id, "no task created")
            for handoff in report.handoffs:
                _audit(context, handoff, "skipped", None, f"{handoff.title}: {why}")
            return TasksResult(len(report.handoffs), 0, (why,))
        time_left = Deadline(max(deadline.remaining(), COMMENT_FLOOR_SECONDS))
        sent, left_out = report.handoffs[:MAX_TASKS_PER_INCIDENT], report.handoffs[MAX_TASKS_PER_INCIDENT:]
        created = 0
        not_created: list[str] = []
        for handoff in sent:
            reply = self._put(incident, handoff, time_left)
            if reply is not None and reply.succeeded:
                created += 1
                _audit(context, handoff, "created", reply, handoff.title)
            else:
                status = "deferred" if reply is not None and reply.transient else "failed"
                why = (arm_detail(reply) if reply is not None else None) or "unexpected error"
                not_created.append(f"{handoff.user}: {handoff.title}: {why}")
                _audit(context, handoff, status, reply, f"{handoff.title}: {why}")
        for handoff in left_out:
            _audit(context, handoff, "skipped", None, f"{handoff.title}: {OVER_LIMIT}")
        return TasksResult(len(report.handoffs), created, tuple(not_created), len(left_out))

    def _put(self, incident: str, handoff: Handoff, deadline: Deadline) -> GraphReply | None:
        properties = {
            "title": inert(handoff.title, MAX_TITLE_CHARACTERS, quote=False),
            "description": inert(handoff.description, MAX_DESCRIPTION_CHARACTERS, quote=False),
            "status": "New",
        }
        name = task_id(incident, handoff.user, handoff.step)
        call = GraphCall(
            "PUT",
            f"{incident}/tasks/{name}?api-version={self._api_version}",
            body={"properties": properties},
            check=task_saved,
            version="",  # ARM's version is the api-version query parameter
        )
        try:
            return self._commenter.send(call, deadline)
        except Exception as problem:  # a task must never break the containment that asked for it
            logger.error("Could not write an incident task: %s", type(problem).__name__)
            return None


def task_saved(reply: GraphReply) -> GraphError | None:
    """Only a 200 (updated) or 201 (created) carrying the task resource confirms it was saved."""
    if reply.status not in (200, 201):
        return Unconfirmed(f"HTTP {reply.status} does not confirm the task was saved", status=reply.status)
    if not isinstance(reply.body, dict) or "error" in reply.body or not isinstance(reply.body.get("properties"), dict):
        return Unconfirmed(f"HTTP {reply.status} without the task resource", status=reply.status)
    return None


def _audit(context: RequestContext, handoff: Handoff, status: str, reply: GraphReply | None, detail: str) -> None:
    emit(
        audit_event(
            context,
            status,
            action=TASK_ACTION,
            user=handoff.user,
            graph_status=reply.status if reply is not None else None,
            graph_request_id=reply.request_id if reply is not None else None,
            attempts=reply.attempts if reply is not None else 0,
            duration_ms=reply.duration_ms if reply is not None else None,
            detail=detail[:MAX_DETAIL_LENGTH],
        )
    )
