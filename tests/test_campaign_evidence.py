"""A campaign's audit events reach the workspace table too: its start from the HTTP route, each target's
from the queue chunk that acted on it (each chunk an invocation of its own, run by the host's pool),
and its end, every one once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from graphsim.campaign_tenant import CampaignTenant
from graphsim.harness import LogCapture, app_settings
from tests.campaign_fixtures import RUN_SECONDS, ended, host_for, started, status


@pytest.fixture
def delivering(tenant: CampaignTenant, campaign_settings: dict[str, str]) -> Iterator[dict[str, str]]:
    settings = {**campaign_settings, **tenant.graph.ingestion_environment()}
    with app_settings(settings):
        yield settings


def test_every_campaign_event_reaches_the_table_once(
    tenant: CampaignTenant,
    delivering: dict[str, str],
    logs: LogCapture,
) -> None:
    campaign = started(tenant, ("revokeSignInSessions", "disableAccount"))
    host_for(delivering).run_until(ended(campaign), RUN_SECONDS)
    assert status(campaign)["status"] == "completed"

    events = logs.audit_events()
    table = [{k: v for k, v in r.items() if k != "TimeGenerated"} for r in tenant.graph.ingestion.records]
    key = lambda e: (e["user"], e["action"], e["outcome"], e["time"])  # noqa: E731
    assert Counter(map(key, table)) == Counter(map(key, events))
    assert len(events) == 3 + 34 * 2  # preview, start, end, and each target's two actions
    campaign_events = [e["outcome"] for e in table if e["action"] == "campaign"]
    assert campaign_events == ["campaign_previewed", "campaign_started", "campaign_ended"]
    assert all(upload.status == 204 for upload in tenant.graph.ingestion.uploads)
    assert len(tenant.graph.ingestion.uploads) >= 4  # preview, start, at least one chunk, the finishing check
