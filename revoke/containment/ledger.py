"""One request's record of every action on every target, audited as each result lands.

Each target gets exactly one result per action in its plan, and one audit event for each;
the event of its last action carries the verdict (`contained`). A target's plan is the
request's actions, and for a user synced from Active Directory, the Active Directory actions
(REVOKE_ONPREM_ACTIONS) right after the disable, once its look-up shows it is synced.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Generic, TypeVar

from revoke.actions import ActiveDirectoryAction, ContainmentAction
from revoke.audit.events import RequestContext, audit_event, emit
from revoke.containment.verdict import ActionRecord, Kind, TargetResult, judge
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, Outcome

# One thing done to a target: a containment action, or an Active Directory action that completes one.
Step = ContainmentAction | ActiveDirectoryAction
StepT = TypeVar("StepT", bound=Enum)
ActionT = TypeVar("ActionT", bound=Enum)
FollowingT = TypeVar("FollowingT", bound=Enum)


def interleaved(
    actions: Sequence[ActionT], after: ActionT, following: Sequence[FollowingT]
) -> tuple[ActionT | FollowingT, ...]:
    """The request's actions, `following` right after `after`: the Active Directory steps after the
    Entra ID one they complete (stop sign-ins first). Only synced targets have them in their plan."""
    steps: list[ActionT | FollowingT] = []
    for action in actions:
        steps.append(action)
        if action is after:
            steps.extend(following)
    return tuple(steps)


class StepPlans(Generic[StepT]):
    """Each target's plan of steps and its results so far, in order: what a containment's and a
    release's ledger both keep. `add` records one result (and audits it); the rest follows from it."""

    def __init__(self, context: RequestContext, targets: Sequence[UserIdentifier], steps: Sequence[StepT]) -> None:
        self._context = context
        self._targets = targets
        self._plans: list[list[StepT]] = [list(steps) for _ in targets]
        self._records: list[list[ActionRecord]] = [[] for _ in targets]

    def add(self, index: int, step: StepT, result: ActionResult) -> None:
        raise NotImplementedError

    def plan_after(self, index: int, after: StepT, steps: Sequence[StepT]) -> None:
        """`steps` join the target's plan right after `after`, which must not have a result yet."""
        plan = self._plans[index]
        position = plan.index(after) + 1
        assert len(self._records[index]) < position, "a step is planned before the one it follows has a result"
        plan[position:position] = [step for step in steps if step not in plan]

    def is_open(self, index: int, step: StepT) -> bool:
        """Whether `step` on target `index` is the next to get a result."""
        plan = self._plans[index]
        return step in plan and plan.index(step) == len(self._records[index])

    def open_targets(self, step: StepT) -> list[int]:
        return [i for i in range(len(self._targets)) if self.is_open(i, step)]

    def result_of(self, index: int, step: StepT) -> ActionResult | None:
        """The result `step` got for target `index`; None while it has none (or it is not in the target's plan)."""
        plan, records = self._plans[index], self._records[index]
        if step not in plan:
            return None
        position = plan.index(step)
        return records[position].result if position < len(records) else None

    def last(self, index: int) -> ActionResult | None:
        records = self._records[index]
        return records[-1].result if records else None

    def settle(self, index: int, result: ActionResult) -> None:
        """`result` for every step of target `index` that has none yet (refused, not found, ...)."""
        for step in self._plans[index][len(self._records[index]) :]:
            self.add(index, step, result)

    def answer_the_rest(self, indexes: Sequence[int], step: StepT, unexpected: ActionResult) -> None:
        """`unexpected` for each target in `indexes` still without `step`'s result: never expected,
        but every target gets one result and one audit event."""
        for i in indexes:
            if self.is_open(i, step):
                self.add(i, step, unexpected)

    def end_unknown_users(self, indexes: Sequence[int], step: StepT) -> None:
        """A user Graph answered `step` for with "no such user" needs no further step."""
        unknown = ActionResult(Outcome.NOT_FOUND, detail=f"Graph has no such user ({step.value})")
        for i in indexes:
            last = self.last(i)
            if last is not None and last.outcome is Outcome.NOT_FOUND:
                self.settle(i, unknown)

    def _record(self, index: int, name: str, step: StepT, result: ActionResult) -> list[ActionRecord]:
        """The target's records, `step`'s (audited as `name`) appended; it must be the target's next."""
        assert self.is_open(index, step), "actions are recorded once each, in order"
        records = self._records[index]
        records.append(ActionRecord(name, result))
        return records

    def _audit(
        self, index: int, action: str, result: ActionResult, detail: str | None, contained: bool | None = None
    ) -> None:
        """The audit event of one step's result on target `index`."""
        emit(
            audit_event(
                self._context,
                result.outcome,
                action=action,
                user=self._targets[index].value,
                graph_status=result.status,
                graph_request_id=result.request_id,
                attempts=result.attempts,
                duration_ms=result.duration_ms,
                detail=detail,
                contained=contained,
            )
        )


class Ledger(StepPlans[Step]):
    def __init__(
        self,
        context: RequestContext,
        targets: Sequence[UserIdentifier],
        actions: Sequence[ContainmentAction],
        names: dict[ContainmentAction, str],
        withheld: str | None = None,
        onprem_hint: str | None = None,
    ) -> None:
        super().__init__(context, targets, actions)
        self._names = names  # the Graph action each containment action is audited as
        self._kinds: list[Kind] = [Kind() for _ in targets]
        self._results: dict[int, TargetResult] = {}
        self._withheld = withheld  # why disableAccount was not asked for, when the caller may not
        self._onprem_hint = onprem_hint  # what would disable a synced user in Active Directory too

    def learn(self, index: int, kind: Kind) -> None:
        """What the verdict needs to know of the target (revoke.containment.verdict.kind_of)."""
        self._kinds[index] = kind

    def kind(self, index: int) -> Kind:
        return self._kinds[index]

    def add(self, index: int, step: Step, result: ActionResult) -> None:
        """The result of `step` (which must be the target's next) on target `index`."""
        name = self._names[step] if isinstance(step, ContainmentAction) else step.value
        records = self._record(index, name, step, result)
        verdict, why = None, None
        if len(records) == len(self._plans[index]):
            kind = self._kinds[index]
            judged = judge(
                self._targets[index].value,
                records,
                external=kind.external,
                withheld=self._withheld,
                synced=kind.synced,
                onprem_hint=self._onprem_hint,
            )
            self._results[index] = judged
            # Not contained: why. Contained by revocation alone: what that leaves open.
            verdict, why = judged.contained, judged.detail
        self._audit(index, name, result, result.detail or why, verdict)

    def confirmed(self, index: int) -> tuple[Step, ...]:
        """The steps Graph confirmed for target `index` (a dry run confirms none)."""
        return tuple(
            step
            for step, record in zip(self._plans[index], self._records[index], strict=False)
            if record.result.outcome.confirmed_by_graph
        )

    def results(self) -> tuple[TargetResult, ...]:
        return tuple(self._results[i] for i in range(len(self._targets)))
