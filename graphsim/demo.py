"""`python -m graphsim.demo` (`make demo`): the whole flow on this machine, against the loopback simulator.

A Sentinel incident goes through the queue trigger with the default action, revoking
sessions, which does not contain its guest; then, with disableAccount allowed, a SOAR
playbook's direct request through the HTTP trigger disables the guest. Each request leaves
a comment on the incident through the simulated Azure Resource Manager. The real
azure-identity fetches tokens from the simulated managed-identity endpoint and the real
requests session calls the simulated Graph and ARM. The demo checks what it shows and
exits 1 if anything is not as expected.
"""

from __future__ import annotations

import json
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from graphsim.harness import CapturedOut, app_settings, capture_logs, http_request, queue_message
from graphsim.server import GraphSimulator
from revoke.errors import RetryLater

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
INCIDENT_SAMPLE = SAMPLES / "sentinel-incident.json"
ADELE = ("adele.vance@contoso.com", "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69")
GUEST = ("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b")
MEGAN = ("megan.bowen@contoso.com", "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d")
BREAKGLASS = "breakglass@contoso.com"
MESSAGE_ID = "0b6f3c52-4a7e-4d1b-9f0a-2c8e5d7b1a34"  # the storage queue's id for the message


def run_demo() -> int:
    incident = json.loads(INCIDENT_SAMPLE.read_bytes())["object"]["id"]
    workspace = incident.split("/providers/Microsoft.SecurityInsights/")[0]
    checks: list[tuple[str, bool]] = []

    with GraphSimulator(latency=0.02) as graph, capture_logs() as logs:
        graph.add_user(*ADELE)
        graph.add_user(*GUEST)
        graph.add_user(*MEGAN)
        graph.add_user(BREAKGLASS)
        deployment = {
            **graph.environment(),
            "REVOKE_PROTECTED_USERS": BREAKGLASS,
            "REVOKE_SENTINEL_WORKSPACE": workspace,
            "REVOKE_ARM_ENDPOINT": graph.arm_url,
        }
        from revoke.app.triggers import revoke_http, revoke_queue

        print("== 1. A Microsoft Sentinel incident lands on the queue (samples/sentinel-incident.json)")
        print("   REVOKE_ACTIONS=revokeSignInSessions (the default)")
        with app_settings({**deployment, "REVOKE_ACTIONS": "revokeSignInSessions"}):
            disposition = deliver(revoke_queue, INCIDENT_SAMPLE.read_bytes())
        print(f"   message {disposition}")
        first = verdicts(logs.audit_events())
        for user, contained in first.items():
            print(f"   {user}: {'contained' if contained else 'NOT contained'} (the verdict on its last audit event)")
        checks += [
            ("the message completed", disposition == "completed"),
            ("Adele contained by revocation", first.get(ADELE[1]) is True),
            ("the guest NOT contained by revocation alone", first.get(GUEST[0]) is False),
        ]

        print("\n== 2. With disableAccount allowed, a SOAR playbook calls POST /api/revoke for the incident")
        print("   REVOKE_ACTIONS=revokeSignInSessions,disableAccount")
        request = {
            "users": [GUEST[0], MEGAN[0], BREAKGLASS, "gone@contoso.com"],
            "actions": ["revokeSignInSessions", "disableAccount"],
            "reason": "Token theft, Sentinel incident 4711",
            "incidentId": incident,
            "correlationId": "soc-4711",
        }
        print("   request:", json.dumps(request))
        with app_settings({**deployment, "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount"}):
            response = revoke_http(http_request(request))
        answer = json.loads(response.get_body())
        print(f"   HTTP {response.status_code}")
        print("   " + json.dumps(answer, indent=2).replace("\n", "\n   "))
        outcomes = {result["user"]: result["outcome"] for result in answer.get("results", [])}
        checks += [
            ("HTTP 207: not every target contained", response.status_code == 207),
            ("the guest contained by the disable", outcomes.get(GUEST[0]) == "contained"),
            ("Megan contained", outcomes.get(MEGAN[0]) == "contained"),
            ("the break-glass account refused", outcomes.get(BREAKGLASS) == "refused"),
            ("the unknown user not found", outcomes.get("gone@contoso.com") == "not_found"),
            ("the answer reports the comment", answer.get("incidentComment", {}).get("status") == "commented"),
        ]

        print("\n== Comments on the Sentinel incident (what Azure Resource Manager received)")
        for (incident_key, comment), messages in graph.comments.items():
            print(f"   {incident_key}/comments/{comment}")
            for message in messages:
                print(f"   HTML: {message}")
                print("   as shown:\n     " + "\n     ".join(shown(message)))
        texts = [messages[-1] for messages in graph.comments.values()]
        checks += [
            ("one comment per request on the incident", [len(m) for m in graph.comments.values()] == [1, 1]),
            ("the comments are on the sample incident", {key for key, _ in graph.comments} == {incident.lower()}),
            ("the first comment says the guest is not contained", any(not_contained(t, GUEST[0]) for t in texts)),
        ]

        events = logs.audit_events()
        print("\n== Audit events (logger revoke.audit)")
        for event in events:
            print("  ", json.dumps(event, separators=(",", ":")))

        print("\n== What Microsoft Graph received")
        for received in graph.requests:
            print(f"   {received.method} {received.path.split('?')[0]}")
        print("\n== What Azure Resource Manager received")
        for received in graph.arm_requests:
            print(f"   {received.method} {received.path.split('?')[0]}")
        print(
            f"\n   token requests to the managed-identity endpoint: {graph.token_requests}"
            " (one for Graph and one for ARM with each of the two configurations)"
        )
        print(f"   sessions Graph revoked: {dict(graph.revocations)}")
        print(f"   accounts Graph disabled: {sorted(graph.disabled)}")
        breakglass = graph.find_user(BREAKGLASS)
        checks += [
            ("Graph revoked Adele once, the guest twice, Megan once", graph.revocations == {ADELE[1]: 1, GUEST[1]: 2, MEGAN[1]: 1}),
            ("Graph disabled the guest and Megan only", graph.disabled == {GUEST[1], MEGAN[1]}),
            ("nothing was sent for the break-glass account", not sent_for(graph, breakglass)),
        ]  # fmt: skip
        seen = Counter(event["outcome"] for event in events)

    print("\n== Checks")
    for name, passed in checks:
        print(f"   {'ok  ' if passed else 'FAIL'} {name}")
    ok = all(passed for _, passed in checks)
    print("\nDemo", "passed:" if ok else "FAILED:", dict(sorted(seen.items())))
    return 0 if ok else 1


def deliver(revoke_queue: Any, body: bytes) -> str:
    """What the host would do with the message after the function ran."""
    poison = CapturedOut()
    try:
        revoke_queue(queue_message(body, message_id=MESSAGE_ID), poison)
    except RetryLater:
        return "left for redelivery"
    return "completed" if poison.value is None else "sent to the poison queue"


def verdicts(events: list[dict[str, Any]]) -> dict[str, bool]:
    """Each target's verdict, from the one audit event of its that carries it (its last)."""
    return {event["user"]: event["contained"] for event in events if event["contained"] is not None}


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
    return any(line.strip() == f"- {user}: not contained (outcome: not_contained)" for line in shown(message))


def sent_for(graph: GraphSimulator, user: Any) -> bool:
    names = {BREAKGLASS} if user is None else {user.user_principal_name, user.object_id}
    return any(request.user_segment in names for request in graph.requests)


if __name__ == "__main__":
    from graphsim.campaign_demo import run_campaign_demo

    raise SystemExit(max(run_demo(), run_campaign_demo()))
