"""Where a campaign stands, and its end: the counts a SOC reads, the end event and the closing comment."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from revoke.audit.events import audit_event, emit
from revoke.campaigns.listing import Counts
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.request import CampaignRequest
from revoke.campaigns.state import CANCELLED, FINAL_CHUNK_STATES, CampaignRows, ended
from revoke.campaigns.store import CampaignStore, Row
from revoke.campaigns.trail import CAMPAIGN_ACTION, Comments, comment, context_of, end_message
from revoke.containment.verdict import TargetOutcome
from revoke.outcomes import Outcome
from revoke.settings import Settings

FINISH_CHECK_MAX_SECONDS = 60.0
OUTCOME_KEYS = (*(o.value for o in TargetOutcome if o is not TargetOutcome.DRY_RUN), CANCELLED)


class Settle(Protocol):
    def __call__(
        self, campaign: str, request: CampaignRequest, number: int, outcome: Outcome | None, why: str, state: str
    ) -> None: ...


class Progress:
    def __init__(
        self,
        settings: Settings,
        store: CampaignStore,
        rows: CampaignRows,
        queue: DelayQueue,
        settle: Settle,
        comments: Comments | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._rows = rows
        self._queue = queue
        self._settle = settle
        self._comments = comments
        self._clock = clock

    def status(self, campaign: str) -> dict[str, Any]:
        self._rows.require_on()
        data = self._rows.row(campaign).data
        request = data["request"]
        body: dict[str, Any] = {
            "campaignId": campaign,
            "status": data["status"],
            "scope": request["scope"],
            "actions": request["actions"],
            "reason": request["reason"],
            "correlationId": request["correlationId"],
            "incidentId": request.get("incidentId"),
            "preview": data["preview"],
            "createdAt": _iso(data.get("createdAt")),
            "startedAt": _iso(data.get("startedAt")),
            "endedAt": _iso(data.get("endedAt")),
        }
        if "startedAt" in data:
            body["progress"] = self._progress(campaign, data)
        return body

    def finish(self, campaign: str, row: Row) -> None:
        """One "finish" message: end the campaign once every chunk is final, or look again later."""
        data = row.data
        if data.get("endedAt") is not None:
            return
        request = CampaignRequest.from_json(data["request"])
        chunks = self._store.chunks(campaign)
        now = self._clock()
        if data["status"] == CANCELLED:
            busy = False
            for chunk in chunks:
                number = chunk["number"]
                if chunk.get("state") in FINAL_CHUNK_STATES:
                    continue
                if chunk.get("state") == "running" and chunk.get("leaseUntil", 0) > now:
                    busy = True
                    continue
                self._settle(campaign, request, number, None, "the campaign was cancelled", CANCELLED)
            if busy:
                self._queue.send({"kind": "finish", "campaign": campaign}, 5)
                return
        elif not data.get("enumerated") or any(c.get("state") not in FINAL_CHUNK_STATES for c in chunks):
            remaining = sum(c.get("targets", 0) for c in chunks if c.get("state") not in FINAL_CHUNK_STATES)
            wait = remaining * len(request.actions) / max(data["rate"], 1e-6)
            self._queue.send({"kind": "finish", "campaign": campaign}, min(FINISH_CHECK_MAX_SECONDS, max(1.0, wait)))
            return
        finished = self._rows.change(campaign, lambda d: None if d.get("endedAt") else ended(d, now))
        if finished is None:
            return
        progress = self._progress(campaign, finished)
        context = context_of(request)
        summary = ", ".join(f"{n} {k}" for k, n in progress["outcomes"].items() if n)
        emit(
            audit_event(
                context,
                "campaign_ended",
                action=CAMPAIGN_ACTION,
                user=None,
                detail=f"campaign {campaign} {finished['status']}: {summary or 'no targets'}"[:1024],
            )
        )
        comment(self._comments, context, campaign, "end", end_message(campaign, finished["status"], progress))

    def _progress(self, campaign: str, data: dict[str, Any]) -> dict[str, Any]:
        chunks = self._store.chunks(campaign)
        pages = self._store.pages(campaign)
        outcomes = dict.fromkeys(OUTCOME_KEYS, 0)
        queued = 0
        for chunk in chunks:
            if chunk.get("state") in FINAL_CHUNK_STATES:
                for key, count in chunk.get("tally", {}).items():
                    outcomes[key] = outcomes.get(key, 0) + count
            else:
                queued += chunk.get("targets", 0)
        outcomes["pending"] = queued
        found = Counts()
        for page in pages:
            found = found.plus(page)
        actions = len(data["request"]["actions"])
        rate = data["rate"]
        running = data["status"] == "running"
        return {
            "enumerationComplete": bool(data.get("enumerated")),
            "found": found.as_json(),
            "outcomes": outcomes,
            "throttledCalls": data.get("throttled", 0),
            "pace": {"writesPerSecond": round(rate, 3), "targetWritesPerSecond": round(data["targetRate"], 3)},
            "etaSeconds": math.ceil(queued * actions / rate) if running else 0,
            "failure": data.get("failure"),
        }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
