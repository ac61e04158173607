"""REVOKE_REQUIRE_REASON (on by default): every action says why.

A direct request or a release with a missing or blank `reason` is refused (400
`reason_required`, naming the field) before anything is sent, over HTTP, on the queue and from
the CLI (exit 2); an alert, incident or entity gives its own kind, id and name as its reason.
The reason is untrusted text: printable and bounded wherever it is shown, the incident comment
included. The suite runs with the setting off (tests/conftest.py); here it is left unset, so
the default applies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphsim import GraphSimulator
from graphsim.harness import CapturedOut, LogCapture, app_settings, http_request, queue_message
from revoke.app.cli import EXIT_OK, EXIT_USAGE, main
from revoke.app.release_triggers import release_http
from revoke.app.triggers import revoke_http, revoke_queue
from revoke.errors import SettingsError
from revoke.settings import Settings
from tests.conftest import ADELE, MEGAN, body_of
from tests.test_incident_comment_flow import INCIDENT, WORKSPACE, lines_of

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = {"REVOKE_REQUIRE_REASON": ""}  # unset: the default, on


@pytest.fixture
def settings() -> dict[str, str]:
    return dict(DEFAULT)


def revoke(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = revoke_http(http_request(body))
    return response.status_code, body_of(response)


@pytest.mark.parametrize(
    "request_body",
    [
        {"users": [ADELE[0]]},
        {"users": [ADELE[0]], "reason": None},
        {"users": [ADELE[0]], "reason": ""},
        {"users": [ADELE[0]], "reason": " \t\r\n "},
        {"user": ADELE[0], "actions": ["revokeSignInSessions"]},
    ],
    ids=["missing", "null", "empty", "blank", "single user"],
)
def test_a_direct_request_without_a_reason_is_400_naming_the_field_and_sends_nothing(
    app: GraphSimulator, logs: LogCapture, request_body: dict[str, Any]
) -> None:
    status, body = revoke(request_body)

    assert (status, body["error"]["code"]) == (400, "reason_required")
    assert body["error"]["message"].startswith("reason is required (REVOKE_REQUIRE_REASON)")
    assert app.requests == []  # not even a token was asked for
    assert [(e["outcome"], e["user"]) for e in logs.audit_events()] == [("rejected", None)]
    assert "reason_required" in logs.audit_events()[0]["detail"]


def test_a_reason_that_is_not_a_string_is_400(app: GraphSimulator) -> None:
    status, body = revoke({"users": [ADELE[0]], "reason": 4711})

    assert (status, body["error"]["code"]) == (400, "invalid_field")
    assert app.requests == []


def test_with_a_reason_the_request_is_contained_and_every_event_carries_it(
    app: GraphSimulator, logs: LogCapture
) -> None:
    status, _ = revoke({"users": [ADELE[0], MEGAN[0]], "reason": "  Token theft, SOC-4711  "})

    assert status == 200
    assert [e["reason"] for e in logs.audit_events()] == ["Token theft, SOC-4711"] * 2


def test_a_reason_cannot_forge_a_line_and_is_cut_to_the_audit_events_limit(
    app: GraphSimulator, logs: LogCapture
) -> None:
    status, _ = revoke({"users": [ADELE[0]], "reason": "SOC-1\r\nWARNING forged\u202e" + "x" * 600})

    assert status == 200
    [event] = logs.audit_events()
    assert event["reason"].startswith("SOC-1\\r\\nWARNING forged\\u202e")
    assert len(event["reason"]) == 512 and event["reason"].endswith("...")


def test_on_the_queue_a_direct_request_without_a_reason_is_rejected_and_kept_as_poison(
    app: GraphSimulator, logs: LogCapture
) -> None:
    message = {"users": [ADELE[0]]}
    poison = CapturedOut()

    revoke_queue(queue_message(message), poison)

    assert json.loads(poison.get()) == message  # unchanged, for a person to add the reason and replay
    assert app.graph_requests() == []
    assert [e["outcome"] for e in logs.audit_events()] == ["rejected"]


ALERT = {
    "SystemAlertId": "b8c9d0e1-f2a3-4b4c-8d5e-6f7a8b9c0d1e",
    "AlertName": "Password spray followed by a successful sign-in",
    "Entities": [{"Type": "account", "AadUserId": ADELE[1]}],
}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (ALERT, f"Sentinel alert {ALERT['SystemAlertId']}: {ALERT['AlertName']}"),
        ({**ALERT, "AlertName": None}, f"Sentinel alert {ALERT['SystemAlertId']}"),
        ({"Entities": ALERT["Entities"]}, "Sentinel alert (the payload gives no name or id)"),
        (
            {"id": "da637-1", "title": "Anomalous token", "evidence": [
                {"@odata.type": "#microsoft.graph.security.userEvidence", "userAccount": {"azureAdUserId": ADELE[1]}}
            ]},
            "Microsoft Graph security alert da637-1: Anomalous token",
        ),
        (
            {"object": {"id": INCIDENT, "properties": {"incidentNumber": 4711, "title": "Token theft",
             "relatedEntities": [{"kind": "Account", "properties": {"aadUserId": ADELE[1]}}]}}},
            "Sentinel incident 4711: Token theft",
        ),
        (
            {"IncidentArmID": INCIDENT, "Entity": {"Type": "account", "AadUserId": ADELE[1]}},
            f"Sentinel entity trigger on incident {INCIDENT}",
        ),
    ],
    ids=["sentinel alert", "alert without a name", "alert with neither", "graph alert", "incident", "entity trigger"],
)  # fmt: skip
def test_an_alert_or_incident_needs_no_reason_field_it_gives_its_id_and_name(
    app: GraphSimulator, logs: LogCapture, payload: dict[str, Any], reason: str
) -> None:
    poison = CapturedOut()

    revoke_queue(queue_message(payload), poison)

    assert poison.value is None
    assert dict(app.revocations) == {ADELE[1]: 1}
    assert [e["reason"] for e in logs.audit_events()] == [reason]


# --- release ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings", [{**DEFAULT, "REVOKE_RELEASE_ACTIONS": "enableAccount", "REVOKE_CONTAINMENT_RECORDS": "true"}]
)
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_release_without_a_reason_is_400_naming_the_field_and_sends_nothing(
    app: GraphSimulator, logs: LogCapture, reason: str | None
) -> None:
    app.disabled.add(ADELE[1])
    body: dict[str, Any] = {"users": [ADELE[0]]}
    if reason is not None:
        body["reason"] = reason

    response = release_http(http_request(body))

    assert (response.status_code, body_of(response)["error"]["code"]) == (400, "reason_required")
    assert "these accounts should be released" in body_of(response)["error"]["message"]
    assert app.requests == [] and ADELE[1] in app.disabled
    assert [e["outcome"] for e in logs.audit_events()] == ["rejected"]


# --- the incident comment --------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings", [{**DEFAULT, "REVOKE_SENTINEL_WORKSPACE": WORKSPACE, "REVOKE_ARM_ENDPOINT": "set-by-the-test"}]
)
def test_the_incident_comment_says_why_escaped(app: GraphSimulator) -> None:
    with app_settings({"REVOKE_ARM_ENDPOINT": app.arm_url}):
        status, body = revoke(
            {"users": [ADELE[0]], "reason": "<b>SOC-4711</b>\r\nforged", "incidentId": INCIDENT, "correlationId": "c-1"}
        )

    assert (status, body["incidentComment"]["status"]) == (200, "commented")
    (messages,) = app.comments.values()
    assert "Reason: <b>SOC-4711</b>\\r\\nforged" in lines_of(messages[0])
    assert "<b>SOC-4711</b>" not in messages[0]  # escaped, never markup


# --- the CLI -----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["revoke", "--user", ADELE[0]], ["release", "--user", ADELE[0]]])
@pytest.mark.parametrize("given", [[], ["--reason", "  "]], ids=["no --reason", "a blank --reason"])
def test_the_cli_without_a_reason_exits_2_and_sends_nothing(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str], command: list[str], given: list[str]
) -> None:
    with app_settings({"REVOKE_RELEASE_ACTIONS": "enableAccount", "REVOKE_CONTAINMENT_RECORDS": "true"}):
        assert main([*command, *given]) == EXIT_USAGE

    assert "--reason is required (REVOKE_REQUIRE_REASON)" in capsys.readouterr().err
    assert app.requests == []  # no sign-in either


def test_the_cli_with_a_reason_acts(app: GraphSimulator) -> None:
    assert main(["revoke", "--user", ADELE[0], "--reason", "SOC-4711", "--json"]) == EXIT_OK
    assert dict(app.revocations) == {ADELE[1]: 1}


# --- the setting -------------------------------------------------------------------------------
@pytest.fixture
def reason_off() -> Iterator[None]:
    with app_settings({"REVOKE_REQUIRE_REASON": "false"}):
        yield


def test_with_the_setting_off_a_request_without_a_reason_is_contained(
    app: GraphSimulator, reason_off: None, logs: LogCapture
) -> None:
    status, _ = revoke({"users": [ADELE[0]]})

    assert status == 200
    assert [e["reason"] for e in logs.audit_events()] == [None]


def test_the_setting_defaults_on_and_takes_true_or_false() -> None:
    assert Settings.from_environment({}).require_reason is True
    assert Settings.from_environment({"REVOKE_REQUIRE_REASON": "false"}).require_reason is False
    with pytest.raises(SettingsError, match="REVOKE_REQUIRE_REASON"):
        Settings.from_environment({"REVOKE_REQUIRE_REASON": "sometimes"})
