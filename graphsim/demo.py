"""`python -m graphsim.demo` (`make demo`): the whole flow on this machine, against the loopback simulator.

A Sentinel incident goes through the queue trigger with the default action, revoking
sessions, which does not contain its guest; then, with disableAccount allowed, a SOAR
playbook's direct request through the HTTP trigger, with an Entra ID token whose app roles
allow revoking and disabling, disables the guest; an automation whose token holds only
Containment.Revoke is refused the disable (403), audited with its identity; then an analyst
releases Megan, a false positive, through `POST /api/release`, and is refused Lee, whom HR
disabled and this deployment never contained (409). The action budget and the containment
records are kept in Azurite, the real Storage emulator. Each request leaves a comment on the
incident through the simulated Azure Resource Manager, and sends its audit events to the
simulated Logs Ingestion endpoint (over loopback HTTPS), where they arrive in the audit table as
the SOC sees them. Then a campaign
(graphsim/campaign_demo.py), and users synced from Active Directory (graphsim/hybrid_demo.py). The real
azure-identity fetches tokens from the simulated managed-identity endpoint and the real
requests session calls the simulated Graph and ARM. The demo checks what it shows and
exits 1 if anything is not as expected.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from graphsim.authority import EntraAuthority
from graphsim.azurite import Azurite
from graphsim.harness import CapturedOut, app_settings, capture_logs, http_request, queue_message
from graphsim.server import GraphSimulator
from revoke.errors import RetryLater
from revoke.policy.roles import ROLE_DISABLE, ROLE_RELEASE, ROLE_REVOKE

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
INCIDENT_SAMPLE = SAMPLES / "sentinel-incident.json"
ADELE = ("adele.vance@contoso.com", "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69")
GUEST = ("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b")
MEGAN = ("megan.bowen@contoso.com", "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d")
LEE = ("lee.gu@contoso.com", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a")
BREAKGLASS = "breakglass@contoso.com"
MESSAGE_ID = "0b6f3c52-4a7e-4d1b-9f0a-2c8e5d7b1a34"  # the storage queue's id for the message
SOAR_APP = ("9d2e4f60-1a3b-4c5d-8e7f-0a1b2c3d4e5f", "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f")  # (client id, object id)
ANALYST_APP = ("1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b", "8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d")
AUTOMATION_APP = ("4b5c6d7e-8f90-4a1b-b2c3-d4e5f6a7b8c9", "6e7f8091-a2b3-4c4d-8e5f-60718293a4b5")


NAMES = {
    ADELE[0]: "Adele Vance",
    ADELE[1]: "Adele Vance",
    GUEST[0]: "Bob (guest from Fabrikam)",
    GUEST[1]: "Bob (guest from Fabrikam)",
    MEGAN[0]: "Megan Bowen",
    MEGAN[1]: "Megan Bowen",
    LEE[0]: "Lee Gu",
    LEE[1]: "Lee Gu",
    BREAKGLASS: "the break-glass account",
    "gone@contoso.com": "gone@contoso.com (left the company)",
    "S-1-5-21-1004336348-1177238915-682003330-1105": "CORP\\svc-backup (by its on-premises SID)",
}
REASON_WIDTH = 110


def name(user: str | None) -> str:
    """A person's name, for every line the demo prints; the identifier when it names nobody we know."""
    if user is None:
        return "-"
    return NAMES.get(user, NAMES.get(user.lower(), user))


def run_demo(verbose: bool = False) -> int:
    incident = json.loads(INCIDENT_SAMPLE.read_bytes())["object"]["id"]
    workspace = incident.split("/providers/Microsoft.SecurityInsights/")[0]
    checks: list[tuple[str, bool]] = []

    with (
        GraphSimulator(latency=0.02) as graph,
        EntraAuthority() as authority,
        Azurite() as azurite,
        capture_logs() as logs,
    ):
        graph.add_user(*ADELE)
        graph.add_user(*GUEST)
        graph.add_user(*MEGAN)
        graph.add_user(*LEE)
        graph.add_user(BREAKGLASS)
        deployment = {
            **graph.environment(),
            "REVOKE_PROTECTED_USERS": BREAKGLASS,
            "REVOKE_SENTINEL_WORKSPACE": workspace,
            "REVOKE_ARM_ENDPOINT": graph.arm_url,
            # Callers are identified by their Entra ID token (the default), and the action budget
            # (the default limits) is kept in the host's storage: here Azurite.
            **authority.environment(),
            "AzureWebJobsStorage": azurite.connection_string,
            "REVOKE_ACTION_BUDGET": "revokeSignInSessions=200,disableAccount=50,confirmCompromised=100,enableAccount=50,dismissRisk=100",
            # The defaults, said here so a run from any environment shows them: every contained user is
            # recorded (a release may only undo what was contained), and every request says why.
            "REVOKE_CONTAINMENT_RECORDS": "true",
            "REVOKE_REQUIRE_REASON": "true",
            # Every audit event also goes to the audit table's data collection rule (REVOKE_AUDIT_*).
            **graph.ingestion_environment(),
        }
        from revoke.app.release_triggers import release_http
        from revoke.app.triggers import revoke_http, revoke_queue

        print("== 1. A Microsoft Sentinel incident lands on the queue (samples/sentinel-incident.json)")
        print(
            "   It names Adele Vance, Bob, a guest from Fabrikam, and CORP\\svc-backup by its on-premises SID."
            " REVOKE_ACTIONS=revokeSignInSessions (the default)"
        )
        with app_settings({**deployment, "REVOKE_ACTIONS": "revokeSignInSessions"}):
            disposition = deliver(revoke_queue, INCIDENT_SAMPLE.read_bytes())
        print(f"   message {disposition}")
        first = verdicts(logs.audit_events())
        for user, (contained, why) in first.items():
            print_verdict(user, "contained" if contained else "NOT contained", why)
        checks += [
            ("the message completed", disposition == "completed"),
            ("Adele contained by revocation", first.get(ADELE[1], (None, None))[0] is True),
            ("the guest NOT contained by revocation alone", first.get(GUEST[0], (None, None))[0] is False),
        ]

        print("\n== 2. With disableAccount allowed, a SOAR playbook calls POST /api/revoke for the incident")
        print("   for Bob, Megan Bowen, the break-glass account and someone who has left.")
        print("   REVOKE_ACTIONS=revokeSignInSessions,disableAccount")
        print(f"   its token (app {SOAR_APP[0]}) holds the app roles {ROLE_REVOKE} and {ROLE_DISABLE}")
        soar_token = authority.mint([ROLE_REVOKE, ROLE_DISABLE], app_id=SOAR_APP[0], object_id=SOAR_APP[1])
        request = {
            "users": [GUEST[0], MEGAN[0], BREAKGLASS, "gone@contoso.com"],
            "actions": ["revokeSignInSessions", "disableAccount"],
            "reason": "Token theft, Sentinel incident 4711",
            "incidentId": incident,
            "correlationId": "soc-4711",
        }
        with app_settings({**deployment, "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount"}):
            response = revoke_http(http_request(request, token=soar_token))
        answer = json.loads(response.get_body())
        print(f"   HTTP {response.status_code}")
        if verbose:
            print("   request:", json.dumps(request))
            print("   " + json.dumps(answer, indent=2).replace("\n", "\n   "))
        for result in answer.get("results", []):
            print_verdict(result["user"], result["outcome"], result["detail"])
        outcomes = {result["user"]: result["outcome"] for result in answer.get("results", [])}
        checks += [
            ("HTTP 207: not every target contained", response.status_code == 207),
            ("the guest contained by the disable", outcomes.get(GUEST[0]) == "contained"),
            ("Megan contained", outcomes.get(MEGAN[0]) == "contained"),
            ("the break-glass account refused", outcomes.get(BREAKGLASS) == "refused"),
            ("the unknown user not found", outcomes.get("gone@contoso.com") == "not_found"),
            ("the answer reports the comment", answer.get("incidentComment", {}).get("status") == "commented"),
        ]

        print(f"\n== 3. An automation whose token holds only {ROLE_REVOKE} asks to disable Adele")
        print(f"   its token (app {AUTOMATION_APP[0]}) holds the app role {ROLE_REVOKE} only")
        automation_token = authority.mint([ROLE_REVOKE], app_id=AUTOMATION_APP[0], object_id=AUTOMATION_APP[1])
        sent_before = len(graph.graph_requests())  # Graph's own: a token request is no Graph call
        narrow = {
            "users": [ADELE[0]],
            "actions": ["disableAccount"],
            "reason": "Impossible travel, SOC-4712",
            "correlationId": "soc-4712",
        }
        print("   request:", json.dumps(narrow))
        with app_settings({**deployment, "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount"}):
            refused = revoke_http(http_request(narrow, token=automation_token))
        refusal = json.loads(refused.get_body())
        print(f"   HTTP {refused.status_code}")
        print("   " + json.dumps(refusal, indent=2).replace("\n", "\n   "))
        rejected = [e for e in logs.audit_events() if e["correlationId"] == "soc-4712"]
        checks += [
            ("HTTP 403 caller_not_permitted", (refused.status_code, refusal["error"]["code"]) == (403, "caller_not_permitted")),
            (f"the refusal names {ROLE_DISABLE}", ROLE_DISABLE in refusal["error"]["message"]),
            ("nothing reached Graph for it", len(graph.graph_requests()) == sent_before and ADELE[1] not in graph.disabled),
            ("its audit event is rejected and names the caller", [(e["outcome"], e["callerAppId"], e["callerObjectId"]) for e in rejected] == [("rejected", *AUTOMATION_APP)]),
            ("the SOAR's audit events name the SOAR", {e["callerAppId"] for e in logs.audit_events() if e["correlationId"] == "soc-4711" and e["action"] != "incidentComment"} == {SOAR_APP[0]}),
            ("no token appears in any log", not any(token in logs.text() for token in authority.issued_tokens)),
        ]  # fmt: skip

        print("\n== 4. Megan was a false positive: the analyst calls POST /api/release")
        print("   REVOKE_RELEASE_ACTIONS=enableAccount (none by default)")
        print(f"   the analyst's tool (app {ANALYST_APP[0]}) holds the app role {ROLE_RELEASE}")
        analyst_token = authority.mint([ROLE_RELEASE], app_id=ANALYST_APP[0], object_id=ANALYST_APP[1])
        undo = {
            "users": [MEGAN[0]],
            "actions": ["enableAccount"],
            "reason": "False positive: Megan confirmed the sign-ins, SOC-4711",
            "incidentId": incident,
            "correlationId": "soc-4711-release",
        }
        with app_settings({**deployment, "REVOKE_RELEASE_ACTIONS": "enableAccount"}):
            release_response = release_http(http_request(undo, token=analyst_token))
        release_answer = json.loads(release_response.get_body())
        print(f"   HTTP {release_response.status_code}")
        if verbose:
            print("   request:", json.dumps(undo))
            print("   " + json.dumps(release_answer, indent=2).replace("\n", "\n   "))
        for result in release_answer.get("results", []):
            print_verdict(result["user"], result["outcome"], result["detail"])
        print(
            "   Then the same tool asks to release Lee, whose account HR disabled: this deployment never contained him"
        )
        graph.disabled.add(LEE[1])
        hr = {"users": [LEE[0]], "actions": ["enableAccount"], "reason": "Back from leave", "correlationId": "hr-1"}
        with app_settings({**deployment, "REVOKE_RELEASE_ACTIONS": "enableAccount"}):
            hr_response = release_http(http_request(hr, token=analyst_token))
        hr_answer = json.loads(hr_response.get_body())
        print(f"   HTTP {hr_response.status_code}: {hr_answer.get('error', {}).get('message')}")
        checks += [
            ("HTTP 200: Megan released", release_response.status_code == 200),
            ("Graph enabled Megan's account again", graph.enabled == {MEGAN[1]: 1} and MEGAN[1] not in graph.disabled),
            ("HTTP 409 not_contained_here for Lee", (hr_response.status_code, hr_answer.get("error", {}).get("code")) == (409, "not_contained_here")),
            ("Lee's account stays as HR left it", LEE[1] in graph.disabled and LEE[1] not in graph.enabled),
        ]  # fmt: skip

        print("\n== Comments on the Sentinel incident, as Sentinel shows them")
        for (_, comment), messages in graph.comments.items():
            print(f"   comment {comment}")
            for message in messages:
                if verbose:
                    print(f"   HTML: {message}")
                print("     " + "\n     ".join(shown(message)))
        texts = [messages[-1] for messages in graph.comments.values()]
        checks += [
            ("one comment per request on the incident", [len(m) for m in graph.comments.values()] == [1, 1, 1]),
            ("the comments are on the sample incident", {key for key, _ in graph.comments} == {incident.lower()}),
            ("the first comment says the guest is not contained, and why", any(not_contained(t, GUEST[0]) for t in texts)),
            ("the last comment says Megan is released", any(released(t, MEGAN[0]) for t in texts)),
            ("the SOAR's comment names the calling app", any(f"Requested by app {SOAR_APP[0]}." in shown(t) for t in texts)),
        ]  # fmt: skip

        events = logs.audit_events()
        print("\n== Audit events (logger revoke.audit; --verbose shows the JSON)")
        if verbose:
            for event in events:
                print("  ", json.dumps(event, separators=(",", ":")))
        else:
            print_audit_table(events)

        print("\n== What arrived in the audit table (ContainmentAudit_CL), one upload per invocation")
        for number, upload in enumerate(graph.ingestion.uploads, start=1):
            print(
                f"   upload {number}: HTTP {upload.status}, {upload.records} events, "
                f"{upload.body_bytes} bytes gzip ({upload.uncompressed_bytes} as JSON)"
            )
        arrived = [{k: v for k, v in r.items() if k != "TimeGenerated"} for r in graph.ingestion.records]
        by_outcome = Counter(record["outcome"] for record in arrived)
        print(f"   rows: {len(arrived)} ({', '.join(f'{n} {o}' for o, n in sorted(by_outcome.items()))})")
        checks += [
            ("every audit event arrived in the table, once, in order", arrived == events),
            # Five invocations: the queue message, the SOAR's request, the 403, the release, the refused release.
            ("one upload per invocation, each answered 204", [u.status for u in graph.ingestion.uploads] == [204] * 5),
            ("every event field has a column in the table", not graph.ingestion.dropped_fields),
        ]

        print("\n== What Microsoft Graph received")
        for received in graph.requests:
            print(f"   {received.method} {received.path.split('?')[0]}")
        print("\n== What Azure Resource Manager received")
        for received in graph.arm_requests:
            print(f"   {received.method} {received.path.split('?')[0]}")
        print(f"\n   token requests to the managed-identity endpoint: {graph.token_requests}")
        print(f"   sessions Graph revoked: {', '.join(f'{name(k)} {v}x' for k, v in graph.revocations.items())}")
        print(f"   accounts left disabled: {', '.join(name(k) for k in sorted(graph.disabled))}")
        breakglass = graph.find_user(BREAKGLASS)
        checks += [
            ("Graph revoked Adele once, the guest twice, Megan once", graph.revocations == {ADELE[1]: 1, GUEST[1]: 2, MEGAN[1]: 1}),
            ("the guest stays disabled, Lee as HR left him; Megan is enabled again", graph.disabled == {GUEST[1], LEE[1]}),
            ("nothing was sent for the break-glass account", not sent_for(graph, breakglass)),
        ]  # fmt: skip
        seen = Counter(event["outcome"] for event in events)

    print("\n== Checks")
    for check, passed in checks:
        print(f"   {'ok  ' if passed else 'FAIL'} {check}")
    ok = all(passed for _, passed in checks)
    print("\nDemo", "passed:" if ok else "FAILED:", dict(sorted(seen.items())))
    return 0 if ok else 1


def print_verdict(user: str, verdict: str, why: str | None) -> None:
    print(f"   {name(user)}: {verdict}" + (f" - {why}" if why else ""))


def print_audit_table(events: list[dict[str, Any]]) -> None:
    rows = [("TIME", "USER", "ACTION", "OUTCOME", "VERDICT", "DETAIL")]
    for event in events:
        verdict = {True: "contained", False: "not contained", None: ""}[event["contained"]]
        detail = event["detail"] or ""
        if len(detail) > 60:
            detail = detail[:57] + "..."
        rows.append(
            (event["time"][11:23], name(event["user"]), event["action"] or "-", event["outcome"], verdict, detail)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def deliver(revoke_queue: Any, body: bytes) -> str:
    """What the host would do with the message after the function ran."""
    poison = CapturedOut()
    try:
        revoke_queue(queue_message(body, message_id=MESSAGE_ID), poison)
    except RetryLater:
        return "left for redelivery"
    return "completed" if poison.value is None else "sent to the poison queue"


def verdicts(events: list[dict[str, Any]]) -> dict[str, tuple[bool, str | None]]:
    """Each target's verdict and why, from the one audit event of its that carries it (its last)."""
    return {event["user"]: (event["contained"], event["detail"]) for event in events if event["contained"] is not None}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = [""]
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "ul":
            self.depth += 1
        if tag in ("li", "p", "br"):
            self.lines.append("  " * max(self.depth - 1, 0) + ("- " if tag == "li" else ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "ul":
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        self.lines[-1] += data


def shown(message: str) -> list[str]:
    """The comment's text as Sentinel shows it, one line per paragraph or list item."""
    parser = _Text()
    parser.feed(message)
    return [line for line in parser.lines if line.strip()]


def not_contained(message: str, user: str) -> bool:
    prefix = (
        f"- {user}: not contained (outcome: not_contained): external (guest) user: revocation does not reach a guest"
    )
    return any(line.strip().startswith(prefix) for line in shown(message))


def released(message: str, user: str) -> bool:
    return any(line.strip() == f"- {user}: released (outcome: released)" for line in shown(message))


def sent_for(graph: GraphSimulator, user: Any) -> bool:
    names = {BREAKGLASS} if user is None else {user.user_principal_name, user.object_id}
    wanted = {name.lower() for name in names}
    return any(wanted & {named.lower() for named in request.named_users} for request in graph.requests)


if __name__ == "__main__":
    from graphsim.campaign_demo import run_campaign_demo
    from graphsim.hybrid_demo import run_hybrid_demo

    raise SystemExit(max(run_demo(verbose="--verbose" in sys.argv[1:]), run_campaign_demo(), run_hybrid_demo()))
