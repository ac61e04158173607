"""`make bench`'s rows for the audit table: a single-target request with its audit events also sent
to the workspace table, against the same request without, in the same run.

The simulated Logs Ingestion endpoint is loopback HTTPS at the same RTT as Graph, so the difference is
one more round trip and the client's own work (gzip, TLS on a kept-alive connection, its pipeline, the
thread the upload runs on). `python -c` below runs these rows alone (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import statistics
import time

from graphsim.harness import app_settings, http_request
from graphsim.process import SimulatorProcess

Measured = tuple[str, str, str, bool | None]  # measurement, result, target, met (None: no target)
WARM_CALLS = 5


def measure_audit_delivery(rtt: float, calls: int, sim: SimulatorProcess) -> list[Measured]:
    """Wall p50/p99 with delivery on, and the p50 difference on - off, at `rtt` and at RTT 0."""
    user = sim.add_user("audited@contoso.com").user_principal_name
    rows: list[Measured] = []
    for latency in (rtt, 0.0):
        sim.latency = latency
        try:
            off = _warm_call_times_ms(user, calls)
            with app_settings(sim.ingestion_environment()):
                on = _warm_call_times_ms(user, calls)
        finally:
            sim.latency = rtt
        off_p50, (on_p50, on_p99) = _percentiles(off)[0], _percentiles(on)
        at = f"{calls} calls at {latency * 1000:g} ms RTT"
        rows += [
            (f"Single target, audit delivery on: wall p50 / p99 ({at})", f"{on_p50:.2f} / {on_p99:.2f} ms", "", None),
            (
                f"Audit delivery's cost per single-target request, p50 on - off ({at})",
                f"{on_p50 - off_p50:.2f} ms",
                "",
                None,
            ),
        ]
    return rows


def _warm_call_times_ms(user: str, calls: int) -> list[float]:
    """`calls` single-target requests, on an instance made warm first (tokens fetched, connections open)."""
    from revoke.app.triggers import revoke_http

    times = []
    for n in range(WARM_CALLS + calls):
        started = time.perf_counter()
        response = revoke_http(http_request({"user": user, "reason": "benchmark"}))
        if response.status_code != 200:
            raise RuntimeError(f"the HTTP trigger answered {response.status_code}: {response.get_body()[:300]!r}")
        if n >= WARM_CALLS:
            times.append((time.perf_counter() - started) * 1000)
    return times


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]
