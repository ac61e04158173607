"""The app settings wired in Bicep are the ones revoke/settings/ reads, with the same defaults."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import INFRA, function_app_settings

from revoke import settings as code
from revoke.settings import RevocationAction, SettingNames
from revoke.settings import campaigns as campaign_settings

# What the code falls back to when a setting is absent, as the string an app setting would hold.
CODE_DEFAULTS = {
    SettingNames.GRAPH_ENDPOINT: code.DEFAULT_GRAPH_ENDPOINT,
    SettingNames.ACTION: RevocationAction.REVOKE_SIGN_IN_SESSIONS.value,
    SettingNames.ACTIONS: ",".join(action.value for action in code.DEFAULT_ACTIONS),
    SettingNames.RELEASE_ACTIONS: "",  # none
    SettingNames.INCIDENT_COMMENTS: "true",
    SettingNames.SENTINEL_WORKSPACE: "",
    # Not a parameter: environment().resourceManager, this cloud's Resource Manager, which in
    # Azure's public cloud is the code's default with a trailing slash (test below).
    SettingNames.ARM_ENDPOINT: code.DEFAULT_ARM_ENDPOINT,
    SettingNames.DRY_RUN: "false",
    SettingNames.PROTECTED_USERS: "",
    SettingNames.MAX_USERS: str(code.DEFAULT_MAX_USERS),
    SettingNames.MAX_BODY_BYTES: str(code.DEFAULT_MAX_BODY_BYTES),
    SettingNames.QUEUE_NAME: code.DEFAULT_QUEUE_NAME,
    SettingNames.RETRY_BUDGET_SECONDS: str(code.DEFAULT_RETRY_BUDGET_SECONDS),
    SettingNames.MAX_PARALLEL: str(code.DEFAULT_MAX_PARALLEL),
    SettingNames.CALLER_AUTH: code.CallerAuth.ENTRA.value,
    SettingNames.ACTION_BUDGET: ",".join(f"{action}={limit}" for action, limit in code.DEFAULT_ACTION_BUDGET),
    SettingNames.QUEUE_BUDGET_SHARE: str(code.DEFAULT_QUEUE_BUDGET_SHARE),
    # Derived, each tested below: this cloud's sign-in endpoint, this tenant, the API registration.
    SettingNames.AUTH_AUTHORITY: code.DEFAULT_AUTH_AUTHORITY,
    SettingNames.AUTH_TENANT_ID: "",
    SettingNames.AUTH_AUDIENCE: "",
    SettingNames.CAMPAIGNS: "false",
    SettingNames.CAMPAIGN_QUEUE_NAME: code.DEFAULT_CAMPAIGN_QUEUE_NAME,
    SettingNames.MAX_CAMPAIGN_USERS: str(code.DEFAULT_MAX_CAMPAIGN_USERS),
    SettingNames.GRAPH_WRITE_QUOTA: "/".join(f"{n:g}" for n in code.DEFAULT_GRAPH_WRITE_QUOTA),
    SettingNames.CAMPAIGN_QUOTA_SHARE: str(code.DEFAULT_CAMPAIGN_QUOTA_SHARE),
    # Unset, all three: the events stay in the function's log. The deployment sets them from the
    # audit table's rule (tests/infra/test_audit_workspace.py), or leaves them empty.
    SettingNames.AUDIT_DCR_ENDPOINT: "",
    SettingNames.AUDIT_DCR_ID: "",
    SettingNames.AUDIT_STREAM: "",
    SettingNames.REQUIRE_REASON: "true",
    SettingNames.PROTECTED_GROUPS: "",
    SettingNames.PROTECTED_ROLES: "",
    SettingNames.CONTAINMENT_RECORDS: "true",
    SettingNames.ONPREM_ACTIONS: "",  # none
    SettingNames.VERIFY_AFTER_SECONDS: str(code.DEFAULT_VERIFY_AFTER_SECONDS),
    SettingNames.VERIFY_QUEUE_NAME: code.DEFAULT_VERIFY_QUEUE_NAME,
    SettingNames.CAMPAIGN_APPROVAL: code.CampaignApproval.TWO_PERSON.value,
    SettingNames.CAMPAIGN_PREVIEW_TTL_SECONDS: str(code.DEFAULT_CAMPAIGN_PREVIEW_TTL_SECONDS),
}


# The settings made from other values than a parameter of their own, each tested on its own below.
DERIVED = {
    SettingNames.SENTINEL_WORKSPACE,
    SettingNames.ARM_ENDPOINT,
    SettingNames.AUTH_AUTHORITY,
    SettingNames.AUTH_TENANT_ID,
    SettingNames.AUTH_AUDIENCE,
    SettingNames.AUDIT_DCR_ENDPOINT,
    SettingNames.AUDIT_DCR_ID,
    SettingNames.AUDIT_STREAM,
}
FROM_PARAMETERS = sorted(set(CODE_DEFAULTS) - DERIVED)


def _app_settings_from_main(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates["main.bicep"]["variables"]["revokeAppSettings"]["value"]


def _app_settings_from_function(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return function_app_settings(templates["app/function.bicep"])


def _parameter_behind(expression: Any) -> str:
    """The main.bicep parameter an app setting value is made from: `p`, `string(p)` or `p ? 'true' : 'false'`."""
    if isinstance(expression, str):
        return expression
    if "function" in expression:
        return expression["function"]["parameters"]["value_to_convert"]
    return expression["operator"]["operands"]["condition"]


def _as_setting(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_bicep_sets_every_setting_the_code_reads_and_no_other(templates: dict[str, dict[str, Any]]) -> None:
    ours = set(_app_settings_from_main(templates)) | set(_app_settings_from_function(templates))
    wired = {name for name in ours if name.startswith("REVOKE_") or name == SettingNames.CLIENT_ID}
    assert wired == set(SettingNames.all())


def test_client_id_is_the_identity_used_for_storage(templates: dict[str, dict[str, Any]]) -> None:
    fixed = _app_settings_from_function(templates)
    assert fixed[SettingNames.CLIENT_ID] == fixed["AzureWebJobsStorage__clientId"] == "identityClientId"


def test_every_setting_has_a_code_default() -> None:
    assert set(CODE_DEFAULTS) == set(SettingNames.all()) - {SettingNames.CLIENT_ID}


@pytest.mark.parametrize("name", FROM_PARAMETERS)
def test_bicep_default_equals_the_code_default(templates: dict[str, dict[str, Any]], name: str) -> None:
    main = templates["main.bicep"]
    parameter = main["parameters"][_parameter_behind(_app_settings_from_main(templates)[name])]
    bicep_default = _as_setting(parameter["default"])
    if name == SettingNames.RETRY_BUDGET_SECONDS:
        assert float(bicep_default) == float(CODE_DEFAULTS[name])
    else:
        assert bicep_default == CODE_DEFAULTS[name]


@pytest.mark.parametrize("name", FROM_PARAMETERS)
def test_azd_parameter_file_defaults_equal_the_code_defaults(templates: dict[str, dict[str, Any]], name: str) -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    parameter = _parameter_behind(_app_settings_from_main(templates)[name])
    # azd substitutes ${NAME=default} from the environment: the app setting's own name, the code's default.
    match = re.fullmatch(r"\$\{(\w+)=(.*)\}", parameters[parameter]["value"])
    assert match, parameters[parameter]
    env_name, azd_default = match.groups()
    assert env_name == name
    if name == SettingNames.RETRY_BUDGET_SECONDS:
        assert float(azd_default) == float(CODE_DEFAULTS[name])
    else:
        assert azd_default == CODE_DEFAULTS[name]


def test_the_audit_settings_empty_are_off_in_the_code() -> None:
    empty = {
        name: CODE_DEFAULTS[name]
        for name in (SettingNames.AUDIT_DCR_ENDPOINT, SettingNames.AUDIT_DCR_ID, SettingNames.AUDIT_STREAM)
    }
    assert code.Settings.from_environment(empty).audit_ingestion is None


def test_sentinel_workspace_defaults_to_none(templates: dict[str, dict[str, Any]]) -> None:
    """REVOKE_SENTINEL_WORKSPACE comes from SENTINEL_WORKSPACE_NAME (and its group and subscription):
    empty, the code's default, unless a workspace is named."""
    main = templates["main.bicep"]
    value = _app_settings_from_main(templates)[SettingNames.SENTINEL_WORKSPACE]
    assert value == "sentinelWorkspaceId"
    chosen = main["variables"][value]["value"]["operator"]
    assert chosen["type"] == "conditional"
    assert chosen["operands"]["condition"] == {
        "function": {"type": "empty", "parameters": {"item_to_test": "sentinelWorkspaceName"}}
    }
    assert chosen["operands"]["true_value"] == CODE_DEFAULTS[SettingNames.SENTINEL_WORKSPACE]
    assert main["parameters"]["sentinelWorkspaceName"]["default"] == ""
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["sentinelWorkspaceName"]["value"] == "${SENTINEL_WORKSPACE_NAME=}"


# environment().resourceManager in Azure's public cloud (ARM template functions reference, environment()).
PUBLIC_CLOUD_RESOURCE_MANAGER = "https://management.azure.com/"


def test_arm_endpoint_is_this_clouds_resource_manager(templates: dict[str, dict[str, Any]]) -> None:
    value = _app_settings_from_main(templates)[SettingNames.ARM_ENDPOINT]
    assert value == {
        "operator": {
            "type": "property_accessor",
            "operands": {"operand_1": {"function": {"type": "environment"}}, "operand_2": "resourceManager"},
        }
    }
    settings = code.Settings.from_environment({SettingNames.ARM_ENDPOINT: PUBLIC_CLOUD_RESOURCE_MANAGER})
    assert settings.arm_endpoint == CODE_DEFAULTS[SettingNames.ARM_ENDPOINT]


def test_allowed_actions_are_the_code_actions(templates: dict[str, dict[str, Any]]) -> None:
    parameter = templates["main.bicep"]["parameters"]["revokeAction"]
    (allowed,) = [d["argument"] for d in parameter["decorators"] if d["type"] == "allowed"]
    assert sorted(allowed) == sorted(action.value for action in RevocationAction)


def test_queue_name_length_leaves_room_for_the_poison_suffix(templates: dict[str, dict[str, Any]]) -> None:
    decorators = {
        d["type"]: d["argument"] for d in templates["main.bicep"]["parameters"]["revokeQueueName"]["decorators"]
    }
    assert decorators["max_length"] + len("-poison") <= 63
    assert code.queue_name_from({SettingNames.QUEUE_NAME: "q" * decorators["max_length"]})


def test_azd_parameter_file_names_only_real_parameters(templates: dict[str, dict[str, Any]]) -> None:
    declared = templates["main.bicep"]["parameters"]
    passed = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(passed) <= set(declared)
    required = {name for name, parameter in declared.items() if parameter["default"] is None}
    assert required <= set(passed)


# Flex Consumption sets these itself or has replaced them (functionAppConfig.runtime, .deployment,
# .scaleAndConcurrency); the Functions documentation lists them as not to be set on an FC1 app.
FLEX_CONSUMPTION_MANAGED_SETTINGS = {
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
}


def test_no_setting_that_flex_consumption_manages_itself(templates: dict[str, dict[str, Any]]) -> None:
    ours = set(_app_settings_from_main(templates)) | set(_app_settings_from_function(templates))
    assert ours & FLEX_CONSUMPTION_MANAGED_SETTINGS == set()


# The range each numeric setting's Bicep parameter allows, as (lowest, highest) in the code.
CODE_RANGES = {
    "revokeRetryBudgetSeconds": (code.MIN_RETRY_BUDGET_SECONDS, code.MAX_RETRY_BUDGET_SECONDS),
    "revokeMaxBodyBytes": (code.MIN_MAX_BODY_BYTES, code.MAX_BODY_BYTES_CEILING),
    "revokeCampaignPreviewTtlSeconds": (
        campaign_settings.MIN_CAMPAIGN_PREVIEW_TTL_SECONDS,
        campaign_settings.MAX_CAMPAIGN_PREVIEW_TTL_SECONDS,
    ),
}


@pytest.mark.parametrize("parameter", sorted(CODE_RANGES))
def test_bicep_range_equals_the_code_range(templates: dict[str, dict[str, Any]], parameter: str) -> None:
    """A deployment must not accept a value the function refuses at start-up, nor refuse one it accepts."""
    decorators = {d["type"]: d["argument"] for d in templates["main.bicep"]["parameters"][parameter]["decorators"]}
    assert (decorators["min_value"], decorators["max_value"]) == CODE_RANGES[parameter]


# ---------------------------------------------------------------------------
# The settings tables of docs/DEPLOY.md ("App settings") and docs/SETTINGS.md: every setting the
# code reads is a row, no other REVOKE_* row, each with the code's default (DEPLOY.md says so).
# ---------------------------------------------------------------------------
DOCS = INFRA.parent / "docs"
# What a table says where the code's default is empty: nothing set, nothing listed.
EMPTY = ("empty", "unset", "none")


def settings_table(path: Path, heading: str | None) -> dict[str, tuple[str, list[str]]]:
    """Each row's setting name, its default cell, and that cell's `code` spans, from the first table after `heading`."""
    text = path.read_text()
    if heading is not None:
        text = text[text.index(heading) :]
    rows: dict[str, tuple[str, list[str]]] = {}
    started = False
    for line in text.splitlines():
        if not line.startswith("|"):
            if started:
                break
            continue
        started = True
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`([A-Za-z_]+)`", cells[0])
        if name is not None:
            rows[name.group(1)] = (cells[1], re.findall(r"`([^`]*)`", cells[1]))
    return rows


@pytest.mark.parametrize(
    ("document", "heading"), [("DEPLOY.md", "## App settings"), ("SETTINGS.md", None)], ids=["DEPLOY.md", "SETTINGS.md"]
)
def test_the_docs_settings_tables_name_every_setting_with_the_code_default(document: str, heading: str | None) -> None:
    rows = settings_table(DOCS / document, heading)
    documented = {name for name in rows if name.startswith("REVOKE_") or name == SettingNames.CLIENT_ID}
    assert documented == set(SettingNames.all()), f"{document}: rows to add or remove"
    for name, default in CODE_DEFAULTS.items():
        cell, spans = rows[name]
        if default == "":
            assert cell.lower().startswith(EMPTY), (document, name, cell)
        else:
            assert spans, (document, name, cell)
            shown = spans[0].rstrip("/")
            if name == SettingNames.RETRY_BUDGET_SECONDS:
                assert float(shown) == float(default), (document, name, cell)
            else:
                assert shown == default.rstrip("/"), (document, name, cell)
