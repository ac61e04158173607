"""The security properties the deployment promises, asserted on the parsed Bicep templates."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Collection, Iterable
from typing import Any

from conftest import BICEP_FILES, ROOT, body, function_app_settings, resources_of_type, the_resource

from revoke.actions import ACTIVE_DIRECTORY_APP_ROLES, ContainmentAction
from revoke.campaigns.request import SCOPE_APP_ROLES
from revoke.containment.action_run import revocation_alone

# Microsoft Graph application role ids, as published in the Microsoft Graph permissions reference.
USER_REVOKE_SESSIONS_ALL = "77f3a031-c388-4f99-b373-dc68676a979e"
USER_READ_BASIC_ALL = "97235f07-e226-4f63-ace3-39588e11d3a1"
GRAPH_APP_ROLES = {
    "User.RevokeSessions.All": USER_REVOKE_SESSIONS_ALL,
    "User.EnableDisableAccount.All": "3011c876-62b7-4ada-afa2-506cbbecc68c",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "IdentityRiskyUser.ReadWrite.All": "656f6061-f9fe-4807-9708-6a2e0934df76",
    "User.ReadBasic.All": USER_READ_BASIC_ALL,
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    # Defender for Identity (REVOKE_ONPREM_ACTIONS): the application ids Microsoft Graph's service
    # principal publishes (listed at graphpermissions.merill.net, generated from it).
    "SecurityIdentitiesAccount.Read.All": "c5bc96f5-b4a1-4cfc-8189-d5f0d772278f",
    "SecurityIdentitiesActions.ReadWrite.All": "af2bf46f-7bf1-4be3-8bad-e17e279e8462",
}


def _readiness() -> tuple[ast.Module, dict[str, Any]]:
    """revoke/app/readiness.py parsed, and its module constants: read from the source, since importing
    it needs azure-core, which the infra test environment does not install."""
    tree = ast.parse((ROOT / "revoke" / "app" / "readiness.py").read_text())
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in {"KIND_ROLE", "LOOKUP_ROLES"}
    }
    return tree, constants


READINESS, _CONSTANTS = _readiness()
# The role revocation alone needs to tell external users apart, and the roles either of which serves
# every other look-up, as the readiness check (/api/health) asks for them.
KIND_ROLE: str = _CONSTANTS["KIND_ROLE"]
LOOKUP_ROLES: tuple[str, ...] = _CONSTANTS["LOOKUP_ROLES"]


def test_the_readiness_check_asks_for_the_read_roles_by_this_rule() -> None:
    """look_up_roles mirrors `_missing`: revocation_alone decides between KIND_ROLE and LOOKUP_ROLES."""
    (missing,) = [node for node in READINESS.body if isinstance(node, ast.FunctionDef) and node.name == "_missing"]
    names = {node.id for node in ast.walk(missing) if isinstance(node, ast.Name)}
    assert {"revocation_alone", "KIND_ROLE", "LOOKUP_ROLES"} <= names
    assert KIND_ROLE in LOOKUP_ROLES
    assert set(LOOKUP_ROLES) == {"User.ReadBasic.All", "User.Read.All"}
    assert LOOKUP_ROLES[0] == "User.ReadBasic.All", "the least privileged first"


def look_up_roles(listed: Iterable[ContainmentAction], granted: Collection[str]) -> set[str]:
    """The read role the look-ups add to `granted` (the other roles), as revoke/app/readiness.py
    asks for it: KIND_ROLE when revocation is the only containing action of `listed`; otherwise the
    first of LOOKUP_ROLES unless `granted` holds one of them already. Least privilege, never both."""
    if revocation_alone(tuple(listed)):
        return {KIND_ROLE}
    return set() if set(granted) & set(LOOKUP_ROLES) else {LOOKUP_ROLES[0]}


# Azure built-in role definition ids (Azure built-in roles reference).
STORAGE_QUEUE_DATA_MESSAGE_SENDER = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"
MICROSOFT_SENTINEL_RESPONDER = "3e150937-b8fe-4cfb-8069-0eaf05ecd056"


def test_every_bicep_file_parses(templates: dict[str, dict[str, Any]]) -> None:
    assert len(BICEP_FILES) >= 7
    assert set(templates) >= {"main.bicep", "app/storage.bicep", "app/function.bicep", "app/rbac.bicep"}


def test_storage_accepts_only_entra_identities_over_tls(templates: dict[str, dict[str, Any]]) -> None:
    account = body(the_resource(templates["app/storage.bicep"], "Microsoft.Storage/storageAccounts"))
    properties = account["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["defaultToOAuthAuthentication"] is True
    assert properties["supportsHttpsTrafficOnly"] is True
    assert properties["minimumTlsVersion"] == "TLS1_2"


def test_no_container_allows_anonymous_reads(templates: dict[str, dict[str, Any]]) -> None:
    containers = resources_of_type(
        templates["app/storage.bicep"], "Microsoft.Storage/storageAccounts/blobServices/containers"
    )
    assert containers
    assert all(body(container)["properties"]["publicAccess"] == "None" for container in containers.values())


def test_request_and_poison_queues_are_created(templates: dict[str, dict[str, Any]]) -> None:
    queues = the_resource(templates["app/storage.bicep"], "Microsoft.Storage/storageAccounts/queueServices/queues")
    assert queues["config"]["loop_type"]["detail"]["array_name"] == ["requestQueueName", "${requestQueueName}-poison"]


def test_no_template_reads_a_storage_key(templates: dict[str, dict[str, Any]]) -> None:
    for path in BICEP_FILES:
        text = path.read_text()
        assert "listKeys(" not in text, path
        assert "AccountKey=" not in text, path


def test_function_app_is_flex_consumption_python_311(templates: dict[str, dict[str, Any]]) -> None:
    function = templates["app/function.bicep"]
    plan = body(the_resource(function, "Microsoft.Web/serverfarms"))
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    config = body(the_resource(function, "Microsoft.Web/sites"))["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"


def test_function_app_is_https_only_tls12_without_ftp(templates: dict[str, dict[str, Any]]) -> None:
    site = body(the_resource(templates["app/function.bicep"], "Microsoft.Web/sites"))
    assert site["identity"]["type"] == "UserAssigned"
    properties = site["properties"]
    assert properties["httpsOnly"] is True
    assert properties["siteConfig"]["minTlsVersion"] == "1.2"
    assert properties["siteConfig"]["scmMinTlsVersion"] == "1.2"
    assert properties["siteConfig"]["ftpsState"] == "Disabled"


def test_basic_publishing_credentials_are_off_for_ftp_and_scm(templates: dict[str, dict[str, Any]]) -> None:
    policies = the_resource(templates["app/function.bicep"], "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert sorted(policies["config"]["loop_type"]["detail"]["array_name"]) == ["ftp", "scm"]
    assert body(policies)["properties"] == {"allow": False}


def test_host_storage_and_telemetry_use_the_identity(templates: dict[str, dict[str, Any]]) -> None:
    fixed = function_app_settings(templates["app/function.bicep"])
    assert fixed["AzureWebJobsStorage__credential"] == "managedidentity"
    assert fixed["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert fixed["AZURE_CLIENT_ID"] == "identityClientId"
    assert fixed["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"
    assert "AzureWebJobsStorage" not in fixed  # a connection string would carry a key


def test_application_insights_takes_only_entra_tokens_and_keeps_every_event(
    templates: dict[str, dict[str, Any]],
) -> None:
    modules = templates["main.bicep"]["modules"]
    app_insights = next(m for m in modules.values() if m["detail"].get("path") == "avm/res/insights/component")
    params = app_insights["config"]["params"]
    assert params["disableLocalAuth"] is True
    assert params["samplingPercentage"] == 100


def test_verified_modules_are_pinned(templates: dict[str, dict[str, Any]]) -> None:
    registry_modules = [
        module["detail"]
        for template in templates.values()
        for module in template.get("modules", {}).values()
        if module["type"] == "bicep_registry_alias"
    ]
    assert registry_modules
    for detail in registry_modules:
        assert detail["path"].startswith("avm/res/"), detail
        assert detail["tag"][0].isdigit(), detail  # an exact version, never "latest"


def test_graph_roles_are_exactly_those_the_actions_and_the_look_ups_need(templates: dict[str, dict[str, Any]]) -> None:
    """Which of them is granted when is tests/infra/test_permissions_follow_settings.py."""
    graph = templates["app/graph-permissions.bicep"]
    role_ids = {name.strip("'"): role for name, role in graph["variables"]["graphAppRoles"]["value"].items()}
    assert role_ids == GRAPH_APP_ROLES
    needed = {role for action in ContainmentAction for role in action.app_roles} | set(LOOKUP_ROLES) | {KIND_ROLE}
    needed |= {role for roles in SCOPE_APP_ROLES.values() for role in roles}
    needed |= set(ACTIVE_DIRECTORY_APP_ROLES)
    assert set(role_ids) == needed
    assert {row["role"] for row in graph["variables"]["grants"]["value"]} == needed


# Permissions that would let the identity edit any user or read the whole directory.
BROADER_GRAPH_PERMISSIONS = ("User.ReadWrite.All", "Directory.ReadWrite.All", "Directory.Read.All")


def _names_permission(text: str, permission: str) -> bool:
    # A whole name: IdentityRiskyUser.ReadWrite.All does not name User.ReadWrite.All.
    return re.search(rf"(?<![\w.-]){re.escape(permission)}(?![\w.-])", text) is not None


def test_no_template_mentions_a_broader_graph_permission() -> None:
    for path in BICEP_FILES:
        # Comments may explain why these are not used; code may not use them.
        text = "\n".join(line.split("//")[0] for line in path.read_text().splitlines())
        for permission in BROADER_GRAPH_PERMISSIONS:
            assert not _names_permission(text, permission), f"{path} mentions {permission}"
        # User.Read.All only in the grant module (disableAccount, enableAccount, campaigns, revocation alone's look-ups).
        if path.name != "graph-permissions.bicep":
            assert not _names_permission(text, "User.Read.All"), f"{path} mentions User.Read.All"


def test_the_permission_check_reads_whole_names() -> None:
    assert _names_permission("'User.ReadWrite.All': 'x'", "User.ReadWrite.All")
    assert not _names_permission("'IdentityRiskyUser.ReadWrite.All': 'x'", "User.ReadWrite.All")


def test_graph_resources_come_from_the_pinned_graph_extension(templates: dict[str, dict[str, Any]]) -> None:
    config = json.loads((ROOT / "bicepconfig.json").read_text())
    assert config["extensions"]["microsoftGraphV1"].startswith(
        "br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:"
    )
    users = [name for name, t in templates.items() if "microsoftGraphV1" in t.get("extensions", {})]
    assert users == ["app/api-registration.bicep", "app/graph-permissions.bicep", "app/sentinel-principal.bicep"]
    # The Sentinel look-up only reads Entra: every Graph resource in it is `existing`.
    assert all(r["existing"] for r in templates["app/sentinel-principal.bicep"]["resources"].values())


def _grants(templates: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    return templates["app/rbac.bicep"]["variables"]["grants"]["value"]


def test_role_table_grants_exactly_what_the_host_and_bindings_need(templates: dict[str, dict[str, Any]]) -> None:
    grants = {(g["principal"], g["role"], g["scope"], g.get("queue")) for g in _grants(templates)}
    assert grants == {
        ("function", "storageBlobDataOwner", "storage", None),
        ("function", "storageTableDataContributor", "storage", None),
        ("function", "storageQueueDataContributor", "queue", "requestQueueName"),
        ("function", "storageQueueDataContributor", "queue", "poisonQueueName"),
        ("function", "monitoringMetricsPublisher", "appInsights", None),
        ("bridge", "storageQueueDataMessageSender", "queue", "requestQueueName"),
        ("sentinel", "microsoftSentinelAutomationContributor", "resourceGroup", None),
    }
    assert all(g["why"] for g in _grants(templates))


def test_bridge_may_only_send_to_the_request_queue(templates: dict[str, dict[str, Any]]) -> None:
    rbac = templates["app/rbac.bicep"]
    bridge_grants = [g for g in _grants(templates) if g["principal"] == "bridge"]
    assert bridge_grants == [
        {
            "principal": "bridge",
            "role": "storageQueueDataMessageSender",
            "scope": "queue",
            "queue": "requestQueueName",
            "why": bridge_grants[0]["why"],
        }
    ]
    assert rbac["variables"]["roles"]["value"]["storageQueueDataMessageSender"] == STORAGE_QUEUE_DATA_MESSAGE_SENDER
    # Queue rows are assigned at the queue itself, not at the account.
    queue_assignments = rbac["resources"]["queueAssignments"]
    assert queue_assignments["config"]["loop_type"]["detail"]["array_name"] == "queueGrants"
    scope = body(queue_assignments)["scope"]["operator"]
    assert scope == {"type": "index_accessor", "operands": {"operand_1": "queues", "operand_2": "i"}}
    assert rbac["resources"]["queues"]["type"] == "Microsoft.Storage/storageAccounts/queueServices/queues"


def test_role_assignments_come_from_the_table_and_are_named_with_guid(templates: dict[str, dict[str, Any]]) -> None:
    assignments = [
        resource
        for template in templates.values()
        for resource in resources_of_type(template, "Microsoft.Authorization/roleAssignments").values()
    ]
    # One loop per kind of scope over the table in app/rbac.bicep, the Sentinel workspace's one
    # in app/sentinel-responder.bicep (another resource group, and nothing may wait for it), the
    # audit rule's one in app/audit-publisher.bicep (likewise), the campaign queue's and table's loops in app/campaigns.bicep (only when campaigns are on), and
    # the verify queue's loop in app/verify-queue.bicep (unless the check is off).
    assert len(assignments) == 9
    verify = resources_of_type(templates["app/verify-queue.bicep"], "Microsoft.Authorization/roleAssignments")
    assert {a["config"]["loop_type"]["detail"]["array_name"] for a in verify.values()} == {"queueGrants"}
    campaigns = resources_of_type(templates["app/campaigns.bicep"], "Microsoft.Authorization/roleAssignments")
    assert {a["config"]["loop_type"]["detail"]["array_name"] for a in campaigns.values()} == {
        "queueGrants",
        "tableGrants",
    }
    rbac = resources_of_type(templates["app/rbac.bicep"], "Microsoft.Authorization/roleAssignments")
    assert len(rbac) == 4
    for assignment in rbac.values():
        assert assignment["config"]["loop_type"]["detail"]["array_name"].endswith("Grants")
    for alone in ("app/sentinel-responder.bicep", "app/audit-publisher.bicep"):
        assert len(resources_of_type(templates[alone], "Microsoft.Authorization/roleAssignments")) == 1
    for assignment in assignments:
        assert body(assignment)["name"]["function"]["type"] == "guid"
        assert body(assignment)["properties"]["principalType"] == "ServicePrincipal"


def bridge_workflow(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The workflow definition the bridge playbook loads with loadJsonContent()."""
    playbook = body(the_resource(templates["app/sentinel-bridge.bicep"], "Microsoft.Logic/workflows"))
    loaded = playbook["properties"]["definition"]["function"]
    assert loaded["type"] == "load_json_content"
    return json.loads((ROOT / "infra" / "app" / loaded["parameters"]["file_path"]).read_text())


def test_bridge_uses_its_identity_for_sentinel_and_the_queue(templates: dict[str, dict[str, Any]]) -> None:
    bridge = templates["app/sentinel-bridge.bicep"]
    playbook = body(the_resource(bridge, "Microsoft.Logic/workflows"))
    assert playbook["identity"]["type"] == "SystemAssigned"
    definition = bridge_workflow(templates)
    assert list(definition["triggers"]) == ["Microsoft_Sentinel_incident"]
    assert definition["triggers"]["Microsoft_Sentinel_incident"]["inputs"]["path"] == "/incident-creation"
    (action,) = [a for a in definition["actions"].values() if a["type"] == "Http"]
    assert action["inputs"]["authentication"] == {
        "type": "ManagedServiceIdentity",
        "audience": "https://storage.azure.com/",
    }
    assert action["inputs"]["uri"] == "@parameters('requestQueueMessagesUri')"
    # Every workflow parameter the definition declares without a default is supplied by the template.
    supplied = {name.strip("'") for name in playbook["properties"]["parameters"]}
    required = {name for name, p in definition["parameters"].items() if "defaultValue" not in p}
    assert required <= supplied
    assert {"$connections", "requestQueueMessagesUri"} <= supplied
    sentinel = playbook["properties"]["parameters"]["'$connections'"]["value"]["azuresentinel"]
    assert sentinel["connectionProperties"]["authentication"] == {"type": "ManagedServiceIdentity"}
    connection = body(the_resource(bridge, "Microsoft.Web/connections"))
    assert connection["properties"]["parameterValueType"] == "Alternative"


def test_automation_rule_runs_the_bridge_only_for_named_analytics_rules(templates: dict[str, dict[str, Any]]) -> None:
    rule = body(
        the_resource(templates["app/sentinel-automation-rule.bicep"], "Microsoft.SecurityInsights/automationRules")
    )
    logic = rule["properties"]["triggeringLogic"]
    assert logic["triggersOn"] == "Incidents"
    assert logic["triggersWhen"] == "Created"
    (condition,) = logic["conditions"]
    assert condition["conditionProperties"]["propertyName"] == "IncidentRelatedAnalyticRuleIds"
    assert condition["conditionProperties"]["propertyValues"] == "analyticRuleIds"
    (action,) = rule["properties"]["actions"]
    assert action["actionType"] == "RunPlaybook"
