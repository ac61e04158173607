"""The hybrid part of `make demo`: users synced from Active Directory, against graphsim and Azurite.

Raul is synced from Active Directory and the deployment has no on-premises action: he is disabled
in Entra ID, reported not contained, and the incident gets a task for a person; the directory sync
enables him again, and the check after the sync reports him reverted and comments on the incident.
Then, with REVOKE_ONPREM_ACTIONS=disableAccount, a Sentinel alert names Pradeep by his on-premises
SID only: he is resolved to his Entra user, disabled in Entra ID and, through Defender for Identity,
in Active Directory, and contained; the sync keeps him disabled, and the check verifies it. The
check waits zero seconds here (REVOKE_VERIFY_AFTER_SECONDS=0); the queue host plays the Functions
host on Azurite's queue.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from graphsim.azurite import Azurite
from graphsim.harness import LogCapture, app_settings, capture_logs, http_request
from graphsim.queue_host import QueueHost
from graphsim.server import GraphSimulator

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
RAUL = "raul.razo@contoso.com"
PRADEEP = "pradeep.gupta@contoso.com"
ADELE = "adele.vance@contoso.com"


def run_hybrid_demo() -> int:
    from revoke.app.triggers import revoke_http
    from revoke.app.verify_triggers import revoke_verify

    incident = json.loads((SAMPLES / "sentinel-incident.json").read_bytes())["object"]["id"]
    workspace = incident.split("/providers/Microsoft.SecurityInsights/")[0]
    checks: list[tuple[str, bool]] = []
    print("\n== 6. Users synced from Active Directory (Entra Connect syncs every 30 minutes by default)")
    with GraphSimulator(latency=0.01) as graph, Azurite() as azurite, capture_logs() as logs:
        raul, pradeep = graph.add_user(RAUL, synced=True), graph.add_user(PRADEEP, synced=True)
        graph.add_user(ADELE)
        verify_queue = f"demo-verify-{uuid.uuid4().hex[:8]}"
        deployment = {
            **graph.environment(),
            "REVOKE_CALLER_AUTH": "key",
            "REVOKE_ACTION_BUDGET": "off",
            "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount",
            "REVOKE_SENTINEL_WORKSPACE": workspace,
            "REVOKE_ARM_ENDPOINT": graph.arm_url,
            "AzureWebJobsStorage": azurite.connection_string,
            "REVOKE_VERIFY_QUEUE_NAME": verify_queue,
            "REVOKE_VERIFY_AFTER_SECONDS": "0",
        }
        host = QueueHost(azurite.connection_string, {verify_queue: revoke_verify}, lease_seconds=5)

        print(f"   a. Without REVOKE_ONPREM_ACTIONS, a playbook disables and revokes {RAUL} (synced)")
        with app_settings({**deployment, "REVOKE_ONPREM_ACTIONS": ""}):
            response = revoke_http(
                http_request(
                    {
                        "users": [RAUL, ADELE],
                        "reason": "Password spray, SOC-4720",
                        "incidentId": incident,
                        "correlationId": "soc-4720",
                    }
                )
            )
            answer = json.loads(response.get_body())
            for result in answer["results"]:
                print(
                    f"      {result['user']}: {result['outcome']}"
                    + (f" - {result['detail']}" if result["detail"] else "")
                )
            print(f"      incident tasks: {answer.get('incidentTasks')}")
            graph.directory_sync()
            print("      ... the directory sync runs: Raul's Active Directory account is enabled, so Entra ID follows")
            host.run_until(lambda: _verified(logs, "soc-4720", 2), timeout=60)
            print(f"      the check after the sync: {_checks(logs, 'soc-4720')}")
        raul_results = {r["user"]: r for r in answer["results"]}
        checks += [
            ("HTTP 207: Raul is not contained without the on-premises action", response.status_code == 207),
            ("Raul's detail says the next sync enables him again", "until the next directory sync" in str(raul_results.get(RAUL, {}).get("detail"))),
            ("the incident got a task to disable Raul in Active Directory", any("in Active Directory" in t[-1]["title"] for t in graph.tasks.values())),
            ("the sync enabled Raul again; the check reported him reverted", _outcome(logs, "soc-4720", RAUL) == "reverted" and raul.object_id not in graph.disabled),
            ("the check commented the revert on the incident", any("Containment check after the directory sync" in m[-1] for m in graph.comments.values())),
            ("the cloud-only user was verified still disabled", _outcome(logs, "soc-4720", ADELE) == "verified"),
        ]  # fmt: skip

        print(f"   b. With REVOKE_ONPREM_ACTIONS=disableAccount, a Sentinel alert names {PRADEEP} by SID only")
        entity = {"Type": "account", "Name": "pradeep.gupta", "NTDomain": "CORP", "Sid": pradeep.on_premises_sid}
        alert = {
            "SystemAlertId": "mdi-1",
            "AlertName": "Suspected DCSync",
            "Entities": [entity],
            "IncidentArmId": incident,
        }
        with app_settings({**deployment, "REVOKE_ONPREM_ACTIONS": "disableAccount"}):
            response = revoke_http(http_request(alert))
            answer = json.loads(response.get_body())
            [result] = answer["results"]
            print(f"      {result['user']}: {result['outcome']}; actions: "
                  + ", ".join(f"{a['action']}={a['outcome']}" for a in result["actions"]))  # fmt: skip
            graph.directory_sync()
            print("      ... the directory sync runs: his Active Directory account is disabled, so Entra ID stays so")
            correlation = answer["correlationId"]
            host.run_until(lambda: _verified(logs, correlation, 1), timeout=60)
            print(f"      the check after the sync: {_checks(logs, correlation)}")
        checks += [
            ("Pradeep, named by SID, is contained through Active Directory", response.status_code == 200 and result["outcome"] == "contained"),
            ("Defender for Identity disabled his Active Directory account", pradeep.object_id in graph.active_directory_disabled),
            ("he is still disabled after the sync; the check verified it", pradeep.object_id in graph.disabled and _outcome(logs, correlation, str(pradeep.on_premises_sid)) == "verified"),
            ("no on-premises call was made for the cloud-only user", not any(ADELE in str(r.body) for r in graph.requests if "/security/" in r.path)),
        ]  # fmt: skip
    print("\n== Hybrid checks")
    for check, passed in checks:
        print(f"   {'ok  ' if passed else 'FAIL'} {check}")
    return 0 if all(passed for _, passed in checks) else 1


def _checks(logs: LogCapture, correlation: str) -> dict[str, str]:
    return {
        str(e["user"]): e["outcome"]
        for e in logs.audit_events()
        if e["action"] == "verifyContainment" and e["correlationId"] == correlation and e["user"] is not None
    }


def _verified(logs: LogCapture, correlation: str, users: int) -> bool:
    return len(_checks(logs, correlation)) >= users


def _outcome(logs: LogCapture, correlation: str, user: str) -> str | None:
    return _checks(logs, correlation).get(user)
