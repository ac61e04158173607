"""Spending the hourly action budget on one step of a containment or a release.

Units are reserved before anything is sent, one per target; the targets past what was granted
are refused, saying when the budget frees up; when the budget's store cannot answer, every
target is deferred with nothing sent (the budget fails closed). Afterwards the units of targets
nothing reached, and of users Graph does not know, go back: the budget counts what was sent to
someone, so an outage or made-up ids cannot spend the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol, TypeVar

from revoke.deadline import Deadline
from revoke.errors import BudgetUnavailable
from revoke.outcomes import ActionResult, Outcome, UnexpectedFailure
from revoke.settings import Settings

if TYPE_CHECKING:
    from revoke.policy.budget import ActionBudget, Reservation


StepT = TypeVar("StepT", bound=Enum)
StepT_contra = TypeVar("StepT_contra", bound=Enum, contravariant=True)


class Settles(Protocol[StepT_contra]):
    """A ledger: where a step's result for a target is written, and read back."""

    def add(self, index: int, step: StepT_contra, result: ActionResult, /) -> None: ...

    def result_of(self, index: int, step: StepT_contra, /) -> ActionResult | None: ...


@dataclass(frozen=True)
class Admission:
    """The targets a step may be sent for now, and whether the budget refused any."""

    granted: list[int]
    refused_any: bool = False
    reservation: Reservation | None = None


class BudgetGate:
    def __init__(self, settings: Settings, budget: ActionBudget | None) -> None:
        self._settings = settings
        self._budget = budget  # None: REVOKE_ACTION_BUDGET=off

    def admit(
        self, step: StepT, indexes: list[int], ledger: Settles[StepT], deadline: Deadline, *, queue: bool = False
    ) -> Admission:
        """Reserve one unit of `step`'s budget per target. The request queue (`queue`) draws on the
        whole budget; HTTP callers on their share of it."""
        if self._budget is None or self._settings.budget_for(step.value) is None:
            return Admission(indexes)
        try:
            reservation = self._budget.reserve(step.value, len(indexes), deadline, queue=queue)
        except BudgetUnavailable as problem:
            unavailable = ActionResult(Outcome.DEFERRED, detail=f"{problem}; nothing sent (the budget fails closed)")
            for i in indexes:
                ledger.add(i, step, unavailable)
            return Admission([])
        refused = ActionResult(Outcome.REFUSED, detail=reservation.refusal)
        for i in indexes[reservation.granted :]:
            ledger.add(i, step, refused)
        granted = indexes[: reservation.granted]
        return Admission(granted, len(granted) < len(indexes), reservation)

    def refund_unsent(self, admission: Admission, step: StepT, ledger: Settles[StepT], deadline: Deadline) -> None:
        """Units back for the granted targets whose result shows nothing reached Graph, or a user
        Graph does not know."""
        if self._budget is None or admission.reservation is None:
            return
        unsent = sum(1 for i in admission.granted if _charge_back(ledger.result_of(i, step)))
        if unsent:
            self._budget.refund(admission.reservation, unsent, deadline)


def _charge_back(result: ActionResult | None) -> bool:
    """Whether a granted unit goes back: Graph does not know the user, or nothing reached Graph.

    An unexpected internal failure keeps its unit: whether anything was sent is not known.
    """
    if result is None or isinstance(result, UnexpectedFailure):
        return False
    return result.outcome is Outcome.NOT_FOUND or (result.attempts == 0 and not result.outcome.is_success)
