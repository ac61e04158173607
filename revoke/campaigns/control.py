"""Starting and cancelling a campaign: the two changes of state a person asks for.

Each puts its message on the queue before it changes the campaign's row. A send that fails
leaves the row as it was, so the same call can simply be made again; a row change that fails
after the send leaves a message that finds no start of its own (a start's messages carry its
id) or an extra end check, both harmless. The campaign never sits `running` with nothing on
the queue to move it.

Who may start: the caller must hold Containment.Campaign and each action's role and, with
REVOKE_CAMPAIGN_APPROVAL=two-person (the default), be another app and another principal than
the caller who previewed it; the preview must be younger than REVOKE_CAMPAIGN_PREVIEW_TTL_SECONDS,
have read the whole scope within REVOKE_MAX_CAMPAIGN_USERS, and ask only for actions
REVOKE_ACTIONS still allows.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from revoke.audit.events import emit
from revoke.campaigns.messages import chunk_message, finish_message, schedule_message
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.request import CampaignRequest
from revoke.campaigns.state import CANCELLED, PREVIEWED, RUNNING, CampaignRows, caller_json, life_ends
from revoke.campaigns.store import CampaignStore, Conflict, Row
from revoke.campaigns.trail import (
    CANCELLED_BY,
    DRY_RUN_NOTE,
    STARTED,
    Comments,
    campaign_event,
    comment,
    context_of,
    describe,
    start_message,
)
from revoke.errors import (
    CampaignOverLimit,
    CampaignPreviewExpired,
    CampaignSecondApproverRequired,
    CampaignStateConflict,
)
from revoke.policy.roles import Caller, roles_for
from revoke.settings import CampaignApproval, SettingNames, Settings


class Control:
    def __init__(
        self,
        settings: Settings,
        store: CampaignStore,
        rows: CampaignRows,
        queue: DelayQueue,
        comments: Comments | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._rows = rows
        self._queue = queue
        self._comments = comments
        self._clock = clock

    def start(self, campaign: str, caller: Caller) -> None:
        """Start a previewed campaign; the caller is named in its trail and its status."""
        self._rows.require_on()
        row = self._rows.row(campaign)
        data = row.data
        request = replace(
            CampaignRequest.from_json(data["request"]), caller_app_id=caller.app_id, caller_object_id=caller.object_id
        )
        caller.require(*roles_for(request.actions))
        self._may_start(data, caller, request)
        start, now = str(uuid.uuid4()), self._clock()
        dry_run = request.dry_run or self._settings.dry_run
        # The first chunk goes at once; the schedule queues the rest (and, with no chunk, the end).
        if data["chunks"]:
            self._queue.send(chunk_message(campaign, start, 0, 0), 0)
        self._queue.send(schedule_message(campaign, start, 1 if data["chunks"] else 0), 0)
        started = {
            **data,
            "request": request.as_json(),
            "status": RUNNING,
            "startId": start,
            "startedAt": now,
            "startedBy": caller_json(caller.app_id, caller.object_id),
            "anchorTime": now,
            "anchorWrite": 0,
            "dryRun": dry_run,
            "lifeEndsAt": life_ends(now, data["preview"]["estimatedSeconds"]),
        }
        try:
            self._store.replace_campaign(campaign, Row(started, row.etag))
        except Conflict:
            raise CampaignStateConflict("the campaign was started or cancelled at the same moment") from None
        context = context_of(request)
        preview = data["preview"]
        detail = f"campaign {campaign}: {describe(request)}; {preview['targets']} targets at preview"
        detail += f"; previewed by {_who(data.get('previewedBy'))}"
        if dry_run:
            detail += f"; {DRY_RUN_NOTE}"
        emit(campaign_event(context, STARTED, detail))
        comment(self._comments, context, campaign, "start", start_message(campaign, request, preview, dry_run=dry_run))

    def cancel(self, campaign: str, caller: Caller) -> None:
        """No further target is sent; the end check settles every chunk not final (`revoke.campaigns.settle`)."""
        self._rows.require_on()
        status = self._rows.row(campaign).data["status"]
        if status not in (PREVIEWED, RUNNING):
            raise CampaignStateConflict(f"the campaign is {status}; only a previewed or running campaign is cancelled")
        by = caller_json(caller.app_id, caller.object_id)
        if status == RUNNING:
            self._queue.send(finish_message(campaign), 0)

        def cancelled(data: dict[str, Any]) -> dict[str, Any] | None:
            if data["status"] not in (PREVIEWED, RUNNING):
                return None
            return {**data, "status": CANCELLED, "cancelledAt": self._clock(), "cancelledBy": by}

        changed = self._rows.change(campaign, cancelled)
        if changed is None:
            status = self._rows.row(campaign).data["status"]
            raise CampaignStateConflict(f"the campaign is {status}; only a previewed or running campaign is cancelled")
        if status == PREVIEWED and "startId" in changed:
            self._queue.send(finish_message(campaign), 0)  # it started in the meantime
        request = CampaignRequest.from_json(changed["request"])
        detail = f"campaign {campaign} cancelled ({status} until now): {describe(request)}"
        emit(campaign_event(context_of(request, (caller.app_id, caller.object_id)), CANCELLED_BY, detail))

    def _may_start(self, data: dict[str, Any], caller: Caller, request: CampaignRequest) -> None:
        """Refuse the start, saying why, unless this caller may start this preview now."""
        names = SettingNames
        if data["status"] != PREVIEWED:
            raise CampaignStateConflict(f"the campaign is {data['status']}; only a previewed campaign starts")
        if self._clock() > data["expiresAt"]:
            expired = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(data["expiresAt"]))
            raise CampaignPreviewExpired(
                f"the preview expired at {expired} ({names.CAMPAIGN_PREVIEW_TTL_SECONDS}): what it counted may no "
                "longer hold; preview the campaign again. Nothing was queued"
            )
        if self._settings.campaign_approval is CampaignApproval.TWO_PERSON:
            _second_approver(data.get("previewedBy"), caller)
        refused = [action.value for action in request.actions if action not in self._settings.actions]
        if refused:
            raise CampaignStateConflict(
                f"{names.ACTIONS} no longer allows {', '.join(refused)}, which the preview asked for; "
                "preview the campaign again with the actions the deployment allows"
            )
        preview = data["preview"]
        if preview["overLimit"] > 0:
            raise CampaignOverLimit(
                f"the campaign has {preview['targets']} targets; "
                f"{names.MAX_CAMPAIGN_USERS} allows {self._settings.max_campaign_users}"
            )
        if not preview["complete"]:
            raise CampaignStateConflict(
                "the preview listed only part of the scope (complete: false), and a campaign acts only on the "
                "users its preview listed: preview a narrower scope"
            )


def _second_approver(previewer: dict[str, Any] | None, caller: Caller) -> None:
    setting = SettingNames.CAMPAIGN_APPROVAL
    if not caller.identified:
        raise CampaignSecondApproverRequired(
            f"{setting} is two-person, and with {SettingNames.CALLER_AUTH}=key no caller is identified, so a "
            f"second approver cannot be told from the first: identify callers (entra), or set {setting}=single"
        )
    if previewer is None:
        raise CampaignSecondApproverRequired(
            f"{setting} is two-person and the campaign was previewed by a caller that was not identified: preview "
            "it again with a token, and have a second approver start it"
        )
    if previewer.get("appId") == caller.app_id or previewer.get("objectId") == caller.object_id:
        raise CampaignSecondApproverRequired(
            f"a second approver is needed ({setting} is two-person): this caller's app or principal previewed the "
            "campaign; another app, signed in as another principal, holding Containment.Campaign and the "
            "actions' roles must start it"
        )


def _who(caller: dict[str, Any] | None) -> str:
    if caller is None:
        return "a caller that was not identified"
    return f"app {caller.get('appId')}, principal {caller.get('objectId')}"
