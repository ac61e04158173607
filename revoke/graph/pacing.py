"""Spacing for the Identity Protection calls Graph rate-limits to about one per second per tenant.

`Pacer.wait_turn` blocks until at least `interval` has passed since the previous turn was
taken in this process, or says (False) that the invocation's deadline would not allow the
wait. One pacer per kind of call, shared by every invocation; the same class can serve
every riskyUsers call (confirmCompromised, dismiss) by sharing one instance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from revoke.deadline import Deadline

RISKY_USERS_INTERVAL_SECONDS = 1.0


class Pacer:
    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0  # the earliest time the next turn may start

    def wait_turn(self, deadline: Deadline) -> bool:
        """Reserve the next slot and sleep until it; False, reserving nothing, if the deadline is too near."""
        with self._lock:
            now = self._clock()
            wait = max(0.0, self._next - now)
            if wait > 0 and not deadline.allows_wait(wait):
                return False
            self._next = max(now, self._next) + self._interval
        if wait > 0:
            self._sleep(wait)
        return True


# Shared by every release in the process.
RISKY_USERS = Pacer(RISKY_USERS_INTERVAL_SECONDS)
