"""The campaign part of `make demo`: preview, start, progress, done, against graphsim and Azurite.

A group of 45 accounts (nested groups inside, guests, already-disabled accounts and one
break-glass account among them) is contained with revokeSignInSessions and disableAccount.
Two people approve it (REVOKE_CAMPAIGN_APPROVAL=two-person, the default): an analyst's tool
previews it, cannot start it itself, and the incident-response lead's tool starts it.
The write quota is scaled down to 60 writes per 2 s (the app and graphsim agree), so the
demo takes seconds; the campaign queue and table are Azurite's, run by two queue hosts
that follow the Functions host's contract (graphsim/queue_host.py).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import azure.functions as func

from graphsim.authority import EntraAuthority
from graphsim.azurite import Azurite
from graphsim.campaign_tenant import build_tenant
from graphsim.harness import app_settings, capture_logs
from graphsim.queue_host import QueueHost
from graphsim.server import GraphSimulator

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
QUOTA = (60, 2)
# The incident-response lead's tool: (client id, object id); its token holds the campaign role and each action's.
RESPONDER_APP = ("7c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f", "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a")
# The analyst's tool, which previews: the same roles, another app and principal.
ANALYST_APP = ("3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b", "8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d")


def run_campaign_demo() -> int:
    from revoke.app.campaign_triggers import (
        campaign_poison,
        campaign_preview,
        campaign_queue,
        campaign_start,
        campaign_status,
    )

    incident = json.loads((SAMPLES / "sentinel-incident.json").read_bytes())["object"]["id"]
    workspace = incident.split("/providers/Microsoft.SecurityInsights/")[0]
    checks: list[tuple[str, bool]] = []
    print("\n== 5. A mass containment campaign: every account in a group (nested groups included)")
    from revoke.policy.roles import ROLE_CAMPAIGN, ROLE_DISABLE, ROLE_REVOKE

    with (
        GraphSimulator(latency=0.01) as graph,
        EntraAuthority() as authority,
        Azurite() as azurite,
        capture_logs() as logs,
    ):
        graph.directory.page_size = 10  # small pages: the listing follows @odata.nextLink
        graph.directory.set_write_quota(*QUOTA)
        tenant = build_tenant(graph, members=40, guests=3, disabled=2, protected=1)
        assert tenant.group is not None
        queue = f"demo-campaigns-{uuid.uuid4().hex[:8]}"
        settings = {
            **graph.environment(),
            "AzureWebJobsStorage": azurite.connection_string,
            "REVOKE_CAMPAIGNS": "true",
            "REVOKE_CAMPAIGN_QUEUE_NAME": queue,
            "REVOKE_GRAPH_WRITE_QUOTA": f"{QUOTA[0]}/{QUOTA[1]}",
            "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount",
            "REVOKE_PROTECTED_USERS": tenant.protected[0].user_principal_name,
            "REVOKE_SENTINEL_WORKSPACE": workspace,
            "REVOKE_ARM_ENDPOINT": graph.arm_url,
            **authority.environment(),
        }
        roles = [ROLE_CAMPAIGN, ROLE_REVOKE, ROLE_DISABLE]
        print(
            f"   the analyst's tool (app {ANALYST_APP[0]}) and the lead's (app {RESPONDER_APP[0]}) hold {', '.join(roles)}"
        )
        headers = {
            "Authorization": "Bearer " + authority.mint(roles, app_id=RESPONDER_APP[0], object_id=RESPONDER_APP[1])
        }
        analyst = {"Authorization": "Bearer " + authority.mint(roles, app_id=ANALYST_APP[0], object_id=ANALYST_APP[1])}
        with app_settings(settings):
            body = {
                "scope": {"group": tenant.group.object_id},
                "actions": ["revokeSignInSessions", "disableAccount"],
                "reason": "Consent-phishing campaign against the group",
                "correlationId": "soc-4712",
                "incidentId": incident,
            }
            print("   POST /api/campaigns", json.dumps(body))
            answer = campaign_preview(
                func.HttpRequest("POST", "/api/campaigns", body=json.dumps(body).encode(), headers=analyst)
            )
            preview = json.loads(answer.get_body())
            campaign = preview["campaignId"]
            print(f"   HTTP {answer.status_code}: preview {json.dumps(preview['preview'])}")
            checks += [
                ("the preview sent no write", not [r for r in graph.requests if r.method in ("PATCH",) or "$batch" in r.path]),
                ("the preview excludes the break-glass account", preview["preview"]["protected"] == 1),
                ("the preview counts 40 members, 3 guests, 2 disabled", (preview["preview"]["members"], preview["preview"]["guests"], preview["preview"]["alreadyDisabled"]) == (40, 3, 2)),
            ]  # fmt: skip
            own = campaign_start(_request("POST", campaign, analyst))
            print(
                f"   the analyst's POST /api/campaigns/{campaign}/start: HTTP {own.status_code} {own.get_body().decode()}"
            )
            start = campaign_start(_request("POST", campaign, headers))
            print(f"   the lead's POST /api/campaigns/{campaign}/start: HTTP {start.status_code}")
            stop = threading.Event()
            functions = {queue: campaign_queue, queue + "-poison": campaign_poison}
            hosts = [QueueHost(azurite.connection_string, functions, lease_seconds=30) for _ in range(2)]
            threads = [threading.Thread(target=_poll, args=(host, stop), daemon=True) for host in hosts]
            for thread in threads:
                thread.start()
            try:
                while (status := _status(campaign_status, campaign, headers))["endedAt"] is None:
                    progress = status.get("progress", {})
                    counts = {k: v for k, v in progress.get("outcomes", {}).items() if v}
                    print(
                        f"   GET: {status['status']}, {counts}, pace {progress.get('pace', {}).get('writesPerSecond')}"
                        f" writes/s, ETA {progress.get('etaSeconds')} s"
                    )
                    time.sleep(1)
            finally:
                stop.set()
                for thread in threads:
                    thread.join()
            print(f"   GET: {status['status']}: {json.dumps(status['progress'])}")
        outcomes = {k: v for k, v in status["progress"]["outcomes"].items() if v}
        acted = {u.object_id for u in tenant.members + tenant.guests}
        comments = [messages[-1] for (key, _), messages in graph.comments.items() if key == incident.lower()]
        campaign_events = [e["outcome"] for e in logs.audit_events() if e["action"] == "campaign"]
        callers = [e["callerAppId"] for e in logs.audit_events() if e["trigger"] == "campaign"]
        for message in comments:
            print(f"   comment: {message}")
        checks += [
            ("the analyst who previewed cannot start it (403)", own.status_code == 403),
            ("the lead's start answered 202", start.status_code == 202),
            ("the campaign completed", status["status"] == "completed"),
            ("all 43 targets contained", outcomes == {"contained": 43}),
            ("each target revoked exactly once", dict(graph.revocations) == dict.fromkeys(acted, 1)),
            ("the break-glass account untouched", tenant.protected[0].object_id not in graph.revocations),
            ("one comment at the start and one at the end", len(comments) == 2),
            (
                "a preview, a start and an end audit event",
                campaign_events == ["campaign_previewed", "campaign_started", "campaign_ended"],
            ),
            (
                "the preview's event names the analyst's tool, every other the lead's",
                callers[0] == ANALYST_APP[0] and set(callers[1:]) == {RESPONDER_APP[0]},
            ),
        ]
    print("\n== Campaign checks")
    for name, passed in checks:
        print(f"   {'ok  ' if passed else 'FAIL'} {name}")
    ok = all(passed for _, passed in checks)
    print("\nCampaign demo", "passed" if ok else "FAILED")
    return 0 if ok else 1


def _request(method: str, campaign: str, headers: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest(
        method, f"/api/campaigns/{campaign}/start", body=b"", route_params={"campaignId": campaign}, headers=headers
    )


def _status(campaign_status: Any, campaign: str, headers: dict[str, str]) -> dict[str, Any]:
    request = func.HttpRequest(
        "GET", f"/api/campaigns/{campaign}", body=b"", route_params={"campaignId": campaign}, headers=headers
    )
    return dict(json.loads(campaign_status(request).get_body()))


def _poll(host: QueueHost, stop: threading.Event) -> None:
    while not stop.is_set():
        if host.poll_once() == 0:
            time.sleep(0.1)
