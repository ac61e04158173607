"""The incident hears about every outcome: an incident whose accounts were all skipped gets its
comment, a 422 answer says what became of the comment, and a dry run's comment says plainly
that nothing was changed. Through both triggers, against the simulated ARM.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from graphsim import GraphSimulator
from graphsim.harness import LogCapture, http_request
from revoke.app.triggers import revoke_http
from tests.conftest import ADELE, body_of
from tests.test_incident_comment_flow import INCIDENT, SAMPLE, WORKSPACE, comment_events, deliver, lines_of


@pytest.fixture
def settings(graph: GraphSimulator) -> dict[str, str]:
    return {"REVOKE_SENTINEL_WORKSPACE": WORKSPACE, "REVOKE_ARM_ENDPOINT": graph.arm_url}


def only_on_premises_accounts() -> bytes:
    """The sample incident with its Entra accounts removed: only CORP\\svc-backup is left, without its
    SID (with it, the user synced from it would be looked up: tests/test_sid_accounts.py)."""
    incident: dict[str, Any] = json.loads(SAMPLE)
    entities = incident["object"]["properties"]["relatedEntities"]
    kept = [e for e in entities if e["kind"] != "Account" or "upnSuffix" not in e["properties"]]
    for entity in kept:
        entity["properties"].pop("sid", None)
    incident["object"]["properties"]["relatedEntities"] = kept
    return json.dumps(incident).encode()


def the_comment(graph: GraphSimulator) -> list[str]:
    [messages] = graph.comments.values()
    return lines_of(messages[-1])


def test_an_incident_whose_accounts_were_all_skipped_still_gets_its_comment(
    app: GraphSimulator, logs: LogCapture
) -> None:
    assert deliver(only_on_premises_accounts()) == "poison"  # a person looks, as before

    lines = the_comment(app)
    assert lines[0] == "Account containment: 0 of 0 account(s) contained, 1 skipped."
    assert "No account this incident names could be acted on, so nothing was sent to Graph." in lines
    assert any(line.startswith("CORP\\svc-backup: ") for line in lines)  # and why
    assert app.graph_requests() == []
    [event] = comment_events(logs)
    assert event["outcome"] == "commented"


def test_the_422_for_an_all_skipped_incident_carries_its_comment(app: GraphSimulator) -> None:
    response = revoke_http(http_request(only_on_premises_accounts()))

    assert response.status_code == 422
    body = body_of(response)
    assert body["error"]["code"] == "no_resolvable_account"
    assert body["incidentComment"] == {"status": "commented", "detail": None}


@pytest.fixture
def protected(settings: dict[str, str]) -> None:
    settings["REVOKE_PROTECTED_USERS"] = ADELE[0]


def test_the_422_for_a_request_refused_by_policy_carries_its_comment(protected: None, app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]], "incidentId": INCIDENT}))

    assert response.status_code == 422
    body = body_of(response)
    assert body["error"]["code"] == "refused_by_policy"
    assert body["incidentComment"] == {"status": "commented", "detail": None}
    assert "refused" in "\n".join(the_comment(app))


def test_a_dry_runs_comment_says_plainly_that_nothing_was_changed(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]], "incidentId": INCIDENT, "dryRun": True}))

    assert response.status_code == 200
    assert app.graph_requests() == []
    lines = the_comment(app)
    assert lines[0].startswith("Account containment (dry run: nothing was changed)")
    assert "Dry run: nothing was changed. No account was disabled, no session revoked and no compromise " in (
        " ".join(lines)
    )
