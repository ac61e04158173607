"""`python -m bench.campaign` (run by `make bench`): a campaign of 5,000 users at Graph's write quota, scaled down.

Graph's documented identity write quota is 3,000 writes per 150 s per app and tenant
(20 writes/s). The benchmark keeps the rate and divides the window by 10: graphsim admits
300 writes per any 15 s (a sliding window) and answers 429 with Retry-After past that, and
the app is configured with the same REVOKE_GRAPH_WRITE_QUOTA=300/15. The rate is the same,
so the duration is the full-scale duration for the same number of writes; a shorter window
only makes bursts costlier. Three queue hosts poll the campaign queue in Azurite at once,
as three instances would, with no lock shared between them.

It prints a markdown table for docs/PERFORMANCE.md and exits 1 if the campaign lost or
doubled a user, took more than 1.15x the quota bound (writes / 20 per s), or had more than
5% of its calls throttled. The duration runs from the start's call to the status that first
shows the campaign ended: the status is read every 2 s, as a SOC would, and every 0.2 s once
the campaign's own ETA is under 5 s, so the reading adds at most 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import uuid
from collections import Counter

import azure.functions as func

from graphsim.azurite import Azurite
from graphsim.campaign_tenant import build_tenant
from graphsim.harness import app_settings
from graphsim.queue_host import QueueHost
from graphsim.server import GraphSimulator

SCALE_FACTOR = 10  # the quota window is 150 s / 10; the rate (20 writes/s) is Graph's own
QUOTA_WRITES, QUOTA_SECONDS = 300, 15
BOUND_FACTOR = 1.15
CLOSE_POLL_SECONDS, POLL_SECONDS, CLOSE_ETA_SECONDS = 0.2, 2.0, 5
MAX_THROTTLED_SHARE = 0.05
INSTANCES = 3
FULL_SCALE_USERS = 50_000


def run(users: int, share: float) -> int:
    from revoke.app.campaign_triggers import (
        campaign_poison,
        campaign_preview,
        campaign_queue,
        campaign_start,
        campaign_status,
    )

    logging.getLogger("revoke.audit").setLevel(logging.WARNING)  # 5,000 audit lines would drown the table
    with GraphSimulator() as graph, Azurite() as azurite:
        tenant = build_tenant(graph, members=users)
        quota = graph.directory.set_write_quota(QUOTA_WRITES, QUOTA_SECONDS)
        queue = f"bench-campaigns-{uuid.uuid4().hex[:8]}"
        settings = {
            **graph.environment(),
            "AzureWebJobsStorage": azurite.connection_string,
            "REVOKE_CAMPAIGNS": "true",
            "REVOKE_CAMPAIGN_QUEUE_NAME": queue,
            "REVOKE_GRAPH_WRITE_QUOTA": f"{QUOTA_WRITES}/{QUOTA_SECONDS}",
            "REVOKE_CAMPAIGN_QUOTA_SHARE": str(share),
            "REVOKE_MAX_CAMPAIGN_USERS": str(users),
            # The bench measures pacing, not the caller check (bench.policy_cost measures that), so one
            # function-key caller previews and starts: two-person approval needs identified callers.
            "REVOKE_CALLER_AUTH": "key",
            "REVOKE_CAMPAIGN_APPROVAL": "single",
        }
        with app_settings(settings):
            assert tenant.group is not None
            body = {
                "scope": {"group": tenant.group.object_id},
                "actions": ["revokeSignInSessions"],
                "reason": "benchmark",
                "correlationId": "bench-campaign",
            }
            answer = campaign_preview(func.HttpRequest("POST", "/api/campaigns", body=json.dumps(body).encode()))
            preview = json.loads(answer.get_body())
            campaign = preview["campaignId"]
            print(f"preview: {preview['preview']}", file=sys.stderr)
            started = time.monotonic()
            campaign_start(
                func.HttpRequest("POST", "/api/campaigns/x/start", body=b"", route_params={"campaignId": campaign})
            )

            def status() -> dict[str, object]:
                request = func.HttpRequest("GET", "/api/campaigns/x", body=b"", route_params={"campaignId": campaign})
                return dict(json.loads(campaign_status(request).get_body()))

            stop = threading.Event()
            functions = {queue: campaign_queue, queue + "-poison": campaign_poison}
            hosts = [QueueHost(azurite.connection_string, functions, lease_seconds=60) for _ in range(INSTANCES)]
            threads = [threading.Thread(target=_poll, args=(host, stop), daemon=True) for host in hosts]
            for thread in threads:
                thread.start()
            try:
                shown = 0.0
                while (current := status())["endedAt"] is None:
                    progress = current.get("progress", {})
                    assert isinstance(progress, dict)
                    if time.monotonic() - shown >= 10:
                        shown = time.monotonic()
                        print(f"{shown - started:6.0f} s {progress.get('outcomes')}", file=sys.stderr)
                    # A SOC polls; every GET reads each chunk's row. Near the end, often enough to see it.
                    close = int(progress.get("etaSeconds", CLOSE_ETA_SECONDS + 1)) <= CLOSE_ETA_SECONDS
                    time.sleep(CLOSE_POLL_SECONDS if close else POLL_SECONDS)
            finally:
                stop.set()
                for thread in threads:
                    thread.join()
            elapsed = time.monotonic() - started
            final = status()
    progress = final["progress"]
    assert isinstance(progress, dict)
    outcomes = {k: v for k, v in progress["outcomes"].items() if v}
    revoked = Counter(graph.revocations)
    lost = users - len(revoked)
    doubled = sum(1 for n in revoked.values() if n > 1)
    calls = quota.admitted + quota.throttled
    throttled_share = quota.throttled / calls if calls else 0.0
    bound = users / (QUOTA_WRITES / QUOTA_SECONDS)
    paced = users / (QUOTA_WRITES / QUOTA_SECONDS * share)
    full_scale = FULL_SCALE_USERS / (QUOTA_WRITES / QUOTA_SECONDS * share)
    ok = lost == 0 and doubled == 0 and elapsed <= BOUND_FACTOR * bound and throttled_share <= MAX_THROTTLED_SHARE
    command = f"python -m bench.campaign --users {users} --share {share}"
    print(
        f"\n`{command}` (graphsim quota {QUOTA_WRITES} writes / {QUOTA_SECONDS} s, scale factor {SCALE_FACTOR}; "
        f"{INSTANCES} queue hosts)\n"
    )
    print("| measurement | result | target |")
    print("|---|---|---|")
    print(
        f"| campaign of {users} users, revokeSignInSessions | {elapsed:.1f} s ({elapsed / bound:.2f}x) | "
        f"≤ {BOUND_FACTOR * bound:.1f} s ({BOUND_FACTOR}x the quota bound {bound:.0f} s) |"
    )
    print(f"| pace bound at share {share} | {paced:.1f} s ({paced / bound:.2f}x) | |")
    print(
        f"| calls throttled (429) | {quota.throttled} of {calls} ({throttled_share:.1%}) | ≤ {MAX_THROTTLED_SHARE:.0%} |"
    )
    print(f"| users lost / acted on twice | {lost} / {doubled} | 0 / 0 |")
    print(f"| outcomes | {outcomes} | |")
    print(f"| final pace | {progress['pace']} | |")
    print(
        f"| full scale: {FULL_SCALE_USERS} users at 3000/150, share {share} | {full_scale / 60:.0f} min "
        f"(quota bound {FULL_SCALE_USERS / 20 / 60:.1f} min) | |"
    )
    print(f"\n{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def _poll(host: QueueHost, stop: threading.Event) -> None:
    while not stop.is_set():
        if host.poll_once() == 0:
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--share", type=float, default=0.9)
    arguments = parser.parse_args()
    sys.exit(run(arguments.users, arguments.share))


if __name__ == "__main__":
    main()
