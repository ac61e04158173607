"""The comment the check after the next directory sync leaves when an account was enabled again.

Written only when someone was reverted, on the request's incident in the one workspace comments
go to, with an id derived from the request and the check, so a redelivered check updates its own
comment. Audited like every comment (action `incidentComment`); it never acts on anyone.
"""

from __future__ import annotations

from collections.abc import Sequence

from revoke.audit.events import RequestContext
from revoke.containment.verification import VERIFY_REASON, Reverted
from revoke.deadline import Deadline
from revoke.outcomes import CommentResult
from revoke.sentinel.comment_text import MAX_NAME_CHARACTERS, inert
from revoke.sentinel.incident_report import IncidentReporter

MAX_LISTED = 200  # users listed in one comment; the audit events name every one


class RevertedCommenter:
    def __init__(self, reporter: IncidentReporter) -> None:
        self._reporter = reporter

    def reverted(
        self, incident_id: str, correlation_id: str, reverted: Sequence[Reverted], deadline: Deadline
    ) -> CommentResult | None:
        """Comment that `reverted` were found enabled again; audited; never raises."""
        if not reverted:
            return None
        context = RequestContext("queue", correlation_id, incident_id=incident_id, reason=VERIFY_REASON)
        message = render_reverted(correlation_id, reverted)
        return self._reporter.post(incident_id, f"{correlation_id}/verify", message, context, deadline)


def render_reverted(correlation_id: str, reverted: Sequence[Reverted]) -> str:
    """The comment's HTML; every name escaped (they come from the alert)."""
    items = "".join(
        f"<li><b>{inert(user.user, MAX_NAME_CHARACTERS)}</b>: enabled again in {inert(' and '.join(user.where), 64)}</li>"
        for user in reverted[:MAX_LISTED]
    )
    more = (
        f"<p>{len(reverted) - MAX_LISTED} more; the audit events list every one.</p>"
        if len(reverted) > MAX_LISTED
        else ""
    )
    return (
        "<p><b>Containment check after the directory sync</b>: "
        f"{len(reverted)} account(s) disabled by this request are enabled again.<br>"
        f"Correlation id: <code>{inert(correlation_id, 128)}</code></p>"
        f"<ul>{items}</ul>{more}"
        "<p>Nothing was done again: contain them again if they are still compromised. For a user synced from "
        "Active Directory, disable the Active Directory account too, or the next directory sync enables it again.</p>"
    )
