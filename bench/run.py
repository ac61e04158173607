"""`python -m bench.run`: how fast the function app revokes sessions, against the loopback simulator.

One run prints one markdown table (medians over repetitions) ready to paste into
docs/PERFORMANCE.md; progress goes to stderr. Everything talks to 127.0.0.1 only, and every
measurement stops repeating once it has used its time budget.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from bench.child import bulk_user_names
from bench.cold import CORE_PATH_ONLY, LOOPBACK_ONLY, ROOT, cold_and_bare, import_times, is_project, peak_rss
from graphsim.harness import app_settings, http_request
from graphsim.identity_endpoint import IDENTITY_PATH
from graphsim.process import SimulatorProcess
from revoke.settings import SettingNames, Settings

BATCH_LIMIT = 20  # Graph's limit on requests in one JSON batch
DEPENDENCIES = ("azure.functions", "azure.identity", "requests")

# The targets this machine (2 cores, 20 ms RTT) should meet; printed next to the numbers, never asserted.
BOUND_FACTOR = 1.5
NAIVE_SPEEDUP = 40.0
SINGLE_OVERHEAD_P50_MS = 2.0
COLD_START_FACTOR = 1.2
PEAK_RSS_MIB = 80
PARALLEL_SWEEP = (2, 4, 8, 16)


@dataclass(frozen=True)
class Config:
    rtt: float  # seconds
    targets: int
    repeat: int
    calls: int  # single-target calls
    budget: float  # seconds one measurement may spend repeating itself
    command: str


@dataclass(frozen=True)
class Row:
    measurement: str
    result: str
    target: str = ""
    verdict: str = ""


# --- the measurements -------------------------------------------------------------------
def measure_bulk(config: Config, sim: SimulatorProcess) -> list[Row]:
    """N targets in one request through the HTTP trigger, against one at a time and the physical bound."""
    parallel = Settings.from_environment().max_parallel
    _revoke_http(
        {"user": sim.add_user("warm@contoso.com").user_principal_name, "reason": "benchmark"}
    )  # the instance is warm, token cached
    first_request = len(sim.requests)
    revoked: list[int] = []

    def one_request(rep: int) -> None:
        names = [user.user_principal_name for user in sim.add_users(bulk_user_names(f"bulk{rep}-", config.targets))]
        response = _revoke_http({"users": names, "reason": "benchmark"})
        revoked.append(sum(1 for r in json.loads(response.get_body())["results"] if r["outcome"] == "contained"))

    measured = _median_seconds(one_request, config)
    reps = len(revoked)
    wire = [r for r in sim.requests[first_request:] if not r.in_batch and not r.path.startswith(IDENTITY_PATH)]
    posts = sum(1 for r in wire if r.method == "POST")
    items = sum(1 for r in sim.requests[first_request:] if r.in_batch)
    naive = measure_naive(config)
    bound = math.ceil(math.ceil(config.targets / BATCH_LIMIT) / parallel) * config.rtt
    n = f"{config.targets:,}"
    complete = "" if min(revoked) == config.targets else f" ({min(revoked):,}/{config.targets:,} contained)"
    return [
        Row(f"{n} targets in one HTTP request (median of {reps})", _seconds(measured) + complete),
        Row(
            f"Physical bound: ceil({n}/{BATCH_LIMIT}/{parallel}) x RTT, REVOKE_MAX_PARALLEL={parallel}", _seconds(bound)
        ),
        Row(
            "Measured / bound",
            f"{measured / bound:.2f}x",
            f"≤ {BOUND_FACTOR}x",
            _verdict(measured <= BOUND_FACTOR * bound),
        ),
        Row(f"Naive loop: one POST per user on one session (median of {naive[1]})", _seconds(naive[0])),
        Row(
            "Naive / measured",
            f"{naive[0] / measured:.1f}x",
            f"≥ {NAIVE_SPEEDUP:.0f}x",
            _verdict(naive[0] >= NAIVE_SPEEDUP * measured),
        ),
        Row("Graph POSTs on the wire per target (batches count once)", f"{posts / (config.targets * reps):.3f}"),
        Row("Batched sub-requests per target", f"{items / (config.targets * reps):.3f}"),
    ]


def measure_parallel_sweep(config: Config, sim: SimulatorProcess) -> list[Row]:
    """The bulk request at each REVOKE_MAX_PARALLEL, to choose the default from measurement."""
    rows = []
    for parallel in PARALLEL_SWEEP:
        with app_settings({**sim.environment(), SettingNames.MAX_USERS: str(config.targets),
                           SettingNames.MAX_PARALLEL: str(parallel)}):  # fmt: skip
            _revoke_http(
                {"user": sim.add_user(f"warm-p{parallel}@contoso.com").user_principal_name, "reason": "benchmark"}
            )

            def one_request(rep: int, parallel: int = parallel) -> None:
                users = sim.add_users(bulk_user_names(f"sweep{parallel}-{rep}-", config.targets))
                _revoke_http({"users": [user.user_principal_name for user in users], "reason": "benchmark"})

            measured = _median_seconds(one_request, config)
        bound = math.ceil(math.ceil(config.targets / BATCH_LIMIT) / parallel) * config.rtt
        rows.append(
            Row(
                f"{config.targets:,} targets at REVOKE_MAX_PARALLEL={parallel}: wall (bound, ratio)",
                f"{_seconds(measured)} ({_seconds(bound)}, {measured / bound:.2f}x)",
            )
        )
    return rows


def measure_naive(config: Config) -> tuple[float, int]:
    """The same N revocations as one requests.post per user, one kept-alive session, one token."""
    with SimulatorProcess(latency=config.rtt) as sim:
        token = sim.request_token()
        session = requests.Session()
        session.trust_env = False  # loopback only, whatever proxies the environment names
        reps = 0

        def one_loop(rep: int) -> None:
            nonlocal reps
            for user in sim.add_users(bulk_user_names(f"naive{rep}-", config.targets)):
                url = f"{sim.url}/v1.0/users/{user.user_principal_name}/revokeSignInSessions"
                session.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).raise_for_status()
            reps += 1

        median = _median_seconds(one_loop, config)
        session.close()
    return median, reps


def measure_single(config: Config, sim: SimulatorProcess) -> list[Row]:
    """In-process cost of a one-target request beyond its Graph round trip.

    The round trip is what a bare `requests.post` to the same simulator takes, timed in
    turn with the trigger calls: the simulated RTT alone would leave the simulator's own
    work and its sleep's overshoot on the app's side of the ledger.
    """
    user = sim.add_user("single@contoso.com").user_principal_name
    plain = sim.add_user("plain@contoso.com").object_id
    with requests.Session() as session:
        session.trust_env = False
        url = f"{sim.url}/v1.0/users/{plain}/revokeSignInSessions"
        headers = {"Authorization": f"Bearer {sim.request_token()}"}

        def bare_call() -> float:
            started = time.perf_counter()
            session.post(url, headers=headers, timeout=10).raise_for_status()
            return (time.perf_counter() - started) * 1000

        for _ in range(5):  # warm: token fetched, connections open
            _revoke_http({"user": user, "reason": "benchmark"})
            bare_call()
        trigger_ms, bare_ms = [], []
        for _ in range(config.calls):
            trigger_ms.extend(_call_times_ms(user, 1))
            bare_ms.append(bare_call())
    sim.latency = 0.0
    try:
        at_zero = _call_times_ms(user, config.calls)
    finally:
        sim.latency = config.rtt
    p50, p99 = _percentiles(trigger_ms)
    bare_p50, bare_p99 = _percentiles(bare_ms)
    p50_zero, p99_zero = _percentiles(at_zero)
    overhead_p50, overhead_p99 = p50 - bare_p50, p99 - bare_p50
    calls = f"{config.calls} calls at {_ms(config.rtt)}"
    return [
        Row(f"Single target through the HTTP trigger: wall p50 / p99 ({calls})", f"{p50:.2f} / {p99:.2f} ms"),
        Row(
            f"Graph round trip: bare requests.post, same simulator, p50 / p99 ({calls})",
            f"{bare_p50:.2f} / {bare_p99:.2f} ms",
        ),
        Row(
            "Single target: in-process overhead beyond the round trip, p50 / p99",
            f"{overhead_p50:.2f} / {overhead_p99:.2f} ms",
            f"p50 < {SINGLE_OVERHEAD_P50_MS:.0f} ms",
            _verdict(overhead_p50 < SINGLE_OVERHEAD_P50_MS),
        ),
        Row(f"Single target at RTT 0: wall p50 / p99 ({config.calls} calls)", f"{p50_zero:.2f} / {p99_zero:.2f} ms"),
    ]


def measure_cold_start(config: Config, sim: SimulatorProcess) -> list[Row]:
    """A fresh process to its first completed revocation, against one that only imports the dependencies."""
    user = sim.add_user("cold@contoso.com").user_principal_name
    cold, bare = cold_and_bare(sim, user, config.repeat, config.budget)
    cold_s, bare_s = statistics.median(c.wall for c in cold), statistics.median(b.wall for b in bare)
    cold_cpu, bare_cpu = statistics.median(c.cpu for c in cold), statistics.median(b.cpu for b in bare)
    return [
        Row(f"Cold start: fresh process to first revocation (median of {len(cold)})", _ms_text(cold_s)),
        Row("Fresh process importing only " + ", ".join(DEPENDENCIES), _ms_text(bare_s)),
        Row(
            "Cold / bare",
            f"{cold_s / bare_s:.2f}x",
            f"≤ {COLD_START_FACTOR}x",
            _verdict(cold_s <= COLD_START_FACTOR * bare_s),
        ),
        Row("Cold start: CPU time, cold / bare (medians)", f"{_ms_text(cold_cpu)} / {_ms_text(bare_cpu)}"),
    ]


def measure_imports(config: Config) -> list[Row]:
    """`python -X importtime -c "import function_app"`: the project's own modules against its dependencies."""
    runs = [import_times() for _ in range(max(1, min(config.repeat, 3)))]
    own = statistics.median(sum(us for name, (us, _) in run.items() if is_project(name)) for run in runs)
    total = statistics.median(run["function_app"][1] for run in runs)
    rows = [
        Row("Import function_app: total (cumulative)", _us(total)),
        Row("Import: project modules, sum of self time", _us(own)),
    ]
    for name in DEPENDENCIES:
        seen = [run[name][1] for run in runs if name in run]
        rows.append(
            Row(f"Import: {name} (cumulative)", _us(statistics.median(seen)) if seen else "not imported (lazy)")
        )
    project = sorted(((us, name) for name, (us, _) in runs[-1].items() if is_project(name)), reverse=True)
    for us, name in project[:3]:
        rows.append(Row(f"Import: {name} (self)", _us(us)))
    return rows


def measure_peak_rss(config: Config, sim: SimulatorProcess) -> list[Row]:
    """The N-target request in a fresh process; its peak RSS, and the RSS after imports alone."""
    sim.add_users(bulk_user_names("rss-", config.targets))
    report = peak_rss(sim, "rss-", config.targets)
    complete = "" if report["revoked"] == config.targets else f" ({report['revoked']:,}/{config.targets:,} contained)"
    peak_mib = report["rss_peak_kib"] / 1024
    return [
        Row(
            f"Peak RSS, {config.targets:,}-target request in a fresh process",
            f"{peak_mib:.1f} MiB (after imports: {report['rss_after_imports_kib'] / 1024:.1f} MiB)" + complete,
            f"< {PEAK_RSS_MIB} MiB",
            _verdict(peak_mib < PEAK_RSS_MIB),
        )
    ]


# The two costliest bodies of bench.body_ceiling; reading either at the largest
# REVOKE_MAX_BODY_BYTES must take well under the 2 s the trigger can spare for it.
COSTLIEST_BODIES = ("arrays nested 62 deep, repeated", "objects with a Type field nested 31 deep around one array")
COSTLIEST_BODY_TARGET_S = 2.0


def measure_costliest_bodies() -> list[Row]:
    """CPU seconds to read and refuse each costliest body at the 2 MiB ceiling, median of three fresh processes."""
    from bench.body_ceiling import MIB, run_child

    rows = []
    for case in COSTLIEST_BODIES:
        cpu = statistics.median(run_child(case, 2 * MIB)["cpu_s"] for _ in range(3))
        rows.append(
            Row(
                f"CPU to refuse a 2 MiB body: {case}",
                f"{cpu:.2f} s",
                f"< {COSTLIEST_BODY_TARGET_S:g} s",
                _verdict(cpu < COSTLIEST_BODY_TARGET_S),
            )
        )
    return rows


# --- helpers ----------------------------------------------------------------------------
def _revoke_http(document: dict[str, Any]) -> Any:
    from revoke.app.triggers import revoke_http

    response = revoke_http(http_request(document))
    if response.status_code != 200:
        raise RuntimeError(f"the HTTP trigger answered {response.status_code}: {response.get_body()[:300]!r}")
    return response


def _call_times_ms(user: str, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        _revoke_http({"user": user, "reason": "benchmark"})
        times.append((time.perf_counter() - started) * 1000)
    return times


def _median_seconds(run_once: Callable[[int], None], config: Config) -> float:
    """Run `run_once(rep)` up to `repeat` times, stopping early once the budget is spent; the median."""
    times: list[float] = []
    spent = 0.0
    while len(times) < config.repeat and (not times or spent < config.budget):
        started = time.perf_counter()
        run_once(len(times))
        times.append(time.perf_counter() - started)
        spent += times[-1]
    return statistics.median(times)


def _app_token_requests(sim: SimulatorProcess) -> int:
    """Token requests the app made: those for the Graph endpoint it is pointed at (the bench's own
    bare calls ask for https://graph.microsoft.com)."""
    identity = [urlsplit(r.path) for r in sim.requests if r.path.startswith(IDENTITY_PATH)]
    return sum(1 for parts in identity if parse_qs(parts.query).get("resource") == [sim.url])


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


def _verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def _seconds(seconds: float) -> str:
    return f"{seconds:.3f} s"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g} ms RTT"


def _ms_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _us(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f} ms"


@contextmanager
def _host_like_logging() -> Iterator[None]:
    """Format every INFO record and drop it, as the worker formats and ships logs to the host."""

    class Discard(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            self.format(record)

    root = logging.getLogger()
    handler, level = Discard(logging.INFO), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    dirty = " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return (git("rev-parse", "--short", "HEAD") or "unknown") + dirty


def _table(config: Config, rows: list[Row]) -> str:
    lines = [
        f"`{config.command}` · commit `{_commit()}` · Python {platform.python_version()} · "
        f"{os.cpu_count()} CPUs · simulated RTT {config.rtt * 1000:g} ms",
        "",
        "| Measurement | Result | Target | Verdict |",
        "|---|---|---|---|",
    ]
    lines += [f"| {row.measurement} | {row.result} | {row.target} | {row.verdict} |" for row in rows]
    return "\n".join(lines)


# --- the command line ---------------------------------------------------------------------
def parse_config(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=20.0, help="simulated Graph round trip (default 20)")
    parser.add_argument("--targets", type=int, help="users in the bulk request, 1..1000 (default 1000; quick 100)")
    parser.add_argument("--repeat", type=int, help="repetitions per measurement (default 5; quick 2)")
    parser.add_argument("--calls", type=int, help="single-target calls for the percentiles (default 200; quick 50)")
    parser.add_argument(
        "--budget-seconds", type=float, help="stop repeating a measurement after this long (default 30; quick 5)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: fewer targets, repetitions and calls (< 60 s)"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    config = Config(
        rtt=args.rtt_ms / 1000,
        targets=args.targets or (100 if quick else 1000),
        repeat=args.repeat or (2 if quick else 5),
        calls=args.calls or (50 if quick else 200),
        budget=args.budget_seconds or (5.0 if quick else 30.0),
        command=shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)]),
    )
    if not 1 <= config.targets <= 1000:
        parser.error("--targets must be 1..1000 (REVOKE_MAX_USERS allows at most 1000)")
    if config.repeat < 1 or config.calls < 2 or config.rtt < 0:
        parser.error("--repeat must be at least 1, --calls at least 2, --rtt-ms not negative")
    return config


def main(argv: list[str] | None = None) -> int:
    config = parse_config(argv)
    rows: list[Row] = []
    settings = {SettingNames.MAX_USERS: str(config.targets), **LOOPBACK_ONLY, **CORE_PATH_ONLY}
    with (
        SimulatorProcess(latency=config.rtt) as sim,
        app_settings({**sim.environment(), **settings}),
        _host_like_logging(),
    ):
        _progress(f"bulk: {config.targets} targets, then the naive loop")
        rows += measure_bulk(config, sim)
        _progress(f"single target: {config.calls} calls at the RTT and at RTT 0")
        rows += measure_single(config, sim)
        tokens = _app_token_requests(sim)  # the in-process measurements share one app instance, so one token
        rows.append(Row("Token requests, all in-process calls above", str(tokens), "exactly 1", _verdict(tokens == 1)))
        _progress(f"audit delivery: {config.calls} single-target calls with it off, then on, at the RTT and at RTT 0")
        rows += _audit_delivery_rows(config, sim)
        _progress(
            f"by object id: {config.targets} targets, then {config.calls} single-target calls (a new app instance)"
        )
        rows += _object_id_rows(config, sim)
        _progress(
            f"by object id, disableAccount and revokeSignInSessions: {config.targets} targets (a new app instance)"
        )
        rows += _disable_and_revoke_rows(config, sim)
        _progress(f"bulk at REVOKE_MAX_PARALLEL {', '.join(map(str, PARALLEL_SWEEP))} (a new app instance each)")
        rows += measure_parallel_sweep(config, sim)
        _progress("cold start")
        rows += measure_cold_start(config, sim)
        _progress("import times")
        rows += measure_imports(config)
        _progress("peak RSS")
        rows += measure_peak_rss(config, sim)
        _progress("the costliest bodies at the 2 MiB ceiling")
        rows += measure_costliest_bodies()
    print(_table(config, rows))
    return 0


def _audit_delivery_rows(config: Config, sim: SimulatorProcess) -> list[Row]:
    from bench.audit_delivery import measure_audit_delivery

    measured = measure_audit_delivery(config.rtt, config.calls, sim)
    return [Row(name, result, target, "" if met is None else _verdict(met)) for name, result, target, met in measured]


def _object_id_rows(config: Config, sim: SimulatorProcess) -> list[Row]:
    from bench.object_ids import OBJECT_ID_PARALLEL, measure_object_ids

    with app_settings({**sim.environment(), SettingNames.MAX_USERS: str(config.targets),
                       SettingNames.MAX_PARALLEL: str(OBJECT_ID_PARALLEL)}):  # fmt: skip
        measured = measure_object_ids(config.rtt, config.targets, config.repeat, config.calls, config.budget, sim)
    return [Row(name, result, target, "" if met is None else _verdict(met)) for name, result, target, met in measured]


def _disable_and_revoke_rows(config: Config, sim: SimulatorProcess) -> list[Row]:
    from bench.object_ids import DISABLE_AND_REVOKE, measure_disable_and_revoke

    with app_settings({**sim.environment(), SettingNames.MAX_USERS: str(config.targets),
                       SettingNames.ACTIONS: ",".join(DISABLE_AND_REVOKE)}):  # fmt: skip
        measured = measure_disable_and_revoke(config.rtt, config.targets, config.repeat, config.budget, sim)
    return [Row(name, result, target, "" if met is None else _verdict(met)) for name, result, target, met in measured]


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
