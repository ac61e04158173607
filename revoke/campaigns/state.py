"""A campaign's row in Table Storage and the words for where it stands: read it, change it by ETag.

    previewed ──start──► running ──every target final──► completed
        │                  │  └──── the campaign's life ends with targets deferred, or its
        │                  │        listing failed ──────────────────────────► failed
        └────cancel────────┴──cancel──► cancelled

The campaign row is the one record every instance reads and writes (`revoke.campaigns.store`);
a change is a function of the row as read, applied only if nobody wrote it meanwhile, so no
instance ever waits on a lock. Each start has an id (`startId`) that every message it queues
carries: a message from a start that did not land is never acted on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from revoke.campaigns.pace import Pace
from revoke.campaigns.store import CampaignStore, Conflict, Row
from revoke.errors import CampaignNotFound, CampaignsOff, RetryLater
from revoke.identifiers import is_object_id
from revoke.settings import Settings

PREVIEWED, RUNNING, CANCELLED, COMPLETED, FAILED = "previewed", "running", "cancelled", "completed", "failed"
FINAL_CHUNK_STATES = frozenset({"done", "failed", CANCELLED})
CHANGE_TRIES = 20
# A message can arrive in the moment between a start's send and its row's change: it looks again.
START_LANDING_SECONDS = 2.0
START_LANDING_POLL_SECONDS = 0.1
# How long a started campaign keeps retrying what Graph deferred: a day past its estimated end.
LIFE_SECONDS = 24 * 3600
LIFE_ESTIMATES = 4


class CampaignRows:
    """The campaign rows of one store, for the parts of the engine that read and change them."""

    def __init__(self, settings: Settings, store: CampaignStore) -> None:
        self._settings = settings
        self._store = store

    def require_on(self) -> None:
        if not self._settings.campaigns:
            raise CampaignsOff("campaigns are not enabled in this deployment (REVOKE_CAMPAIGNS)")

    def find(self, campaign: str) -> Row | None:
        """The campaign's row; None for an id that is not a GUID or names no campaign."""
        return self._store.campaign(campaign) if is_object_id(campaign) else None

    def row(self, campaign: str) -> Row:
        row = self.find(campaign)
        if row is None:
            raise CampaignNotFound("no campaign has this id")
        return row

    def of_start(self, campaign: str, start: object) -> Row | None:
        """The row, if `start` is the start it ran under; None for a message of a start that never landed.

        A previewed row may be a start's change still in flight: it is read again for a moment,
        then the message is delivered again later (RetryLater).
        """
        waited = 0.0
        while True:
            row = self.find(campaign)
            if row is None or (row.data["status"] != PREVIEWED and row.data.get("startId") != start):
                return None
            if row.data["status"] != PREVIEWED:
                return row
            if waited >= START_LANDING_SECONDS:
                raise RetryLater("the campaign's start has not landed yet")
            time.sleep(START_LANDING_POLL_SECONDS)
            waited += START_LANDING_POLL_SECONDS

    def change(self, campaign: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any] | None:
        """Apply `change` to the campaign row by optimistic concurrency; None if `change` declined."""
        for _ in range(CHANGE_TRIES):
            row = self.row(campaign)
            data = change(dict(row.data))
            if data is None:
                return None
            try:
                self._store.replace_campaign(campaign, Row(data, row.etag))
            except Conflict:
                continue
            return data
        raise RetryLater("the campaign row kept changing under this update")


def pace_of(data: dict[str, Any]) -> Pace:
    return Pace(data.get("anchorTime", 0.0), data.get("anchorWrite", 0), data["rate"], data["targetRate"])


def with_pace(data: dict[str, Any], pace: Pace) -> dict[str, Any]:
    return {**data, "anchorTime": pace.anchor_time, "anchorWrite": pace.anchor_write, "rate": pace.rate}


def recovered(data: dict[str, Any], write: int) -> dict[str, Any] | None:
    """A little faster after a chunk without a 429; None (no write) when already at the target."""
    pace = pace_of(data)
    faster = pace.recovered(write)
    return None if faster == pace else with_pace(data, faster)


def throttled(data: dict[str, Any], write: int, now: float, wait: float, calls: int) -> dict[str, Any]:
    """The campaign row after `calls` 429s at write `write`: the schedule past the Retry-After (`wait`),
    the rate halved unless this burst already halved it (until its Retry-After has passed)."""
    first_of_burst = now >= data.get("slowedUntil", 0.0)
    paced = with_pace(data, pace_of(data).throttled(write, now, wait, slower=first_of_burst))
    if first_of_burst:
        paced["slowedUntil"] = now + wait
    return {**paced, "throttled": data.get("throttled", 0) + calls}


def life_ends(started: float, estimated_seconds: float) -> float:
    return started + LIFE_SECONDS + LIFE_ESTIMATES * estimated_seconds


def caller_json(app_id: str | None, object_id: str | None) -> dict[str, Any] | None:
    """Who did something, as the status names them; None for a caller who was not identified (function key)."""
    if app_id is None and object_id is None:
        return None
    return {"appId": app_id, "objectId": object_id}


def ended(data: dict[str, Any], now: float, failure: str | None = None) -> dict[str, Any]:
    status = data["status"]
    failure = failure or data.get("failure")
    if status == RUNNING:
        status = FAILED if failure else COMPLETED
    return {**data, "status": status, "endedAt": now, "failure": failure}
