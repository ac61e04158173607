"""The campaign engine: preview, start, follow, cancel, and the queue messages that do the work.

    POST /campaigns              preview: read every member page, count by kind, store; nothing sent
                                 (`revoke.campaigns.listing`)
    POST /campaigns/{id}/start   put the first member page on the campaign queue (`revoke.campaigns.control`)
    queue "page"                 read one member page; write its targets' rows and chunks; queue each
                                 chunk invisible until its slot (`revoke.campaigns.pace`); queue the next page
    queue "chunk"                if its slot has come, take each action once on each open target;
                                 throttled or transient targets go back on the queue for later
                                 (`revoke.campaigns.chunks`)
    queue "finish"               once every chunk is final: the end event and the incident comment
                                 (`revoke.campaigns.progress`)
    poison queue                 a chunk that failed every delivery: its open targets `failed`, with why

State lives only in Table Storage (`revoke.campaigns.store`) and on the queue, so any instance
can take any message, a host restart loses nothing, and a redelivered message finds what its
earlier delivery confirmed and does not act on it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from revoke.campaigns.chunks import ChunkRunner
from revoke.campaigns.control import Control
from revoke.campaigns.graph_io import CampaignGraph
from revoke.campaigns.listing import Listing
from revoke.campaigns.progress import FINISH_CHECK_MAX_SECONDS, Progress
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.request import CampaignRequest
from revoke.campaigns.state import CampaignRows
from revoke.campaigns.store import CampaignStore
from revoke.campaigns.trail import Comments
from revoke.outcomes import Outcome
from revoke.policy.roles import Caller
from revoke.settings import Settings

logger = logging.getLogger(__name__)


class CampaignEngine:
    """What the campaign triggers call: one method per route and per queue, each handed to the part that does it."""

    def __init__(
        self,
        settings: Settings,
        store: CampaignStore,
        graph: CampaignGraph,
        queue: DelayQueue,
        comments: Comments | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._queue = queue
        self._rows = CampaignRows(settings, store)
        self._listing = Listing(settings, store, self._rows, graph, queue, clock)
        self._control = Control(settings, store, self._rows, queue, comments, clock)
        self._chunks = ChunkRunner(settings, store, self._rows, graph, queue, clock)
        self._progress = Progress(settings, store, self._rows, queue, self._chunks.settle_open, comments, clock)

    # --- HTTP: preview, start, status, cancel ---------------------------------------------------
    def preview(self, body: bytes, caller: Caller) -> dict[str, Any]:
        """Read the scope's members and count them; store the campaign; send nothing."""
        return self.status(self._listing.preview(body, caller))

    def start(self, campaign: str, caller: Caller) -> dict[str, Any]:
        self._control.start(campaign, caller)
        return self.status(campaign)

    def cancel(self, campaign: str) -> dict[str, Any]:
        self._control.cancel(campaign)
        return self.status(campaign)

    def status(self, campaign: str) -> dict[str, Any]:
        return self._progress.status(campaign)

    # --- queue ----------------------------------------------------------------------------------
    def handle(self, message: dict[str, Any], *, message_id: str) -> None:
        """One campaign queue message; RetryLater when it must be delivered again."""
        kind, campaign = message.get("kind"), str(message.get("campaign"))
        row = self._rows.find(campaign)
        if row is None:
            logger.warning("Campaign queue message %s names no campaign; dropped", message_id)
            return
        if kind == "page":
            self._listing.page(campaign, row, message)
        elif kind == "chunk":
            self._chunks.run(campaign, row, message, message_id)
        elif kind == "finish":
            self._progress.finish(campaign, row)
        else:
            logger.warning("Campaign queue message %s has no known kind; dropped", message_id)

    def poisoned(self, message: dict[str, Any], dequeue_count: int) -> None:
        """A message the host gave up on: none of its targets is lost silently."""
        campaign = str(message.get("campaign"))
        row = self._rows.find(campaign)
        if row is None:
            return
        why = f"the campaign's {message.get('kind')} message failed {dequeue_count} deliveries (poison queue)"
        if message.get("kind") == "chunk" and isinstance(message.get("chunk"), int):
            request = CampaignRequest.from_json(row.data["request"])
            self._chunks.settle_open(campaign, request, message["chunk"], Outcome.FAILED, why, "failed")
        elif message.get("kind") == "page":
            self._rows.change(campaign, lambda data: {**data, "enumerated": True, "failure": why})
            self._queue.send({"kind": "finish", "campaign": campaign}, 0)
        elif message.get("kind") == "finish":
            self._queue.send({"kind": "finish", "campaign": campaign}, FINISH_CHECK_MAX_SECONDS)
