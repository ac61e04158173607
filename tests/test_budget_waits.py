"""Every wait inside the invocation's budget, and Identity Protection's own limit respected.

Through the HTTP trigger, against the simulator with the fault each test names: a batch that
answers late after a throttled one, a black-holed address, an answer that drips in a byte at
a time, and Identity Protection's 1 request per second per tenant. The bounds are the
product's promise (an invocation ends near REVOKE_RETRY_BUDGET_SECONDS), each with more
than a second of margin, not speed targets.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.faults import BlackHole
from graphsim.harness import LogCapture, app_settings, http_request
from revoke.app.triggers import revoke_http
from revoke.graph.pacing import IDENTITY_PROTECTION
from tests.conftest import ADELE, MEGAN, body_of
from tests.test_actions import CONFIRM, DISABLE, EVERY_ACTION

MARGIN = 1.5  # scheduling on a busy machine; every overrun these tests catch was 2.5 s or more


def timed(request: dict[str, Any]) -> tuple[float, Any]:
    started = time.monotonic()
    response = revoke_http(http_request(request))
    return time.monotonic() - started, response


def outcomes(response: Any) -> list[str]:
    return [result["outcome"] for result in body_of(response)["results"]]


# --- 6a. the retry loop checks the budget again just before it sleeps ----------------------
@pytest.mark.parametrize(
    "settings", [{"REVOKE_ACTIONS": DISABLE, "REVOKE_RETRY_BUDGET_SECONDS": "6", "REVOKE_MAX_USERS": "40"}]
)
def test_a_slow_batch_after_a_throttled_one_does_not_stretch_the_wait_past_the_budget(app: GraphSimulator) -> None:
    """Batch one answers at once, one item throttled for 4 s; batch two answers 4.5 s later.
    By then the 4 s wait no longer fits: the throttled target is deferred, not slept for."""
    people = [app.add_user(f"person{n:02}@contoso.com").object_id for n in range(40)]
    throttled, slow = people[0], people[39]
    app.inject(Fault(status=429, headers={"Retry-After": "4"}, match=lambda path: path.endswith(throttled)))
    app.inject(Fault(delay=4.5, match=lambda path: path.endswith(slow)))

    elapsed, response = timed({"users": people})

    print(f"\nbudget waits: throttled then slow batch, 6 s budget: ended after {elapsed:.2f} s")
    assert elapsed < 6 + MARGIN
    assert outcomes(response).count("deferred") == 1
    assert body_of(response)["results"][0]["outcome"] == "deferred"
    assert app.disabled == set(people) - {throttled}


# --- 6b. no connect waits past the budget ----------------------------------------------------
@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": DISABLE}])
def test_a_black_holed_graph_address_ends_the_invocation_within_its_budget(app: GraphSimulator) -> None:
    """Connects to the address never complete; no library retries them past the 3 s budget."""
    with BlackHole() as hole, app_settings({"REVOKE_GRAPH_ENDPOINT": hole.url}):
        elapsed, response = timed({"users": [ADELE[1]]})

    print(f"\nbudget waits: black-holed Graph, 3 s budget: ended after {elapsed:.2f} s")
    assert elapsed < 3 + MARGIN
    assert outcomes(response) == ["deferred"]


# --- 6c. the whole answer by the deadline, not each read ------------------------------------
@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": DISABLE}])
def test_an_answer_that_drips_in_is_cut_off_at_the_deadline_and_the_target_deferred(
    app: GraphSimulator, logs: LogCapture
) -> None:
    """Graph disables the account, then sends its answer a byte every 0.3 s: 20 s for the whole."""
    app.inject(Fault(drip=0.3, batch_envelope=True, times=None))

    elapsed, response = timed({"users": [ADELE[1], MEGAN[1]]})

    print(f"\nbudget waits: dripping batch answer, 3 s budget: ended after {elapsed:.2f} s")
    assert elapsed < 3 + MARGIN
    assert outcomes(response) == ["deferred", "deferred"]  # Graph may have done it; it never said so


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": DISABLE}])
def test_a_single_answer_that_drips_in_is_cut_off_too(app: GraphSimulator) -> None:
    app.inject(Fault(status=200, body={"accountEnabled": False, "padding": "x" * 64}, drip=0.2, times=None))

    elapsed, response = timed({"users": [ADELE[1]]})

    assert elapsed < 3 + MARGIN
    assert outcomes(response) == ["deferred"]


# --- 5. confirmCompromised respects Identity Protection's limit ------------------------------
@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_MAX_USERS": "20"}])
def test_twenty_users_are_all_confirmed_not_deferred(app: GraphSimulator) -> None:
    people = [app.add_user(f"person{n:02}@contoso.com").object_id for n in range(20)]

    _, response = timed({"users": people, "actions": [CONFIRM]})

    assert outcomes(response) == ["not_contained"] * 20  # confirmed; confirmation alone contains nobody
    assert app.confirmed_compromised == dict.fromkeys(people, 1)
    assert app.identity_protection_throttled == 0


@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_RETRY_BUDGET_SECONDS": "8"}])
def test_concurrent_invocations_space_their_confirmations_a_second_apart(app: GraphSimulator) -> None:
    """Three invocations at once: the process takes turns, so the tenant's limit is never hit."""
    people = [ADELE[1], MEGAN[1], app.add_user("lee.gu@contoso.com").object_id]

    with ThreadPoolExecutor(max_workers=3) as pool:
        responses = list(pool.map(lambda user: timed({"users": [user], "actions": [CONFIRM]})[1], people))

    assert [outcomes(response) for response in responses] == [["not_contained"]] * 3
    assert app.confirmed_compromised == dict.fromkeys(people, 1)
    assert app.identity_protection_throttled == 0


@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_RETRY_BUDGET_SECONDS": "8"}])
def test_a_429_without_retry_after_backs_off_at_least_a_second(app: GraphSimulator, logs: LogCapture) -> None:
    """Another app of the tenant used the second: the simulator throttles, and the retry waits it out."""
    while IDENTITY_PROTECTION.until_turn() > 0:  # this process's own last confirmation is not the point
        time.sleep(0.1)
    app.identity_protection_used_by_another_app()

    _, response = timed({"users": [ADELE[1]], "actions": [CONFIRM]})

    assert outcomes(response) == ["not_contained"]
    assert app.confirmed_compromised == {ADELE[1]: 1}
    assert app.identity_protection_throttled == 1  # one 429, then a wait long enough
    [event] = [e for e in logs.audit_events() if e["action"] == CONFIRM]
    assert event["attempts"] == 2


@pytest.fixture
def commenting(graph: GraphSimulator, settings: dict[str, str]) -> None:
    from tests.test_incident_comment_flow import WORKSPACE

    settings.update({"REVOKE_SENTINEL_WORKSPACE": WORKSPACE, "REVOKE_ARM_ENDPOINT": graph.arm_url})


def test_an_arm_answer_that_drips_in_is_cut_off_and_the_comment_deferred(commenting: None, app: GraphSimulator) -> None:
    """ARM writes the comment, then trickles its answer out; the comment has its 5 s floor, no more."""
    from tests.test_incident_comment_flow import INCIDENT

    app.inject_arm(Fault(drip=0.3, times=None))

    elapsed, response = timed({"users": [ADELE[0]], "incidentId": INCIDENT})

    print(f"\nbudget waits: dripping ARM answer, 3 s budget, 5 s comment floor: ended after {elapsed:.2f} s")
    assert elapsed < 5 + MARGIN
    assert response.status_code == 200  # the containment's outcome, whatever ARM does
    assert body_of(response)["incidentComment"]["status"] == "deferred"
