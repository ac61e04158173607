"""A campaign's row in Table Storage and the words for where it stands: read it, change it by ETag.

The campaign row is the one record every instance reads and writes (`revoke.campaigns.store`);
a change is a function of the row as read, applied only if nobody wrote it meanwhile, so no
instance ever waits on a lock.
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

CANCELLED = "cancelled"
FINAL_CHUNK_STATES = frozenset({"done", "failed", CANCELLED})
CHANGE_TRIES = 20


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


def cancelled(data: dict[str, Any]) -> dict[str, Any] | None:
    if data["status"] not in ("previewed", "running"):
        return None
    return {**data, "status": CANCELLED, "cancelledAt": time.time()}


def ended(data: dict[str, Any], now: float) -> dict[str, Any]:
    status = data["status"]
    if status == "running":
        status = "failed" if data.get("failure") else "completed"
    return {**data, "status": status, "endedAt": now}
