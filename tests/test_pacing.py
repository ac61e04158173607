"""The pacer that spaces Identity Protection calls (confirmCompromised and riskyUsers/dismiss) a second apart in the process."""

from __future__ import annotations

from revoke.deadline import Deadline
from revoke.graph.pacing import Pacer


def test_the_first_turn_is_free_and_a_turn_that_would_outlast_the_deadline_is_refused() -> None:
    now = [100.0]
    pacer = Pacer(30.0, clock=lambda: now[0])

    assert pacer.take_turn(Deadline(5)) == 0.0
    assert pacer.take_turn(Deadline(5)) is None  # the next slot is 30 s away; the budget is 5 s
    now[0] += 30.0
    assert pacer.take_turn(Deadline(5)) == 0.0  # a refused turn reserved nothing


def test_turns_are_spaced_by_the_interval() -> None:
    now = [0.0]
    pacer = Pacer(1.0, clock=lambda: now[0])

    waits = [pacer.take_turn(Deadline(60)) for _ in range(3)]
    assert waits == [0.0, 1.0, 2.0]  # the second call waits 1 s, the third 2 s: one per second
