"""Sending many Graph calls for one invocation: batches, per-call retries, and the deadline.

Transient answers (429, 5xx, timeouts, dropped connections, a 2xx that confirms nothing)
are retried per call, honouring Retry-After, while the invocation's `Deadline` allows; a
401 gets one fresh token. That loop is ours, not urllib3's adapter-level Retry, because a
throttled call inside a 200 batch is invisible to urllib3, a Retry-After longer than the
invocation's budget must end the call rather than sleep, and the audit trail needs the
real attempt count for each call.

The batch senders are shared by every invocation in the process; each invocation keeps at
most `window` write batches in flight, and beside them at most `window` read batches, so a
small request started beside a large one is not queued behind all of it, and look-ups never
slow the containment down. Before it sleeps, the loop checks the deadline again.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from queue import SimpleQueue

from revoke.audit.collector import ContextPool
from revoke.deadline import MAX_ATTEMPTS, Deadline, wait_before_retry
from revoke.errors import GraphError, OutOfTime, TransientGraphError, Unconfirmed
from revoke.graph.tokens import TokenSource
from revoke.graph.transport import BATCH_LIMIT, GraphCall, GraphReply, GraphTransport

logger = logging.getLogger(__name__)

FinalCallback = Callable[[int, GraphReply], None]
_Indexed = list[tuple[int, GraphCall]]
_Replies = dict[int, GraphReply]


class CallSender:
    def __init__(self, transport: GraphTransport, tokens: TokenSource, senders: ContextPool, window: int) -> None:
        self._transport = transport
        self._tokens = tokens
        self._senders = senders
        self._window = window

    @property
    def tokens(self) -> TokenSource:
        return self._tokens

    def send_all(
        self, calls: Sequence[GraphCall], deadline: Deadline, on_final: FinalCallback | None = None
    ) -> list[GraphReply]:
        """Every call's final reply, in order. `on_final(i, reply)` runs on this thread as each is final."""
        started = time.perf_counter()
        final: dict[int, GraphReply] = {}
        tries = dict.fromkeys(range(len(calls)), 0)
        attempts = dict.fromkeys(range(len(calls)), 0)  # requests that reached Graph

        def settle(index: int, reply: GraphReply) -> None:
            reply.attempts = attempts[index]
            reply.duration_ms = (time.perf_counter() - started) * 1000
            final[index] = reply
            if on_final is not None:
                on_final(index, reply)

        pending = list(range(len(calls)))
        refreshed = False
        while pending:
            waits: dict[int, float] = {}  # calls to try again, and how long each must wait first
            last: dict[int, GraphReply] = {}
            unauthorized = False
            for index, reply in self._send_once([(index, calls[index]) for index in pending], deadline):
                call = calls[index]
                reply = _checked(call, reply)
                tries[index] += 1
                attempts[index] += 0 if reply.error is not None and not reply.error.reached_graph else 1
                if reply.status == 401 and not refreshed and deadline.remaining() > 0:
                    unauthorized = True
                    waits[index], last[index] = 0.0, reply  # one fresh token, one more attempt
                    continue
                if reply.transient and tries[index] < MAX_ATTEMPTS:
                    wait_for = wait_before_retry(reply.status, reply.retry_after, tries[index])
                    if call.pacer is not None:
                        if reply.status == 429:
                            call.pacer.hold(wait_for)  # the limit is the tenant's: every later turn waits too
                        wait_for = max(wait_for, call.pacer.until_turn())
                    if deadline.allows_wait(wait_for):
                        waits[index], last[index] = wait_for, reply
                        continue
                settle(index, reply)
            if unauthorized:
                self._tokens.renew()
                refreshed = True
            # Checked again just before sleeping: a slow batch that answered after a throttled
            # one may have used the time its wait needed. A wait that no longer fits ends the call.
            for index, wait_for in list(waits.items()):
                if wait_for > 0 and not deadline.allows_wait(wait_for):
                    del waits[index]
                    settle(index, last[index])
            longest = max(waits.values(), default=0.0)
            if longest > 0:
                time.sleep(longest)
            pending = sorted(waits)
        return [final[index] for index in range(len(calls))]

    def _send_once(self, calls: _Indexed, deadline: Deadline) -> Iterator[tuple[int, GraphReply]]:
        """Each call's reply for one attempt, as the answers come back.

        Writes and reads each keep up to `window` requests in flight, apart: a look-up never
        takes the place of a containing call. Paced calls go one at a time, each in its turn.
        """
        try:
            if deadline.remaining() <= 0:
                raise OutOfTime("the time budget ran out before the call could be sent")
            token = self._tokens.token(deadline)
        except GraphError as error:
            yield from ((index, GraphReply(None, error=error)) for index, _ in calls)
            return
        paced = [(index, call) for index, call in calls if call.pacer is not None]
        unpaced = [(index, call) for index, call in calls if call.pacer is None]
        if len(unpaced) == 1 and not paced:
            index, call = unpaced[0]
            yield index, self._transport.send(call, token, deadline)
            return
        writes = _Lane([(index, call) for index, call in unpaced if not call.reads])
        reads = _Lane([(index, call) for index, call in unpaced if call.reads])
        # A lone write chunk (a few targets) goes from this thread while its look-ups go beside it,
        # in requests of their own: a slow look-up never holds up the write's answer.
        inline = writes.waiting.pop() if len(writes.waiting) == 1 else None
        answered: SimpleQueue[_Replies] = SimpleQueue()
        window = _Window(self._senders, self._window, lambda chunk: self._send_chunk(chunk, token, deadline), answered)
        pooled = sum(len(lane.waiting) for lane in (writes, reads))
        for lane in (writes, reads):
            window.fill(lane)
        for index, call in paced:
            yield index, self._send_paced(call, token, deadline)
        if inline is not None:
            yield from self._send_chunk(inline, token, deadline).items()
        for _ in range(pooled):
            yield from answered.get().items()

    def _send_paced(self, call: GraphCall, token: str, deadline: Deadline) -> GraphReply:
        assert call.pacer is not None
        wait_for = call.pacer.take_turn(deadline)
        if wait_for is None:
            late = OutOfTime("the service's rate limit leaves no turn within the time budget")
            return GraphReply(None, error=late)
        if wait_for > 0:
            time.sleep(wait_for)
        return self._transport.send(call, token, deadline)

    def _send_chunk(self, chunk: _Indexed, token: str, deadline: Deadline) -> dict[int, GraphReply]:
        """Runs on a shared sender thread; never raises, so no call in the chunk is left without a reply."""
        if deadline.remaining() <= 0:
            # Queued behind other invocations' batches until this invocation's time was up.
            late = OutOfTime("the time budget ran out before the batch could be sent")
            return {index: GraphReply(None, error=late) for index, _ in chunk}
        try:
            if len(chunk) == 1:
                index, call = chunk[0]
                return {index: self._transport.send(call, token, deadline)}
            return self._transport.send_batch(chunk, token, deadline)
        except Exception as problem:
            logger.error("Could not read a batch answer: %s", type(problem).__name__)
            unreadable = Unconfirmed(f"could not read Graph's batch answer: {type(problem).__name__}")
            return {index: GraphReply(None, error=unreadable) for index, _ in chunk}


class _Lane:
    """Calls of one kind (writes, or reads) waiting to go, in chunks of at most one batch."""

    def __init__(self, calls: _Indexed) -> None:
        self.waiting = [calls[i : i + BATCH_LIMIT] for i in range(0, len(calls), BATCH_LIMIT)]
        self.busy = 0


class _Window:
    """Keeps up to `size` chunks of each lane in flight on the shared senders for one attempt.

    A sender that finishes a chunk sends the lane's next one at once, from its own thread: the
    invocation's thread may be busy auditing the answers already in, and the window must not
    wait for it. Every chunk's answers reach `answered`, even when the senders refuse new work.
    """

    def __init__(
        self, senders: ContextPool, size: int, send: Callable[[_Indexed], _Replies], answered: SimpleQueue[_Replies]
    ) -> None:
        self._senders = senders
        self._size = size
        self._send = send
        self._context = contextvars.copy_context()  # the invocation's: each chunk is sent in a copy of it
        self._answered = answered
        self._lock = threading.Lock()

    def fill(self, lane: _Lane) -> None:
        with self._lock:
            due = []
            while lane.busy < self._size and lane.waiting:
                due.append(lane.waiting.pop(0))
                lane.busy += 1
        for chunk in due:
            try:
                future = self._senders.submit_in(self._context, self._send, chunk)
            except RuntimeError:  # the senders are shut down: the process is ending
                self._done(lane, _unsent(chunk))
                continue

            def sent(finished: Future[_Replies], lane: _Lane = lane, chunk: _Indexed = chunk) -> None:
                # _send_chunk never raises; a chunk the senders dropped (shut down) still gets its answers.
                replies = finished.result() if not finished.cancelled() and finished.exception() is None else None
                self._done(lane, replies if replies is not None else _unsent(chunk))

            future.add_done_callback(sent)

    def _done(self, lane: _Lane, replies: _Replies) -> None:
        with self._lock:
            lane.busy -= 1
        self.fill(lane)
        self._answered.put(replies)


def _unsent(chunk: _Indexed) -> _Replies:
    unsent = TransientGraphError("the batch could not be sent: the process is shutting down")
    return {index: GraphReply(None, error=unsent) for index, _ in chunk}


def _checked(call: GraphCall, reply: GraphReply) -> GraphReply:
    """A 2xx stands only if it confirms what the call asked for."""
    if reply.succeeded:
        problem = call.check(reply)
        if problem is not None:
            reply.error = problem
    return reply
