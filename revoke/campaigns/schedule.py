"""The schedule of a started campaign: each chunk put on the queue invisible until its slot.

The start puts chunk 0 on the queue at once and a "schedule" message for the rest; each
schedule message queues the next batch of chunks, each with the delay to its slot
(`revoke.campaigns.pace`), then the next schedule message a little before that batch is due,
and after the last one the check that ends the campaign. A schedule message delivered again
queues its batch again: a chunk's second message finds the chunk claimed, final or further
along, and does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from revoke.campaigns.messages import chunk_message, finish_message, schedule_message
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.state import RUNNING, CampaignRows, pace_of

SCHEDULE_BATCH = 50  # chunk messages one schedule message sends
SCHEDULE_LEAD_SECONDS = 30.0  # the next schedule message runs this long before its first chunk is due


def write_of(data: dict[str, Any], chunk: int) -> int:
    """Chunk `chunk`'s first write: every chunk but the last holds `chunkTargets` targets."""
    return int(chunk * data["chunkTargets"] * len(data["request"]["actions"]))


class Scheduler:
    def __init__(self, rows: CampaignRows, queue: DelayQueue, clock: Callable[[], float] = time.time) -> None:
        self._rows = rows
        self._queue = queue
        self._clock = clock

    def run(self, campaign: str, message: dict[str, Any]) -> None:
        """One "schedule" message: the next batch of chunks queued, then what comes after it."""
        start = message["start"]
        row = self._rows.of_start(campaign, start)
        if row is None or row.data["status"] != RUNNING:
            return  # a cancel's own check settles what was never queued
        data = row.data
        first, chunks = message["from"], data["chunks"]
        last = min(chunks, first + SCHEDULE_BATCH)
        pace, now = pace_of(data), self._clock()
        for chunk in range(first, last):
            write = write_of(data, chunk)
            self._queue.send(chunk_message(campaign, start, chunk, write), pace.slot(write) - now)
        if last < chunks:
            due = pace.slot(write_of(data, last)) - now - SCHEDULE_LEAD_SECONDS
            self._queue.send(schedule_message(campaign, start, last), due)
        else:
            self._queue.send(finish_message(campaign), pace.slot(data["writes"]) - now)
