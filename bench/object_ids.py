"""Targets named by object id, as Sentinel names them: the common case, measured beside the UPN one.

When revocation is the only containing action, every target is looked up to learn whether it
is external; those look-ups go out beside the revocations, 15 users a request, in batches of
their own, so the request should take about as many round trips as its revocations alone.
The second measurement names every target by object id with disableAccount and
revokeSignInSessions, Sentinel's common playbook: it shows what its look-ups cost wherever
every target needs one (a hybrid user's on-premises properties, for one).
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
BOUND_FACTOR = 1.3
SINGLE_ROUND_TRIPS = 1.5  # one round trip, with room for the in-process work around it
OBJECT_ID_PARALLEL = 4  # the figure issues 16 and 24 set: 1,000 targets at REVOKE_MAX_PARALLEL=4
DISABLE_AND_REVOKE = ("disableAccount", "revokeSignInSessions")

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

    first = len(sim.requests)
    measured = _median(one_request, repeat, budget)
    round_trips = math.ceil(targets / BATCH_LIMIT / parallel)
    bound = round_trips * rtt
    complete = "" if min(contained) == targets else f" ({min(contained):,}/{targets:,} contained)"
    rows: list[Measured] = [
        (f"{targets:,} targets by object id in one HTTP request (median of {len(contained)})",
         f"{measured:.2f} s{complete}", "", None),
        (f"By object id: measured / bound (ceil({targets:,}/{BATCH_LIMIT}/{parallel}) = {round_trips} round trips)",
         f"{measured / bound:.2f}x", f"≤ {BOUND_FACTOR}x", measured <= BOUND_FACTOR * bound),
        (f"By object id: look-ups per request of {targets:,} targets", lookups_text(sim, first, len(contained)), "",
         None),
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


def measure_disable_and_revoke(
    rtt: float, targets: int, repeat: int, budget: float, sim: SimulatorProcess
) -> list[Measured]:
    """N targets by object id, disableAccount then revokeSignInSessions, at the settings in force."""
    parallel = Settings.from_environment().max_parallel
    _contain([sim.add_user("warm-dr@contoso.com").object_id], DISABLE_AND_REVOKE)
    contained: list[int] = []

    def one_request(rep: int) -> None:
        users = sim.add_users(f"dr{rep}-{n}@contoso.com" for n in range(targets))
        results = _contain([user.object_id for user in users], DISABLE_AND_REVOKE)
        contained.append(sum(1 for r in results if r["outcome"] == "contained"))

    first = len(sim.requests)
    measured = _median(one_request, repeat, budget)
    round_trips = len(DISABLE_AND_REVOKE) * math.ceil(targets / BATCH_LIMIT / parallel)
    complete = "" if min(contained) == targets else f" ({min(contained):,}/{targets:,} contained)"
    name = f"{targets:,} targets by object id, disableAccount and revokeSignInSessions, REVOKE_MAX_PARALLEL={parallel}"
    return [
        (f"{name} (median of {len(contained)})", f"{measured:.2f} s{complete}", "", None),
        (f"Disable and revoke: measured / bound (2 x ceil({targets:,}/{BATCH_LIMIT}/{parallel}) = {round_trips} round trips)",
         f"{measured / (round_trips * rtt):.2f}x", "", None),
        (f"Disable and revoke: look-ups per request of {targets:,} targets", lookups_text(sim, first, len(contained)),
         "", None),
    ]  # fmt: skip


def lookups_text(sim: SimulatorProcess, first: int, requests: int) -> str:
    """The look-ups the timed requests sent (GETs of users, single or batched), per request, with their size."""
    recorded = sim.requests[first:]
    lookups = [r for r in recorded if r.method == "GET" and r.named_users]
    if not lookups:
        return "none"
    users = sum(len(r.named_users) for r in lookups)
    batches = sum(1 for r in recorded if r.path.endswith("/$batch") and b'"GET"' in r.body)
    per_request = len(lookups) / requests
    return f"{per_request:.0f} ({users / len(lookups):.1f} users each, {batches / requests:.0f} batches)"


def _contain(users: list[str], actions: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    from revoke.app.triggers import revoke_http

    document: dict[str, Any] = {"users": users, "reason": "benchmark"}
    if actions:
        document["actions"] = list(actions)
    response = revoke_http(http_request(document))
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
