"""What the budget gate gives back after a step: the units of targets nothing reached, and of users
Graph does not know; never the unit of a step an internal error cut short, whoever's step it was."""

from __future__ import annotations

from typing import Any

import pytest

from revoke.actions import ActiveDirectoryAction, ReleaseAction
from revoke.containment import action_run, active_directory
from revoke.containment.budgeting import BudgetGate
from revoke.deadline import Deadline
from revoke.outcomes import ActionResult, Outcome
from revoke.policy.budget import Reservation
from revoke.settings import Settings


class CountingBudget:
    """Grants every unit asked for, and counts what is given back."""

    def __init__(self) -> None:
        self.refunded = 0

    def reserve(self, action: str, asked: int, deadline: Deadline, *, queue: bool = False) -> Reservation:
        return Reservation(action, asked, asked, limit=50, minute=0)

    def refund(self, reservation: Reservation, units: int, deadline: Deadline) -> bool:
        self.refunded += units
        return True


class Results:
    def __init__(self, result: ActionResult) -> None:
        self._result = result

    def add(self, index: int, step: Any, result: ActionResult, /) -> None:
        raise AssertionError("every target is granted")

    def result_of(self, index: int, step: Any, /) -> ActionResult | None:
        return self._result


@pytest.mark.parametrize(
    ("step", "result", "given_back"),
    [
        (ReleaseAction.ENABLE_ACCOUNT, ActionResult(Outcome.NOT_FOUND, 404, attempts=1), 1),
        (ReleaseAction.ENABLE_ACCOUNT, ActionResult(Outcome.DEFERRED, detail="no token"), 1),
        (ReleaseAction.ENABLE_ACCOUNT, ActionResult(Outcome.FAILED, 403, attempts=1), 0),
        (ReleaseAction.ENABLE_ACCOUNT, action_run.UNEXPECTED, 0),
        (ActiveDirectoryAction.DISABLE, active_directory.UNEXPECTED, 0),
    ],
    ids=["not found", "nothing sent", "sent and refused", "a release cut short", "Active Directory cut short"],
)
def test_a_unit_goes_back_only_when_nothing_reached_anyone(step: Any, result: ActionResult, given_back: int) -> None:
    budget = CountingBudget()
    gate = BudgetGate(Settings.from_environment({}), budget)  # type: ignore[arg-type]
    deadline = Deadline(5)

    admitted = gate.admit(step, [0], Results(result), deadline)
    gate.refund_unsent(admitted, step, Results(result), deadline)

    assert admitted.granted == [0]
    assert budget.refunded == given_back
