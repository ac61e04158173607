"""Every wait stays inside the invocation's budget, and one invocation cannot starve another.

The bounds asserted here are the product's promises (an invocation ends within a few
seconds of REVOKE_RETRY_BUDGET_SECONDS), not speed targets: each has seconds of margin.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.harness import http_request
from revoke.app.triggers import revoke_http
from tests.conftest import ADELE, MEGAN, body_of

BUDGET = 4.0
MARGIN = 3.0  # the last attempt's read timeout floor, the identity endpoint's own timeout, scheduling
FOUR_SECONDS = {"REVOKE_RETRY_BUDGET_SECONDS": str(int(BUDGET)), "REVOKE_MAX_USERS": "1000"}


def timed_request(body: dict[str, Any]) -> tuple[float, Any]:
    started = time.monotonic()
    response = revoke_http(http_request(body))
    return time.monotonic() - started, response


def people(graph: GraphSimulator, count: int, prefix: str = "person") -> list[str]:
    return [graph.add_user(f"{prefix}{n:04}@contoso.com").user_principal_name for n in range(count)]


@pytest.mark.parametrize("settings", [FOUR_SECONDS])
def test_a_stalled_identity_endpoint_ends_one_large_invocation_near_its_budget(app: GraphSimulator) -> None:
    app.inject(Fault(delay=30.0, identity=True, times=None))

    elapsed, response = timed_request({"users": people(app, 400)})
    print(f"\ndeadlines: stalled identity endpoint, 400 targets, budget {BUDGET:.0f} s: ended after {elapsed:.2f} s")

    assert response.status_code == 503
    assert {r["outcome"] for r in body_of(response)["results"]} == {"deferred"}
    assert elapsed < BUDGET + MARGIN


@pytest.mark.parametrize("settings", [FOUR_SECONDS])
def test_a_stalled_identity_endpoint_ends_six_concurrent_invocations_near_their_budget(app: GraphSimulator) -> None:
    app.inject(Fault(delay=30.0, identity=True, times=None))
    bodies = [{"users": people(app, 30, prefix=f"team{n}-")} for n in range(5)] + [{"users": [ADELE[0]]}]

    with ThreadPoolExecutor(max_workers=6) as pool:
        timings = list(pool.map(timed_request, bodies))

    print(
        f"\ndeadlines: stalled identity endpoint, 6 concurrent invocations: slowest {max(t for t, _ in timings):.2f} s"
    )
    assert [response.status_code for _, response in timings] == [503] * 6
    assert max(elapsed for elapsed, _ in timings) < BUDGET + MARGIN


@pytest.mark.parametrize("settings", [FOUR_SECONDS])
def test_a_stalled_graph_ends_a_large_invocation_near_its_budget(app: GraphSimulator) -> None:
    """Batches queued behind stalled ones check the deadline before they start, and are not sent late."""
    users = people(app, 400)
    app.inject(Fault(delay=2.5, match=lambda path: path.endswith("/revokeSignInSessions"), times=None))

    elapsed, response = timed_request({"users": users})

    outcomes = [r["outcome"] for r in body_of(response)["results"]]
    print(
        f"\ndeadlines: Graph stalls 2.5 s per batch, 400 targets: ended after {elapsed:.2f} s, {outcomes.count('deferred')} deferred"
    )
    assert elapsed < BUDGET + MARGIN
    assert set(outcomes) <= {"contained", "deferred"}
    assert "deferred" in outcomes
    assert outcomes.count("contained") == len(app.revocations)


# A budget the large request's ten round trips fit in, on a busy machine too: this is about fairness.
@pytest.mark.parametrize(
    "settings", [{"REVOKE_MAX_USERS": "1000", "REVOKE_MAX_PARALLEL": "4", "REVOKE_RETRY_BUDGET_SECONDS": "10"}]
)
def test_a_small_request_beside_a_large_one_finishes_in_about_one_round_trip(app: GraphSimulator) -> None:
    round_trip = 0.3
    app.latency = round_trip
    large = {"users": people(app, 800)}  # 40 batches, 4 in flight: about ten round trips
    small = {"users": [ADELE[0], MEGAN[0]]}
    revoke_http(http_request({"users": [ADELE[0]]}))  # fetch the token first; it is not what is measured
    large_started = threading.Event()

    def run_large() -> tuple[float, Any]:
        large_started.set()
        return timed_request(large)

    with ThreadPoolExecutor(max_workers=2) as pool:
        large_run = pool.submit(run_large)
        large_started.wait()
        time.sleep(round_trip / 2)  # the large request's first batches are in flight
        small_elapsed, small_response = timed_request(small)
        large_elapsed, large_response = large_run.result()

    print(
        f"\nfairness: 2 targets beside 800 (round trip {round_trip} s): {small_elapsed:.2f} s; the 800: {large_elapsed:.2f} s"
    )
    assert (small_response.status_code, large_response.status_code) == (200, 200)
    assert large_elapsed > 5 * round_trip
    assert small_elapsed < 2 * round_trip
