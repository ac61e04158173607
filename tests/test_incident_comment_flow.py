"""The comment on the request's Sentinel incident, through both triggers against the simulated ARM.

One comment per request, updated (not repeated) when the queue delivers the message again;
none on an incident outside REVOKE_SENTINEL_WORKSPACE; and whatever ARM answers, the
containment's outcome, HTTP status and queue disposition stay what they were.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.harness import CapturedOut, LogCapture, app_settings, http_request, queue_message
from revoke.app.triggers import revoke_http, revoke_queue
from revoke.containment.verdict import DISABLED_UNTIL_SYNC, EXTERNAL_NOT_CONTAINED, ONPREM_OFF_HINT, REVOCATION_ALONE
from revoke.errors import RetryLater
from revoke.incidents import comment_id
from tests.conftest import ADELE, GUEST, MEGAN, body_of

SAMPLE_DIRECTORY = Path(__file__).resolve().parent.parent / "samples"
SAMPLE = (SAMPLE_DIRECTORY / "sentinel-incident.json").read_bytes()
INCIDENT = json.loads(SAMPLE)["object"]["id"]
WORKSPACE = INCIDENT.split("/providers/Microsoft.SecurityInsights/")[0]
# The id as the comment is written under it: ARM's spelling of the fixed segments, the rest in lower case.
NORMALISED = INCIDENT.replace("/Incidents/", "/incidents/")
OTHER_WORKSPACE = INCIDENT.replace("/workspaces/soc-workspace/", "/workspaces/other-workspace/")


@pytest.fixture
def settings(graph: GraphSimulator) -> dict[str, str]:
    return {
        "REVOKE_SENTINEL_WORKSPACE": WORKSPACE,
        "REVOKE_ARM_ENDPOINT": graph.arm_url,
        "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount",
    }


def deliver(body: bytes, dequeue_count: int = 1) -> str:
    """Put one delivery of `body` through the queue trigger: complete, retry or poison."""
    poison = CapturedOut()
    try:
        revoke_queue(queue_message(body, dequeue_count=dequeue_count), poison)
    except RetryLater:
        return "retry"
    return "poison" if poison.value is not None else "complete"


def comment_events(logs: LogCapture) -> list[dict[str, Any]]:
    return [e for e in logs.audit_events() if e["action"] == "incidentComment"]


def comment_puts(graph: GraphSimulator) -> list[str]:
    """The comment PUTs ARM received (incident tasks are tests/test_incident_tasks.py's)."""
    return [r.path.split("?")[0] for r in graph.arm_requests if r.method == "PUT" and "/comments/" in r.path]


class Text(HTMLParser):
    """The text of a comment, one line per list item."""

    def __init__(self, document: str) -> None:
        super().__init__()
        self.lines: list[str] = [""]
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("li", "p", "br"):
            self.lines.append("")

    def handle_data(self, data: str) -> None:
        self.lines[-1] += data


def lines_of(message: str) -> list[str]:
    return [line.strip() for line in Text(message).lines if line.strip()]


# --- one comment per request ---------------------------------------------------------------
def test_a_sentinel_incident_on_the_queue_gets_one_comment(app: GraphSimulator, logs: LogCapture) -> None:
    assert deliver(SAMPLE) == "complete"

    [(incident, comment)] = app.comments
    assert incident == NORMALISED.lower()
    assert comment_puts(app) == [f"{NORMALISED}/comments/{comment}"]
    [event] = comment_events(logs)
    assert (event["outcome"], event["graphStatus"], event["attempts"], event["user"]) == ("commented", 201, 1, None)
    assert event["incidentId"] == INCIDENT and event["trigger"] == "queue"
    assert logs.audit_events()[-1] == event  # written after every action's event


def test_a_direct_request_naming_the_incident_gets_one_comment_and_its_answer_says_so(
    app: GraphSimulator, logs: LogCapture
) -> None:
    request = {"users": [ADELE[0]], "incidentId": INCIDENT, "correlationId": "soc-4711"}

    response = revoke_http(http_request(request))

    assert response.status_code == 200
    assert body_of(response)["incidentComment"] == {"status": "commented", "detail": None}
    assert list(app.comments) == [(NORMALISED.lower(), comment_id("soc-4711", NORMALISED))]
    [event] = comment_events(logs)
    assert (event["outcome"], event["trigger"], event["correlationId"]) == ("commented", "http", "soc-4711")


def test_a_request_without_an_incident_gets_no_comment_and_no_incident_comment_field(
    app: GraphSimulator, logs: LogCapture
) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 200
    assert "incidentComment" not in body_of(response)
    assert app.arm_requests == [] and comment_events(logs) == []


def test_comments_switched_off_send_nothing_to_arm(app: GraphSimulator, logs: LogCapture) -> None:
    with app_settings({"REVOKE_INCIDENT_COMMENTS": "false"}):
        assert deliver(SAMPLE) == "complete"
        response = revoke_http(http_request({"users": [ADELE[0]], "incidentId": INCIDENT}))

    assert "incidentComment" not in body_of(response)
    assert app.arm_requests == [] and comment_events(logs) == []
    assert app.revocations.keys() == {ADELE[1], GUEST[1]}  # the containment itself ran


# --- redelivery updates the one comment ----------------------------------------------------
def test_a_redelivered_message_updates_its_comment_instead_of_adding_one(app: GraphSimulator, logs: LogCapture) -> None:
    """The bridge's message carries no correlation id; a second delivery must still find the first's comment."""
    assert deliver(SAMPLE, dequeue_count=1) == "complete"
    assert deliver(SAMPLE, dequeue_count=2) == "complete"

    [(key, messages)] = app.comments.items()
    assert key[0] == NORMALISED.lower()
    assert len(messages) == 2
    assert [e["graphStatus"] for e in comment_events(logs)] == [201, 200]  # created, then updated
    assert len({e["correlationId"] for e in logs.audit_events()}) == 1


def test_a_deferred_containment_is_commented_and_the_redelivery_brings_the_comment_up_to_date(
    app: GraphSimulator, logs: LogCapture
) -> None:
    app.inject(Fault(status=503, match=lambda path: path.endswith("/revokeSignInSessions"), times=None))
    assert deliver(SAMPLE, dequeue_count=1) == "retry"
    app.clear_faults()
    assert deliver(SAMPLE, dequeue_count=2) == "complete"

    [(_, [first, second])] = app.comments.items()
    # CORP\\svc-backup is named by its SID, and no user here is synced from it: not found, each time.
    assert "0 of 3 account(s) contained" in first and "revokeSignInSessions: deferred" in first
    assert "2 of 3 account(s) contained" in second and "deferred" not in second
    assert [e["outcome"] for e in comment_events(logs)] == ["commented", "commented"]


# --- only the served workspace --------------------------------------------------------------
@pytest.mark.parametrize(
    ("incident_id", "says"),
    [
        (OTHER_WORKSPACE, "not one of REVOKE_SENTINEL_WORKSPACE's"),
        ("4711", "incidentId 4711 is an incident number, not the incident's ARM id"),
        ("incident-4711", "is not a Sentinel incident's ARM id"),
        (INCIDENT + "/../x", "not one of REVOKE_SENTINEL_WORKSPACE's"),
    ],
    ids=["another workspace", "an incident number", "not an id", "a path out of the incident"],
)
def test_an_incident_outside_the_workspace_gets_no_comment(
    app: GraphSimulator, logs: LogCapture, incident_id: str, says: str
) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]], "incidentId": incident_id}))

    assert response.status_code == 200  # the containment is unaffected
    assert app.arm_requests == [] and app.comments == {}
    comment = body_of(response)["incidentComment"]
    assert comment["status"] == "skipped" and says in comment["detail"]
    [event] = comment_events(logs)
    assert (event["outcome"], event["attempts"], event["graphStatus"]) == ("skipped", 0, None)


def test_an_incident_outside_the_workspace_on_the_queue_gets_no_comment(app: GraphSimulator, logs: LogCapture) -> None:
    assert deliver(SAMPLE.replace(b"/workspaces/soc-workspace/", b"/workspaces/other-workspace/")) == "complete"

    assert app.arm_requests == []
    assert [e["outcome"] for e in comment_events(logs)] == ["skipped"]


# --- ARM failing changes nothing else ------------------------------------------------------
ARM_FAULTS = [
    pytest.param(Fault(status=503, times=None), "deferred", id="503 throughout"),
    pytest.param(Fault(status=403, times=None), "failed", id="403: no Sentinel Responder role"),
    pytest.param(Fault(drop=True, times=None), "deferred", id="connection dropped throughout"),
]


@pytest.mark.parametrize(("fault", "status"), ARM_FAULTS)
def test_a_failing_arm_leaves_the_http_answer_as_the_containment_made_it(
    app: GraphSimulator, logs: LogCapture, fault: Fault, status: str
) -> None:
    app.inject_arm(fault)

    request = {"users": [ADELE[0], GUEST[0]], "actions": ["revokeSignInSessions"], "incidentId": INCIDENT}
    response = revoke_http(http_request(request))

    assert response.status_code == 207  # the guest is not contained by revocation alone
    body = body_of(response)
    assert [(r["outcome"], r["contained"]) for r in body["results"]] == [("contained", True), ("not_contained", False)]
    assert body["incidentComment"]["status"] == status
    assert app.comments == {}
    assert [e["outcome"] for e in comment_events(logs)] == [status]
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize(("fault", "status"), ARM_FAULTS)
def test_a_failing_arm_never_makes_the_queue_message_retry_or_poison(
    app: GraphSimulator, logs: LogCapture, fault: Fault, status: str
) -> None:
    app.inject_arm(fault)

    assert deliver(SAMPLE) == "complete"

    assert app.revocations.keys() == {ADELE[1], GUEST[1]}
    assert app.comments == {}
    assert [e["outcome"] for e in comment_events(logs)] == [status]


# --- what the comment says -----------------------------------------------------------------
def test_the_comment_names_each_user_their_actions_and_whether_they_are_contained(app: GraphSimulator) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)
    revocation_only = {
        "users": [ADELE[0], GUEST[0], synced.user_principal_name, "ghost@contoso.com"],
        "actions": ["revokeSignInSessions"],
        "incidentId": INCIDENT,
        "correlationId": "soc-4711",
    }
    every_action = {
        "users": [GUEST[0], synced.user_principal_name],
        "incidentId": INCIDENT,
        "correlationId": "soc-4712",
    }
    revoke_http(http_request(revocation_only))
    revoke_http(http_request(every_action))

    first, second = (messages[0] for messages in app.comments.values())
    assert lines_of(first) == [
        "Account containment: 2 of 4 account(s) contained, 0 skipped.",
        "Correlation id: soc-4711",
        "Tasks for a person: 1 of 1 added to this incident.",  # the guest's home tenant
        f"{ADELE[0]}: contained (outcome: contained): {REVOCATION_ALONE}",
        "revokeSignInSessions: revoked",
        f"{GUEST[0]}: not contained (outcome: not_contained): {EXTERNAL_NOT_CONTAINED}",
        "revokeSignInSessions: revoked",
        f"pradeep.gupta@contoso.com: contained (outcome: contained): {REVOCATION_ALONE}",
        "revokeSignInSessions: revoked",
        "ghost@contoso.com: not contained (outcome: not_found): revokeSignInSessions: Request_ResourceNotFound",
        "revokeSignInSessions: not_found (Request_ResourceNotFound)",
    ]
    assert [line for line in lines_of(second) if not line.startswith("Correlation id")] == [
        "Account containment: 1 of 2 account(s) contained, 0 skipped.",
        "Tasks for a person: 2 of 2 added to this incident.",  # the guest's home tenant; the synced account
        f"{GUEST[0]}: contained (outcome: contained)",
        "disableAccount: disabled",
        "revokeSignInSessions: revoked",
        f"pradeep.gupta@contoso.com: not contained (outcome: not_contained): {DISABLED_UNTIL_SYNC} ({ONPREM_OFF_HINT})",
        "disableAccount: disabled",
        "revokeSignInSessions: revoked",
    ]


def test_the_comment_on_a_sentinel_incident_names_the_on_premises_account_by_its_sid(app: GraphSimulator) -> None:
    assert deliver(SAMPLE) == "complete"

    [[message]] = app.comments.values()
    lines = lines_of(message)
    assert lines[0] == "Account containment: 2 of 3 account(s) contained, 0 skipped."
    sid = "S-1-5-21-1004336348-1177238915-682003330-1105"
    assert (
        f"{sid}: not contained (outcome: not_found): disableAccount: "
        f"no user in Entra ID is synced from the on-premises SID {sid}"
    ) in lines
    assert f"{ADELE[1]}: contained (outcome: contained)" in lines
    assert f"{GUEST[0]}: contained (outcome: contained)" in lines
    assert MEGAN[0] not in message


def test_the_guest_sample_contains_the_guest_and_comments_on_the_incident(app: GraphSimulator) -> None:
    """samples/direct-request-guest.json: what a playbook sends to contain a guest (disableAccount allowed)."""
    sample = json.loads((SAMPLE_DIRECTORY / "direct-request-guest.json").read_bytes())

    response = revoke_http(http_request(sample))

    assert response.status_code == 200
    [result] = body_of(response)["results"]
    assert (result["user"], result["outcome"]) == (GUEST[0], "contained")
    assert app.disabled == {GUEST[1]}
    assert list(app.comments) == [(NORMALISED.lower(), comment_id("soc-4711-guest", NORMALISED))]
    with app_settings({"REVOKE_ACTIONS": "revokeSignInSessions"}):
        refused = revoke_http(http_request(sample))
    assert (refused.status_code, body_of(refused)["error"]["code"]) == (400, "action_not_allowed")
