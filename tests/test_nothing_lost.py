"""Nothing lost: thousands of queue messages under injected faults, with the host's redelivery played out.

Every target must end revoked by Graph, or sit in the poison queue with a deferred or
failed audit event; and no target may be reported revoked that Graph did not revoke.
"""

from __future__ import annotations

import json
import random
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path

import pytest

import revoke.deadline
from graphsim import Fault, GraphSimulator
from graphsim.harness import CapturedOut, LogCapture, queue_message
from revoke.app.triggers import revoke_queue
from revoke.errors import RetryLater

HOST = json.loads((Path(__file__).resolve().parent.parent / "host.json").read_text())
MAX_DEQUEUE_COUNT = HOST["extensions"]["queues"]["maxDequeueCount"]
MESSAGES = 2000
FAULT_RATE = 0.25
SEED = 20261123
FAULTS = [
    Fault(status=429, headers={"Retry-After": "0"}),
    Fault(status=429, headers={"Retry-After": "2"}),  # beyond the budget: deferred, the host redelivers
    Fault(status=429),
    Fault(status=500),
    Fault(status=503),
    Fault(status=504),
    Fault(drop=True),
]


def _path_of(user: str) -> Callable[[str], bool]:
    return lambda path: f"/users/{user}/" in path


@pytest.mark.parametrize("settings", [{"REVOKE_RETRY_BUDGET_SECONDS": "1.5"}])
def test_every_target_is_revoked_or_poisoned_with_an_audit_trail(
    app: GraphSimulator, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Millisecond backoff keeps 2,000 messages inside CI time; the retry logic is unchanged.
    monkeypatch.setattr(revoke.deadline, "BACKOFF_BASE_SECONDS", 0.002)
    rng = random.Random(SEED)
    people = [app.add_user(f"user{n:04}@contoso.com") for n in range(3000)]
    messages = [[p.user_principal_name for p in rng.sample(people, rng.randint(1, 3))] for _ in range(MESSAGES)]
    app.inject_randomly(FAULT_RATE, FAULTS, seed=SEED)
    # A few accounts Graph never accepts: throttled for good, or refused. Their messages must
    # end in the poison queue with the reason audited, never counted as revoked.
    for person in rng.sample(people, 20):
        app.inject(Fault(status=503, match=_path_of(person.user_principal_name), times=None))
    for person in rng.sample(people, 20):
        app.inject(Fault(status=403, match=_path_of(person.user_principal_name), times=None))

    queue = deque((index, 1) for index in range(MESSAGES))
    poisoned: set[int] = set()
    completed: set[int] = set()
    redeliveries = 0
    while queue:
        index, delivery = queue.popleft()
        body = json.dumps({"users": messages[index], "correlationId": f"m{index}"})
        poison = CapturedOut()
        try:
            revoke_queue(queue_message(body, dequeue_count=delivery, message_id=f"m{index}"), poison)
        except RetryLater:
            if delivery >= MAX_DEQUEUE_COUNT:
                poisoned.add(index)  # the host moves it to <queue>-poison
            else:
                redeliveries += 1
                queue.append((index, delivery + 1))
            continue
        (poisoned if poison.value is not None else completed).add(index)

    events = logs.audit_events()
    by_message: dict[str, list[dict[str, object]]] = {}
    for event in events:
        by_message.setdefault(str(event["correlationId"]), []).append(event)
    revoked_upns = {p.user_principal_name for p in people if app.revocations[p.object_id]}
    outcomes = Counter(str(event["outcome"]) for event in events)

    lost = []
    for index, users in enumerate(messages):
        trail = by_message.get(f"m{index}", [])
        for user in users:
            if user in revoked_upns:
                continue
            user_events = [e for e in trail if e["user"] == user]
            if not (index in poisoned and user_events and user_events[-1]["outcome"] in ("deferred", "failed")):
                lost.append((index, user))
    falsely_revoked = {e["user"] for e in events if e["outcome"] == "revoked"} - revoked_upns
    targets = sum(len(users) for users in messages)
    revocation_calls = sum(1 for r in app.graph_requests() if r.path.endswith("/revokeSignInSessions"))
    faults = revocation_calls - sum(app.revocations.values())  # every user exists: any other answer was injected
    retries = sum(int(str(e["attempts"])) - 1 for e in events if int(str(e["attempts"])) > 1)

    print(
        f"\nnothing-lost: messages={MESSAGES} targets={targets} fault_rate={FAULT_RATE:.0%} "
        f"revocation_calls={revocation_calls} faults_injected={faults} in_invocation_retries={retries} "
        f"redeliveries={redeliveries} completed_messages={len(completed)} "
        f"poisoned_messages={len(poisoned)} audit_outcomes={dict(outcomes)} lost={len(lost)} "
        f"falsely_reported_revoked={len(falsely_revoked)}"
    )
    assert lost == []
    assert falsely_revoked == set()
    assert completed | poisoned == set(range(MESSAGES))
    assert faults > MESSAGES * FAULT_RATE * 0.5  # the faults really were injected
