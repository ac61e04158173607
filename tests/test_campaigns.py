"""Campaigns end to end: the HTTP routes, the real campaign queue and table in Azurite, the queue host's contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage as HostQueueMessage

from graphsim import Fault
from graphsim.authority import EntraAuthority
from graphsim.campaign_tenant import GLOBAL_ADMINISTRATOR, CampaignTenant
from graphsim.harness import LogCapture, app_settings
from revoke.app.campaign_triggers import (
    campaign_cancel,
    campaign_preview,
    campaign_queue,
    campaign_start,
    campaign_status,
)
from revoke.campaigns.listing import chunk_targets
from revoke.policy.roles import ROLE_CAMPAIGN, ROLE_DISABLE, ROLE_REVOKE
from revoke.settings import Settings
from tests.campaign_fixtures import (
    ROOT,
    RUN_SECONDS,
    STARTER,
    ended,
    host_for,
    preview,
    request,
    started,
    status,
    with_token,
    writes,
)


def test_preview_counts_each_kind_follows_every_page_and_sends_nothing(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    assert tenant.group is not None
    answer = preview({"group": tenant.group.object_id})
    assert answer.status_code == 200
    body = json.loads(answer.get_body())
    assert body["status"] == "previewed"
    assert body["preview"] == {
        "listed": 39,
        "members": 30,
        "guests": 4,
        "alreadyDisabled": 3,
        "protected": 2,
        "overLimit": 0,
        "unreadable": 0,
        "targets": 34,
        "complete": True,
        "estimatedSeconds": 1,
    }
    assert writes(tenant.graph) == []
    assert tenant.graph.directory.list_requests == 6  # 39 members in pages of 7


def test_a_directory_role_is_its_active_assignments_not_the_eligible_ones(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    body = json.loads(preview({"directoryRole": GLOBAL_ADMINISTRATOR}).get_body())
    assert body["preview"]["targets"] == len(tenant.admins) == 2


def test_all_users_counts_the_tenant(tenant: CampaignTenant, deployed: dict[str, str]) -> None:
    body = json.loads(preview({"allUsers": True}).get_body())
    assert (body["preview"]["listed"], body["preview"]["targets"]) == (39, 34)


@pytest.mark.parametrize(
    "body",
    [
        {"actions": ["revokeSignInSessions"], "reason": "r", "correlationId": "c"},
        {"scope": {"group": "not-a-guid"}, "actions": ["revokeSignInSessions"], "reason": "r", "correlationId": "c"},
        {
            "scope": {"allUsers": True, "group": str(uuid.uuid4())},
            "actions": ["revokeSignInSessions"],
            "reason": "r",
            "correlationId": "c",
        },
        {"scope": {"allUsers": True}, "actions": ["confirmCompromised"], "reason": "r", "correlationId": "c"},
        {"scope": {"allUsers": True}, "actions": ["disableAccount", "invalid"], "reason": "r", "correlationId": "c"},
        {"scope": {"allUsers": True}, "actions": [], "reason": "r", "correlationId": "c"},
        {"scope": {"allUsers": True}, "actions": ["revokeSignInSessions"], "correlationId": "c"},
        {
            "scope": {"allUsers": True},
            "actions": ["revokeSignInSessions"],
            "reason": "r",
            "correlationId": "c",
            "users": [],
        },
    ],
)
def test_a_bad_request_is_refused_before_any_graph_call(
    tenant: CampaignTenant, deployed: dict[str, str], body: dict[str, Any]
) -> None:
    answer = campaign_preview(request("POST", "campaigns", body))
    assert answer.status_code == 400
    assert tenant.graph.graph_requests() == []


def test_campaigns_are_off_unless_enabled(tenant: CampaignTenant, campaign_settings: dict[str, str]) -> None:
    with app_settings({**campaign_settings, "REVOKE_CAMPAIGNS": "false"}):
        answer = preview({"allUsers": True})
    assert answer.status_code == 404
    assert json.loads(answer.get_body())["error"]["code"] == "campaigns_off"
    assert tenant.graph.graph_requests() == []


def test_over_the_limit_is_shown_in_the_preview_and_refused_at_start(
    tenant: CampaignTenant, campaign_settings: dict[str, str]
) -> None:
    with app_settings({**campaign_settings, "REVOKE_MAX_CAMPAIGN_USERS": "20"}):
        body = json.loads(preview({"allUsers": True}).get_body())
        assert (body["preview"]["targets"], body["preview"]["overLimit"]) == (34, 14)
        campaign = body["campaignId"]
        answer = campaign_start(request("POST", f"campaigns/{campaign}/start", campaign=campaign))
    assert answer.status_code == 422
    assert json.loads(answer.get_body())["error"]["code"] == "campaign_over_limit"
    assert writes(tenant.graph) == []


def test_unknown_campaign_is_404(deployed: dict[str, str]) -> None:
    campaign = str(uuid.uuid4())
    answer = campaign_start(request("POST", f"campaigns/{campaign}/start", campaign=campaign))
    assert answer.status_code == 404


def test_a_campaign_contains_every_target_once_and_never_a_protected_user(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture
) -> None:
    campaign = started(tenant, ("revokeSignInSessions", "disableAccount"))
    again = campaign_start(request("POST", f"campaigns/{campaign}/start", campaign=campaign))
    assert again.status_code == 409
    host_for(deployed).run_until(ended(campaign), RUN_SECONDS)
    body = status(campaign)
    assert body["status"] == "completed"
    outcomes = {k: v for k, v in body["progress"]["outcomes"].items() if v}
    assert outcomes == {"contained": 34}
    acted = tenant.members + tenant.guests
    assert tenant.graph.revocations == Counter({user.object_id: 1 for user in acted})
    assert tenant.graph.disabled == {u.object_id for u in acted + tenant.disabled}
    for user in tenant.protected:
        assert tenant.graph.revocations[user.object_id] == 0 and user.object_id not in tenant.graph.disabled
    events = logs.audit_events()
    per_target = Counter((e["user"], e["action"]) for e in events if e["trigger"] == "campaign" and e["user"])
    assert set(per_target.values()) == {1} and len(per_target) == 34 * 2
    assert [e["outcome"] for e in events if e["action"] == "campaign"] == [
        "campaign_previewed",
        "campaign_started",
        "campaign_ended",
    ]
    assert all(e["correlationId"] == "ir-42" for e in events if e["trigger"] == "campaign")


def test_throttling_slows_the_pace_and_loses_nothing(tenant: CampaignTenant, deployed: dict[str, str]) -> None:
    tenant.graph.directory.set_write_quota(12, 2)  # Graph allows far less than the configured quota
    campaign = started(tenant)
    host_for(deployed).run_until(ended(campaign), RUN_SECONDS)
    body = status(campaign)
    assert body["progress"]["throttledCalls"] > 0
    assert body["progress"]["pace"]["writesPerSecond"] < body["progress"]["pace"]["targetWritesPerSecond"]
    assert {k: v for k, v in body["progress"]["outcomes"].items() if v} == {"contained": 30, "not_contained": 4}
    assert tenant.graph.revocations == Counter({u.object_id: 1 for u in tenant.members + tenant.guests})


def test_cancel_stops_what_was_not_sent(tenant: CampaignTenant, campaign_settings: dict[str, str]) -> None:
    with app_settings({**campaign_settings, "REVOKE_GRAPH_WRITE_QUOTA": "10/2"}):  # 4 writes/s: 34 take ~9 s
        campaign = started(tenant)
        host = host_for(campaign_settings)
        host.run_until(lambda: len(tenant.graph.revocations) >= 4, RUN_SECONDS)
        answer = campaign_cancel(request("POST", f"campaigns/{campaign}/cancel", campaign=campaign))
        assert answer.status_code == 202
        revoked_at_cancel = len(tenant.graph.revocations)
        host.run_until(ended(campaign), RUN_SECONDS)
        body = status(campaign)
    outcomes = body["progress"]["outcomes"]
    assert body["status"] == "cancelled"
    assert outcomes["pending"] == 0
    assert outcomes["cancelled"] > 0
    assert outcomes["contained"] + outcomes["not_contained"] == len(tenant.graph.revocations)
    assert sum(outcomes.values()) == 34
    # Only a chunk already in flight when the cancel landed may have gone on.
    assert len(tenant.graph.revocations) - revoked_at_cancel <= 8
    assert set(tenant.graph.revocations.values()) == {1}


def test_a_redelivered_chunk_acts_on_no_one_twice(tenant: CampaignTenant, deployed: dict[str, str]) -> None:
    """Each chunk's first delivery does its work and then fails, as if the host died before deleting it."""
    failed_once: set[str] = set()

    def fail_after_work(function: Callable[[func.QueueMessage], None]) -> Callable[[func.QueueMessage], None]:
        def delivered(msg: func.QueueMessage) -> None:
            function(msg)
            if json.loads(msg.get_body())["kind"] == "chunk" and msg.id not in failed_once:
                failed_once.add(msg.id or "")
                raise RuntimeError("the host lost the message after the function ran")

        return delivered

    campaign = started(tenant)
    host = host_for(deployed, wrap=fail_after_work)
    host.run_until(ended(campaign), RUN_SECONDS)
    assert host.failures >= 4
    body = status(campaign)
    assert sum(body["progress"]["outcomes"].values()) == 34
    assert tenant.graph.revocations == Counter({u.object_id: 1 for u in tenant.members + tenant.guests})


def test_a_poisoned_chunk_is_reported_failed_with_why(tenant: CampaignTenant, deployed: dict[str, str]) -> None:
    doomed: list[int] = []

    def one_chunk_always_fails(function: Callable[[func.QueueMessage], None]) -> Callable[[func.QueueMessage], None]:
        def delivered(msg: func.QueueMessage) -> None:
            message = json.loads(msg.get_body())
            if message["kind"] == "chunk" and (not doomed or doomed[0] == message["chunk"]):
                doomed[:] = [message["chunk"]]
                raise RuntimeError("a chunk that cannot be processed")
            function(msg)

        return delivered

    campaign = started(tenant)
    host = host_for(deployed, wrap=one_chunk_always_fails)
    host.run_until(ended(campaign), RUN_SECONDS)
    assert host.poisoned == 1
    body = status(campaign)
    outcomes = body["progress"]["outcomes"]
    # The doomed chunk: the first of the first page of 7 members (a chunk never spans pages).
    assert outcomes["failed"] == min(7, chunk_targets(Settings.from_environment(deployed), 1))
    assert outcomes["failed"] + outcomes["contained"] + outcomes["not_contained"] == 34
    assert body["status"] == "completed"


def test_a_worker_killed_mid_campaign_loses_nothing_and_doubles_nothing(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    """SIGKILL the worker process while it works; its messages come back when their lease ends and another finishes."""
    campaign = started(tenant)
    environment = {**os.environ, **deployed, "TEST_QUEUE_LEASE_SECONDS": "5"}
    worker = subprocess.Popen([sys.executable, "-m", "tests.campaign_worker"], cwd=ROOT, env=environment)
    try:
        deadline = time.monotonic() + RUN_SECONDS
        while len(tenant.graph.revocations) < 10 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.01)
        assert worker.poll() is None, "the worker died by itself"
        assert 10 <= len(tenant.graph.revocations) < 34, "the kill did not land mid-campaign"
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    revoked_at_kill = Counter(tenant.graph.revocations)
    host_for(deployed).run_until(ended(campaign), RUN_SECONDS)
    body = status(campaign)
    assert body["status"] == "completed"
    assert {k: v for k, v in body["progress"]["outcomes"].items() if v} == {"contained": 30, "not_contained": 4}
    acted = {u.object_id for u in tenant.members + tenant.guests}
    assert set(tenant.graph.revocations) == acted  # nothing lost, no one else touched
    # A revocation Graph performed but the killed worker never recorded is sent again (it was
    # never confirmed); nothing the table had confirmed is: at most the chunks in flight repeat.
    doubled = {oid for oid, n in tenant.graph.revocations.items() if n > 1}
    assert all(tenant.graph.revocations[oid] == 2 for oid in doubled)
    assert doubled <= set(revoked_at_kill)
    assert len(doubled) <= 8 * 2


def test_a_next_link_to_another_host_is_never_followed(tenant: CampaignTenant, deployed: dict[str, str]) -> None:
    """The token goes wherever the link points: only the configured Graph endpoint is ever read."""
    assert tenant.group is not None
    page = {"value": [], "@odata.nextLink": "https://graph.example.net/v1.0/users?$skiptoken=x"}
    tenant.graph.inject(Fault(status=200, body=page, match=lambda path: "transitiveMembers" in path))
    answer = preview({"group": tenant.group.object_id})
    assert answer.status_code == 502
    assert json.loads(answer.get_body())["error"]["code"] == "graph_refused"
    assert tenant.graph.directory.list_requests == 0  # the fault answered the one listing request


def test_entries_that_are_not_users_are_counted_unreadable_and_skipped(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    hostile = {"value": [{"id": "not-a-guid", "userPrincipalName": "x@contoso.com"}, "text", {"id": None}, None]}
    tenant.graph.inject(Fault(status=200, body=hostile, match=lambda path: path.endswith("/users")))
    body = json.loads(preview({"allUsers": True}).get_body())
    assert (body["preview"]["listed"], body["preview"]["unreadable"], body["preview"]["targets"]) == (0, 4, 0)


def test_a_forged_message_cannot_point_the_app_at_another_graph_path(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture
) -> None:
    """Whoever can put a message on the campaign queue cannot make the app read another Graph path:
    the only Graph reads a campaign makes are its preview's, and a message no campaign's is kept."""
    campaign = started(tenant)
    forged = {"kind": "page", "campaign": campaign, "page": 0, "path": "/users/someone/messages"}
    campaign_queue(HostQueueMessage(id="forged", body=json.dumps(forged).encode(), dequeue_count=1))  # type: ignore[no-untyped-call]
    assert not [r for r in tenant.graph.graph_requests() if "messages" in r.path]
    [rejected] = [e for e in logs.audit_events() if e["outcome"] == "rejected"]
    assert rejected["trigger"] == "campaign" and "forged" in rejected["detail"]


def test_health_names_the_read_roles_campaigns_need_when_they_are_on(
    tenant: CampaignTenant, campaign_settings: dict[str, str]
) -> None:
    from revoke.app.triggers import health_http

    tenant.graph.app_roles = ["User.RevokeSessions.All", "User.EnableDisableAccount.All", "User.Read.All"]
    with app_settings(campaign_settings):
        on = json.loads(health_http(func.HttpRequest("GET", "/api/health", body=b"")).get_body())
    with app_settings({**campaign_settings, "REVOKE_CAMPAIGNS": "false"}):
        off = json.loads(health_http(func.HttpRequest("GET", "/api/health", body=b"")).get_body())
    assert on["missingRoles"] == ["GroupMember.Read.All", "RoleManagement.Read.Directory"]
    assert off["missingRoles"] == []


def test_a_named_incident_gets_one_comment_at_the_start_and_one_at_the_end(
    tenant: CampaignTenant, campaign_settings: dict[str, str], logs: LogCapture
) -> None:
    incident = json.loads((ROOT / "samples" / "sentinel-incident.json").read_bytes())["object"]["id"]
    workspace = incident.split("/providers/Microsoft.SecurityInsights/")[0]
    settings = {
        **campaign_settings,
        "REVOKE_SENTINEL_WORKSPACE": workspace,
        "REVOKE_ARM_ENDPOINT": tenant.graph.arm_url,
    }
    assert tenant.group is not None
    with app_settings(settings):
        answer = preview({"group": tenant.group.object_id}, incidentId=incident)
        campaign = json.loads(answer.get_body())["campaignId"]
        assert campaign_start(request("POST", f"campaigns/{campaign}/start", campaign=campaign)).status_code == 202
        host_for(settings).run_until(ended(campaign), RUN_SECONDS)
        host_for(settings).poll_once()  # a finishing check delivered again finds the campaign ended
    comments = {key: messages for key, messages in tenant.graph.comments.items() if key[0] == incident.lower()}
    assert sorted(len(messages) for messages in comments.values()) == [1, 1]
    texts = sorted(messages[0] for messages in comments.values())
    assert any("started" in text for text in texts) and any("completed" in text for text in texts)
    commented = [e for e in logs.audit_events() if e["action"] == "incidentComment"]
    assert [e["outcome"] for e in commented] == ["commented", "commented"]


def test_a_previewed_campaign_can_be_cancelled_and_then_never_starts(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    body = json.loads(preview({"allUsers": True}).get_body())
    campaign = body["campaignId"]
    assert campaign_cancel(request("POST", f"campaigns/{campaign}/cancel", campaign=campaign)).status_code == 202
    assert campaign_start(request("POST", f"campaigns/{campaign}/start", campaign=campaign)).status_code == 409
    assert campaign_cancel(request("POST", f"campaigns/{campaign}/cancel", campaign=campaign)).status_code == 409
    assert status(campaign)["status"] == "cancelled"
    assert writes(tenant.graph) == []


# --- who may run a campaign: Containment.Campaign, and each action's role ----------------------


def group_preview(tenant: CampaignTenant, actions: list[str]) -> func.HttpRequest:
    assert tenant.group is not None
    body = {"scope": {"group": tenant.group.object_id}, "actions": actions, "reason": "r", "correlationId": "ir-43"}
    return request("POST", "campaigns", body)


@pytest.mark.parametrize(
    ("roles", "actions", "missing"),
    [
        ([ROLE_REVOKE, ROLE_DISABLE], ["revokeSignInSessions"], ROLE_CAMPAIGN),
        ([ROLE_CAMPAIGN, ROLE_REVOKE], ["revokeSignInSessions", "disableAccount"], ROLE_DISABLE),
    ],
)
def test_a_preview_needs_the_campaign_role_and_each_actions_role(
    tenant: CampaignTenant,
    campaign_settings: dict[str, str],
    authority: EntraAuthority,
    logs: LogCapture,
    roles: list[str],
    actions: list[str],
    missing: str,
) -> None:
    token = authority.mint(roles, app_id=STARTER[0], object_id=STARTER[1])
    with app_settings({**campaign_settings, **authority.environment()}):
        response = campaign_preview(with_token(group_preview(tenant, actions), token))

    assert response.status_code == 403
    assert json.loads(response.get_body())["error"]["code"] == "caller_not_permitted"
    assert missing in json.loads(response.get_body())["error"]["message"]
    assert [(e["outcome"], e["callerAppId"]) for e in logs.audit_events()] == [("rejected", STARTER[0])]
    assert token not in logs.text()


def test_every_campaign_route_refuses_a_caller_without_a_token(
    tenant: CampaignTenant, campaign_settings: dict[str, str], authority: EntraAuthority
) -> None:
    campaign = str(uuid.uuid4())
    with app_settings({**campaign_settings, **authority.environment()}):
        answers = [
            campaign_preview(group_preview(tenant, ["revokeSignInSessions"])),
            campaign_start(request("POST", f"campaigns/{campaign}/start", campaign=campaign)),
            campaign_status(request("GET", f"campaigns/{campaign}", campaign=campaign)),
            campaign_cancel(request("POST", f"campaigns/{campaign}/cancel", campaign=campaign)),
        ]

    assert [a.status_code for a in answers] == [401] * 4
    assert all(a.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"') for a in answers)
    assert tenant.graph.graph_requests() == []


def test_the_caller_who_starts_a_campaign_is_named_in_its_trail(
    tenant: CampaignTenant, campaign_settings: dict[str, str], authority: EntraAuthority, logs: LogCapture
) -> None:
    token = authority.mint([ROLE_CAMPAIGN, ROLE_REVOKE], app_id=STARTER[0], object_id=STARTER[1])
    with app_settings({**campaign_settings, **authority.environment()}):
        answer = campaign_preview(with_token(group_preview(tenant, ["revokeSignInSessions"]), token))
        assert answer.status_code == 200, answer.get_body()
        campaign = json.loads(answer.get_body())["campaignId"]
        start = campaign_start(with_token(request("POST", f"campaigns/{campaign}/start", campaign=campaign), token))
        assert start.status_code == 202, start.get_body()
        follow = with_token(request("GET", f"campaigns/{campaign}", campaign=campaign), token)
        host_for(campaign_settings).run_until(
            lambda: json.loads(campaign_status(follow).get_body())["endedAt"] is not None, RUN_SECONDS
        )

    events = [e for e in logs.audit_events() if e["trigger"] == "campaign"]
    assert events and {(e["callerAppId"], e["callerObjectId"]) for e in events} == {STARTER}
