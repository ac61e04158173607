"""Campaigns in the templates: the queue, table, data roles and Graph read roles exist exactly when REVOKE_CAMPAIGNS is on."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
from bicep_values import Evaluator
from conftest import body, resources_of_type
from test_role_coverage import BUILT_IN_ROLES, ENTITIES, MESSAGES, QUEUE, TABLES
from test_security import look_up_roles

from revoke.actions import ContainmentAction
from revoke.campaigns.names import TABLE_NAME
from revoke.campaigns.request import SCOPE_APP_ROLES
from revoke.settings import DEFAULT_CAMPAIGN_QUEUE_NAME, SettingNames

CAMPAIGN_ROLES = {role for roles in SCOPE_APP_ROLES.values() for role in roles}


def _granted(
    templates: dict[str, dict[str, Any]], actions: list[str], grant_actions: bool, campaigns: bool, read: bool = False
) -> list[str]:
    values = Evaluator(
        templates["app/graph-permissions.bicep"],
        {
            "principalId": "11111111-2222-3333-4444-555555555555",
            "actions": actions,
            "grantActionPermissions": grant_actions,
            "grantReadPermission": read,
            "grantCampaignPermissions": campaigns,
        },
    )
    return [grant["role"] for grant in values.variable("wantedGrants")]


@pytest.mark.parametrize(("disable", "grant_actions", "campaigns", "read"), list(product([True, False], repeat=4)))
def test_campaign_graph_roles_are_granted_exactly_when_campaigns_are_on(
    templates: dict[str, dict[str, Any]], disable: bool, grant_actions: bool, campaigns: bool, read: bool
) -> None:
    actions = ["revokesigninsessions", *(["disableaccount"] if disable else [])]
    roles = _granted(templates, actions, grant_actions, campaigns, read)
    assert len(roles) == len(set(roles)), "User.Read.All is assigned once even when several need it"
    listed = [action for name in actions if (action := ContainmentAction.parse(name)) is not None]
    expected = {role for action in listed for role in action.app_roles} if grant_actions else set()
    expected |= CAMPAIGN_ROLES if campaigns else set()
    assert set(roles) == expected | (look_up_roles(listed, expected) if read else set())
    if campaigns:
        assert "User.ReadBasic.All" not in roles, "User.Read.All, granted for campaigns, serves the look-ups"


def test_main_grants_campaign_roles_only_when_campaigns_are_on(templates: dict[str, dict[str, Any]]) -> None:
    params = templates["main.bicep"]["modules"]["graphPermissions"]["config"]["params"]
    condition = params["grantCampaignPermissions"]["operator"]
    assert condition["type"] == "and"
    assert set(condition["operands"].values()) == {"revokeCampaigns", "grantGraphRevokePermission"}


def test_the_campaign_module_is_deployed_only_when_campaigns_are_on(templates: dict[str, dict[str, Any]]) -> None:
    module = templates["main.bicep"]["modules"]["campaigns"]
    assert module["config"]["condition"] == "revokeCampaigns"
    params = body(module)["params"]
    assert params["campaignQueueName"] == "revokeCampaignQueueName"
    main = templates["main.bicep"]
    assert main["parameters"]["revokeCampaigns"]["default"] is False
    assert main["parameters"]["revokeCampaignQueueName"]["default"] == DEFAULT_CAMPAIGN_QUEUE_NAME
    assert (
        main["variables"]["revokeAppSettings"]["value"][SettingNames.CAMPAIGN_QUEUE_NAME] == "revokeCampaignQueueName"
    )


def test_the_campaign_module_creates_both_queues_and_the_table_the_code_uses(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["app/campaigns.bicep"]
    (created,) = [r for r in resources_of_type(template, QUEUE).values() if not r.get("existing")]
    assert "campaignQueueName" in str(created["config"]["loop_type"]["detail"]["array_name"])
    assert "-poison" in str(created["config"]["loop_type"]["detail"]["array_name"])
    assert template["parameters"]["campaignTableName"]["default"] == TABLE_NAME


def _permissions(role_id: str) -> Any:
    return BUILT_IN_ROLES[role_id]


def test_the_identity_may_send_receive_and_poison_on_the_campaign_queue_and_use_the_table(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["app/campaigns.bicep"]
    roles = template["variables"]["roles"]["value"]
    queue_grants = template["variables"]["queueGrants"]["value"]
    by_queue: dict[str, set[str]] = {}
    for grant in queue_grants:
        assert grant["why"]
        by_queue.setdefault(grant["queue"], set()).add(grant["role"])
    assert by_queue == {
        "campaignQueueName": {"storageQueueDataMessageSender", "storageQueueDataContributor"},
        "${campaignQueueName}-poison": {"storageQueueDataContributor"},
    }
    sender = _permissions(roles["storageQueueDataMessageSender"])
    assert sender.grants(f"{MESSAGES}/add/action") and not sender.grants(f"{MESSAGES}/read")
    contributor = _permissions(roles["storageQueueDataContributor"])
    for needed in (f"{MESSAGES}/read", f"{MESSAGES}/delete", f"{MESSAGES}/write", f"{MESSAGES}/process/action"):
        assert contributor.grants(needed)
    (table_grant,) = template["variables"]["tableGrants"]["value"]
    table_role = _permissions(roles[table_grant["role"]])
    for needed in (f"{ENTITIES}/read", f"{ENTITIES}/write", f"{ENTITIES}/update/action", f"{TABLES}/write"):
        assert table_role.grants(needed)
