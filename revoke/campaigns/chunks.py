"""Running one chunk of a campaign: each action once on each target still open, at the chunk's slot.

A chunk message waits, invisible on the queue, until about its slot (`revoke.campaigns.pace`;
a delay is whole seconds, rounded down, and the delivery waits out the rest). Its delivery
claims the chunk with a lease naming the message and takes the chunk's work
(`revoke.campaigns.delivery`). What is still open goes back on the queue as the chunk's next
round: after Retry-After, with the whole campaign slower, when Graph throttled (a 429 is waited
out, never counted against the target); after a growing backoff for any other transient
answer. A target stays open until Graph gives a final answer or the campaign's life ends. A
redelivered message finds what its earlier delivery confirmed and does not act on it again; a
message of an earlier round, or of a start that never landed, does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from revoke.campaigns.delivery import ChunkWork, Delivery
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.settle import Settlement
from revoke.campaigns.state import (
    CANCELLED,
    FINAL_CHUNK_STATES,
    RUNNING,
    CampaignRows,
    pace_of,
    recovered,
    throttled,
)
from revoke.campaigns.store import CampaignStore, Conflict, Row
from revoke.errors import RetryLater
from revoke.outcomes import Outcome

LEASE_SECONDS = 300  # a chunk's claim outlives the host's functionTimeout
NAP_SECONDS = 2.0  # a chunk this close to its slot waits for it here rather than on the queue
MAX_BACKOFF_SECONDS = 60.0  # between deliveries of a chunk that Graph keeps answering with a transient error
LIFE_ENDED = "still deferred when the campaign's life ended: Graph's last answer was transient"


class ChunkRunner:
    def __init__(
        self,
        store: CampaignStore,
        rows: CampaignRows,
        queue: DelayQueue,
        work: ChunkWork,
        settlement: Settlement,
        on_closed: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._rows = rows
        self._queue = queue
        self._work = work
        self._settle = settlement
        self._on_closed = on_closed  # asked after a chunk closes late or last: is the campaign done?
        self._clock = clock

    def run(self, campaign: str, message: dict[str, Any], message_id: str) -> None:
        """One "chunk" message."""
        row = self._rows.of_start(campaign, message["start"])
        number, rounds = message["chunk"], message["round"]
        chunk = self._store.chunk(campaign, number) if row is not None else None
        if row is None or chunk is None or chunk.data.get("state") in FINAL_CHUNK_STATES:
            return  # a start that never landed, or already final: a duplicate or a redelivery
        if rounds < chunk.data.get("round", 0):
            return  # a copy of a message the chunk has already moved on from
        data, now = row.data, self._clock()
        if data["status"] == CANCELLED:
            if _held_elsewhere(chunk.data, message_id, now):
                return  # a delivery is sending it: it records what Graph said, and the end check settles the rest
            self._settle.cancelled(campaign, data, number)
            self._on_closed(campaign)
            return
        if data["status"] != RUNNING:
            return
        if now >= data["lifeEndsAt"]:
            self._settle.final(campaign, data, number, Outcome.DEFERRED, LIFE_ENDED, "failed")
            self._on_closed(campaign)
            return
        due = pace_of(data).slot(message["write"])
        if due - now > NAP_SECONDS:
            self._queue.send(message, due - now)  # the pace slowed since it was queued: its new slot
            return
        claimed = self._claim(campaign, number, chunk, message_id, rounds, now)
        if claimed is None:
            return
        time.sleep(max(0.0, due - self._clock()))
        self._after(campaign, data, claimed.data, message, self._work.deliver(campaign, data, number))

    def _claim(self, campaign: str, number: int, chunk: Row, message_id: str, rounds: int, now: float) -> Row | None:
        """The chunk is this delivery's: a lease naming the message, and when it was first sent (for a cancel).

        The chunk's row as claimed; None when another delivery has it.
        """
        if _held_elsewhere(chunk.data, message_id, now):
            if rounds > chunk.data.get("round", 0):
                # The delivery that queued this round has not released the chunk yet: come back.
                raise RetryLater("the chunk's previous round is still being recorded")
            return None  # another delivery is working on it; its own message stays until it is done
        claim = {"state": "running", "lease": message_id, "leaseUntil": now + LEASE_SECONDS, "round": rounds}
        if "sentAt" not in chunk.data:
            claim["sentAt"] = now
        try:
            return self._store.claim_chunk(campaign, number, chunk, claim)
        except Conflict:
            return None

    def _after(
        self, campaign: str, data: dict[str, Any], chunk: dict[str, Any], message: dict[str, Any], delivery: Delivery
    ) -> None:
        number, write = message["chunk"], message["write"]
        if delivery.held:
            self._push_back(campaign, chunk, message, delivery)
            return
        self._settle.close(campaign, number, "done")
        if delivery.throttled == 0 and data["rate"] < data["targetRate"]:
            self._rows.change(campaign, lambda d: recovered(d, write + delivery.writes))
        if number == data["chunks"] - 1 or message["round"] > 0:
            self._on_closed(campaign)

    def _push_back(self, campaign: str, chunk: dict[str, Any], message: dict[str, Any], delivery: Delivery) -> None:
        """What is still open is the chunk's next round: after Retry-After, and slower, when Graph throttled.

        `chunk` is the row as this delivery claimed it: only the lease holder writes tries and
        throttled, so they are still what the claim read.
        """
        number, write, rounds = message["chunk"], message["write"], message["round"]
        tries = chunk.get("tries", 0)
        now = self._clock()
        if delivery.throttled:
            wait = delivery.retry_after
            data = self._rows.change(campaign, lambda d: throttled(d, write, now, wait, delivery.throttled))
            delay = max(wait, pace_of(data).slot(write) - now) if data else wait
        else:
            tries += 1  # only a transient answer that is not a 429 grows the backoff
            waits = [r.retry_after for r in delivery.held.values() if r.retry_after]
            delay = max([min(MAX_BACKOFF_SECONDS, 2.0**tries), *waits])
        throttled_calls = chunk.get("throttled", 0) + delivery.throttled
        # The next round's message first: if the send fails, this message comes back and does it again.
        self._queue.send({**message, "round": rounds + 1}, delay)
        self._store.update_chunk(
            campaign,
            number,
            {"state": "open", "lease": "", "round": rounds + 1, "tries": tries, "throttled": throttled_calls},
        )


def _held_elsewhere(chunk: dict[str, Any], message_id: str, now: float) -> bool:
    """Whether another delivery's lease on the chunk is still running."""
    lease = chunk.get("lease")
    return bool(lease) and lease != message_id and chunk.get("leaseUntil", 0) > now
