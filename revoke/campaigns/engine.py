"""The campaign engine: preview, start, follow, cancel, and the queue messages that do the work.

    POST /campaigns              preview: read every member page, count by kind, write the targets'
                                 rows in chunks; nothing sent (`revoke.campaigns.listing`)
    POST /campaigns/{id}/start   queue chunk 0 and the schedule, then mark it running (`.control`)
    POST /campaigns/{id}/cancel  queue the end check, then mark it cancelled (`.control`)
    queue "schedule"             queue the next chunks, each invisible until its slot (`.schedule`)
    queue "chunk"                at its slot, the deployment's policy, then each action once on each
                                 open target; throttled or transient targets go back on the queue
                                 (`.chunks`, `.delivery`)
    queue "finish"               once every chunk is final: the end event and the incident comment (`.progress`)
    poison queue                 a message that failed every delivery: its targets `failed`, with why

State lives only in Table Storage (`revoke.campaigns.store`) and on the queue, so any instance
can take any message, a host restart loses nothing, and a redelivered message finds what its
earlier delivery confirmed and does not act on it again. A message that is no campaign's is
kept, unchanged, where the request queue's rejects are kept, for a person to look at.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from revoke.audit.events import RequestContext, audit_event, emit
from revoke.campaigns.chunks import ChunkRunner
from revoke.campaigns.control import Control
from revoke.campaigns.delivery import ChunkWork
from revoke.campaigns.graph_io import CampaignGraph
from revoke.campaigns.guard import Guard
from revoke.campaigns.listing import Listing
from revoke.campaigns.messages import CHUNK, FINISH, SCHEDULE, finish_message, is_campaign_message
from revoke.campaigns.progress import FINISH_CHECK_MAX_SECONDS, Progress
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.schedule import Scheduler
from revoke.campaigns.settle import Settlement
from revoke.campaigns.state import CANCELLED, FINAL_CHUNK_STATES, RUNNING, CampaignRows
from revoke.campaigns.store import CampaignStore
from revoke.campaigns.trail import TRIGGER, Comments
from revoke.containment.protection import Directory
from revoke.containment.records import RecordWriter
from revoke.outcomes import Outcome
from revoke.policy.roles import Caller
from revoke.settings import Settings

logger = logging.getLogger(__name__)


class Keeper(Protocol):
    """Where a message that is no campaign's is kept, unchanged: the request queue's poison queue."""

    name: str

    def keep(self, body: str) -> None: ...


class CampaignEngine:
    """What the campaign triggers call: one method per route and per queue, each handed to the part that does it."""

    def __init__(
        self,
        settings: Settings,
        store: CampaignStore,
        graph: CampaignGraph,
        queue: DelayQueue,
        directory: Directory,
        keeper: Keeper,
        comments: Comments | None = None,
        clock: Callable[[], float] = time.time,
        records: RecordWriter | None = None,
    ) -> None:
        self._store = store
        self._queue = queue
        self._keeper = keeper
        self._rows = CampaignRows(settings, store)
        guard = Guard(settings, directory)
        self._settlement = Settlement(settings, store, graph)
        self._listing = Listing(settings, store, self._rows, graph, guard, clock)
        self._control = Control(settings, store, self._rows, queue, comments, clock)
        self._progress = Progress(store, self._rows, queue, self._settlement, comments, clock)
        work = ChunkWork(settings, store, graph, guard, records)
        self._chunks = ChunkRunner(store, self._rows, queue, work, self._settlement, self._progress.end_if_done, clock)
        self._schedule = Scheduler(self._rows, queue, clock)

    # --- HTTP: preview, start, status, cancel ---------------------------------------------------
    def preview(self, body: bytes, caller: Caller) -> dict[str, Any]:
        """Read the scope's members and count them; store the campaign and its targets; send nothing."""
        return self.status(self._listing.preview(body, caller))

    def start(self, campaign: str, caller: Caller) -> dict[str, Any]:
        self._control.start(campaign, caller)
        return self.status(campaign)

    def cancel(self, campaign: str, caller: Caller) -> dict[str, Any]:
        self._control.cancel(campaign, caller)
        return self.status(campaign)

    def status(self, campaign: str) -> dict[str, Any]:
        return self._progress.status(campaign)

    # --- queue ----------------------------------------------------------------------------------
    def handle(self, message: dict[str, Any], *, message_id: str) -> None:
        """One campaign queue message; RetryLater when it must be delivered again."""
        campaign = message["campaign"]
        if self._rows.find(campaign) is None:
            logger.warning("Campaign queue message %s names no campaign; dropped", message_id)
            return
        if message["kind"] == CHUNK:
            self._chunks.run(campaign, message, message_id)
        elif message["kind"] == SCHEDULE:
            self._schedule.run(campaign, message)
        else:
            self._progress.finish(campaign)

    def poisoned(self, message: dict[str, Any], dequeue_count: int) -> None:
        """A message the host gave up on: none of its targets is lost silently."""
        campaign, kind = message["campaign"], message["kind"]
        row = self._rows.find(campaign)
        if row is None or (kind != FINISH and row.data.get("startId") != message.get("start")):
            return
        data = row.data
        why = f"the campaign's {kind} message failed {dequeue_count} deliveries (poison queue)"
        if kind == FINISH:
            self._queue.send(finish_message(campaign), FINISH_CHECK_MAX_SECONDS)
            return
        first = message["chunk"] if kind == CHUNK else message["from"]
        last = first + 1 if kind == CHUNK else data["chunks"]
        for chunk in self._store.chunks(campaign):
            if first <= chunk["number"] < last and chunk.get("state") not in FINAL_CHUNK_STATES:
                if data["status"] == CANCELLED:
                    self._settlement.cancelled(campaign, data, chunk["number"])
                elif data["status"] == RUNNING:
                    self._settlement.final(campaign, data, chunk["number"], Outcome.FAILED, why, "failed")
        self._progress.end_if_done(campaign)

    def stray(self, body: str, message_id: str) -> None:
        """A message on a campaign queue that is no campaign's (a Sentinel alert sent to the wrong queue):
        kept unchanged where the request queue keeps what it could not process, logged, and audited."""
        self._keeper.keep(body)
        where = self._keeper.name
        logger.error("Campaign queue message %s is no campaign message; kept unchanged in %s", message_id, where)
        detail = (
            f"a message that is no campaign's arrived on the campaign queue; nothing was acted on; kept unchanged in "
            f"{where} for a person to look at (message {message_id})"
        )
        context = RequestContext(TRIGGER, message_id or "unknown")
        emit(audit_event(context, Outcome.REJECTED, action=None, user=None, detail=detail))


def campaign_message(message: Any) -> dict[str, Any] | None:
    """`message` if it is one of the campaign queue's own messages; else None."""
    return message if is_campaign_message(message) else None
