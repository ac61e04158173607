"""Sending many Graph calls for one invocation: batches, per-call retries, and the deadline.

Transient answers (429, 5xx, timeouts, dropped connections, a 2xx that confirms nothing)
are retried per call, honouring Retry-After, while the invocation's `Deadline` allows; a
401 gets one fresh token. That loop is ours, not urllib3's adapter-level Retry, because a
throttled call inside a 200 batch is invisible to urllib3, a Retry-After longer than the
invocation's budget must end the call rather than sleep, and the audit trail needs the
real attempt count for each call.

The batch senders are shared by every invocation in the process; each invocation keeps at
most `window` batches in flight, so a small request started beside a large one is not
queued behind all of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from revoke.deadline import MAX_ATTEMPTS, Deadline, backoff_seconds
from revoke.errors import GraphError, OutOfTime, Unconfirmed
from revoke.graph.tokens import TokenSource
from revoke.graph.transport import BATCH_LIMIT, GraphCall, GraphReply, GraphTransport

logger = logging.getLogger(__name__)

FinalCallback = Callable[[int, GraphReply], None]
_Indexed = list[tuple[int, GraphCall]]


class CallSender:
    def __init__(
        self, transport: GraphTransport, tokens: TokenSource, senders: ThreadPoolExecutor, window: int
    ) -> None:
        self._transport = transport
        self._tokens = tokens
        self._senders = senders
        self._window = window

    def send_all(
        self, calls: Sequence[GraphCall], deadline: Deadline, on_final: FinalCallback | None = None
    ) -> list[GraphReply]:
        """Every call's final reply, in order. `on_final(i, reply)` runs on this thread as each is final."""
        started = time.perf_counter()
        final: dict[int, GraphReply] = {}
        tries = dict.fromkeys(range(len(calls)), 0)
        attempts = dict.fromkeys(range(len(calls)), 0)  # requests that reached Graph
        pending = list(range(len(calls)))
        refreshed = False
        while pending:
            retry: list[int] = []
            waits: list[float] = []
            unauthorized = False
            for index, reply in self._send_once([(index, calls[index]) for index in pending], deadline):
                reply = _checked(calls[index], reply)
                tries[index] += 1
                attempts[index] += 0 if reply.error is not None and not reply.error.reached_graph else 1
                if reply.status == 401 and not refreshed and deadline.remaining() > 0:
                    unauthorized = True
                    retry.append(index)  # one fresh token, one more attempt
                    continue
                if reply.transient and tries[index] < MAX_ATTEMPTS:
                    wait_for = reply.retry_after if reply.retry_after is not None else backoff_seconds(tries[index])
                    if deadline.allows_wait(wait_for):
                        retry.append(index)
                        waits.append(wait_for)
                        continue
                reply.attempts = attempts[index]
                reply.duration_ms = (time.perf_counter() - started) * 1000
                final[index] = reply
                if on_final is not None:
                    on_final(index, reply)
            if unauthorized:
                self._tokens.renew()
                refreshed = True
            if waits:
                time.sleep(max(waits))
            pending = retry
        return [final[index] for index in range(len(calls))]

    def _send_once(self, calls: _Indexed, deadline: Deadline) -> Iterator[tuple[int, GraphReply]]:
        """Each call's reply for one attempt, batch by batch as the batches come back."""
        try:
            if deadline.remaining() <= 0:
                raise OutOfTime("the time budget ran out before the call could be sent")
            token = self._tokens.token(deadline)
        except GraphError as error:
            yield from ((index, GraphReply(None, error=error)) for index, _ in calls)
            return
        if len(calls) == 1:
            index, call = calls[0]
            yield index, self._transport.send(call, token, deadline)
            return
        waiting = iter([calls[i : i + BATCH_LIMIT] for i in range(0, len(calls), BATCH_LIMIT)])
        in_flight: set[Future[dict[int, GraphReply]]] = set()
        for chunk in waiting:
            in_flight.add(self._senders.submit(self._send_batch, chunk, token, deadline))
            if len(in_flight) >= self._window:
                break
        while in_flight:
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                following = next(waiting, None)
                if following is not None:
                    in_flight.add(self._senders.submit(self._send_batch, following, token, deadline))
                yield from future.result().items()

    def _send_batch(self, chunk: _Indexed, token: str, deadline: Deadline) -> dict[int, GraphReply]:
        """Runs on a shared sender thread; never raises, so no call in the chunk is left without a reply."""
        if deadline.remaining() <= 0:
            # Queued behind other invocations' batches until this invocation's time was up.
            late = OutOfTime("the time budget ran out before the batch could be sent")
            return {index: GraphReply(None, error=late) for index, _ in chunk}
        try:
            return self._transport.send_batch(chunk, token, deadline)
        except Exception as problem:
            logger.error("Could not read a batch answer: %s", type(problem).__name__)
            unreadable = Unconfirmed(f"could not read Graph's batch answer: {type(problem).__name__}")
            return {index: GraphReply(None, error=unreadable) for index, _ in chunk}


def _checked(call: GraphCall, reply: GraphReply) -> GraphReply:
    """A 2xx stands only if it confirms what the call asked for."""
    if reply.succeeded:
        problem = call.check(reply)
        if problem is not None:
            reply.error = problem
    return reply
