"""The API's Entra app registration (infra/app/api-registration.bicep) is what the function's token check expects.

Read from the parsed templates: the app roles the code maps to actions, an api:// identifier
URI, v2.0 tokens, a service principal that requires an assignment, the callers' assignments
as code, and the caller settings wired from it.
"""

from __future__ import annotations

import ast
import uuid
from typing import Any

from conftest import ROOT, body

from revoke import settings as code
from revoke.settings import SettingNames

REGISTRATION = "app/api-registration.bicep"


def code_roles() -> set[str]:
    """The ROLE_* constants of revoke/policy/roles.py (read as source, as the other layers are not needed here)."""
    tree = ast.parse((ROOT / "revoke" / "policy" / "roles.py").read_text())
    return {
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and any(isinstance(t, ast.Name) and t.id.startswith("ROLE_") for t in node.targets)
    }


def registration(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates[REGISTRATION]


def test_the_app_roles_are_the_roles_the_code_checks(templates: dict[str, dict[str, Any]]) -> None:
    roles = registration(templates)["variables"]["appRoles"]["value"]

    assert (
        {role["value"] for role in roles}
        == code_roles()
        == {
            "Containment.Revoke",
            "Containment.Disable",
            "Containment.ConfirmCompromised",
            "Containment.Release",
            "Containment.Campaign",
        }
    )
    ids = [role["id"] for role in roles]
    assert len(set(ids)) == len(ids) and all(str(uuid.UUID(i)) == i for i in ids)


def test_app_roles_are_for_applications_and_enabled(templates: dict[str, dict[str, Any]]) -> None:
    app = body(registration(templates)["resources"]["api"])
    loop = app["appRoles"]
    assert loop["loop_type"]["detail"] == {"item_name": "role", "array_name": "appRoles"}
    role = loop["config"]
    assert role["allowedMemberTypes"] == ["Application"]
    assert role["isEnabled"] is True
    assert [role[key]["operator"]["operands"]["operand_2"] for key in ("id", "value")] == ["id", "value"]


def test_the_api_asks_for_v2_tokens_under_an_api_uri(templates: dict[str, dict[str, Any]]) -> None:
    resource = registration(templates)["resources"]["api"]
    app = body(resource)

    assert resource["type"] == "Microsoft.Graph/applications"
    assert app["api"] == {"requestedAccessTokenVersion": 2}
    assert app["signInAudience"] == "AzureADMyOrg"
    [uri] = app["identifierUris"]
    assert uri.startswith("api://")
    assert registration(templates)["outputs"]["identifierUri"]["value"] == uri


def test_only_assigned_callers_get_a_token(templates: dict[str, dict[str, Any]]) -> None:
    resource = registration(templates)["resources"]["servicePrincipal"]

    assert resource["type"] == "Microsoft.Graph/servicePrincipals"
    assert body(resource)["appRoleAssignmentRequired"] is True


def test_callers_are_assigned_their_roles_as_code(templates: dict[str, dict[str, Any]]) -> None:
    template = registration(templates)
    assignments = template["resources"]["callerAssignments"]
    assert assignments["type"] == "Microsoft.Graph/appRoleAssignedTo"
    assert assignments["config"]["loop_type"]["detail"]["array_name"] == "assignments"
    assignment = body(assignments)
    assert assignment["principalId"] == {
        "operator": {"type": "property_accessor", "operands": {"operand_1": "assignment", "operand_2": "principalId"}}
    }
    assert "resourceId" in assignment and "appRoleId" in assignment
    # The rows come from the `callers` parameter only: known when the deployment starts.
    flattened = template["variables"]["assignments"]["value"]["function"]
    assert flattened["type"] == "flatten"
    assert flattened["parameters"]["array_to_flattern"]["function"]["parameters"]["arg_1"] == "callers"


def test_main_passes_the_callers_parameter_and_defaults_to_none(templates: dict[str, dict[str, Any]]) -> None:
    main = templates["main.bicep"]
    module = main["modules"]["apiRegistration"]
    assert module["detail"]["path"] == REGISTRATION
    assert module["config"]["params"]["callers"] == "revokeCallers"
    assert main["parameters"]["revokeCallers"]["default"] == []


def _setting(templates: dict[str, dict[str, Any]], name: str) -> Any:
    return templates["main.bicep"]["variables"]["revokeAppSettings"]["value"][name]


def test_the_audience_is_the_registrations_client_id_and_uri(templates: dict[str, dict[str, Any]]) -> None:
    audience = _setting(templates, SettingNames.AUTH_AUDIENCE)
    text = str(audience)
    assert "apiRegistration" in text and "appId" in text and "identifierUri" in text


def test_the_tenant_is_this_tenant_and_the_authority_this_clouds(templates: dict[str, dict[str, Any]]) -> None:
    tenant = _setting(templates, SettingNames.AUTH_TENANT_ID)
    assert tenant["operator"]["operands"]["operand_1"] == {"function": {"type": "tenant"}}
    assert tenant["operator"]["operands"]["operand_2"] == "tenantId"
    authority = str(_setting(templates, SettingNames.AUTH_AUTHORITY))
    assert "environment" in authority and "loginEndpoint" in authority
    # environment().authentication.loginEndpoint in Azure's public cloud, read as the code reads it.
    parsed = code.Settings.from_environment({SettingNames.AUTH_AUTHORITY: "https://login.microsoftonline.com/"})
    assert parsed.auth_authority == code.DEFAULT_AUTH_AUTHORITY


def test_the_function_identity_may_keep_the_budget_in_the_host_storage_tables(
    templates: dict[str, dict[str, Any]],
) -> None:
    grants = templates["app/rbac.bicep"]["variables"]["grants"]["value"]
    [tables] = [g for g in grants if g["role"] == "storageTableDataContributor"]
    assert (tables["principal"], tables["scope"]) == ("function", "storage")
    assert "REVOKE_ACTION_BUDGET" in tables["why"]
