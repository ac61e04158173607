"""The campaign's schedule: when each write may be sent, so the campaign stays inside Graph's write quota.

Every target's writes have a place in one sequence (write 0, 1, 2, ... in the order the
members were read). Write `w` is due at

    slot(w) = anchor_time + (w - anchor_write) / rate

with `rate` in writes per second. A chunk message is put on the queue invisible until its
first write's slot, so the schedule is kept by the queue itself: however many instances
the plan scales to, none can see a chunk before its time, and no instance needs a lock or
a counter shared with the others. The anchor and rate live on the campaign's row and
change by optimistic concurrency (ETag), never by holding anything.

When Graph answers 429 the rate is halved (multiplicative decrease, never below a floor)
and the anchor moves past the Retry-After, so every later chunk slides back; each chunk
that goes through without a 429 adds back a tenth of the target rate (additive
increase), up to the campaign's share of the quota. The 429s of one burst, those that
arrive before the first one's Retry-After has passed, halve the rate once: each moves the
anchor, only the first slows the campaign, so one crowded second does not drop it to the
floor.
"""

from __future__ import annotations

from dataclasses import dataclass

DECREASE_FACTOR = 0.5
INCREASE_SHARE = 0.1  # of the target rate, per chunk sent without a 429
FLOOR_SHARE = 0.05  # the rate never falls below this share of the target


@dataclass(frozen=True)
class Pace:
    anchor_time: float  # epoch seconds
    anchor_write: int
    rate: float  # writes per second now
    target_rate: float  # the campaign's share of the quota

    def slot(self, write: int) -> float:
        """When write number `write` may be sent (epoch seconds)."""
        return self.anchor_time + (write - self.anchor_write) / self.rate

    def throttled(self, write: int, now: float, retry_after: float, *, slower: bool = True) -> Pace:
        """After a 429 at write `write`: nothing from `write` on before the Retry-After, and (`slower`)
        a halved rate; a 429 of a burst already answered moves the schedule without slowing it again."""
        rate = max(self.rate * DECREASE_FACTOR, self.target_rate * FLOOR_SHARE) if slower else self.rate
        return Pace(max(now + retry_after, self.slot(write)), write, rate, self.target_rate)

    def recovered(self, write: int) -> Pace:
        """After a chunk ending at write `write` went through: a little faster, the schedule unbroken at `write`."""
        if self.rate >= self.target_rate:
            return self
        rate = min(self.target_rate, self.rate + self.target_rate * INCREASE_SHARE)
        return Pace(self.slot(write), write, rate, self.target_rate)

    def seconds_for(self, writes: int) -> float:
        return writes / self.rate
