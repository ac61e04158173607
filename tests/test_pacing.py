"""The pacer that spaces Identity Protection calls (riskyUsers/dismiss) a second apart in the process."""

from __future__ import annotations

from revoke.deadline import Deadline
from revoke.graph.pacing import Pacer


def test_the_first_turn_is_free_and_a_turn_that_would_outlast_the_deadline_is_refused() -> None:
    now = [100.0]
    pacer = Pacer(30.0, clock=lambda: now[0])

    assert pacer.wait_turn(Deadline(5)) is True
    assert pacer.wait_turn(Deadline(5)) is False  # the next slot is 30 s away; the budget is 5 s
    now[0] += 30.0
    assert pacer.wait_turn(Deadline(5)) is True  # a refused turn reserved nothing


def test_turns_are_spaced_by_the_interval() -> None:
    now = [0.0]
    slept: list[float] = []
    pacer = Pacer(1.0, clock=lambda: now[0], sleep=slept.append)

    assert pacer.wait_turn(Deadline(60)) and pacer.wait_turn(Deadline(60)) and pacer.wait_turn(Deadline(60))
    assert slept == [1.0, 2.0]  # the second call waits 1 s, the third 2 s: one per second
