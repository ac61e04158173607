"""One thread per process that ends reads at their deadlines: the whole answer, not each read.

requests' read timeout bounds each read of the socket, so an answer that trickles in a byte
at a time never trips it. Each request being read registers its deadline and how to cut it
off (urllib3's `HTTPResponse.shutdown`, its documented way to end a read another thread is
blocked in); the watchdog calls that at the deadline unless the read finished first. One
shared thread and a heap, not a timer thread per request: registering costs microseconds.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Watch:
    """One registered read; `cancel()` when it is done. `fired` says whether it was cut off."""

    __slots__ = ("_cut", "cancelled", "fired")

    def __init__(self, cut: Callable[[], None]) -> None:
        self._cut = cut
        self.cancelled = False
        self.fired = False

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        if not self.cancelled:
            self.fired = True
            self._cut()


class Watchdog:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float, cut: Callable[[], None]) -> Watch:
        """Call `cut` in `seconds` unless the returned watch is cancelled first."""
        watch = Watch(cut)
        with self._condition:
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="read-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._condition.notify()  # the earliest deadline changed
        return watch

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)  # done in time: forget it
                if not self._heap:
                    self._condition.wait()
                    continue
                due, _, watch = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._heap)
            with contextlib.suppress(Exception):  # a cut that fails leaves the read to its own timeout
                watch.fire()


READS = Watchdog()
