"""Who may start what was previewed: two people (REVOKE_CAMPAIGN_APPROVAL), within the preview's life
(REVOKE_CAMPAIGN_PREVIEW_TTL_SECONDS), and only for the users the preview listed.

Callers carry real RS256 tokens from a loopback Entra authority (graphsim.authority).
"""

from __future__ import annotations

import calendar
import json
import time
import uuid
from collections.abc import Iterator

import pytest
from azure.data.tables import TableClient, UpdateMode

from graphsim.authority import EntraAuthority
from graphsim.campaign_tenant import GLOBAL_ADMINISTRATOR, CampaignTenant
from graphsim.harness import LogCapture, app_settings
from revoke.app.campaign_triggers import campaign_preview
from revoke.campaigns.names import TABLE_NAME
from revoke.policy.roles import ROLE_CAMPAIGN, ROLE_DISABLE, ROLE_REVOKE
from tests.campaign_fixtures import (
    RUN_SECONDS,
    ended,
    host_for,
    outcomes_of,
    preview,
    request,
    start,
    status,
    with_token,
    writes,
)

ROLES = [ROLE_CAMPAIGN, ROLE_REVOKE, ROLE_DISABLE]
ALICE = ("2b1a0f9e-8d7c-4b6a-9e5d-4c3b2a1f0e9d", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a")  # (app id, object id)
BOB = ("4d3c2b1a-0f9e-4d8c-9b7a-6f5e4d3c2b1a", "3c2b1a0f-9e8d-4c7b-8a69-5e4d3c2b1a0f")


@pytest.fixture
def two_person(campaign_settings: dict[str, str], authority: EntraAuthority) -> Iterator[dict[str, str]]:
    settings = {**campaign_settings, **authority.environment(), "REVOKE_CAMPAIGN_APPROVAL": "two-person"}
    with app_settings(settings):
        yield settings


def token(authority: EntraAuthority, caller: tuple[str, str]) -> str:
    return authority.mint(ROLES, app_id=caller[0], object_id=caller[1])


def previewed_by(tenant: CampaignTenant, caller_token: str, **extra: object) -> str:
    assert tenant.group is not None
    body = {
        "scope": {"group": tenant.group.object_id},
        "actions": ["revokeSignInSessions"],
        "reason": "consent phishing",
        "correlationId": "ir-77",
        **extra,
    }
    answer = campaign_preview(with_token(request("POST", "campaigns", body), caller_token))
    assert answer.status_code == 200, answer.get_body()
    return str(json.loads(answer.get_body())["campaignId"])


# --- two people ------------------------------------------------------------------------------------
def test_the_caller_who_previewed_cannot_start_the_campaign(
    tenant: CampaignTenant, two_person: dict[str, str], authority: EntraAuthority, logs: LogCapture
) -> None:
    alice = token(authority, ALICE)
    campaign = previewed_by(tenant, alice)
    refused = start(campaign, alice)

    assert refused.status_code == 403
    error = json.loads(refused.get_body())["error"]
    assert error["code"] == "second_approver_required" and "second" in error["message"]
    assert status(campaign, alice)["status"] == "previewed"
    host_for(two_person).poll_once()
    assert writes(tenant.graph) == []
    assert [e["outcome"] for e in logs.audit_events() if e["callerAppId"] == ALICE[0]][-1] == "rejected"


def test_a_second_caller_starts_it_and_the_status_names_both(
    tenant: CampaignTenant, two_person: dict[str, str], authority: EntraAuthority, logs: LogCapture
) -> None:
    alice, bob = token(authority, ALICE), token(authority, BOB)
    campaign = previewed_by(tenant, alice)
    assert start(campaign, bob).status_code == 202
    host_for(two_person).run_until(ended(campaign, bob), RUN_SECONDS)
    body = status(campaign, alice)

    assert body["previewedBy"] == {"appId": ALICE[0], "objectId": ALICE[1]}
    assert body["startedBy"] == {"appId": BOB[0], "objectId": BOB[1]}
    assert outcomes_of(body) == {"contained": 30, "not_contained": 4}
    started_event = next(e for e in logs.audit_events() if e["outcome"] == "campaign_started")
    assert (started_event["callerAppId"], started_event["callerObjectId"]) == BOB
    assert ALICE[1] in started_event["detail"]
    previewed_event = next(e for e in logs.audit_events() if e["outcome"] == "campaign_previewed")
    assert (previewed_event["callerAppId"], previewed_event["callerObjectId"]) == ALICE


@pytest.mark.parametrize(
    "second",
    [(ALICE[0], BOB[1]), (BOB[0], ALICE[1])],
    ids=["same app, another principal", "another app, the same principal"],
)
def test_a_second_approver_differs_in_both_app_id_and_object_id(
    tenant: CampaignTenant, two_person: dict[str, str], authority: EntraAuthority, second: tuple[str, str]
) -> None:
    campaign = previewed_by(tenant, token(authority, ALICE))
    refused = start(campaign, token(authority, second))
    assert (refused.status_code, json.loads(refused.get_body())["error"]["code"]) == (403, "second_approver_required")


def test_with_only_a_function_key_a_two_person_start_is_refused_naming_the_setting(
    tenant: CampaignTenant, campaign_settings: dict[str, str]
) -> None:
    assert tenant.group is not None
    with app_settings({**campaign_settings, "REVOKE_CAMPAIGN_APPROVAL": "two-person"}):
        campaign = json.loads(preview({"group": tenant.group.object_id}).get_body())["campaignId"]
        refused = start(campaign)
        host_for(campaign_settings).poll_once()

    assert refused.status_code == 403
    assert "REVOKE_CAMPAIGN_APPROVAL" in json.loads(refused.get_body())["error"]["message"]
    assert writes(tenant.graph) == []


def test_two_person_approval_is_the_default() -> None:
    from revoke.settings import Settings

    assert Settings.from_environment({}).campaign_approval == "two-person"


# --- a preview's life ------------------------------------------------------------------------------
def test_a_preview_past_its_life_cannot_start_and_nothing_is_queued(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    assert tenant.group is not None
    body = json.loads(preview({"group": tenant.group.object_id}).get_body())
    campaign = body["campaignId"]
    assert body["expiresAt"] is not None
    # The preview was taken two hours ago (REVOKE_CAMPAIGN_PREVIEW_TTL_SECONDS is 3600 by default).
    table = TableClient.from_connection_string(deployed["AzureWebJobsStorage"], TABLE_NAME)
    row = table.get_entity(campaign, "campaign")
    row["createdAt"] = row["createdAt"] - 7200
    row["expiresAt"] = row["expiresAt"] - 7200
    table.update_entity(row, mode=UpdateMode.REPLACE)

    refused = start(campaign)
    assert refused.status_code == 409
    error = json.loads(refused.get_body())["error"]
    assert error["code"] == "campaign_preview_expired" and "expired" in error["message"]
    assert host_for(deployed).poll_once() == 0  # nothing was put on the queue
    assert writes(tenant.graph) == []


def test_a_preview_lives_as_long_as_its_setting_says(tenant: CampaignTenant, deployed: dict[str, str]) -> None:
    assert tenant.group is not None
    with app_settings({**deployed, "REVOKE_CAMPAIGN_PREVIEW_TTL_SECONDS": "600"}):
        before = time.time()
        body = json.loads(preview({"group": tenant.group.object_id}).get_body())
    expires = calendar.timegm(time.strptime(body["expiresAt"], "%Y-%m-%dT%H:%M:%SZ"))
    assert before + 600 - 2 <= expires <= time.time() + 600 + 1


# --- the preview binds the start -------------------------------------------------------------------
def test_a_start_acts_only_on_the_users_its_preview_listed(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture
) -> None:
    """Three previewed, then twenty more put into the group before the start: the twenty are not touched."""
    group = tenant.graph.directory.add_group(tenant.members[:3])
    body = json.loads(preview({"group": group.object_id}, ("disableAccount",)).get_body())
    assert body["preview"]["targets"] == 3
    added = tenant.members[3:23]
    group.members.extend(u.object_id for u in added)

    assert start(body["campaignId"]).status_code == 202
    host_for(deployed).run_until(ended(body["campaignId"]), RUN_SECONDS)

    assert tenant.graph.disabled - {u.object_id for u in tenant.disabled} == {u.object_id for u in tenant.members[:3]}
    assert outcomes_of(status(body["campaignId"])) == {"contained": 3}
    assert not [e for e in logs.audit_events() if e["user"] in {u.user_principal_name for u in added}]


# --- the preview itself ----------------------------------------------------------------------------
def test_a_preview_without_a_correlation_id_gets_one(tenant: CampaignTenant, deployed: dict[str, str]) -> None:
    assert tenant.group is not None
    body = {"scope": {"group": tenant.group.object_id}, "actions": ["revokeSignInSessions"], "reason": "r"}
    answer = campaign_preview(request("POST", "campaigns", body))
    assert answer.status_code == 200, answer.get_body()
    correlation = json.loads(answer.get_body())["correlationId"]
    assert str(uuid.UUID(correlation)) == correlation and answer.headers["X-Correlation-Id"] == correlation


def test_a_directory_role_is_listed_without_top_and_every_page_is_followed(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    """Graph documents no paging with $top on a directory role's members: the listing asks none."""
    extra = [tenant.graph.add_user(f"admin{i}@contoso.com") for i in range(9)]
    tenant.graph.directory.assign_role(GLOBAL_ADMINISTRATOR, extra)
    body = json.loads(preview({"directoryRole": GLOBAL_ADMINISTRATOR}).get_body())

    assert body["preview"]["targets"] == len(tenant.admins) + 9
    listed = [r.path for r in tenant.graph.graph_requests() if "directoryRoles" in r.path]
    assert len(listed) > 1 and not any("top=" in path for path in listed)


def test_health_warns_that_with_only_a_function_key_no_two_person_campaign_can_start(
    tenant: CampaignTenant, campaign_settings: dict[str, str]
) -> None:
    from graphsim.harness import health_request
    from revoke.app.triggers import health_http

    with app_settings({**campaign_settings, "REVOKE_CAMPAIGN_APPROVAL": "two-person"}):
        warnings = json.loads(health_http(health_request()).get_body())["warnings"]
    assert any("REVOKE_CAMPAIGN_APPROVAL" in warning and "no campaign can start" in warning for warning in warnings)
