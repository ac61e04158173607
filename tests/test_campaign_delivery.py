"""Nothing a campaign is asked to do is lost, given up on, or misreported: throttling, a worker that
dies after Graph acted, a queue send that fails, a cancel and who asked for it, a message that is
no campaign's. Each drives the registered functions with graphsim, Azurite and the queue host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from graphsim import Fault
from graphsim.authority import EntraAuthority
from graphsim.campaign_tenant import CampaignTenant
from graphsim.harness import LogCapture, app_settings
from revoke.campaigns.queue import StorageDelayQueue
from revoke.errors import SettingsError
from revoke.policy.roles import ROLE_CAMPAIGN, ROLE_REVOKE
from revoke.settings import Settings
from tests import campaign_worker
from tests.campaign_fixtures import (
    ROOT,
    RUN_SECONDS,
    cancel,
    ended,
    events_for,
    host_for,
    outcomes_of,
    preview,
    request,
    start,
    started,
    status,
    with_token,
    writes,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def campaign_queue_client(settings: dict[str, str]) -> QueueClient:
    return QueueClient.from_connection_string(settings["AzureWebJobsStorage"], settings["REVOKE_CAMPAIGN_QUEUE_NAME"])


# --- throttling is waited out, never given up on -------------------------------------------------
def test_a_target_throttled_again_and_again_is_retried_until_graph_answers(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture
) -> None:
    """Nine 429s in a row for one user: more than any count of tries; the campaign waits them out."""
    victim = tenant.members[5]
    tenant.graph.inject(
        Fault(
            status=429,
            headers={"Retry-After": "1"},
            match=lambda path: path.endswith(f"/users/{victim.object_id}/revokeSignInSessions"),
            times=9,
        )
    )
    campaign = started(tenant)
    host_for(deployed).run_until(ended(campaign), RUN_SECONDS)
    body = status(campaign)

    assert body["status"] == "completed"
    assert outcomes_of(body) == {"contained": 30, "not_contained": 4}
    assert tenant.graph.revocations == Counter({u.object_id: 1 for u in tenant.members + tenant.guests})
    assert body["progress"]["throttledCalls"] >= 9
    assert events_for(logs, victim.user_principal_name) == [("revokeSignInSessions", "revoked")]


# --- a cancel tells what Graph did, even when a worker died after Graph acted ----------------------
def test_a_cancel_after_a_killed_worker_reports_the_users_graph_disabled(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture
) -> None:
    campaign = started(tenant, ("disableAccount",))
    environment = {**os.environ, **deployed, "TEST_QUEUE_LEASE_SECONDS": "3", "TEST_DIE_BEFORE_RECORDING": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "tests.campaign_worker"], cwd=ROOT, env=environment)
    assert worker.wait(timeout=RUN_SECONDS) == campaign_worker.KILLED
    disabled_unrecorded = tenant.graph.disabled - {u.object_id for u in tenant.disabled}
    assert disabled_unrecorded, "the worker died before Graph acted"

    assert cancel(campaign).status_code == 202
    host_for(deployed).run_until(ended(campaign), RUN_SECONDS)
    body = status(campaign)

    assert body["status"] == "cancelled"
    by_id = {u.object_id: u for u in tenant.members + tenant.guests}
    for object_id in disabled_unrecorded:
        assert events_for(logs, by_id[object_id].user_principal_name) == [("disableAccount", "disabled")]
    outcomes = outcomes_of(body)
    assert outcomes["contained"] == len(disabled_unrecorded)
    assert outcomes["contained"] + outcomes["cancelled"] == 34
    assert tenant.graph.disabled - {u.object_id for u in tenant.disabled} == disabled_unrecorded  # nothing more


# --- a queue send that fails can be retried; the campaign never sits with no message --------------
def test_a_start_whose_queue_send_failed_is_retried_and_the_campaign_runs(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    assert tenant.group is not None
    campaign = json.loads(preview({"group": tenant.group.object_id}).get_body())["campaignId"]
    queue = campaign_queue_client(deployed)
    queue.delete_queue()
    failed = start(campaign)
    assert (failed.status_code, json.loads(failed.get_body())["error"]["code"]) == (503, "storage_unavailable")
    queue.create_queue()

    assert start(campaign).status_code == 202
    host_for(deployed).run_until(ended(campaign), RUN_SECONDS)
    assert outcomes_of(status(campaign)) == {"contained": 30, "not_contained": 4}


def test_a_cancel_whose_queue_send_failed_is_retried_and_the_campaign_ends(
    tenant: CampaignTenant, deployed: dict[str, str]
) -> None:
    campaign = started(tenant)
    queue = campaign_queue_client(deployed)
    queue.delete_queue()  # the chunk messages go with it: only the cancel's own message can end the campaign
    assert cancel(campaign).status_code == 503
    queue.create_queue()

    assert cancel(campaign).status_code == 202
    host_for(deployed).run_until(ended(campaign), RUN_SECONDS)
    body = status(campaign)
    assert (body["status"], outcomes_of(body)) == ("cancelled", {"cancelled": 34})
    assert writes(tenant.graph) == []


def test_a_failed_send_of_the_end_check_is_retried_and_the_campaign_ends(
    tenant: CampaignTenant, deployed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    send = StorageDelayQueue.send
    failed: list[dict[str, Any]] = []

    def fails_once_for_the_end(queue: StorageDelayQueue, message: dict[str, Any], delay_seconds: float) -> None:
        if message.get("kind") == "finish" and not failed:
            failed.append(message)
            raise ResourceNotFoundError("the queue did not answer")
        send(queue, message, delay_seconds)

    monkeypatch.setattr(StorageDelayQueue, "send", fails_once_for_the_end)
    campaign = started(tenant)
    host_for(deployed).run_until(ended(campaign), 60)

    assert failed
    assert outcomes_of(status(campaign)) == {"contained": 30, "not_contained": 4}


# --- a cancel names who cancelled -------------------------------------------------------------------
CANCELLER = ("6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")  # (app, object)


def test_a_cancel_is_audited_with_the_caller_who_cancelled(
    tenant: CampaignTenant, campaign_settings: dict[str, str], authority: EntraAuthority, logs: LogCapture
) -> None:
    assert tenant.group is not None
    starter = authority.mint([ROLE_CAMPAIGN, ROLE_REVOKE], app_id=str(uuid.uuid4()), object_id=str(uuid.uuid4()))
    canceller = authority.mint([ROLE_CAMPAIGN], app_id=CANCELLER[0], object_id=CANCELLER[1])
    body = {"scope": {"group": tenant.group.object_id}, "actions": ["revokeSignInSessions"], "reason": "r"}
    with app_settings({**campaign_settings, **authority.environment()}):
        from revoke.app.campaign_triggers import campaign_preview

        answer = campaign_preview(with_token(request("POST", "campaigns", {**body, "correlationId": "ir-9"}), starter))
        campaign = json.loads(answer.get_body())["campaignId"]
        assert start(campaign, starter).status_code == 202
        assert cancel(campaign, canceller).status_code == 202
        host_for(campaign_settings).run_until(ended(campaign, canceller), RUN_SECONDS)

    [cancelled] = [e for e in logs.audit_events() if e["outcome"] == "campaign_cancelled"]
    assert (cancelled["callerAppId"], cancelled["callerObjectId"]) == CANCELLER
    assert cancelled["action"] == "campaign" and campaign in cancelled["detail"]
    per_target = [e for e in logs.audit_events() if e["outcome"] == "cancelled"]
    assert per_target and {(e["callerAppId"], e["callerObjectId"]) for e in per_target} == {CANCELLER}


# --- a message that is no campaign's is kept for a person, never dropped ---------------------------
def test_a_sentinel_message_on_the_campaign_queue_is_kept_unchanged_where_requests_are_replayed(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture
) -> None:
    request_queue = f"requests-{uuid.uuid4().hex[:12]}"
    incident = (SAMPLES / "sentinel-incident.json").read_text()
    with app_settings({**deployed, "REVOKE_QUEUE_NAME": request_queue}):
        host = host_for(deployed)  # the queue host makes the campaign queue, as the Functions host does
        campaign_queue_client(deployed).send_message(incident)
        host.poll_once()

    kept = QueueClient.from_connection_string(deployed["AzureWebJobsStorage"], f"{request_queue}-poison")
    assert [m.content for m in kept.receive_messages()] == [incident]
    [rejected] = [e for e in logs.audit_events() if e["outcome"] == "rejected"]
    assert rejected["trigger"] == "campaign" and f"{request_queue}-poison" in rejected["detail"]
    assert tenant.graph.graph_requests() == []


@pytest.mark.parametrize(
    "names",
    [
        {"REVOKE_QUEUE_NAME": "revoke-work", "REVOKE_CAMPAIGN_QUEUE_NAME": "revoke-work"},
        {"REVOKE_QUEUE_NAME": "revoke-work", "REVOKE_CAMPAIGN_QUEUE_NAME": "revoke-work-poison"},
        {"REVOKE_QUEUE_NAME": "revoke-campaigns-poison"},
    ],
)
def test_the_request_and_campaign_queues_may_not_share_a_queue(names: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="REVOKE_CAMPAIGN_QUEUE_NAME") as refused:
        Settings.from_environment(names)
    assert "REVOKE_QUEUE_NAME" in refused.value.public_message
