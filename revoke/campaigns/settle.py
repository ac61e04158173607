"""Ending a chunk without running it: cancelled, given up on (the poison queue), or out of the campaign's life.

A target is reported `cancelled` only when nothing was sent for it. A chunk that was ever
claimed may have been sent by a worker that stopped before recording Graph's answer (killed,
or timed out): before its targets are called cancelled, Graph is asked what it shows of each
(`CampaignGraph.states`), and an action Graph shows done is reported done.

    disableAccount         done if Graph shows accountEnabled false
    revokeSignInSessions   done if Graph shows signInSessionsValidFromDateTime at or after the
                           chunk was first sent (less CLOCK_SKEW_SECONDS): revokeSignInSessions
                           resets it to the time of the call (user: revokeSignInSessions,
                           learn.microsoft.com/graph/api/user-revokesigninsessions)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from revoke.actions import ContainmentAction
from revoke.audit.events import audit_event, emit
from revoke.campaigns.graph_io import CampaignGraph, UserState
from revoke.campaigns.request import CampaignRequest
from revoke.campaigns.state import CANCELLED
from revoke.campaigns.store import CampaignStore
from revoke.campaigns.trail import context_of, record, target_event, verdict_of
from revoke.deadline import Deadline
from revoke.outcomes import ActionResult, Outcome
from revoke.settings import Settings

CLOCK_SKEW_SECONDS = 60.0  # between this host's clock and Graph's
CANCELLED_WHY = "the campaign was cancelled"


class Settlement:
    def __init__(self, settings: Settings, store: CampaignStore, graph: CampaignGraph) -> None:
        self._settings = settings
        self._store = store
        self._graph = graph

    def cancelled(self, campaign: str, data: dict[str, Any], number: int) -> None:
        """Chunk `number` of a cancelled campaign: what Graph shows done is done, the rest `cancelled`."""
        request = CampaignRequest.from_json(data["request"])
        by = data.get("cancelledBy") or {}
        context = context_of(request, (by.get("appId"), by.get("objectId")))
        chunk = self._store.chunk(campaign, number)
        sent_at = chunk.data.get("sentAt") if chunk is not None else None
        targets = [t for t in self._store.targets(campaign, number) if "outcome" not in t]
        states: dict[str, UserState] = {}
        if sent_at is not None and targets:
            read = self._graph.states([t["id"] for t in targets], Deadline(self._settings.retry_budget_seconds))
            states = dict(zip((t["id"] for t in targets), read, strict=True))
        changed, events = [], []
        for target in targets:
            results = list(target.get("results", []))
            before = len(results)
            for action in request.actions[before:]:
                state = states.get(target["id"])
                shown = _shown(action, state, sent_at) if state is not None and sent_at is not None else None
                results.append(shown or {"action": action.value, "outcome": CANCELLED, "detail": CANCELLED_WHY})
            update, verdict = _settled(target, results, request)
            changed.append(update)
            for position in range(before, len(results)):
                last = position == len(results) - 1
                stored = results[position]
                if stored["outcome"] == CANCELLED:
                    event = audit_event(
                        context, CANCELLED, action=stored["action"], user=target["upn"], detail=CANCELLED_WHY
                    )
                    events.append(event)
                else:
                    contained = verdict.contained if last and verdict is not None else None
                    events.append(target_event(context, target["upn"], stored, contained=contained, why=None))
        self._record(campaign, number, changed, events, CANCELLED)

    def final(self, campaign: str, data: dict[str, Any], number: int, outcome: Outcome, why: str, state: str) -> None:
        """Every open target of chunk `number` gets `outcome` (failed, deferred) for each open action, with why."""
        request = CampaignRequest.from_json(data["request"])
        context = context_of(request)
        changed, events = [], []
        for target in self._store.targets(campaign, number):
            if "outcome" in target:
                continue
            results = list(target.get("results", []))
            for action in request.actions[len(results) :]:
                results.append(record(action, ActionResult(outcome, detail=why)))
                events.append(target_event(context, target["upn"], results[-1], contained=False, why=why))
            changed.append({"id": target["id"], "results": results, "outcome": outcome.value, "contained": False})
        self._record(campaign, number, changed, events, state)

    def close(self, campaign: str, number: int, state: str) -> None:
        tally = Counter(t.get("outcome", "pending") for t in self._store.targets(campaign, number))
        self._store.update_chunk(campaign, number, {"state": state, "lease": "", "tally": dict(tally)})

    def _record(
        self, campaign: str, number: int, changed: list[dict[str, Any]], events: list[dict[str, Any]], state: str
    ) -> None:
        """Rows first, then the audit: an event is never emitted for a result the table does not hold."""
        if changed:
            self._store.put_targets(campaign, number, changed)
        for event in events:
            emit(event)
        self.close(campaign, number, state)


def _shown(action: ContainmentAction, state: UserState, sent_at: float) -> dict[str, Any] | None:
    """The stored result of `action` if Graph shows it done; a read that failed is a failure to tell."""
    if state.error is not None:
        detail = (
            f"cancelled, and whether Graph took it before its worker stopped could not be read: {state.error.detail}"
        )
        return record(action, ActionResult(Outcome.FAILED, state.error.status, detail=detail))
    read = "read from Graph after its worker stopped before recording the answer"
    if action is ContainmentAction.DISABLE_ACCOUNT and state.enabled is False:
        return record(action, ActionResult(Outcome.DISABLED, 200, detail=f"account disabled ({read})", attempts=1))
    revoked = state.sessions_valid_from is not None and state.sessions_valid_from >= sent_at - CLOCK_SKEW_SECONDS
    if action is ContainmentAction.REVOKE_SESSIONS and revoked:
        return record(action, ActionResult(Outcome.REVOKED, 200, detail=f"sessions revoked ({read})", attempts=1))
    return None


def _settled(
    target: dict[str, Any], results: list[dict[str, Any]], request: CampaignRequest
) -> tuple[dict[str, Any], Any]:
    """The target's row update and verdict: `cancelled` if nothing was done, else the usual judgement."""
    if all(stored["outcome"] == CANCELLED for stored in results):
        return {"id": target["id"], "results": results, "outcome": CANCELLED, "contained": False}, None
    judged = verdict_of(target, results)
    update = {"id": target["id"], "results": results, "outcome": judged.outcome.value, "contained": judged.contained}
    return update, judged
