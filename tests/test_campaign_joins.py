"""A campaign holds to what every single request holds to since the guardrails and the hybrid work:
protection by directory role, a containment record for each user it contained (so a release may
undo exactly that), and the verdict for a user synced from Active Directory."""

from __future__ import annotations

import pytest
from azure.data.tables import TableClient

from graphsim.azurite import Azurite
from graphsim.campaign_tenant import GLOBAL_ADMINISTRATOR, CampaignTenant
from graphsim.harness import LogCapture, app_settings
from revoke.containment.records import TABLE_NAME
from revoke.containment.verdict import DISABLED_UNTIL_SYNC
from tests.campaign_fixtures import RUN_SECONDS, ended, events_for, host_for, outcomes_of, started, status


def test_an_active_holder_of_a_protected_role_is_never_acted_on_by_a_campaign(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture
) -> None:
    protected_role = {**deployed, "REVOKE_PROTECTED_ROLES": GLOBAL_ADMINISTRATOR}
    with app_settings(protected_role):
        campaign = started(tenant, ("revokeSignInSessions", "disableAccount"))
        host_for(protected_role).run_until(ended(campaign), RUN_SECONDS)
        body = status(campaign)

    admins = {admin.object_id for admin in tenant.admins}
    assert admins and not admins & set(tenant.graph.revocations) and not admins & tenant.graph.disabled
    # Left out at the preview, as the break-glass accounts are, and never a target.
    assert body["preview"]["protected"] == len(tenant.protected) + len(admins)
    assert sum(outcomes_of(body).values()) == 34 - len(admins)
    assert all(events_for(logs, admin.user_principal_name) == [] for admin in tenant.admins)
    eligible = tenant.eligible_admins[0].object_id  # PIM-eligible only: no member of the role, contained
    assert eligible in tenant.graph.disabled


def test_a_campaign_records_each_user_it_contained(
    tenant: CampaignTenant, deployed: dict[str, str], azurite: Azurite
) -> None:
    recorded = {**deployed, "REVOKE_CONTAINMENT_RECORDS": "true"}
    with app_settings(recorded):
        campaign = started(tenant, ("revokeSignInSessions", "disableAccount"))
        host_for(recorded).run_until(ended(campaign), RUN_SECONDS)

    table = TableClient.from_connection_string(azurite.connection_string, TABLE_NAME)
    records = {entity["RowKey"]: entity for entity in table.list_entities()}
    contained = {user.object_id for user in tenant.members + tenant.guests}
    assert contained <= set(records)
    for object_id in contained:
        entity = records[object_id]
        assert (entity["disableAccount"], entity["revokeSignInSessions"]) == (True, True)
        assert entity["trigger"] == "campaign"
    assert not {user.object_id for user in tenant.protected} & set(records)


@pytest.fixture
def synced(tenant: CampaignTenant) -> str:
    """A member of the group synced from Active Directory, whose account is enabled there."""
    assert tenant.group is not None
    member = tenant.graph.add_user("pradeep.gupta@contoso.com", synced=True)
    tenant.group.members.append(member.object_id)
    return member.object_id


def test_a_synced_user_a_campaign_disabled_is_not_contained_past_the_next_sync(
    tenant: CampaignTenant, deployed: dict[str, str], logs: LogCapture, synced: str
) -> None:
    campaign = started(tenant, ("revokeSignInSessions", "disableAccount"))
    host_for(deployed).run_until(ended(campaign), RUN_SECONDS)

    outcomes = outcomes_of(status(campaign))
    assert outcomes["not_contained"] == 1 and outcomes["contained"] == 34
    [last] = [e for e in logs.audit_events() if e["user"] and e["contained"] is False and e["trigger"] == "campaign"]
    assert DISABLED_UNTIL_SYNC in last["detail"] and "campaign takes no Active Directory action" in last["detail"]
    tenant.graph.directory_sync()
    assert synced not in tenant.graph.disabled  # what the verdict said: the sync enabled the account again
