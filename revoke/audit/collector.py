"""Every audit event of one invocation, gathered as it is emitted, so the invocation can send them once.

`collecting()` sets a collector for the invocation's context; `emit` hands each event to the
collector of the context it runs in (revoke.audit.events). Work an invocation gives a thread pool
must run in the invocation's context, or its events would escape: every pool under `revoke/` is a
`ContextPool`, which runs each task in a copy of its submitter's context (tests/test_audit_delivery.py
checks that no other pool is made there).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, ParamSpec, TypeVar

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class EventCollector:
    """The events of one invocation, in the order they were emitted; closed once they are taken."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._open = True
        self._lock = threading.Lock()

    def add(self, event: dict[str, Any]) -> bool:
        """Keep `event`; False if the collector was already closed (its events were taken)."""
        with self._lock:
            if self._open:
                self._events.append(dict(event))
            return self._open

    def close(self) -> list[dict[str, Any]]:
        """Every event kept; later events are refused."""
        with self._lock:
            self._open = False
            return list(self._events)


_current: contextvars.ContextVar[EventCollector | None] = contextvars.ContextVar("audit_collector", default=None)


@contextmanager
def collecting() -> Iterator[EventCollector]:
    """A collector for every event emitted in this context (and the pool tasks it submits) until the block ends."""
    collector = EventCollector()
    token = _current.set(collector)
    try:
        yield collector
    finally:
        _current.reset(token)


def collect(event: dict[str, Any]) -> None:
    """Give `event` to the invocation's collector, if one is collecting."""
    collector = _current.get()
    if collector is not None and not collector.add(event):
        # Only a task still running after its invocation ended can get here; the event is in the log.
        logger.warning("An audit event was emitted after its invocation's events were sent; it is in the log only")


class ContextPool(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the context that submitted them, audit collector included."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return self.submit_in(contextvars.copy_context(), fn, *args, **kwargs)

    def submit_in(
        self, context: contextvars.Context, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        """`fn` run in a copy of `context`: for a task submitted on behalf of another thread's invocation."""
        return super().submit(partial(context.copy().run, fn, *args, **kwargs))
