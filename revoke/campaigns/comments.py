"""A campaign's two comments on its Microsoft Sentinel incident: one when it starts, one when it ends.

Written through the product's incident commenter (`revoke.sentinel`), only on an incident
of the one workspace the deployment serves, each with an id derived from the campaign and
the phase, so a repeated start or end updates its comment instead of adding another.
"""

from __future__ import annotations

from revoke.audit.events import RequestContext, emit
from revoke.deadline import Deadline
from revoke.incidents import comment_id, incident_in_workspace
from revoke.sentinel.incident_comment import IncidentCommenter, comment_audit_event, skipped
from revoke.sentinel.incident_report import OUTSIDE_WORKSPACE

COMMENT_SECONDS = 20.0


class CampaignComments:
    def __init__(self, commenter: IncidentCommenter, workspace_id: str) -> None:
        self._commenter = commenter
        self._workspace_id = workspace_id

    def campaign_comment(self, context: RequestContext, campaign: str, phase: str, message: str) -> None:
        """Write the comment for `phase` ("start" or "end"); audited; never raises."""
        if context.incident_id is None:
            return
        incident = incident_in_workspace(context.incident_id, self._workspace_id)
        if incident is None:
            result = skipped(OUTSIDE_WORKSPACE)
        else:
            key = comment_id(f"campaign:{campaign}:{phase}", incident)
            result = self._commenter.post(incident, key, message, Deadline(COMMENT_SECONDS))
        emit(comment_audit_event(context, result))
