"""`python -m bench.policy_cost`: what identifying the caller, drawing on the action budget and recording a containment add per request.

Three figures, each a median over many repetitions, printed as a markdown table for
docs/PERFORMANCE.md:

* the token check (`revoke.policy.callers.identify_caller`) of a real RS256 token, its
  signing key already cached: the cost every HTTP request pays in REVOKE_CALLER_AUTH=entra;
* one reservation on the action budget (`ActionBudget.reserve`, a read and an ETag-conditional
  write) against Azurite on loopback: the round trip each action of a request adds;
* one containment record (`RecordWriter.record` of one user, a merge) against Azurite: the round
  trip a containment adds before it answers (records of several users are written in parallel).

Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from azure.data.tables import TableClient, TableServiceClient

from graphsim.authority import EntraAuthority
from graphsim.azurite import Azurite
from revoke.actions import ContainmentAction
from revoke.audit.events import RequestContext
from revoke.containment import records
from revoke.deadline import Deadline
from revoke.policy.budget import TABLE_NAME, ActionBudget
from revoke.policy.callers import ROLE_REVOKE, identify_caller
from revoke.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def timings_ms(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def token_check(repeat: int) -> list[float]:
    with EntraAuthority() as authority:
        settings = Settings.from_environment(authority.environment())
        headers = {"Authorization": f"Bearer {authority.mint([ROLE_REVOKE])}"}
        identify_caller(headers, settings, Deadline(10))  # loads and caches the key
        fetches = authority.key_fetches
        samples = timings_ms(lambda: identify_caller(headers, settings, Deadline(10)), repeat)
        assert authority.key_fetches == fetches, "the key was fetched again: not a cached-key figure"
        return samples


def budget_round_trip(repeat: int) -> list[float]:
    with Azurite() as azurite:
        TableServiceClient.from_connection_string(azurite.connection_string).delete_table(TABLE_NAME)
        settings = Settings.from_environment({"REVOKE_ACTION_BUDGET": "revokeSignInSessions=100000"})
        table = TableClient.from_connection_string(azurite.connection_string, TABLE_NAME, retry_total=0)
        budget = ActionBudget(settings, lambda: table)
        budget.reserve(ContainmentAction.REVOKE_SESSIONS, 1, Deadline(10))  # creates the table and entity
        return timings_ms(lambda: budget.reserve(ContainmentAction.REVOKE_SESSIONS, 1, Deadline(10)), repeat)


def record_round_trip(repeat: int) -> list[float]:
    with Azurite() as azurite:
        TableServiceClient.from_connection_string(azurite.connection_string).delete_table(records.TABLE_NAME)
        table = records.RecordTable(
            lambda: TableClient.from_connection_string(azurite.connection_string, records.TABLE_NAME, retry_total=0)
        )
        writer = records.RecordWriter(table)
        user = records.Contained(
            "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69", "adele.vance@contoso.com", (ContainmentAction.REVOKE_SESSIONS,)
        )
        context = RequestContext("http", "bench")

        def write() -> None:
            assert writer.record([user], context, Deadline(10)) == {}

        write()  # creates the table
        return timings_ms(write, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=5000, help="token checks to time")
    parser.add_argument("--reservations", type=int, default=300, help="budget reservations to time")
    parser.add_argument("--records", type=int, default=300, help="containment records to time")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
    ).stdout.strip()
    tokens = token_check(args.tokens)
    reservations = budget_round_trip(args.reservations)
    recorded = record_round_trip(args.records)
    print(
        f"`python -m bench.policy_cost` · commit `{commit}` · Python {platform.python_version()} · "
        f"{len(os.sched_getaffinity(0))} CPUs\n"
    )
    print("| Measurement | p50 | p95 | Target | Verdict |")
    print("|---|---|---|---|---|")
    p50 = statistics.median(tokens)
    verdict = "PASS" if p50 < 1.0 else "MISS"
    print(
        f"| Token check, RS256, key cached ({len(tokens)} calls) | {p50:.3f} ms | "
        f"{percentile(tokens, 0.95):.3f} ms | p50 < 1 ms | {verdict} |"
    )
    print(
        f"| Budget reservation, read + conditional write to Azurite ({len(reservations)} calls) | "
        f"{statistics.median(reservations):.2f} ms | {percentile(reservations, 0.95):.2f} ms |  |  |"
    )
    print(
        f"| Containment record, one user merged into Azurite ({len(recorded)} calls) | "
        f"{statistics.median(recorded):.2f} ms | {percentile(recorded, 0.95):.2f} ms |  |  |"
    )


if __name__ == "__main__":
    main()
