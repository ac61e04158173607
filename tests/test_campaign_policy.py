"""A campaign keeps to the deployment's policy in every chunk, as a single request does: the dry-run
switch, protected users, the actions REVOKE_ACTIONS allows, and the verdict for a user who signs in
elsewhere. Each setting is read as the app reads it after a change (the host restarts the worker),
so a change made in the middle of a campaign applies to every chunk not yet sent.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from graphsim.campaign_tenant import CampaignTenant
from graphsim.faults import EXTERNAL_MEMBER
from graphsim.harness import LogCapture, app_settings
from tests.campaign_fixtures import (
    RUN_SECONDS,
    SLOW_QUOTA,
    ended,
    events_for,
    host_for,
    outcomes_of,
    preview,
    start,
    started,
    status,
    writes,
)


# --- REVOKE_DRY_RUN and a dry preview --------------------------------------------------------------
@pytest.mark.parametrize("how", ["setting", "request"])
def test_a_dry_run_campaign_sends_nothing_and_says_so(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture, how: str
) -> None:
    assert tenant.group is not None
    dry = {**deployed, "REVOKE_DRY_RUN": "true"} if how == "setting" else deployed
    extra = {"dryRun": True} if how == "request" else {}
    with app_settings(dry):
        answer = preview({"group": tenant.group.object_id}, ("revokeSignInSessions", "disableAccount"), **extra)
        campaign = json.loads(answer.get_body())["campaignId"]
        assert start(campaign).status_code == 202
        host_for(deployed).run_until(ended(campaign), RUN_SECONDS)
        body = status(campaign)

    assert writes(tenant.graph) == []
    assert body["dryRun"] is True and body["status"] == "completed"
    assert outcomes_of(body) == {"dry_run": 34}
    per_target = [e for e in logs.audit_events() if e["trigger"] == "campaign" and e["user"]]
    assert len(per_target) == 34 * 2 and {e["outcome"] for e in per_target} == {"dry_run"}
    started_event = next(e for e in logs.audit_events() if e["outcome"] == "campaign_started")
    assert "dry run" in started_event["detail"]


def test_turning_dry_run_on_stops_a_running_campaign_before_its_next_chunk(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    slow = {**deployed, "REVOKE_GRAPH_WRITE_QUOTA": SLOW_QUOTA}
    with app_settings(slow):
        campaign = started(tenant)
        host_for(slow).run_until(lambda: len(tenant.graph.revocations) >= 3, RUN_SECONDS)
    sent = len(writes(tenant.graph))
    with app_settings({**slow, "REVOKE_DRY_RUN": "true"}):
        host_for(slow).run_until(ended(campaign), RUN_SECONDS)
        body = status(campaign)

    assert len(writes(tenant.graph)) == sent  # nothing after the switch
    outcomes = outcomes_of(body)
    assert outcomes["dry_run"] == 34 - len(tenant.graph.revocations) > 0
    assert outcomes["dry_run"] + outcomes.get("contained", 0) + outcomes.get("not_contained", 0) == 34


# --- protected users, read at every chunk ----------------------------------------------------------
def test_a_user_protected_after_the_listing_is_never_acted_on(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture
) -> None:
    slow = {**deployed, "REVOKE_GRAPH_WRITE_QUOTA": SLOW_QUOTA}
    already_disabled = len(tenant.disabled)
    with app_settings(slow):
        campaign = started(tenant, ("disableAccount",))
        host_for(slow).run_until(
            lambda: (
                status(campaign)["progress"]["enumerationComplete"]
                and len(tenant.graph.disabled) >= already_disabled + 2
            ),
            RUN_SECONDS,
        )
    late = next(u for u in reversed(tenant.members) if u.object_id not in tenant.graph.disabled)
    # Protected by UPN, while the campaign names its targets by object id: the guard matches either name.
    protected = f"{slow['REVOKE_PROTECTED_USERS']},{late.user_principal_name}"
    with app_settings({**slow, "REVOKE_PROTECTED_USERS": protected}):
        host_for(slow).run_until(ended(campaign), RUN_SECONDS)
        body = status(campaign)

    assert late.object_id not in tenant.graph.disabled
    assert outcomes_of(body) == {"contained": 33, "refused": 1}
    assert events_for(logs, late.user_principal_name) == [("disableAccount", "refused")]
    [refusal] = [e for e in logs.audit_events() if e["user"] == late.user_principal_name]
    assert "REVOKE_PROTECTED_USERS" in refusal["detail"] and refusal["contained"] is False


# --- REVOKE_ACTIONS, at the start and in every chunk -----------------------------------------------
def test_a_start_after_the_allowed_actions_were_narrowed_is_refused_and_sends_nothing(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    assert tenant.group is not None
    answer = preview({"group": tenant.group.object_id}, ("revokeSignInSessions", "disableAccount"))
    campaign = json.loads(answer.get_body())["campaignId"]
    with app_settings({**deployed, "REVOKE_ACTIONS": "revokeSignInSessions"}):
        refused = start(campaign)
        host_for(deployed).poll_once()

    assert refused.status_code == 409
    error = json.loads(refused.get_body())["error"]
    assert "REVOKE_ACTIONS" in error["message"] and "disableAccount" in error["message"]
    assert status(campaign)["status"] == "previewed"
    assert writes(tenant.graph) == []


def test_an_action_the_deployment_no_longer_allows_is_refused_in_every_later_chunk(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture
) -> None:
    slow = {**deployed, "REVOKE_GRAPH_WRITE_QUOTA": SLOW_QUOTA}
    with app_settings(slow):
        campaign = started(tenant, ("revokeSignInSessions", "disableAccount"))
        host_for(slow).run_until(lambda: len(tenant.graph.disabled) >= len(tenant.disabled) + 2, RUN_SECONDS)
    disabled_before = set(tenant.graph.disabled)
    with app_settings({**slow, "REVOKE_ACTIONS": "revokeSignInSessions"}):
        host_for(slow).run_until(ended(campaign), RUN_SECONDS)
        body = status(campaign)

    assert tenant.graph.disabled == disabled_before  # no disable after the change
    acted = tenant.members + tenant.guests
    assert tenant.graph.revocations == Counter({user.object_id: 1 for user in acted})
    narrowed = [u for u in acted if u.object_id not in disabled_before]
    assert outcomes_of(body)["refused"] == len(narrowed) > 0
    for user in narrowed:
        assert events_for(logs, user.user_principal_name) == [
            ("disableAccount", "refused"),
            ("revokeSignInSessions", "revoked"),
        ]


# --- who is external: the single-request path's select list and judge ------------------------------
def test_an_external_member_is_not_reported_contained_by_revocation_alone(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture
) -> None:
    """A B2B member: userType Member and no #EXT# in the UPN, but invited and signed in by their home tenant."""
    assert tenant.group is not None
    partner = tenant.graph.add_user("ana.partner@fabrikam.example", **EXTERNAL_MEMBER)
    tenant.group.members.append(partner.object_id)
    body = json.loads(preview({"group": tenant.group.object_id}).get_body())
    assert (body["preview"]["members"], body["preview"]["guests"]) == (30, 5)
    assert start(body["campaignId"]).status_code == 202
    host_for(deployed).run_until(ended(body["campaignId"]), RUN_SECONDS)

    assert outcomes_of(status(body["campaignId"])) == {"contained": 30, "not_contained": 5}
    [last] = [e for e in logs.audit_events() if e["user"] == partner.user_principal_name]
    assert last["outcome"] == "revoked" and last["contained"] is False
    assert "external" in last["detail"]
