"""Service limits Graph keeps per tenant, kept here per process: one request per interval, in turn.

Identity Protection allows one request per second per tenant for all apps, and its 429
carries no Retry-After. Every attempt at such a call (confirmCompromised, and the release's
dismiss) takes the next free turn from the one `Pacer` the whole process shares; a turn that
would end past the invocation's deadline is not taken, and a 429 pushes every later turn back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from revoke.deadline import Deadline

# Microsoft Graph throttling limits, Identity Protection and Conditional Access: 1 request
# per second per tenant, for all apps (https://learn.microsoft.com/graph/throttling-limits).
# A tenth more: two requests a turn apart here can arrive a little closer together there.
RISKY_USERS_INTERVAL_SECONDS = 1.1


class Pacer:
    def __init__(self, interval_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._next = 0.0  # the clock's time of the next free turn

    def take_turn(self, deadline: Deadline) -> float | None:
        """Seconds to wait for this caller's turn, now reserved; None (nothing reserved) if it does not fit."""
        with self._lock:
            now = self._clock()
            wait = max(0.0, self._next - now)
            fits = deadline.remaining() > 0 if wait == 0 else deadline.allows_wait(wait)
            if not fits:
                return None
            self._next = now + wait + self._interval
            return wait

    def until_turn(self) -> float:
        """Seconds until the next free turn, were it asked for now."""
        with self._lock:
            return max(0.0, self._next - self._clock())

    def hold(self, seconds: float) -> None:
        """The service said slow down: no turn starts for `seconds`."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


# Every riskyUsers call of the process, confirmations and dismissals alike.
IDENTITY_PROTECTION = Pacer(RISKY_USERS_INTERVAL_SECONDS)
