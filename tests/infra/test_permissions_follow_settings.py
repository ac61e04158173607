"""The identity's permissions follow the settings that use them.

Each containment action's Microsoft Graph app roles are granted exactly when REVOKE_ACTIONS lists
the action, the look-ups' read role is the one revoke/app/readiness.py asks for (User.Read.All when
revocation is the only containing action, else User.ReadBasic.All unless User.Read.All is granted
anyway), and Microsoft Sentinel Responder is assigned on the workspace exactly when incident
comments are on and a workspace is named. The conditions are evaluated from the parsed templates
(bicep_values) for every combination, and compared with what revoke/actions.py says each action
needs and with how revoke/settings/ reads the settings.
"""

from __future__ import annotations

from itertools import combinations, product
from typing import Any

import pytest
from bicep_values import Evaluator
from conftest import body, resources_of_type, the_resource
from test_security import GRAPH_APP_ROLES, KIND_ROLE, LOOKUP_ROLES, MICROSOFT_SENTINEL_RESPONDER, look_up_roles

from revoke.actions import ContainmentAction
from revoke.incidents import incident_in_workspace, is_workspace_id
from revoke.settings import SettingNames, Settings

ACTION_SETS = [
    frozenset(chosen) for n in range(len(ContainmentAction) + 1) for chosen in combinations(ContainmentAction, n)
]


def _names(actions: frozenset[ContainmentAction]) -> str:
    return ",".join(sorted(action.value for action in actions)) or "none"


def granted(
    templates: dict[str, dict[str, Any]], actions: list[str], grant_actions: bool, grant_read: bool
) -> list[str]:
    """The app roles app/graph-permissions.bicep assigns, given the module's parameters."""
    values = Evaluator(
        templates["app/graph-permissions.bicep"],
        {
            "principalId": "11111111-2222-3333-4444-555555555555",
            "actions": actions,
            "grantActionPermissions": grant_actions,
            "grantReadPermission": grant_read,
        },
    )
    return [grant["role"] for grant in values.variable("wantedGrants")]


def needed(
    listed: frozenset[ContainmentAction] | tuple[ContainmentAction, ...], grant_actions: bool, grant_read: bool
) -> set[str]:
    roles = {role for action in listed for role in action.app_roles} if grant_actions else set()
    return roles | (look_up_roles(listed, roles) if grant_read else set())


@pytest.mark.parametrize("enabled", ACTION_SETS, ids=_names)
@pytest.mark.parametrize(("grant_actions", "grant_read"), list(product([True, False], repeat=2)))
def test_an_actions_roles_are_granted_exactly_when_it_is_enabled(
    templates: dict[str, dict[str, Any]], enabled: frozenset[ContainmentAction], grant_actions: bool, grant_read: bool
) -> None:
    roles = granted(templates, [action.value.lower() for action in enabled], grant_actions, grant_read)
    assert len(roles) == len(set(roles)), "each role is assigned once"
    assert set(roles) == needed(enabled, grant_actions, grant_read)
    assert not {KIND_ROLE, *LOOKUP_ROLES} <= set(roles), "never both read roles"


def test_the_default_grant_reads_what_tells_external_users_apart(templates: dict[str, dict[str, Any]]) -> None:
    """The default deployment (revokeSignInSessions alone) gets User.Read.All, not User.ReadBasic.All."""
    main = templates["main.bicep"]
    actions = Evaluator(main).variable("enabledActions")
    assert actions == [action.value.lower() for action in Settings().actions] == ["revokesigninsessions"]
    assert main["parameters"]["grantGraphReadPermission"]["default"] is True
    assert main["parameters"]["grantGraphRevokePermission"]["default"] is True
    roles = granted(templates, actions, True, True)
    assert sorted(roles) == ["User.Read.All", "User.RevokeSessions.All"]
    assert KIND_ROLE in roles
    assert "User.ReadBasic.All" not in roles


@pytest.mark.parametrize("setting", ["disableAccount", "revokeSignInSessions,disableAccount"])
def test_with_disable_account_the_basic_read_is_not_granted_beside_the_full_one(
    templates: dict[str, dict[str, Any]], setting: str
) -> None:
    actions = Evaluator(templates["main.bicep"], {"revokeActions": setting}).variable("enabledActions")
    roles = granted(templates, actions, True, True)
    assert roles.count("User.Read.All") == 1
    assert "User.ReadBasic.All" not in roles
    # Without the action grants, the look-ups still get one read role: the basic one.
    assert granted(templates, actions, False, True) == ["User.ReadBasic.All"]


def test_roles_are_assigned_by_id_to_the_identity_from_the_wanted_rows(templates: dict[str, dict[str, Any]]) -> None:
    graph = templates["app/graph-permissions.bicep"]
    role_ids = {name.strip("'"): role_id for name, role_id in graph["variables"]["graphAppRoles"]["value"].items()}
    assert role_ids == GRAPH_APP_ROLES
    assignments = the_resource(graph, "Microsoft.Graph/appRoleAssignedTo")
    assert assignments["config"]["loop_type"]["detail"] == {"item_name": "grant", "array_name": "wantedGrants"}
    assignment = body(assignments)
    assert assignment["principalId"] == "principalId"
    lookup = assignment["appRoleId"]["operator"]
    assert lookup["type"] == "index_accessor"
    assert lookup["operands"]["operand_1"] == "graphAppRoles"
    assert lookup["operands"]["operand_2"]["operator"]["operands"] == {"operand_1": "grant", "operand_2": "role"}
    rows = graph["variables"]["grants"]["value"]
    assert {row["role"] for row in rows} == set(GRAPH_APP_ROLES)
    assert all(row["why"] for row in rows)


@pytest.mark.parametrize(
    "setting",
    [
        "revokeSignInSessions",
        "disableAccount",
        "confirmCompromised",
        " DisableAccount , ,REVOKESIGNINSESSIONS",
        "confirmCompromised,disableAccount,revokeSignInSessions,disableAccount",
    ],
)
def test_from_revoke_actions_to_roles_as_the_code_reads_the_setting(
    templates: dict[str, dict[str, Any]], setting: str
) -> None:
    """main.bicep reads REVOKE_ACTIONS as revoke/settings/ does, and hands that to the grant module."""
    main = templates["main.bicep"]
    params = main["modules"]["graphPermissions"]["config"]["params"]
    assert params["actions"] == "enabledActions"
    assert params["grantActionPermissions"] == "grantGraphRevokePermission"
    assert params["grantReadPermission"] == "grantGraphReadPermission"
    assert main["variables"]["revokeAppSettings"]["value"][SettingNames.ACTIONS] == "revokeActions"

    actions = Evaluator(main, {"revokeActions": setting}).variable("enabledActions")
    code_actions = Settings.from_environment({SettingNames.ACTIONS: setting}).actions
    assert set(actions) == {action.value.lower() for action in code_actions}
    assert set(granted(templates, actions, True, True)) == needed(code_actions, True, True)


def test_a_name_the_code_refuses_grants_nothing(templates: dict[str, dict[str, Any]]) -> None:
    actions = Evaluator(templates["main.bicep"], {"revokeActions": "disableAcount"}).variable("enabledActions")
    assert granted(templates, actions, True, False) == []


# ---------------------------------------------------------------------------
# Incident comments: Microsoft Sentinel Responder on the workspace REVOKE_SENTINEL_WORKSPACE names.
# ---------------------------------------------------------------------------
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
WORKSPACE = {
    "sentinelWorkspaceName": "sentinel-ws",
    "sentinelWorkspaceResourceGroup": "rg-sentinel",
    "sentinelWorkspaceSubscriptionId": SUBSCRIPTION,
}


def _responder_module(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (module,) = [
        m for m in templates["main.bicep"]["modules"].values() if m["detail"]["path"] == "app/sentinel-responder.bicep"
    ]
    return module


@pytest.mark.parametrize(
    ("comments", "workspace", "grant"), list(product([True, False], ["", "sentinel-ws"], [True, False]))
)
def test_sentinel_responder_is_assigned_exactly_when_comments_can_be_written(
    templates: dict[str, dict[str, Any]], comments: bool, workspace: str, grant: bool
) -> None:
    module = _responder_module(templates)
    condition = module["config"].get("condition")
    assert condition is not None, "the Responder assignment must depend on incident comments being on"
    values = Evaluator(
        templates["main.bicep"],
        {
            "revokeIncidentComments": comments,
            "sentinelWorkspaceName": workspace,
            "grantSentinelCommentPermission": grant,
        },
    )
    assert values.value(condition) is (comments and bool(workspace) and grant)


def test_responder_is_assigned_on_the_workspace_the_function_comments_in(templates: dict[str, dict[str, Any]]) -> None:
    main = templates["main.bicep"]
    values = Evaluator(main, WORKSPACE)
    setting = values.value(main["variables"]["revokeAppSettings"]["value"][SettingNames.SENTINEL_WORKSPACE])
    assert setting == (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-sentinel"
        "/providers/Microsoft.OperationalInsights/workspaces/sentinel-ws"
    )
    assert is_workspace_id(setting)
    incident = f"{setting}/providers/Microsoft.SecurityInsights/incidents/0f0e1d2c-0000-4000-8000-000000000001"
    assert incident_in_workspace(incident, setting) is not None

    config = _responder_module(templates)["config"]["config"]
    scope = config["scope"]["function"]
    assert scope["type"] == "resource_group"
    assert values.value(scope["parameters"]["subscription_id"]) == SUBSCRIPTION
    assert values.value(scope["parameters"]["resource_group_name"]) == "rg-sentinel"
    assert values.value(config["params"]["workspaceName"]) == "sentinel-ws"
    principal = config["params"]["principalId"]["operator"]["operands"]
    assert principal["operand_1"] == "identity"
    assert principal["operand_2"]["operator"]["operands"] == {"operand_1": "outputs", "operand_2": "principalId"}


def test_no_workspace_means_no_comments(templates: dict[str, dict[str, Any]]) -> None:
    main = templates["main.bicep"]
    setting = Evaluator(main).value(main["variables"]["revokeAppSettings"]["value"][SettingNames.SENTINEL_WORKSPACE])
    assert setting == ""
    assert not Settings.from_environment({SettingNames.SENTINEL_WORKSPACE: setting}).comments_on


def test_the_responder_module_assigns_responder_on_the_workspace(templates: dict[str, dict[str, Any]]) -> None:
    module = templates["app/sentinel-responder.bicep"]
    (workspace_name,) = [
        name
        for name, resource in module["resources"].items()
        if resource["type"] == "Microsoft.OperationalInsights/workspaces" and resource["existing"]
    ]
    assert body(module["resources"][workspace_name])["name"] == "workspaceName"
    (assignment,) = resources_of_type(module, "Microsoft.Authorization/roleAssignments").values()
    config = body(assignment)
    assert config["scope"] == workspace_name
    assert config["name"]["function"]["type"] == "guid"
    properties = config["properties"]
    role = properties["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
    assert module["variables"][role]["value"] == MICROSOFT_SENTINEL_RESPONDER
    assert properties["principalId"] == "principalId"
    assert properties["principalType"] == "ServicePrincipal"
    assert properties["description"]


# ---------------------------------------------------------------------------
# Protection by group or directory role: memberships readable exactly when the settings name one.
# ---------------------------------------------------------------------------
GROUP = "0f0e0d0c-0b0a-4908-8706-050403020100"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"


@pytest.mark.parametrize(
    ("groups", "roles", "expected"),
    [("", "", False), (" , ", ",", False), (GROUP, "", True), ("", f" {GLOBAL_ADMINISTRATOR} ,", True)],
)
def test_main_reads_the_protection_settings_as_the_code_does(
    templates: dict[str, dict[str, Any]], groups: str, roles: str, expected: bool
) -> None:
    main = templates["main.bicep"]
    assert main["modules"]["graphPermissions"]["config"]["params"]["protectionByMembership"] == "protectionByMembership"
    values = Evaluator(main, {"revokeProtectedGroups": groups, "revokeProtectedRoles": roles})
    assert values.variable("protectionByMembership") is expected
    code = Settings.from_environment(
        {SettingNames.PROTECTED_GROUPS: groups, SettingNames.PROTECTED_ROLES: roles}
    ).protected_by_membership
    assert code is expected
    settings = main["variables"]["revokeAppSettings"]["value"]
    assert (settings[SettingNames.PROTECTED_GROUPS], settings[SettingNames.PROTECTED_ROLES]) == (
        "revokeProtectedGroups",
        "revokeProtectedRoles",
    )


def granted_with_protection(
    templates: dict[str, dict[str, Any]], actions: list[str], grant_read: bool, protection: bool
) -> list[str]:
    values = Evaluator(
        templates["app/graph-permissions.bicep"],
        {
            "principalId": "11111111-2222-3333-4444-555555555555",
            "actions": actions,
            "grantActionPermissions": True,
            "grantReadPermission": grant_read,
            "protectionByMembership": protection,
        },
    )
    return [grant["role"] for grant in values.variable("wantedGrants")]


@pytest.mark.parametrize("enabled", ACTION_SETS, ids=_names)
@pytest.mark.parametrize(("grant_read", "protection"), list(product([True, False], repeat=2)))
def test_memberships_are_readable_exactly_when_protection_by_membership_is_on(
    templates: dict[str, dict[str, Any]], enabled: frozenset[ContainmentAction], grant_read: bool, protection: bool
) -> None:
    """checkMemberObjects needs User.ReadBasic.All and GroupMember.Read.All, or User.Read.All alone
    (revoke/app/readiness.py, MEMBERSHIP_ROLES): GroupMember.Read.All only when the full read is not granted."""
    roles = set(
        granted_with_protection(templates, [action.value.lower() for action in enabled], grant_read, protection)
    )
    without = needed(enabled, True, grant_read)
    if protection and grant_read:
        reads = {"User.Read.All"} <= roles or {"User.ReadBasic.All", "GroupMember.Read.All"} <= roles
        assert reads, roles
        assert roles - without == ({"GroupMember.Read.All"} if "User.Read.All" not in without else set())
    else:
        assert roles == without
