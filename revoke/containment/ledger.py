"""One request's record of every action on every target, audited as each result lands.

Each target gets exactly one result per action asked for, and one audit event for each;
the event of its last action carries the verdict (`contained`).
"""

from __future__ import annotations

from collections.abc import Sequence

from revoke.actions import ContainmentAction
from revoke.audit.events import RequestContext, audit_event, emit
from revoke.containment.verdict import ActionRecord, TargetResult, judge
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult


class Ledger:
    def __init__(
        self,
        context: RequestContext,
        targets: Sequence[UserIdentifier],
        actions: Sequence[ContainmentAction],
        names: dict[ContainmentAction, str],
        withheld: str | None = None,
    ) -> None:
        self._context = context
        self._targets = targets
        self._actions = tuple(actions)
        self._names = names  # the Graph action each containment action is audited as
        self._records: list[list[ActionRecord]] = [[] for _ in targets]
        self._external: list[bool | None] = [False] * len(targets)
        self._results: dict[int, TargetResult] = {}
        self._withheld = withheld  # why disableAccount was not asked for, when the caller may not

    def mark_external(self, index: int, external: bool | None = True) -> None:
        """Whether the target is an external (guest) user; None: it could not be told."""
        self._external[index] = external

    def is_open(self, index: int, action: ContainmentAction) -> bool:
        """Whether `action` on target `index` still has no result."""
        return self._actions.index(action) == len(self._records[index])

    def open_targets(self, action: ContainmentAction) -> list[int]:
        return [i for i in range(len(self._targets)) if self.is_open(i, action)]

    def last(self, index: int) -> ActionResult | None:
        records = self._records[index]
        return records[-1].result if records else None

    def result_of(self, index: int, action: ContainmentAction) -> ActionResult | None:
        """The result `action` got for target `index`; None while it has none."""
        position = self._actions.index(action)
        records = self._records[index]
        return records[position].result if position < len(records) else None

    def add(self, index: int, action: ContainmentAction, result: ActionResult) -> None:
        """The result of `action` (which must be the target's next) on target `index`."""
        assert self.is_open(index, action), "actions are recorded once each, in order"
        records = self._records[index]
        records.append(ActionRecord(self._names[action], result))
        verdict, why = None, None
        if len(records) == len(self._actions):
            judged = judge(self._targets[index].value, records, external=self._external[index], withheld=self._withheld)
            self._results[index] = judged
            # Not contained: why. Contained by revocation alone: what that leaves open.
            verdict, why = judged.contained, judged.detail
        self._audit(index, records[-1], verdict, why)

    def settle(self, index: int, result: ActionResult) -> None:
        """`result` for every action on target `index` that has none yet (refused, not found, ...)."""
        for action in self._actions[len(self._records[index]) :]:
            self.add(index, action, result)

    def results(self) -> tuple[TargetResult, ...]:
        return tuple(self._results[i] for i in range(len(self._targets)))

    def _audit(self, index: int, record: ActionRecord, contained: bool | None, why: str | None) -> None:
        """`why` says, on the target's last event, why it is not contained when its action's detail does not."""
        result = record.result
        emit(
            audit_event(
                self._context,
                result.outcome,
                action=record.action,
                user=self._targets[index].value,
                graph_status=result.status,
                graph_request_id=result.request_id,
                attempts=result.attempts,
                duration_ms=result.duration_ms,
                detail=result.detail or why,
                contained=contained,
            )
        )
