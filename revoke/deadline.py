"""How long one invocation may spend waiting on Graph, and how long to wait between attempts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from urllib3.util.retry import Retry

# Leave room for one more request after a wait; a retry that cannot finish is not worth starting.
MIN_ATTEMPT_SECONDS = 1.0
MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
# A 429 without Retry-After (Identity Protection sends none) waits at least this long.
THROTTLED_BACKOFF_FLOOR_SECONDS = 1.0


class Deadline:
    """A point in time an invocation must not wait past (REVOKE_RETRY_BUDGET_SECONDS)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._ends - self._clock())

    def allows_wait(self, seconds: float) -> bool:
        return self.remaining() - seconds >= MIN_ATTEMPT_SECONDS


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff after the `attempt`-th failed attempt, jittered between half and all of it."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret


def wait_before_retry(status: int | None, retry_after: float | None, attempt: int) -> float:
    """How long to wait after the `attempt`-th failed attempt: Retry-After when given, else backoff."""
    if retry_after is not None:
        return retry_after
    wait = backoff_seconds(attempt)
    return max(wait, THROTTLED_BACKOFF_FLOOR_SECONDS) if status == 429 else wait


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), as urllib3 reads it."""
    if not value:
        return None
    try:
        return max(0.0, Retry().parse_retry_after(value))
    except Exception:  # urllib3 raises InvalidHeader for garbage; treat as absent
        return None
