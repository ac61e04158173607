"""Running one chunk of a campaign: each action once on each target still open, at the chunk's slot.

A chunk message waits, invisible on the queue, until its slot (`revoke.campaigns.pace`). Its
delivery claims the chunk with a lease naming the message, takes each action once on each
open target, writes the targets' rows, and then audits them; what was throttled or transient
goes back on the queue for later, slower after a 429. A redelivered message finds what its
earlier delivery confirmed and does not act on it again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from revoke.audit.events import audit_event, emit
from revoke.campaigns.graph_io import CampaignGraph
from revoke.campaigns.pace import EARLY_TOLERANCE_SECONDS
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.request import CampaignRequest
from revoke.campaigns.state import CANCELLED, FINAL_CHUNK_STATES, CampaignRows, pace_of, recovered, with_pace
from revoke.campaigns.store import CampaignStore, Conflict, Row
from revoke.campaigns.trail import action_record, context_of, record, target_event
from revoke.containment.verdict import judge
from revoke.deadline import Deadline
from revoke.outcomes import ActionResult, Outcome
from revoke.settings import Settings

MAX_ROUNDS = 8  # deliveries that end with a transient answer before a target is reported deferred
LEASE_SECONDS = 300  # a chunk's claim outlives the host's functionTimeout


@dataclass(frozen=True)
class _Delivery:
    open_targets: list[str]
    throttled: int
    writes: int
    retry_after: float
    deferred: dict[str, ActionResult]


class ChunkRunner:
    def __init__(
        self,
        settings: Settings,
        store: CampaignStore,
        rows: CampaignRows,
        graph: CampaignGraph,
        queue: DelayQueue,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._rows = rows
        self._graph = graph
        self._queue = queue
        self._clock = clock

    def run(self, campaign: str, row: Row, message: dict[str, Any], message_id: str) -> None:
        """One "chunk" message."""
        number, write, rounds = message["chunk"], message["write"], message.get("round", 0)
        chunk = self._store.chunk(campaign, number)
        if chunk is None or chunk.data.get("state") in FINAL_CHUNK_STATES:
            return  # already final: a duplicate or a redelivery after the work was recorded
        request = CampaignRequest.from_json(row.data["request"])
        if row.data["status"] == CANCELLED:
            self.settle_open(campaign, request, number, None, "the campaign was cancelled", CANCELLED)
            return
        now = self._clock()
        due = pace_of(row.data).slot(write)
        if due - now > EARLY_TOLERANCE_SECONDS:
            # The pace slowed since this chunk was queued: wait for its new slot.
            self._queue.send(message, due - now)
            return
        lease = chunk.data.get("lease")
        if lease and lease != message_id and chunk.data.get("leaseUntil", 0) > now:
            return  # another delivery of this chunk is working on it; its own message stays until it is done
        try:
            self._store.claim_chunk(
                campaign, number, chunk, {"state": "running", "lease": message_id, "leaseUntil": now + LEASE_SECONDS}
            )
        except Conflict:
            return
        targets = self._store.targets(campaign, number)
        outcome = self._act(campaign, request, number, targets, final_round=rounds + 1 >= MAX_ROUNDS)
        if outcome.open_targets:
            self._push_back(campaign, message, outcome, rounds)
        else:
            self._close_chunk(campaign, number, "done")
            if outcome.throttled == 0 and row.data["rate"] < row.data["targetRate"]:
                self._rows.change(campaign, lambda d: recovered(d, write + outcome.writes))

    def settle_open(
        self,
        campaign: str,
        request: CampaignRequest,
        number: int,
        outcome: Outcome | None,
        why: str,
        state: str,
    ) -> None:
        """Every open target of chunk `number` gets `outcome` (None: cancelled, nothing sent) for each open action."""
        context = context_of(request)
        changed, events = [], []
        for target in self._store.targets(campaign, number):
            if "outcome" in target:
                continue
            results = list(target.get("results", []))
            for action in request.actions[len(results) :]:
                if outcome is None:
                    events.append(audit_event(context, CANCELLED, action=action.value, user=target["upn"], detail=why))
                    results.append({"action": action.value, "outcome": CANCELLED, "detail": why})
                else:
                    result = ActionResult(outcome, detail=why)
                    results.append(record(action, result))
                    events.append(target_event(context, target["upn"], results[-1], contained=False, why=why))
            changed.append(
                {
                    "id": target["id"],
                    "results": results,
                    "outcome": outcome.value if outcome else CANCELLED,
                    "contained": False,
                }
            )
        if changed:
            self._store.put_targets(campaign, number, changed)
        for event in events:
            emit(event)
        self._close_chunk(campaign, number, state)

    def _act(
        self,
        campaign: str,
        request: CampaignRequest,
        number: int,
        targets: list[dict[str, Any]],
        *,
        final_round: bool,
    ) -> _Delivery:
        """Each action once on each target still open for it; rows written, then audited."""
        context = context_of(request)
        open_targets = [t for t in targets if "outcome" not in t]
        results = {t["id"]: list(t.get("results", [])) for t in open_targets}
        deferred: dict[str, ActionResult] = {}
        throttled, writes, retry_after = 0, 0, 0.0
        events: list[dict[str, Any]] = []
        deadline = Deadline(self._settings.retry_budget_seconds)
        for index, action in enumerate(request.actions):
            due = [t for t in open_targets if len(results[t["id"]]) == index and t["id"] not in deferred]
            if not due:
                continue
            answers = self._graph.write_once(action, [t["id"] for t in due], deadline)
            writes += len(due)
            for target, result in zip(due, answers, strict=True):
                if result.status == 429:
                    throttled += 1
                    retry_after = max(retry_after, result.retry_after or 1.0)
                if result.outcome is Outcome.DEFERRED and not final_round:
                    deferred[target["id"]] = result
                    continue
                results[target["id"]].append(record(action, result))
                if result.outcome is Outcome.NOT_FOUND:
                    unknown = ActionResult(Outcome.NOT_FOUND, detail=f"Graph has no such user ({action.value})")
                    for later in request.actions[index + 1 :]:
                        results[target["id"]].append(record(later, unknown))
        changed = []
        for target in open_targets:
            mine = results[target["id"]]
            if len(mine) == len(target.get("results", [])):
                continue
            update = {"id": target["id"], "results": mine}
            verdict = None
            if len(mine) == len(request.actions):
                judged = judge(target["upn"], [action_record(r) for r in mine], external=target["guest"])
                update["outcome"] = judged.outcome.value
                update["contained"] = judged.contained
                verdict = judged
            changed.append(update)
            for position in range(len(target.get("results", [])), len(mine)):
                last = position == len(request.actions) - 1 and verdict is not None
                events.append(
                    target_event(
                        context,
                        target["upn"],
                        mine[position],
                        contained=verdict.contained if last and verdict else None,
                        why=None if not last or verdict is None or verdict.contained else verdict.detail,
                    )
                )
        if changed:
            self._store.put_targets(campaign, number, changed)
        for event in events:
            emit(event)
        still_open = [t["id"] for t in open_targets if t["id"] in deferred]
        return _Delivery(still_open, throttled, writes, retry_after, deferred)

    def _push_back(self, campaign: str, message: dict[str, Any], outcome: _Delivery, rounds: int) -> None:
        """What is still open goes on the queue again: after Retry-After, and slower, when Graph throttled."""
        number, write = message["chunk"], message["write"]
        now = self._clock()
        if outcome.throttled:
            wait = outcome.retry_after

            def slower(data: dict[str, Any]) -> dict[str, Any]:
                paced = with_pace(data, pace_of(data).throttled(write, now, wait))
                return {**paced, "throttled": data.get("throttled", 0) + outcome.throttled}

            data = self._rows.change(campaign, slower)
            delay = max(wait, pace_of(data).slot(write) - now) if data else wait
        else:
            waits = [r.retry_after for r in outcome.deferred.values() if r.retry_after]
            delay = max([min(60.0, 2.0 ** (rounds + 1)), *waits])
        chunk_row = self._store.chunk(campaign, number)
        throttled = (chunk_row.data.get("throttled", 0) if chunk_row else 0) + outcome.throttled
        self._store.update_chunk(campaign, number, {"state": "open", "lease": "", "throttled": throttled})
        self._queue.send({**message, "round": rounds + 1}, delay)

    def _close_chunk(self, campaign: str, number: int, state: str) -> None:
        tally = Counter(t.get("outcome", "pending") for t in self._store.targets(campaign, number))
        self._store.update_chunk(campaign, number, {"state": state, "lease": "", "tally": dict(tally)})
