"""A failed Microsoft Graph grant stops nothing else: the app and its Azure roles deploy without it.

Granting an app role to a managed identity created in the same deployment can fail on the first
run, before Entra knows the new service principal ("Not a valid reference update",
microsoftgraph/msgraph-bicep-types issue 193; the second run succeeds). ARM skips everything that
depends on a failed module, so nothing may depend on the grant module or read from it. The same
holds for Microsoft Sentinel Responder on the workspace, which a deployer may lack the right to
assign there: incident comments never change a containment, so the app must not wait for it.
"""

from __future__ import annotations

from typing import Any

import pytest

GRANT_MODULE = "graphPermissions"
STANDALONE_MODULES = {
    GRANT_MODULE: "app/graph-permissions.bicep",
    "sentinelResponder": "app/sentinel-responder.bicep",
    # Monitoring Metrics Publisher on the audit rule: a refused delivery costs no containment either.
    "auditPublisher": "app/audit-publisher.bicep",
}


def mentions(value: Any, symbol: str) -> bool:
    """Whether a parsed Bicep value refers to `symbol` (a reference, a dependsOn entry, an interpolation)."""
    if isinstance(value, str):
        return value == symbol or f"${{{symbol}." in value or f"${{{symbol}}}" in value
    if isinstance(value, dict):
        return any(mentions(v, symbol) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, symbol) for v in value)
    return False


def dependents(template: dict[str, Any], symbol: str) -> list[str]:
    found = []
    for section in ("variables", "resources", "modules", "outputs"):
        for name, declaration in template.get(section, {}).items():
            if name != symbol and mentions(declaration, symbol):
                found.append(f"{section}.{name}")
    return found


@pytest.mark.parametrize(("module", "path"), sorted(STANDALONE_MODULES.items()))
def test_nothing_depends_on_the_graph_grant_or_the_comment_role(
    templates: dict[str, dict[str, Any]], module: str, path: str
) -> None:
    main = templates["main.bicep"]
    assert main["modules"][module]["detail"]["path"] == path
    assert dependents(main, module) == []


@pytest.mark.parametrize("path", sorted(STANDALONE_MODULES.values()))
def test_the_graph_grant_and_the_comment_role_hand_nothing_out(templates: dict[str, dict[str, Any]], path: str) -> None:
    assert templates[path].get("outputs", {}) == {}


def test_the_graph_grant_runs_after_the_app(templates: dict[str, dict[str, Any]]) -> None:
    """Later in the deployment, so Entra has had the new identity for longer before the grant."""
    assert templates["main.bicep"]["modules"][GRANT_MODULE]["config"]["dependsOn"] == ["api"]


def test_the_check_sees_a_module_output_and_a_depends_on() -> None:
    template = {
        "modules": {
            GRANT_MODULE: {"config": {}},
            "rbac": {"config": {"params": {"sentinelPrincipalId": _output_of(GRANT_MODULE, "sentinelPrincipalId")}}},
            "api": {"config": {"dependsOn": [GRANT_MODULE]}},
            "other": {"config": {"params": {"tag": "${graphPermissions.name}-x"}}},
        }
    }
    assert dependents(template, GRANT_MODULE) == ["modules.rbac", "modules.api", "modules.other"]


def _output_of(module: str, output: str) -> dict[str, Any]:
    inner = {"operator": {"type": "property_accessor", "operands": {"operand_1": "outputs", "operand_2": output}}}
    return {"operator": {"type": "property_accessor", "operands": {"operand_1": module, "operand_2": inner}}}
