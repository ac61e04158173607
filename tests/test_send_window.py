"""The window of batches in flight: refilled by the sender that frees a place, never wider than asked.

An invocation keeps up to REVOKE_MAX_PARALLEL write batches (and as many look-up batches) in
flight. The next batch goes as soon as one is answered, from the sender that was answered, not
when the invocation's own thread is done auditing the answers already in (revoke.graph.sending).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Sequence

import pytest

from graphsim import GraphSimulator
from revoke.actions import ContainmentAction
from revoke.app.runtime import managed_identity_credential
from revoke.audit.collector import ContextPool
from revoke.deadline import Deadline
from revoke.graph.client import GraphClient
from revoke.graph.sending import CallSender
from revoke.graph.transport import GraphCall, GraphReply, GraphTransport, pooled_session
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, Outcome
from revoke.settings import Settings

INVOCATION = contextvars.ContextVar[str]("invocation", default="none")
PATIENCE_SECONDS = 60.0  # how long a test waits for what must happen before it calls it a failure


class WatchedTransport(GraphTransport):
    """The real transport, noting how many batches are in flight at once and in whose context each went."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint, pooled_session(8))
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.contexts: list[str] = []

    def send_batch(
        self, calls: Sequence[tuple[int, GraphCall]], token: str, deadline: Deadline
    ) -> dict[int, GraphReply]:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.contexts.append(INVOCATION.get())
        try:
            return super().send_batch(calls, token, deadline)
        finally:
            with self._lock:
                self.in_flight -= 1


def revocations(graph: GraphSimulator, count: int) -> list[GraphCall]:
    users = graph.add_users(f"window{n:03}@contoso.com" for n in range(count))
    return [GraphCall("POST", f"/users/{user.object_id}/revokeSignInSessions") for user in users]


def sender(transport: GraphTransport, window: int, senders: ContextPool | None = None) -> CallSender:
    settings = Settings.from_environment()
    client = GraphClient(settings, managed_identity_credential(settings))
    senders = senders or ContextPool(max_workers=8, thread_name_prefix="test-window")
    return CallSender(transport, client.tokens, senders, window)


@pytest.mark.parametrize("settings", [{"REVOKE_MAX_PARALLEL": "2"}])
def test_the_next_batch_goes_while_the_invocation_is_still_auditing_the_first_answer(app: GraphSimulator) -> None:
    users = [
        UserIdentifier(user.object_id, "object_id")
        for user in app.add_users(f"a{n:03}@contoso.com" for n in range(200))
    ]
    settings = Settings.from_environment()
    client = GraphClient(settings, managed_identity_credential(settings))
    client.tokens.token(Deadline(10))  # fetched first: the batches are what is watched
    before = app.batch_requests
    every_batch_sent: list[bool] = []

    def auditing_slowly(position: int, result: ActionResult) -> None:
        if every_batch_sent:
            return
        # The first answer is still being audited: the other nine batches must go meanwhile, two at a time.
        waited_until = time.monotonic() + PATIENCE_SECONDS
        while app.batch_requests - before < 10 and time.monotonic() < waited_until:
            time.sleep(0.01)
        every_batch_sent.append(app.batch_requests - before == 10)

    results = client.perform(ContainmentAction.REVOKE_SESSIONS, users, Deadline(PATIENCE_SECONDS * 2), auditing_slowly)

    assert every_batch_sent == [True]
    assert [result.outcome for result in results] == [Outcome.REVOKED] * 200
    assert len(app.revocations) == 200


@pytest.mark.parametrize("window", [1, 3])
def test_no_more_batches_are_in_flight_than_the_window(app: GraphSimulator, window: int) -> None:
    app.latency = 0.05  # answers overlap, so a wider window would show
    transport = WatchedTransport(app.url)
    calls = revocations(app, 20 * 9)

    replies = sender(transport, window).send_all(calls, Deadline(60))

    assert all(reply.succeeded for reply in replies)
    assert transport.most_in_flight == window
    assert len(transport.contexts) == 9


def test_every_batch_goes_in_the_invocations_context_the_refilled_ones_too(app: GraphSimulator) -> None:
    transport = WatchedTransport(app.url)
    calls = revocations(app, 20 * 6)

    INVOCATION.set("correlation-1")
    replies = sender(transport, 2).send_all(calls, Deadline(60))

    assert all(reply.succeeded for reply in replies)
    assert transport.contexts == ["correlation-1"] * 6


def test_a_sender_pool_that_is_shut_down_still_gives_every_call_an_answer(app: GraphSimulator) -> None:
    transport = WatchedTransport(app.url)
    senders = ContextPool(max_workers=2)
    senders.shutdown()  # as at the end of the process
    calls = revocations(app, 60)

    replies = sender(transport, 2, senders).send_all(calls, Deadline(3))

    assert len(replies) == 60 and not any(reply.succeeded for reply in replies)
    assert {type(reply.error).__name__ for reply in replies} == {"TransientGraphError"}
    assert not app.revocations and transport.contexts == []
