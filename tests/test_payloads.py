"""The one parser: every payload shape, entity quirks, and what it refuses."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from revoke.errors import (
    InvalidField,
    InvalidIdentifier,
    MalformedPayload,
    NoResolvableAccount,
    PayloadTooLarge,
    TooManyAccounts,
)
from revoke.intake.payloads import MAX_ACCOUNTS, SkippedEntity, decode_queue_body, load_document, parse_request

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
INCIDENT_ARM_ID = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/soc-rg/providers/"
    "Microsoft.OperationalInsights/workspaces/soc-workspace/providers/Microsoft.SecurityInsights/"
    "Incidents/9f1c2d3e-4b5a-4c6d-8e7f-a1b2c3d4e5f6"
)


def sample(name: str) -> dict[str, Any]:
    return load_document((SAMPLES / name).read_bytes(), 1 << 20)


def users_of(document: dict[str, Any]) -> list[str]:
    return [target.value for target in parse_request(document).targets]


def test_direct_request() -> None:
    request = parse_request(sample("direct-request.json"))

    assert [t.value for t in request.targets] == ["adele.vance@contoso.com", "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"]
    assert (request.shape, request.reason, request.incident_id) == (
        "direct",
        "Confirmed token theft, ticket SOC-1234",
        "4711",
    )


def test_sentinel_alert_with_entities_as_a_json_string_and_a_ref() -> None:
    request = parse_request(sample("sentinel-alert.json"))

    # megan is referenced again from the process entity via $ref and is still found once.
    assert [t.value for t in request.targets] == ["7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "lee.gu@contoso.com"]
    assert request.alert_id == "b8c9d0e1-f2a3-4b4c-8d5e-6f7a8b9c0d1e"
    # An alert's reason is its kind, id and name (issue 25: a reason for every action).
    assert (
        request.reason
        == "Sentinel alert b8c9d0e1-f2a3-4b4c-8d5e-6f7a8b9c0d1e: Password spray followed by a successful sign-in"
    )


def test_sentinel_alert_with_entities_as_a_list_and_nested_accounts() -> None:
    alert = {
        "SystemAlertId": "a-1",
        "DisplayName": "Suspicious process",
        "Entities": [
            {"$id": "1", "Type": "host", "HostName": "ws-1", "LoggedOnUsers": [{"$id": "2", "Type": "account",
             "Name": "kim", "UPNSuffix": "contoso.com"}]},
            {"$id": "3", "Type": "process", "Account": {"$ref": "2"}},
            {"$id": "4", "Type": "account", "Name": "KIM", "UPNSuffix": "Contoso.com"},
        ],
    }  # fmt: skip

    request = parse_request(alert)

    assert [t.value for t in request.targets] == ["kim@contoso.com"]
    assert request.reason == "Sentinel alert a-1: Suspicious process"


def test_sentinel_incident_prefers_object_ids_and_names_an_on_premises_account_by_its_sid() -> None:
    request = parse_request(sample("sentinel-incident.json"))

    assert [(t.value, t.kind) for t in request.targets] == [
        ("3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69", "object_id"),
        ("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "upn"),
        ("S-1-5-21-1004336348-1177238915-682003330-1105", "sid"),
    ]
    assert request.skipped == ()
    assert request.incident_id == INCIDENT_ARM_ID
    assert request.reason == "Sentinel incident 4711: Token theft: sign-ins from an anonymous IP after MFA"


def test_an_on_premises_account_without_a_sid_is_skipped_never_guessed_from_its_domain_and_name() -> None:
    on_premises = {"Type": "account", "Name": "svc-backup", "NTDomain": "CORP"}
    entra = {"Type": "account", "AadUserId": "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69"}
    request = parse_request({"Entities": [on_premises, entra]})

    assert request.skipped == (
        SkippedEntity("CORP\\svc-backup", "on-premises account: no Entra object id, UPN suffix or SID"),
    )


def test_sentinel_entity_trigger() -> None:
    request = parse_request(sample("sentinel-entity.json"))

    assert [t.value for t in request.targets] == ["3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69"]
    assert request.incident_id == INCIDENT_ARM_ID


def test_graph_security_alert_user_evidence() -> None:
    request = parse_request(sample("graph-security-alert.json"))

    assert [t.value for t in request.targets] == ["c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"]
    assert (request.alert_id, request.incident_id) == ("da637551227677560813_-961444813", "2972395")


def test_field_names_match_case_insensitively() -> None:
    assert users_of({"ENTITIES": [{"TYPE": "Account", "name": "ann", "upnsuffix": "contoso.com"}]}) == [
        "ann@contoso.com"
    ]
    assert users_of({"Users": ["ann@contoso.com"]}) == ["ann@contoso.com"]


def test_duplicates_collapse_case_insensitively_keeping_the_first_spelling() -> None:
    assert users_of({"users": ["Ann@Contoso.com", "ann@contoso.com"], "user": "ANN@CONTOSO.COM"}) == ["Ann@Contoso.com"]


def test_a_half_upn_is_skipped_never_sent() -> None:
    alert = {"Entities": [{"Type": "account", "Name": "ann"}, {"Type": "account", "UPNSuffix": "contoso.com"},
                          {"Type": "account", "AadUserId": "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69"}]}  # fmt: skip

    request = parse_request(alert)

    assert [t.value for t in request.targets] == ["3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69"]
    assert [s.reason for s in request.skipped] == [
        "incomplete UPN: name or UPN suffix missing, and no Entra object id"
    ] * 2


def test_non_account_entities_are_ignored() -> None:
    with pytest.raises(NoResolvableAccount):
        parse_request({"Entities": [{"Type": "ip", "Address": "1.2.3.4"}, {"Type": "host", "HostName": "a"}]})


def test_an_account_with_a_malformed_object_id_is_skipped_not_resolved_by_its_upn() -> None:
    alert = {"Entities": [{"Type": "account", "AadUserId": "../../me", "Name": "a", "UPNSuffix": "b.com"},
                          {"Type": "account", "AadUserId": "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69"}]}  # fmt: skip

    request = parse_request(alert)

    assert [t.value for t in request.targets] == ["3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69"]
    assert request.skipped == (SkippedEntity("a", "the Entra object id '../../me' is not a GUID"),)


def test_an_alert_naming_only_invalid_accounts_is_refused_saying_why() -> None:
    with pytest.raises(NoResolvableAccount, match="is not a GUID"):
        parse_request({"Entities": [{"Type": "account", "AadUserId": "../../me"}]})


def test_a_direct_request_with_one_invalid_user_is_refused_whole() -> None:
    with pytest.raises(InvalidIdentifier):
        parse_request({"users": ["a@b.com", "../../me"]})


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"users": "ann@contoso.com"}, InvalidField),
        ({"users": []}, NoResolvableAccount),
        ({"users": ["ann@contoso.com"], "dryRun": "yes"}, InvalidField),
        ({"users": ["ann@contoso.com"], "reason": {"a": 1}}, InvalidField),
        ({"Entities": "[not json"}, InvalidField),
        ({"something": "else"}, InvalidField),
    ],
)
def test_invalid_fields_are_refused_with_a_reason(document: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_request(document)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", MalformedPayload),
        (b"[]", MalformedPayload),
        (b"\xff\xfe", MalformedPayload),
        (b"[" * 1000, MalformedPayload),
        (b'{"users": ["' + b"a" * 2000 + b'"]}', PayloadTooLarge),
    ],
)
def test_unreadable_bodies_are_refused_before_parsing(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        load_document(body, 1024)


def test_nesting_inside_strings_does_not_count_as_depth() -> None:
    document = load_document(json.dumps({"reason": "[" * 1000, "users": ["a@b.com"]}).encode(), 1 << 20)

    assert users_of(document) == ["a@b.com"]


def test_queue_bodies_may_be_base64_of_the_json() -> None:
    body = json.dumps({"users": ["a@b.com"]}).encode()

    assert decode_queue_body(base64.b64encode(body)) == body
    assert decode_queue_body(body) == body
    assert decode_queue_body(b"not base64!") == b"not base64!"


def test_more_accounts_than_one_request_may_name_is_refused_before_validating_them() -> None:
    users = [f"user{n}@contoso.com" for n in range(MAX_ACCOUNTS)] + ["not an identifier"]

    with pytest.raises(TooManyAccounts):
        parse_request({"users": users})


def test_entity_payloads_are_held_to_the_same_account_ceiling() -> None:
    entities = [{"Type": "account", "Name": "svc", "NTDomain": f"D{n}"} for n in range(MAX_ACCOUNTS + 1)]

    with pytest.raises(TooManyAccounts):
        parse_request({"Entities": entities})
