"""Accounts an alert names that cannot be contained: skipped with a reason, listed, audited; the others still contained.

Account names in alerts come from logs an attacker can write, so one bad account must not
shield the others. A direct request is a person's explicit list and is still refused whole.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from graphsim import GraphSimulator
from graphsim.harness import CapturedOut, LogCapture, http_request, queue_message
from revoke.app.triggers import revoke_http, revoke_queue
from tests.conftest import ADELE, MEGAN, body_of

NIL_GUID = "00000000-0000-0000-0000-000000000000"

# An account that names a user wrongly, and a piece of the reason it is skipped for.
INVALID_ACCOUNTS = {
    "object id not a GUID": ({"AadUserId": "../../me"}, "is not a GUID"),
    "object id that is a UPN": ({"AadUserId": ADELE[0]}, "is not a GUID"),
    "UPN with a space": ({"UserPrincipalName": "evil user@contoso.com"}, "characters a UPN cannot hold"),
    "over-long UPN": ({"UserPrincipalName": "x" * 300 + "@contoso.com"}, "longer than 256 characters"),
    "name with a line break": ({"Name": "svc\r\nadmin", "UPNSuffix": "contoso.com"}, "characters a UPN cannot hold"),
    "UPN suffix that is no domain": ({"Name": "svc", "UPNSuffix": "contoso/../x"}, "not a DNS name"),
    "object id that is a number": ({"AadUserId": 42}, "is not a GUID"),
}
SHAPES = ("alert", "alert_string", "incident", "graph_security_alert")
GRAPH_FIELD_NAMES = {"AadUserId": "azureAdUserId", "Name": "accountName", "UPNSuffix": "upnSuffix"}


def payload(shape: str, accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """An alert or incident of `shape` naming `accounts` (alert-style field names)."""
    if shape in ("alert", "alert_string"):
        entities = [{"$id": str(n), "Type": "account", **fields} for n, fields in enumerate(accounts, 1)]
        entities.append({"$id": "99", "Type": "ip", "Address": "192.0.2.1"})
        encoded = json.dumps(entities) if shape == "alert_string" else entities
        return {"SystemAlertId": "alert-1", "AlertName": "Token theft", "Entities": encoded}
    if shape == "incident":
        related = [{"name": f"e{n}", "kind": "Account", "properties": fields} for n, fields in enumerate(accounts)]
        return {
            "object": {
                "id": "incident-7",
                "properties": {"incidentNumber": 7, "title": "t", "relatedEntities": related},
            }
        }
    evidence = [
        {
            "@odata.type": "#microsoft.graph.security.userEvidence",
            "userAccount": {GRAPH_FIELD_NAMES.get(key, key): value for key, value in fields.items()},
        }
        for fields in accounts
    ]
    return {"id": "alert-1", "title": "Token theft", "evidence": evidence}


def is_safe(text: str, limit: int) -> bool:
    return len(text) <= limit and text.isprintable()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("invalid", INVALID_ACCOUNTS)
def test_an_invalid_account_is_skipped_and_the_others_are_still_contained(
    app: GraphSimulator, logs: LogCapture, shape: str, invalid: str
) -> None:
    fields, why = INVALID_ACCOUNTS[invalid]
    accounts = [{"AadUserId": ADELE[1]}, fields, {"UserPrincipalName": MEGAN[0]}]

    response = revoke_http(http_request(payload(shape, accounts)))

    assert response.status_code == 200
    body = body_of(response)
    assert [(r["user"], r["outcome"]) for r in body["results"]] == [(ADELE[1], "contained"), (MEGAN[0], "contained")]
    [skipped] = body["skipped"]
    assert why in skipped["reason"]
    assert is_safe(skipped["entity"], 128) and is_safe(skipped["reason"], 256)
    assert dict(app.revocations) == {ADELE[1]: 1, MEGAN[1]: 1}
    events = logs.audit_events()
    assert [(e["outcome"], e["user"], e["detail"]) for e in events if e["outcome"] == "skipped"] == [
        ("skipped", skipped["entity"], skipped["reason"])
    ]
    assert sorted(e["outcome"] for e in events) == ["revoked", "revoked", "skipped"]


@pytest.mark.parametrize("invalid", INVALID_ACCOUNTS)
def test_on_the_queue_an_invalid_account_is_skipped_and_the_message_completes(
    app: GraphSimulator, logs: LogCapture, invalid: str
) -> None:
    fields, why = INVALID_ACCOUNTS[invalid]
    poison = CapturedOut()

    revoke_queue(queue_message(payload("alert", [fields, {"AadUserId": ADELE[1]}])), poison)

    assert poison.value is None
    assert dict(app.revocations) == {ADELE[1]: 1}
    [skipped] = [e for e in logs.audit_events() if e["outcome"] == "skipped"]
    assert why in skipped["detail"]
    assert (skipped["trigger"], skipped["alertId"], skipped["reason"]) == (
        "queue",
        "alert-1",
        "Sentinel alert alert-1: Token theft",
    )


def test_a_label_and_reason_built_from_attacker_text_are_bounded_and_printable(
    app: GraphSimulator, logs: LogCapture
) -> None:
    name = "svc\r\nWARNING forged\u2028line\u202e\x1b[31m" + "n" * 400
    accounts = [{"Name": name, "NTDomain": "CORP\u200b", "UPNSuffix": "contoso.com"}, {"AadUserId": ADELE[1]}]

    response = revoke_http(http_request(payload("alert", accounts)))

    assert response.status_code == 200
    [skipped] = body_of(response)["skipped"]
    assert skipped["entity"].startswith("CORP\\u200b\\svc\\r\\nWARNING forged\\u2028line\\u202e\\x1b[31m")
    assert is_safe(skipped["entity"], 128) and is_safe(skipped["reason"], 256)
    [event] = [e for e in logs.audit_events() if e["outcome"] == "skipped"]
    assert event["user"] == skipped["entity"]


def test_an_entity_trigger_naming_only_an_invalid_account_is_422_and_the_account_is_audited(
    app: GraphSimulator, logs: LogCapture
) -> None:
    response = revoke_http(
        http_request({"Entity": {"Type": "account", "AadUserId": "../../me"}, "IncidentArmID": "i-1"})
    )

    assert response.status_code == 422
    assert body_of(response)["error"]["code"] == "no_resolvable_account"
    assert app.requests == []
    events = logs.audit_events()
    assert [(e["outcome"], e["user"], e["incidentId"]) for e in events] == [
        ("skipped", "../../me", "i-1"),
        ("rejected", None, "i-1"),
    ]
    assert "is not a GUID" in events[0]["detail"]


def test_every_account_a_payload_names_is_audited_even_when_none_can_be_contained(
    app: GraphSimulator, logs: LogCapture
) -> None:
    alert = {
        "SystemAlertId": "a1",
        "Entities": [
            {"Type": "account", "Name": "svc", "NTDomain": "CORP"},
            {"Type": "account", "Name": "kim"},
            {"Type": "account", "UserPrincipalName": "kim at contoso.com"},
        ],
    }

    response = revoke_http(http_request(alert))

    assert response.status_code == 422
    assert body_of(response)["error"]["code"] == "no_resolvable_account"
    events = logs.audit_events()
    assert [(e["outcome"], e["user"], e["alertId"]) for e in events] == [
        ("skipped", "CORP\\svc", "a1"),
        ("skipped", "kim", "a1"),
        ("skipped", "kim at contoso.com", "a1"),
        ("rejected", None, "a1"),
    ]
    assert [e["attempts"] for e in events] == [0, 0, 0, 0]
    assert app.requests == []


# --- the nil GUID is not an object id --------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
def test_an_entity_with_the_nil_object_id_is_contained_by_its_upn(
    app: GraphSimulator, logs: LogCapture, shape: str
) -> None:
    """Microsoft's sample alerts zero their ids: the UPN beside a nil GUID names the user."""
    response = revoke_http(http_request(payload(shape, [{"AadUserId": NIL_GUID, "UserPrincipalName": ADELE[0]}])))

    assert response.status_code == 200
    assert [r["user"] for r in body_of(response)["results"]] == [ADELE[0]]
    assert [r.user_segment for r in app.graph_requests() if r.method != "GET"] == [ADELE[0]]
    assert NIL_GUID not in json.dumps(logs.audit_events())


@pytest.mark.parametrize("shape", SHAPES)
def test_an_entity_with_the_nil_object_id_and_no_upn_is_skipped(app: GraphSimulator, shape: str) -> None:
    accounts = [{"AadUserId": NIL_GUID, "DisplayName": "Sample User"}, {"UserPrincipalName": MEGAN[0]}]

    response = revoke_http(http_request(payload(shape, accounts)))

    assert response.status_code == 200
    body = body_of(response)
    assert [r["user"] for r in body["results"]] == [MEGAN[0]]
    assert [(s["entity"], "nil GUID" in s["reason"]) for s in body["skipped"]] == [("Sample User", True)]
    assert [r.user_segment for r in app.graph_requests() if r.method != "GET"] == [MEGAN[0]]


@pytest.mark.parametrize("users", [[NIL_GUID], [ADELE[0], NIL_GUID]])
def test_a_direct_request_naming_the_nil_guid_is_refused_whole(app: GraphSimulator, users: list[str]) -> None:
    response = revoke_http(http_request({"users": users}))

    assert response.status_code == 400
    assert body_of(response)["error"]["code"] == "invalid_identifier"
    assert "nil GUID" in body_of(response)["error"]["message"]
    assert app.requests == []
