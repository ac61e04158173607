"""The audit table where the SOC looks: its columns are the audit event's fields (one source, the event
schema), the rule of kind Direct feeds it, the function may send to it, the settings come from the rule,
and every resource type, API version and property is one the published Bicep types define.

When a field is added to revoke/audit/audit_event.schema.json, the first test here fails until the
column is added to infra/app/audit-columns.json, which both the table and the rule's stream load.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from bicep_values import Evaluator
from conftest import INFRA, ROOT, body, resources_of_type, the_resource

SCHEMA = json.loads((ROOT / "revoke" / "audit" / "audit_event.schema.json").read_text())
COLUMNS_FILE = INFRA / "app" / "audit-columns.json"
WORKBOOK_FILE = INFRA / "app" / "audit-workbook.json"
MODULE = "app/audit-workspace.bicep"
PUBLISHER_MODULE = "app/audit-publisher.bicep"
TABLE = "ContainmentAudit_CL"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
# The column types a table and a stream declaration take (Structure of a data collection rule, "Data
# types"; Add or delete tables and columns in Azure Monitor Logs, which spells the date type dateTime).
LOG_ANALYTICS_TYPES = {"string", "int", "long", "real", "boolean", "dateTime", "dynamic"}


def column_type(field: dict[str, Any]) -> str:
    """The Log Analytics type of one schema property: a JSON Schema type (null aside), a date-time
    string, an enum or const of strings, or anything structured (dynamic)."""
    if field.get("format") == "date-time":
        return "dateTime"
    kinds = field.get("type")
    if kinds is None:
        values = field.get("enum", [field.get("const")])
        kinds = sorted({type(v).__name__ for v in values if v is not None})
        kinds = ["string"] if kinds == ["str"] else kinds
    kinds = [kinds] if isinstance(kinds, str) else [k for k in kinds if k != "null"]
    mapping = {"string": "string", "integer": "int", "number": "real", "boolean": "boolean"}
    return mapping[kinds[0]] if len(kinds) == 1 and kinds[0] in mapping else "dynamic"


def test_the_columns_are_the_audit_events_fields_by_the_same_names_and_types() -> None:
    """The one source is the event schema: a field added there needs its column in audit-columns.json."""
    columns = json.loads(COLUMNS_FILE.read_text())
    expected = [{"name": name, "type": column_type(field)} for name, field in SCHEMA["properties"].items()]
    assert columns == expected
    assert {column["type"] for column in columns} <= LOG_ANALYTICS_TYPES
    assert dict(zip([c["name"] for c in columns], [c["type"] for c in columns], strict=True))["time"] == "dateTime"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ({"type": ["integer", "null"]}, "int"),
        ({"type": ["number", "null"]}, "real"),
        ({"enum": ["a", "b", None]}, "string"),
        ({"const": "revoke.audit/3"}, "string"),
        ({"type": "string", "format": "date-time"}, "dateTime"),
        ({"type": ["array", "null"]}, "dynamic"),
        ({"type": "object"}, "dynamic"),
    ],
)
def test_the_type_mapping_itself(field: dict[str, Any], expected: str) -> None:
    assert column_type(field) == expected


def test_the_table_has_time_generated_and_the_events_columns(templates: dict[str, dict[str, Any]]) -> None:
    module = templates[MODULE]
    variables = {name: variable["value"] for name, variable in module["variables"].items()}
    assert variables["eventColumns"]["function"] == {
        "type": "load_json_content",
        "parameters": {"file_path": "audit-columns.json", "json_path": None, "encoding": None},
    }
    assert variables["tableColumns"]["function"] == {
        "type": "concat",
        "parameters": {"arg_1": [{"name": "TimeGenerated", "type": "dateTime"}], "arg_2": "eventColumns"},
    }
    table = body(the_resource(module, "Microsoft.OperationalInsights/workspaces/tables"))
    assert (table["parent"], table["name"], variables["tableName"]) == ("workspace", "tableName", TABLE)
    assert table["properties"]["plan"] == "Analytics"
    assert table["properties"]["schema"]["name"] == "tableName"
    assert table["properties"]["schema"]["columns"] == "tableColumns"


def test_the_rule_is_direct_and_its_stream_feeds_the_table(templates: dict[str, dict[str, Any]]) -> None:
    module = templates[MODULE]
    variables = {name: variable["value"] for name, variable in module["variables"].items()}
    rule = body(the_resource(module, "Microsoft.Insights/dataCollectionRules"))
    assert rule["kind"] == "Direct"  # the rule gets its own logsIngestion endpoint, no collection endpoint
    assert "dataCollectionEndpointId" not in rule["properties"]
    assert rule["location"]["operator"]["operands"] == {"operand_1": "workspace", "operand_2": "location"}
    assert variables["streamName"] == "Custom-${tableName}"
    assert rule["properties"]["streamDeclarations"] == {"'${streamName}'": {"columns": "eventColumns"}}
    [destination] = rule["properties"]["destinations"]["logAnalytics"]
    assert destination["workspaceResourceId"]["operator"]["operands"] == {"operand_1": "workspace", "operand_2": "id"}
    [flow] = rule["properties"]["dataFlows"]
    assert (flow["streams"], flow["destinations"]) == (["streamName"], [destination["name"]])
    assert flow["outputStream"] == "streamName"  # Custom-<table>: the custom table
    assert flow["transformKql"] == 'source | extend TimeGenerated = todatetime(["time"])'
    outputs = module["outputs"]
    assert outputs["logsIngestionEndpoint"]["value"]["operator"]["operands"]["operand_1"] == "rule"
    assert json.dumps(outputs["logsIngestionEndpoint"]["value"]).count("logsIngestion") == 1
    assert json.dumps(outputs["immutableId"]["value"]).count("immutableId") == 1


# The published Bicep types (Azure/bicep-types-az): each resource type and API version used here,
# its file, and the writable properties the templates set (from that file's type definitions).
PUBLISHED = {
    ("Microsoft.OperationalInsights/workspaces/tables", "2023-09-01"): (
        "generated/operationalinsights/microsoft.operationalinsights/2023-09-01/types.md",
        {"plan", "schema", "retentionInDays", "totalRetentionInDays"},
    ),
    ("Microsoft.OperationalInsights/workspaces", "2023-09-01"): (
        "generated/operationalinsights/microsoft.operationalinsights/2023-09-01/types.md",
        set(),
    ),
    ("Microsoft.Insights/dataCollectionRules", "2023-03-11"): (
        "generated/monitor_1/microsoft.insights/2023-03-11/types.md",
        {"description", "streamDeclarations", "destinations", "dataFlows", "dataSources", "dataCollectionEndpointId"},
    ),
    ("Microsoft.Insights/workbooks", "2023-06-01"): (
        "generated/applicationinsights/microsoft.insights/2023-06-01/types.md",
        {"displayName", "category", "serializedData", "sourceId", "version", "description"},
    ),
    ("Microsoft.Authorization/roleAssignments", "2022-04-01"): (
        "generated/authorization/microsoft.authorization/2022-04-01/types.md",
        {"roleDefinitionId", "principalId", "principalType", "description"},
    ),
}


@pytest.mark.parametrize("name", [MODULE, PUBLISHER_MODULE])
def test_every_resource_type_version_and_property_is_published(templates: dict[str, dict[str, Any]], name: str) -> None:
    for resource in templates[name]["resources"].values():
        key = (resource["type"], resource["api_version"])
        assert key in PUBLISHED, f"{key} is not in the published Bicep types this test lists"
        properties = body(resource).get("properties", {})
        assert set(properties) <= PUBLISHED[key][1], key


def test_the_workbook_is_over_the_workspace_and_reads_the_table(templates: dict[str, dict[str, Any]]) -> None:
    workbook = body(the_resource(templates[MODULE], "Microsoft.Insights/workbooks"))
    assert workbook["kind"] == "shared"
    assert workbook["name"]["function"]["type"] == "guid"  # a workbook's name is a GUID
    properties = workbook["properties"]
    assert properties["version"] == "Notebook/1.0"
    assert properties["sourceId"]["operator"]["operands"] == {"operand_1": "workspace", "operand_2": "id"}
    data = properties["serializedData"]["function"]
    assert data["type"] == "replace"
    assert data["parameters"]["original_string"]["function"]["parameters"]["file_path"] == WORKBOOK_FILE.name
    assert data["parameters"]["old_string"] == "WORKSPACE_RESOURCE_ID"
    document = json.loads(WORKBOOK_FILE.read_text())
    assert document["version"] == "Notebook/1.0"
    assert document["fallbackResourceIds"] == ["WORKSPACE_RESOURCE_ID"]  # the queries run in the workspace
    queries = [item["content"]["query"] for item in document["items"] if item["type"] == 3]
    assert queries and all(TABLE in query for query in queries)


def test_the_function_may_send_to_the_rule_and_nothing_waits_for_that(templates: dict[str, dict[str, Any]]) -> None:
    publisher = templates[PUBLISHER_MODULE]
    assert publisher["variables"]["monitoringMetricsPublisher"]["value"] == MONITORING_METRICS_PUBLISHER
    assignment = body(the_resource(publisher, "Microsoft.Authorization/roleAssignments"))
    assert assignment["scope"] == "rule"
    assert resources_of_type(publisher, "Microsoft.Insights/dataCollectionRules")["rule"]["existing"] is True
    main = templates["main.bicep"]
    module = main["modules"]["auditPublisher"]["config"]
    assert module["condition"]["operator"]["type"] == "and"
    assert module["config"]["params"]["principalId"]["operator"]["operands"]["operand_1"] == "identity"
    # Nothing reads its outputs or waits for it: a deployer who cannot assign roles still gets the app.
    others = {name: m for name, m in main["modules"].items() if name != "auditPublisher"}
    assert "auditPublisher" not in json.dumps(others)
    assert "auditPublisher" not in json.dumps(main.get("outputs", {}))


@pytest.mark.parametrize(("sentinel", "in_sentinel"), [("", False), ("soc-workspace", True)])
def test_the_table_goes_to_the_sentinel_workspace_when_named_else_the_apps(
    templates: dict[str, dict[str, Any]], sentinel: str, in_sentinel: bool
) -> None:
    main = templates["main.bicep"]
    values = Evaluator(main, {"sentinelWorkspaceName": sentinel})
    assert values.variable("auditInSentinel") is in_sentinel
    variables = {name: variable["value"] for name, variable in main["variables"].items()}
    for name, sentinel_side, app_side in (
        ("auditWorkspaceName", "sentinelWorkspaceName", "logAnalyticsName"),
        ("auditWorkspaceGroup", "sentinelWorkspaceGroup", {"operator": {"type": "property_accessor", "operands": {"operand_1": "rg", "operand_2": "name"}}}),
    ):  # fmt: skip
        assert variables[name]["operator"]["operands"] == {
            "condition": "auditInSentinel",
            "true_value": sentinel_side,
            "false_value": app_side,
        }
    assert main["modules"]["logAnalytics"]["config"]["params"]["name"] == "logAnalyticsName"
    module = main["modules"]["auditWorkspace"]["config"]
    assert module["condition"] == "revokeAuditTable"
    assert module["config"]["scope"]["function"]["parameters"] == {
        "resource_group_name": "auditWorkspaceGroup",
        "subscription_id": "auditWorkspaceSubscription",
    }
    assert module["config"]["params"]["workspaceName"] == "auditWorkspaceName"


OUTPUT_OF_SETTING = {
    "REVOKE_AUDIT_DCR_ENDPOINT": "logsIngestionEndpoint",
    "REVOKE_AUDIT_DCR_ID": "immutableId",
    "REVOKE_AUDIT_STREAM": "streamName",
}


@pytest.mark.parametrize("setting", sorted(OUTPUT_OF_SETTING))
def test_the_settings_come_from_the_rule_and_are_empty_when_the_table_is_off(
    templates: dict[str, dict[str, Any]], setting: str
) -> None:
    value = templates["main.bicep"]["variables"]["revokeAppSettings"]["value"][setting]["operator"]
    assert value["type"] == "conditional"
    operands = value["operands"]
    assert (operands["condition"], operands["false_value"]) == ("revokeAuditTable", "")  # unset: off
    chain = operands["true_value"]["operator"]["operands"]
    assert chain["operand_1"] == "auditWorkspace"
    assert chain["operand_2"]["operator"]["operands"] == {
        "operand_1": "outputs",
        "operand_2": OUTPUT_OF_SETTING[setting],
    }
    assert OUTPUT_OF_SETTING[setting] in templates[MODULE]["outputs"]
