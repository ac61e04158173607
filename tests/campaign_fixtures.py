"""What the campaign tests share: a simulated tenant with groups and a role, the campaign queue and
table in Azurite, the queue host, and the HTTP calls a SOC makes (registered in tests/conftest.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from graphsim import GraphSimulator
from graphsim.authority import EntraAuthority
from graphsim.azurite import Azurite
from graphsim.campaign_tenant import CampaignTenant, build_tenant
from graphsim.harness import LogCapture, app_settings
from graphsim.queue_host import QueueHost
from revoke.app.campaign_triggers import (
    campaign_cancel,
    campaign_poison,
    campaign_preview,
    campaign_queue,
    campaign_start,
    campaign_status,
)
from tests.conftest import AUDIT_VALIDATOR, assert_no_secrets

ROOT = Path(__file__).resolve().parent.parent

# 100 writes per 2 s in the app's settings and in graphsim: a pace of 40 writes/s at the 0.8 share.
QUOTA = "100/2"
RUN_SECONDS = 120  # generous: a busy CI machine; the campaigns below need a few seconds


@pytest.fixture
def tenant() -> Iterator[CampaignTenant]:
    with GraphSimulator() as graph:
        graph.directory.page_size = 7  # small pages, so every listing follows @odata.nextLink
        graph.directory.set_write_quota(100, 2)
        yield build_tenant(graph, members=30, guests=4, disabled=3, protected=2)


@pytest.fixture
def campaign_settings(tenant: CampaignTenant, azurite: Azurite) -> dict[str, str]:
    return {
        **tenant.graph.environment(),
        "AzureWebJobsStorage": azurite.connection_string,
        "REVOKE_CAMPAIGNS": "true",
        "REVOKE_CAMPAIGN_QUEUE_NAME": f"campaigns-{uuid.uuid4().hex[:12]}",
        "REVOKE_GRAPH_WRITE_QUOTA": QUOTA,
        "REVOKE_PROTECTED_USERS": ",".join(user.user_principal_name for user in tenant.protected),
        "REVOKE_RETRY_BUDGET_SECONDS": "10",
        "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount",
        # One caller previews and starts in most tests; tests/test_campaign_approval.py has two.
        "REVOKE_CAMPAIGN_APPROVAL": "single",
    }


@pytest.fixture
def deployed(tenant: CampaignTenant, campaign_settings: dict[str, str], logs: LogCapture) -> Iterator[dict[str, str]]:
    with app_settings(campaign_settings):
        yield campaign_settings
    for event in logs.audit_events():
        AUDIT_VALIDATOR.validate(event)
    assert_no_secrets(logs, tenant.graph)


def host_for(settings: dict[str, str], wrap: Callable[[Any], Any] = lambda f: f, **options: Any) -> QueueHost:
    queue = settings["REVOKE_CAMPAIGN_QUEUE_NAME"]
    functions = {queue: wrap(campaign_queue), queue + "-poison": campaign_poison}
    return QueueHost(settings["AzureWebJobsStorage"], functions, lease_seconds=5, retry_delay_seconds=1, **options)


def request(
    method: str, route: str, body: dict[str, Any] | None = None, campaign: str | None = None
) -> func.HttpRequest:
    return func.HttpRequest(
        method,
        f"/api/{route}",
        body=json.dumps(body).encode() if body is not None else b"",
        route_params={"campaignId": campaign} if campaign else {},
        headers={"Content-Type": "application/json"},
    )


def preview(
    scope: dict[str, Any], actions: tuple[str, ...] = ("revokeSignInSessions",), **extra: Any
) -> func.HttpResponse:
    body = {
        "scope": scope,
        "actions": list(actions),
        "reason": "token-signing key stolen",
        "correlationId": "ir-42",
        **extra,
    }
    return campaign_preview(request("POST", "campaigns", body))


def status(campaign: str, token: str | None = None) -> dict[str, Any]:
    call = request("GET", f"campaigns/{campaign}", campaign=campaign)
    response = campaign_status(with_token(call, token) if token else call)
    assert response.status_code == 200
    return dict(json.loads(response.get_body()))


def ended(campaign: str, token: str | None = None) -> Callable[[], bool]:
    return lambda: status(campaign, token)["endedAt"] is not None


def writes(graph: GraphSimulator) -> list[str]:
    return [r.path for r in graph.graph_requests() if r.method in ("POST", "PATCH") and "$batch" not in r.path]


def started(tenant: CampaignTenant, actions: tuple[str, ...] = ("revokeSignInSessions",)) -> str:
    assert tenant.group is not None
    answer = preview({"group": tenant.group.object_id}, actions)
    assert answer.status_code == 200, answer.get_body()
    campaign = json.loads(answer.get_body())["campaignId"]
    start = campaign_start(request("POST", f"campaigns/{campaign}/start", campaign=campaign))
    assert start.status_code == 202, start.get_body()
    return str(campaign)


# --- callers with a token ---------------------------------------------------------------------
STARTER = ("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f")  # (app, object)


@pytest.fixture
def authority() -> Iterator[EntraAuthority]:
    with EntraAuthority() as running:
        yield running


def with_token(req: func.HttpRequest, token: str) -> func.HttpRequest:
    return func.HttpRequest(
        req.method,
        req.url,
        body=req.get_body(),
        route_params=dict(req.route_params),
        headers={**dict(req.headers), "Authorization": f"Bearer {token}"},
    )


# --- reading what a campaign did ------------------------------------------------------------------
SLOW_QUOTA = "10/2"  # 4 writes/s at the 0.8 share, one target per chunk: 34 targets take about 9 s


def outcomes_of(body: dict[str, Any]) -> dict[str, int]:
    """The campaign's non-zero counts per outcome."""
    return {key: count for key, count in body["progress"]["outcomes"].items() if count}


def events_for(logs: LogCapture, user: str) -> list[tuple[str, str]]:
    """(action, outcome) of every campaign audit event about `user`, in order."""
    return [
        (e["action"], e["outcome"]) for e in logs.audit_events() if e["trigger"] == "campaign" and e["user"] == user
    ]


def start(campaign: str, token: str | None = None) -> func.HttpResponse:
    call = request("POST", f"campaigns/{campaign}/start", campaign=campaign)
    return campaign_start(with_token(call, token) if token else call)


def cancel(campaign: str, token: str | None = None) -> func.HttpResponse:
    call = request("POST", f"campaigns/{campaign}/cancel", campaign=campaign)
    return campaign_cancel(with_token(call, token) if token else call)
