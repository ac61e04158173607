"""One delivery of a chunk: the deployment's policy as it stands now, then each action once on each open target.

Before anything is sent, every open target is held to the settings this process read (the
host restarts the worker when an app setting changes), exactly as a single request is:

    the break-glass guard                 a protected user `refused` for every open action
                                          (`revoke.campaigns.guard`)
    REVOKE_DRY_RUN (or a dry campaign)    every other open action `dry_run`; nothing sent
    REVOKE_ACTIONS                        an action it no longer allows `refused` for that action

Then each action goes to Graph once for each target still open for it (`CampaignGraph.write_once`).
A 429 or a transient answer leaves the target open for a later delivery; the rest is recorded,
each target's rows written, and only then audited. The verdict is the single-request path's
(`revoke.containment.verdict.judge`), with where the user signs in as Graph's listing said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from revoke.actions import ContainmentAction
from revoke.audit.events import emit
from revoke.campaigns.graph_io import CampaignGraph
from revoke.campaigns.guard import Guard
from revoke.campaigns.request import CampaignRequest
from revoke.campaigns.store import CampaignStore
from revoke.campaigns.trail import context_of, record, target_event, verdict_of
from revoke.containment.recording import record_reached
from revoke.containment.records import Contained, RecordWriter
from revoke.containment.verdict import TargetResult
from revoke.deadline import Deadline
from revoke.outcomes import ActionResult, Outcome
from revoke.settings import SettingNames, Settings

DRY_RUN = ActionResult(Outcome.DRY_RUN, detail="dry run: nothing sent to Graph")


@dataclass
class Delivery:
    """What one delivery left: targets still open (with Graph's last answer), and what Graph throttled."""

    held: dict[str, ActionResult] = field(default_factory=dict)
    throttled: int = 0
    writes: int = 0
    retry_after: float = 0.0


class ChunkWork:
    def __init__(
        self,
        settings: Settings,
        store: CampaignStore,
        graph: CampaignGraph,
        guard: Guard,
        records: RecordWriter | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._graph = graph
        self._guard = guard
        self._records = records  # None: REVOKE_CONTAINMENT_RECORDS=false

    def deliver(self, campaign: str, data: dict[str, Any], number: int) -> Delivery:
        request = CampaignRequest.from_json(data["request"])
        open_targets = [t for t in self._store.targets(campaign, number) if "outcome" not in t]
        results = {t["id"]: list(t.get("results", [])) for t in open_targets}
        delivery = Delivery()
        deadline = Deadline(self._settings.retry_budget_seconds)
        # The guard first, as for a single request: a protected user is refused, in a dry run too.
        self._guarded(open_targets, results, request, delivery, deadline)
        if data.get("dryRun") or self._settings.dry_run:
            for target in open_targets:
                done = len(results[target["id"]])
                if target["id"] not in delivery.held:
                    results[target["id"]] += [record(action, DRY_RUN) for action in request.actions[done:]]
        else:
            for index, action in enumerate(request.actions):
                due = [t for t in open_targets if len(results[t["id"]]) == index and t["id"] not in delivery.held]
                if due:
                    self._take(action, index, due, results, request, delivery, deadline)
        self._record(campaign, number, request, open_targets, results)
        self._write_records(request, open_targets, results, deadline)
        return delivery

    def _guarded(
        self,
        targets: list[dict[str, Any]],
        results: dict[str, list[dict[str, Any]]],
        request: CampaignRequest,
        delivery: Delivery,
        deadline: Deadline,
    ) -> None:
        """A user the guard refuses gets its result for every open action; one it could not check waits."""
        refused = self._guard.refused([(t["id"], t["upn"]) for t in targets], deadline)
        for object_id, result in refused.items():
            if result.outcome is Outcome.DEFERRED:
                delivery.held[object_id] = result
                continue
            results[object_id] += [record(action, result) for action in request.actions[len(results[object_id]) :]]

    def _take(
        self,
        action: ContainmentAction,
        index: int,
        due: list[dict[str, Any]],
        results: dict[str, list[dict[str, Any]]],
        request: CampaignRequest,
        delivery: Delivery,
        deadline: Deadline,
    ) -> None:
        """`action` once for each target in `due`: refused if the deployment no longer allows it."""
        if action not in self._settings.actions:
            allowed = ", ".join(a.value for a in self._settings.actions)
            why = f"{SettingNames.ACTIONS} no longer allows {action.value} (it allows {allowed}); nothing sent"
            for target in due:
                results[target["id"]].append(record(action, ActionResult(Outcome.REFUSED, detail=why)))
            return
        answers = self._graph.write_once(action, [t["id"] for t in due], deadline)
        delivery.writes += len(due)
        for target, result in zip(due, answers, strict=True):
            if result.status == 429:
                delivery.throttled += 1
                delivery.retry_after = max(delivery.retry_after, result.retry_after or 1.0)
            if result.outcome is Outcome.DEFERRED:
                delivery.held[target["id"]] = result
                continue
            results[target["id"]].append(record(action, result))
            if result.outcome is Outcome.NOT_FOUND:
                unknown = ActionResult(Outcome.NOT_FOUND, detail=f"Graph has no such user ({action.value})")
                results[target["id"]] += [record(later, unknown) for later in request.actions[index + 1 :]]

    def _record(
        self,
        campaign: str,
        number: int,
        request: CampaignRequest,
        targets: list[dict[str, Any]],
        results: dict[str, list[dict[str, Any]]],
    ) -> None:
        """Each changed target's row, its outcome once every action has a result; then one event per new result."""
        context = context_of(request)
        changed, events = [], []
        for target in targets:
            mine, before = results[target["id"]], len(target.get("results", []))
            if len(mine) == before:
                continue
            update: dict[str, Any] = {"id": target["id"], "results": mine}
            verdict: TargetResult | None = None
            if len(mine) == len(request.actions):
                verdict = verdict_of(target, mine)
                update |= {"outcome": verdict.outcome.value, "contained": verdict.contained}
            changed.append(update)
            for position in range(before, len(mine)):
                last = verdict if position == len(mine) - 1 else None
                why = None if last is None or last.contained else last.detail
                events.append(
                    target_event(
                        context, target["upn"], mine[position], contained=last.contained if last else None, why=why
                    )
                )
        if changed:
            self._store.put_targets(campaign, number, changed)
        for event in events:
            emit(event)

    def _write_records(
        self,
        request: CampaignRequest,
        targets: list[dict[str, Any]],
        results: dict[str, list[dict[str, Any]]],
        deadline: Deadline,
    ) -> None:
        """The containment record of each user Graph confirmed an action for in this delivery, as a
        single request writes it, so a release may undo what the campaign did and nothing else."""
        if self._records is None:
            return
        reached = []
        for target in targets:
            new = results[target["id"]][len(target.get("results", [])) :]
            confirmed = tuple(
                ContainmentAction(stored["action"]) for stored in new if Outcome(stored["outcome"]).confirmed_by_graph
            )
            if confirmed:
                reached.append(Contained(target["id"], target["upn"], confirmed))
        if reached:
            record_reached(self._records, reached, context_of(request), deadline)
