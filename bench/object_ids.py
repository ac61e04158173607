"""Targets named by object id, as Sentinel names them: the common case, measured beside the UPN one.

When revocation is the only containing action, every target is looked up to learn whether it
is external; those look-ups go out beside the revocations, in batches of their own, so the
request should still take about as many round trips as its revocations alone.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import requests

from graphsim.harness import http_request
from graphsim.process import SimulatorProcess
from revoke.settings import Settings

BATCH_LIMIT = 20
BOUND_FACTOR = 1.5
SINGLE_ROUND_TRIPS = 1.5
OBJECT_ID_PARALLEL = 4  # issue 16's figure: 1,000 targets at REVOKE_MAX_PARALLEL=4 within 1.5x of the bound  # one round trip, with room for the in-process work around it

Measured = tuple[str, str, str, bool | None]  # measurement, result, target, met (None: no target)


def measure_object_ids(
    rtt: float, targets: int, repeat: int, calls: int, budget: float, sim: SimulatorProcess
) -> list[Measured]:
    parallel = Settings.from_environment().max_parallel
    _contain([sim.add_user("warm-oid@contoso.com").object_id])  # warm: token cached, connections open
    contained: list[int] = []

    def one_request(rep: int) -> None:
        users = sim.add_users(f"oid{rep}-{n}@contoso.com" for n in range(targets))
        results = _contain([user.object_id for user in users])
        contained.append(sum(1 for r in results if r["outcome"] == "contained"))

    measured = _median(one_request, repeat, budget)
    round_trips = math.ceil(targets / BATCH_LIMIT / parallel)
    bound = round_trips * rtt
    complete = "" if min(contained) == targets else f" ({min(contained):,}/{targets:,} contained)"
    rows: list[Measured] = [
        (f"{targets:,} targets by object id in one HTTP request (median of {len(contained)})",
         f"{measured:.2f} s{complete}", "", None),
        (f"By object id: measured / bound (ceil({targets:,}/{BATCH_LIMIT}/{parallel}) = {round_trips} round trips)",
         f"{measured / bound:.2f}x", f"≤ {BOUND_FACTOR}x", measured <= BOUND_FACTOR * bound),
    ]  # fmt: skip

    single = sim.add_user("single-oid@contoso.com").object_id
    plain = sim.add_user("plain-oid@contoso.com").object_id
    with requests.Session() as session:
        session.trust_env = False
        url = f"{sim.url}/v1.0/users/{plain}/revokeSignInSessions"
        headers = {"Authorization": f"Bearer {sim.request_token()}"}
        for _ in range(5):
            _contain([single])
            session.post(url, headers=headers, timeout=10).raise_for_status()
        trigger_ms, bare_ms = [], []
        for _ in range(calls):
            started = time.perf_counter()
            _contain([single])
            trigger_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            session.post(url, headers=headers, timeout=10).raise_for_status()
            bare_ms.append((time.perf_counter() - started) * 1000)
    p50, bare_p50 = statistics.median(trigger_ms), statistics.median(bare_ms)
    rows.append(
        (f"Single target by object id: wall p50, in round trips (bare requests.post p50 {bare_p50:.2f} ms, {calls} calls)",
         f"{p50:.2f} ms = {p50 / bare_p50:.2f} round trips", f"< {SINGLE_ROUND_TRIPS} round trips",
         p50 / bare_p50 < SINGLE_ROUND_TRIPS)
    )  # fmt: skip
    return rows


def _contain(users: list[str]) -> list[dict[str, Any]]:
    from revoke.app.triggers import revoke_http

    response = revoke_http(http_request({"users": users, "reason": "benchmark"}))
    if response.status_code != 200:
        raise RuntimeError(f"the HTTP trigger answered {response.status_code}: {response.get_body()[:300]!r}")
    results: list[dict[str, Any]] = json.loads(response.get_body())["results"]
    return results


def _median(run_once: Callable[[int], None], repeat: int, budget: float) -> float:
    times: list[float] = []
    spent = 0.0
    while len(times) < repeat and (not times or spent < budget):
        started = time.perf_counter()
        run_once(len(times))
        times.append(time.perf_counter() - started)
        spent += times[-1]
    return statistics.median(times)
