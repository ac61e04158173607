"""What a campaign leaves behind: its audit events, and the words of its incident comments."""

from __future__ import annotations

from typing import Any, Protocol

from revoke.actions import ContainmentAction
from revoke.audit.events import RequestContext, audit_event
from revoke.campaigns.request import CampaignRequest
from revoke.campaigns.state import CANCELLED
from revoke.containment.verdict import ActionRecord, TargetResult, judge
from revoke.outcomes import ActionResult, Outcome

TRIGGER = "campaign"
CAMPAIGN_ACTION = "campaign"
# The campaign's own events (action "campaign"), beside one event per action on each target.
PREVIEWED, STARTED, CANCELLED_BY, ENDED = (
    "campaign_previewed",
    "campaign_started",
    "campaign_cancelled",
    "campaign_ended",
)


class Comments(Protocol):
    def campaign_comment(self, context: RequestContext, campaign: str, phase: str, message: str) -> None: ...


def comment(comments: Comments | None, context: RequestContext, campaign: str, phase: str, message: str) -> None:
    if comments is not None and context.incident_id is not None:
        comments.campaign_comment(context, campaign, phase, message)


def context_of(request: CampaignRequest, by: tuple[str | None, str | None] | None = None) -> RequestContext:
    """The context of the campaign's events: its starter's, or `by` (app id, object id) for what
    another caller did (a preview, a cancel; both None when the caller was not identified)."""
    app_id, object_id = by if by is not None else (request.caller_app_id, request.caller_object_id)
    return RequestContext(
        TRIGGER,
        request.correlation_id,
        None,
        request.incident_id,
        request.reason,
        caller_app_id=app_id,
        caller_object_id=object_id,
    )


def campaign_event(context: RequestContext, outcome: str, detail: str) -> dict[str, Any]:
    return audit_event(context, outcome, action=CAMPAIGN_ACTION, user=None, detail=detail[:1024])


def record(action: ContainmentAction, result: ActionResult) -> dict[str, Any]:
    """One action's result as a target row keeps it."""
    return {
        "action": action.value,
        "outcome": result.outcome.value,
        "status": result.status,
        "requestId": result.request_id,
        "detail": result.detail,
        "attempts": result.attempts,
    }


def action_record(stored: dict[str, Any]) -> ActionRecord:
    outcome = Outcome(stored["outcome"]) if stored["outcome"] != CANCELLED else Outcome.REFUSED
    return ActionRecord(stored["action"], ActionResult(outcome, stored.get("status"), detail=stored.get("detail")))


def target_event(
    context: RequestContext, user: str, stored: dict[str, Any], *, contained: bool | None, why: str | None
) -> dict[str, Any]:
    return audit_event(
        context,
        stored["outcome"],
        action=stored["action"],
        user=user,
        graph_status=stored.get("status"),
        graph_request_id=stored.get("requestId"),
        attempts=stored.get("attempts", 0),
        detail=stored.get("detail") or why,
        contained=contained,
    )


def describe(request: CampaignRequest) -> str:
    scope = request.scope
    what = "all users" if scope.kind == "allUsers" else f"{scope.kind} {scope.id}"
    return f"{' and '.join(a.value for a in request.actions)} for {what}"


DRY_RUN_NOTE = "dry run: nothing is sent to Graph"


def start_message(campaign: str, request: CampaignRequest, preview: dict[str, Any], *, dry_run: bool) -> str:
    dry = f" <b>{DRY_RUN_NOTE}.</b>" if dry_run else ""
    return (
        f"<p>Containment campaign <code>{campaign}</code> started: {describe(request)}.{dry}</p>"
        f"<p>{preview['targets']} targets ({preview['members']} members, {preview['guests']} guests); "
        f"excluded: {preview['protected']} protected, {preview['alreadyDisabled']} already disabled. "
        f"Estimated duration: {preview['estimatedSeconds']} s.</p>"
    )


def end_message(campaign: str, status: str, progress: dict[str, Any], *, dry_run: bool) -> str:
    rows = "".join(f"<li>{key}: {count}</li>" for key, count in progress["outcomes"].items() if count)
    dry = f" <b>{DRY_RUN_NOTE}: no account was changed.</b>" if dry_run else ""
    return (
        f"<p>Containment campaign <code>{campaign}</code> {status}.{dry} "
        f"Throttled calls: {progress['throttledCalls']}.</p><ul>{rows}</ul>"
    )


# A campaign takes no Active Directory action (REVOKE_ONPREM_ACTIONS applies to single requests).
CAMPAIGN_ONPREM_HINT = (
    "a campaign takes no Active Directory action: disable the account there, or contain the user by request"
)


def verdict_of(target: dict[str, Any], results: list[dict[str, Any]]) -> TargetResult:
    """A campaign target's verdict, judged as a single request's: external and synced users as Graph's listing said."""
    records = [action_record(stored) for stored in results]
    synced = target.get("synced")
    return judge(
        target["upn"],
        records,
        external=target.get("external"),
        synced=synced if isinstance(synced, bool) else None,
        onprem_hint=CAMPAIGN_ONPREM_HINT,
    )
