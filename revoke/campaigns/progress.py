"""Where a campaign stands, and its end: the counts a SOC reads, the end event and the closing comment.

A campaign ends `completed` only when every target has a final outcome; `failed` when its life
ended with targets Graph kept deferring (reported `deferred`, each with Graph's last answer) or a
chunk could not be queued; `cancelled` once every chunk of a cancelled campaign is settled. The
end is checked by the chunk that closes last (or late), and by the "finish" message, which
looks again until every chunk is final.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from revoke.audit.events import emit
from revoke.campaigns.listing import stored_counts
from revoke.campaigns.messages import finish_message
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.request import CampaignRequest
from revoke.campaigns.settle import Settlement
from revoke.campaigns.state import CANCELLED, FINAL_CHUNK_STATES, PREVIEWED, RUNNING, CampaignRows, ended
from revoke.campaigns.store import CampaignStore
from revoke.campaigns.trail import ENDED, Comments, campaign_event, comment, context_of, end_message
from revoke.containment.verdict import TargetOutcome
from revoke.outcomes import Outcome

FINISH_CHECK_MAX_SECONDS = 60.0
BUSY_CHECK_SECONDS = 5.0
OUTCOME_KEYS = (*(o.value for o in TargetOutcome if o is not TargetOutcome.RELEASED), CANCELLED)
LIFE_ENDED = "the campaign's life ended with chunks still open"


class Progress:
    def __init__(
        self,
        store: CampaignStore,
        rows: CampaignRows,
        queue: DelayQueue,
        settlement: Settlement,
        comments: Comments | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._rows = rows
        self._queue = queue
        self._settle = settlement
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
            "dryRun": bool(data.get("dryRun", request.get("dryRun", False))),
            "preview": data["preview"],
            "previewedBy": data.get("previewedBy"),
            "startedBy": data.get("startedBy"),
            "cancelledBy": data.get("cancelledBy"),
            "createdAt": _iso(data.get("createdAt")),
            "expiresAt": _iso(data.get("expiresAt")),
            "startedAt": _iso(data.get("startedAt")),
            "endedAt": _iso(data.get("endedAt")),
        }
        if "startedAt" in data:
            body["progress"] = self._progress(data, self._outcomes(campaign))
        return body

    def finish(self, campaign: str) -> None:
        """One "finish" message: end the campaign once every chunk is final, or look again later."""
        row = self._rows.find(campaign)
        if row is None or row.data.get("endedAt") is not None or row.data["status"] == PREVIEWED:
            return
        data, now = row.data, self._clock()
        chunks = [c for c in self._store.chunks(campaign) if c.get("state") not in FINAL_CHUNK_STATES]
        cancelled, life_ended = data["status"] == CANCELLED, now >= data.get("lifeEndsAt", math.inf)
        if chunks and (cancelled or life_ended):
            busy = [c for c in chunks if c.get("state") == "running" and c.get("leaseUntil", 0) > now]
            for chunk in chunks:
                if chunk in busy:
                    continue
                if cancelled:
                    self._settle.cancelled(campaign, data, chunk["number"])
                else:
                    self._settle.final(campaign, data, chunk["number"], Outcome.DEFERRED, LIFE_ENDED, "failed")
            if busy:
                self._queue.send(finish_message(campaign), BUSY_CHECK_SECONDS)
                return
        elif chunks:
            remaining = sum(c.get("targets", 0) for c in chunks)
            wait = remaining * len(data["request"]["actions"]) / max(data["rate"], 1e-6)
            self._queue.send(finish_message(campaign), min(FINISH_CHECK_MAX_SECONDS, max(1.0, wait)))
            return
        self.end(campaign)

    def end_if_done(self, campaign: str) -> None:
        """End the campaign now if every chunk is final (a chunk that just closed asks)."""
        if all(c.get("state") in FINAL_CHUNK_STATES for c in self._store.chunks(campaign)):
            self.end(campaign)

    def end(self, campaign: str) -> None:
        """The end: the status, one `campaign_ended` event, and the closing comment; once, whoever asks."""
        now = self._clock()
        row = self._rows.row(campaign)
        if row.data.get("endedAt") is not None or row.data["status"] not in (RUNNING, CANCELLED):
            return
        outcomes = self._outcomes(campaign)
        deferred = outcomes.get(Outcome.DEFERRED.value, 0)
        failure = f"{deferred} targets still deferred when the campaign's life ended" if deferred else None
        finished = self._rows.change(
            campaign, lambda d: None if d.get("endedAt") is not None else ended(d, now, failure)
        )
        if finished is None:
            return
        progress = self._progress(finished, outcomes)
        request = CampaignRequest.from_json(finished["request"])
        context = context_of(request)
        summary = ", ".join(f"{n} {k}" for k, n in progress["outcomes"].items() if n)
        emit(campaign_event(context, ENDED, f"campaign {campaign} {finished['status']}: {summary or 'no targets'}"))
        message = end_message(campaign, finished["status"], progress, dry_run=bool(finished.get("dryRun")))
        comment(self._comments, context, campaign, "end", message)

    def _outcomes(self, campaign: str) -> dict[str, int]:
        """Targets per outcome over the final chunks; `pending`: the targets of chunks not final yet."""
        outcomes = dict.fromkeys(OUTCOME_KEYS, 0)
        queued = 0
        for chunk in self._store.chunks(campaign):
            if chunk.get("state") in FINAL_CHUNK_STATES:
                for key, count in chunk.get("tally", {}).items():
                    outcomes[key] = outcomes.get(key, 0) + count
            else:
                queued += chunk.get("targets", 0)
        outcomes["pending"] = queued
        return outcomes

    def _progress(self, data: dict[str, Any], outcomes: dict[str, int]) -> dict[str, Any]:
        actions = len(data["request"]["actions"])
        rate = data["rate"]
        running = data["status"] == RUNNING
        return {
            "enumerationComplete": True,  # the preview listed the whole scope; the campaign acts on that list
            "found": stored_counts(data["preview"]),
            "outcomes": outcomes,
            "throttledCalls": data.get("throttled", 0),
            "pace": {"writesPerSecond": round(rate, 3), "targetWritesPerSecond": round(data["targetRate"], 3)},
            "etaSeconds": math.ceil(outcomes["pending"] * actions / rate) if running else 0,
            "failure": data.get("failure"),
        }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
