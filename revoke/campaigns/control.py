"""Starting and cancelling a campaign: the two changes of state a person asks for."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from revoke.audit.events import audit_event, emit
from revoke.campaigns.graph_io import first_page
from revoke.campaigns.listing import chunk_targets
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.request import CampaignRequest
from revoke.campaigns.state import CampaignRows, cancelled
from revoke.campaigns.store import CampaignStore, Conflict, Row
from revoke.campaigns.trail import CAMPAIGN_ACTION, Comments, comment, context_of, describe, start_message
from revoke.errors import CampaignOverLimit, CampaignStateConflict
from revoke.policy.roles import ACTION_ROLES, Caller
from revoke.settings import Settings


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
        """Start a previewed campaign; the caller must hold each of its actions' roles, and is named in its trail."""
        self._rows.require_on()
        row = self._rows.row(campaign)
        request = replace(
            CampaignRequest.from_json(row.data["request"]),
            caller_app_id=caller.app_id,
            caller_object_id=caller.object_id,
        )
        caller.require(*(ACTION_ROLES[action] for action in request.actions))
        if row.data["status"] != "previewed":
            raise CampaignStateConflict(f"the campaign is {row.data['status']}; only a previewed campaign starts")
        if row.data["preview"]["overLimit"] > 0:
            raise CampaignOverLimit(
                f"the campaign has {row.data['preview']['targets'] + row.data['preview']['overLimit']} targets; "
                f"REVOKE_MAX_CAMPAIGN_USERS allows {self._settings.max_campaign_users}"
            )
        now = self._clock()
        started = {
            **row.data,
            "request": request.as_json(),
            "status": "running",
            "startedAt": now,
            "anchorTime": now,
            "anchorWrite": 0,
            "chunkTargets": chunk_targets(self._settings, len(request.actions)),
        }
        try:
            self._store.replace_campaign(campaign, Row(started, row.etag))
        except Conflict:
            raise CampaignStateConflict("the campaign was started or cancelled at the same moment") from None
        page = {"kind": "page", "campaign": campaign, "page": 0, "path": first_page(request.scope)}
        self._queue.send({**page, "chunk": 0, "write": 0, "targets": 0}, 0)
        context = context_of(request)
        emit(
            audit_event(
                context,
                "campaign_started",
                action=CAMPAIGN_ACTION,
                user=None,
                detail=f"campaign {campaign}: {describe(request)}; {row.data['preview']['targets']} targets at preview",
            )
        )
        comment(self._comments, context, campaign, "start", start_message(campaign, request, row.data["preview"]))

    def cancel(self, campaign: str) -> None:
        self._rows.require_on()
        data = self._rows.change(campaign, cancelled)
        if data is None:
            status = self._rows.row(campaign).data["status"]
            raise CampaignStateConflict(f"the campaign is {status}; only a previewed or running campaign is cancelled")
        if "startedAt" in data:  # a campaign that never started has nothing to settle and no end to report
            self._queue.send({"kind": "finish", "campaign": campaign}, 0)
