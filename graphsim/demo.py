"""`python -m revoke demo`: the whole flow on this machine, against the loopback simulator.

A Sentinel incident goes through the queue trigger and a direct request through the
HTTP trigger; the real azure-identity fetches a token from the simulated managed-identity
endpoint and the real requests session calls the simulated Graph.
"""

from __future__ import annotations

import json
from pathlib import Path

from graphsim.harness import CapturedOut, app_settings, capture_logs, http_request, queue_message
from graphsim.server import GraphSimulator

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def run_demo() -> int:
    with GraphSimulator(latency=0.02) as graph, capture_logs() as logs:
        graph.add_user("adele.vance@contoso.com", "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69")
        graph.add_user("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com")
        graph.add_user("megan.bowen@contoso.com", "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d")
        with app_settings({**graph.environment(), "REVOKE_PROTECTED_USERS": "breakglass@contoso.com"}):
            from revoke.triggers import revoke_http, revoke_queue

            print("== 1. A Microsoft Sentinel incident lands on the queue (samples/sentinel-incident.json)")
            poison = CapturedOut()
            revoke_queue(queue_message((SAMPLES / "sentinel-incident.json").read_bytes()), poison)
            print("   message completed" if poison.value is None else "   message sent to the poison queue")

            print("\n== 2. A SOAR playbook calls POST /api/revoke")
            request = {
                "users": ["megan.bowen@contoso.com", "breakglass@contoso.com", "gone@contoso.com"],
                "reason": "Password spray, ticket SOC-1234",
                "correlationId": "soc-1234",
            }
            print("   request:", json.dumps(request))
            response = revoke_http(http_request(request))
            print(f"   HTTP {response.status_code}")
            print("   " + json.dumps(json.loads(response.get_body()), indent=2).replace("\n", "\n   "))

        print("\n== Audit events (logger revoke.audit)")
        for event in logs.audit_events():
            print("  ", json.dumps(event, separators=(",", ":")))

        print("\n== What Microsoft Graph received")
        for received in graph.requests:
            print(f"   {received.method} {received.path.split('?')[0]}")
        print(f"\n   token requests to the managed-identity endpoint: {graph.token_requests}")
        revoked = sorted(graph.revocations)
        print(f"   users whose sessions Graph revoked: {len(revoked)}")
        expected = {"revoked": 3, "refused": 1, "not_found": 1}
        seen = {name: sum(1 for e in logs.audit_events() if e["outcome"] == name) for name in expected}
    ok = seen == expected and len(revoked) == 3
    print("\nDemo", "passed:" if ok else "FAILED:", seen)
    return 0 if ok else 1
