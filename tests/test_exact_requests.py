"""A direct request is read exactly: a field it does not define is refused, never ignored.

`{"dry_run": true}` meant as `dryRun` once revoked a user for real. Alert, incident, entity and
Graph-alert shapes stay lenient: their producers add fields.
"""

from __future__ import annotations

import pytest

from graphsim import GraphSimulator
from graphsim.harness import LogCapture, http_request
from revoke.app.triggers import revoke_http
from tests.conftest import ADELE, body_of


@pytest.mark.parametrize(
    ("field", "suggestion"),
    [
        ("dry_run", "dryRun"),
        ("DRY-RUN", "dryRun"),
        ("action", "actions"),
        ("correlation_id", "correlationId"),
        ("usres", "users"),
        ("comment", None),
        ("\u202ebidi", None),
    ],
)
def test_an_unknown_field_is_400_naming_it_with_a_suggestion_and_nothing_is_sent(
    field: str, suggestion: str | None, app: GraphSimulator, logs: LogCapture
) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]], field: True}))

    assert response.status_code == 400
    error = body_of(response)["error"]
    assert error["code"] == "unknown_field"
    assert ascii(field) in error["message"]
    if suggestion:
        assert f"(did you mean {suggestion!r}?)" in error["message"]
    else:
        assert "did you mean" not in error["message"]
    assert app.graph_requests() == [] and app.revocations == {}
    [event] = logs.audit_events()
    assert (event["outcome"], event["detail"].split(":")[0]) == ("rejected", "unknown_field")


def test_every_defined_field_in_any_case_is_accepted(app: GraphSimulator) -> None:
    body = {
        "Users": [ADELE[0]],
        "DryRun": True,
        "reason": "r",
        "incidentId": "4711",
        "alertId": "a-1",
        "correlationId": "soc-1",
        "actions": ["revokeSignInSessions"],
    }

    response = revoke_http(http_request(body))

    assert response.status_code == 200
    assert body_of(response)["dryRun"] is True
    assert app.revocations == {}


def test_an_alert_keeps_its_extra_fields(app: GraphSimulator) -> None:
    alert = {
        "Entities": [{"Type": "account", "AadUserId": ADELE[1], "SomethingNew": 1}],
        "AlertName": "Token theft",
        "ProductName": "Azure Sentinel",
        "dry_run": True,  # not a field of an alert: ignored, as the alert's other extra fields are
    }

    response = revoke_http(http_request(alert))

    assert response.status_code == 200
    assert dict(app.revocations) == {ADELE[1]: 1}
