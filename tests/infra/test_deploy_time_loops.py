"""Every for-expression loops over a value known when the deployment starts.

ARM expands copy loops before it deploys anything, so Bicep refuses (BCP178) a loop whose array
depends on a value that exists only once a resource is deployed: a resource's properties beyond
`id`, `name`, `type` and `apiVersion`, a module's outputs, `reference()` or a `list*()` call. The
compiler follows variables to find such a value (`DeployTimeConstantIndirectViolationVisitor` in
Azure/bicep; its scenario test for issue 1699 is reproduced below), and for a loop that is itself a
variable's value it checks the loop body too (`DeployTimeConstantValidator`). This test does the
same over the templates pycep parses, so a loop over the app settings (which hold the Application
Insights connection string) fails here rather than at `azd up`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from conftest import INFRA, parse
from pycep import BicepParser

# What Bicep lets a loop read of a resource before it is deployed (BCP178's own message lists them).
RESOURCE_PROPERTIES_KNOWN_AT_START = frozenset({"id", "name", "type", "apiVersion"})
MODULE_PROPERTIES_KNOWN_AT_START = frozenset({"name"})
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_INTERPOLATION = re.compile(r"\$\{(.*?)\}")


@dataclass(frozen=True)
class Symbols:
    """The names a template declares that a loop's array could depend on."""

    resources: frozenset[str]
    modules: frozenset[str]
    variables: Mapping[str, Any]

    @classmethod
    def of(cls, template: Mapping[str, Any]) -> Symbols:
        return cls(
            resources=frozenset(template.get("resources", {})),
            modules=frozenset(template.get("modules", {})),
            variables={name: variable["value"] for name, variable in template.get("variables", {}).items()},
        )


def runtime_reads(expression: Any, symbols: Symbols, via: tuple[str, ...] = ()) -> Iterator[str]:
    """Each value `expression` reads that is known only after deployment, as "var -> var -> what"."""
    if isinstance(expression, str):
        yield from _runtime_reads_in_text(expression, symbols, via)
    elif isinstance(expression, list):
        for item in expression:
            yield from runtime_reads(item, symbols, via)
    elif isinstance(expression, dict):
        if isinstance(expression.get("operator"), dict):
            yield from _runtime_reads_in_operator(expression["operator"], symbols, via)
        elif isinstance(expression.get("function"), dict):
            function = expression["function"]
            name = function["type"] if function["type"] != "list_func" else function["parameters"]["func_name"]
            if name == "reference" or name.startswith("list"):
                yield _path(via, f"{name}()")
            yield from runtime_reads(function.get("parameters"), symbols, via)
        else:
            for key, value in expression.items():
                # Object keys may be interpolated ('${identityId}': {}); other keys are plain names.
                if isinstance(key, str) and "${" in key:
                    yield from _runtime_reads_in_text(key, symbols, via)
                yield from runtime_reads(value, symbols, via)


def _runtime_reads_in_operator(operator: dict[str, Any], symbols: Symbols, via: tuple[str, ...]) -> Iterator[str]:
    operands = operator.get("operands", {})
    if operator["type"] == "property_accessor":
        base, chain = operands["operand_1"], operands["operand_2"]
        symbol = _symbol(base)
        first = _first_property(chain)
        known_at_start = (
            RESOURCE_PROPERTIES_KNOWN_AT_START
            if symbol in symbols.resources
            else MODULE_PROPERTIES_KNOWN_AT_START
            if symbol in symbols.modules
            else None
        )
        if known_at_start is None:
            yield from runtime_reads(base, symbols, via)
        elif first not in known_at_start:
            yield _path(via, f"{symbol}.{first}")
        if isinstance(base, dict) and base.get("operator", {}).get("type") == "index_accessor":
            yield from runtime_reads(base["operator"]["operands"]["operand_2"], symbols, via)
        yield from _runtime_reads_in_chain(chain, symbols, via)
    elif operator["type"] == "function_accessor":
        if operands["func_name"].startswith("list"):
            yield _path(via, f"{_symbol(operands['operand_1'])}.{operands['func_name']}()")
    elif operator["type"] == "index_accessor" and _symbol(operands["operand_1"]) in symbols.resources:
        # A resource collection indexed as a whole (`queues[i]`) hands over the whole resource.
        yield _path(via, f"{_symbol(operands['operand_1'])}[...]")
    else:
        for value in operands.values():
            yield from runtime_reads(value, symbols, via)


def _runtime_reads_in_chain(chain: Any, symbols: Symbols, via: tuple[str, ...]) -> Iterator[str]:
    """The rest of `a.b.c[d]`: property names are not symbols, index expressions are."""
    if not isinstance(chain, dict) or not isinstance(chain.get("operator"), dict):
        return
    operator = chain["operator"]
    operands = operator.get("operands", {})
    if operator["type"] in ("property_accessor", "index_accessor"):
        yield from _runtime_reads_in_chain(operands["operand_1"], symbols, via)
        if operator["type"] == "index_accessor":
            yield from runtime_reads(operands["operand_2"], symbols, via)
        else:
            yield from _runtime_reads_in_chain(operands["operand_2"], symbols, via)
    else:
        # pycep binds `a.b == c` as `a.(b == c)`: b is a property name, the rest an expression.
        values = list(operands.values())
        yield from _runtime_reads_in_chain(values[0], symbols, via)
        for value in values[1:]:
            yield from runtime_reads(value, symbols, via)


def _runtime_reads_in_text(text: str, symbols: Symbols, via: tuple[str, ...]) -> Iterator[str]:
    if "${" in text:
        for inner in _INTERPOLATION.findall(text):
            yield from runtime_reads(_parse_expression(inner), symbols, via)
        return
    # pycep gives a bare identifier and a string literal alike; treat a declared name as a reference.
    if text in symbols.variables and text not in via:
        yield from runtime_reads(symbols.variables[text], symbols, (*via, text))
    elif text in symbols.resources or text in symbols.modules:
        yield _path(via, text)


@cache
def _parse_expression(text: str) -> Any:
    return BicepParser().parse(text=f"var expression = {text}\n")["variables"]["expression"]["value"]


def _symbol(expression: Any) -> str | None:
    if isinstance(expression, str) and _IDENTIFIER.fullmatch(expression):
        return expression
    if isinstance(expression, dict) and expression.get("operator", {}).get("type") == "index_accessor":
        return _symbol(expression["operator"]["operands"]["operand_1"])
    return None


def _first_property(chain: Any) -> str | None:
    if isinstance(chain, str):
        return chain
    if isinstance(chain, dict) and isinstance(chain.get("operator"), dict):
        return _first_property(next(iter(chain["operator"]["operands"].values())))
    return None


def _path(via: tuple[str, ...], what: str) -> str:
    return " -> ".join((*via, what))


def loops(node: Any, *, in_variable: bool = False) -> Iterator[tuple[Any, Any | None]]:
    """Every for-expression under `node`: (its array, its body when the loop is a variable's value)."""
    if isinstance(node, list):
        for item in node:
            yield from loops(item)
    elif isinstance(node, dict):
        if isinstance(node.get("loop_type"), dict):
            yield node["loop_type"]["detail"]["array_name"], node.get("config") if in_variable else None
        for value in node.values():
            yield from loops(value)


def loop_violations(template: Mapping[str, Any]) -> list[str]:
    symbols = Symbols.of(template)
    found: list[str] = []
    sections = {key: value for key, value in template.items() if key != "variables"}
    for array, _ in loops(sections):
        found.extend(runtime_reads(array, symbols))
    for variable in template.get("variables", {}).values():
        for array, body in loops(variable["value"], in_variable=True):
            found.extend(runtime_reads(array, symbols))
            found.extend(runtime_reads(body, symbols))
    return found


@pytest.mark.parametrize("path", sorted(p.relative_to(INFRA).as_posix() for p in INFRA.rglob("*.bicep")))
def test_no_loop_depends_on_a_value_known_only_after_deployment(path: str) -> None:
    assert loop_violations(parse(INFRA / path)) == []


def test_app_settings_are_an_object_not_a_loop(templates: dict[str, dict[str, Any]]) -> None:
    """The settings reach the site through its `appsettings` config resource, never through a loop."""
    function = templates["app/function.bicep"]
    config = [
        resource
        for resource in function["resources"].values()
        if resource["type"] == "Microsoft.Web/sites/config" and resource["config"]["name"] == "appsettings"
    ]
    assert len(config) == 1
    assert config[0]["config"]["properties"] == "allAppSettings"
    site_config = next(
        resource for resource in function["resources"].values() if resource["type"] == "Microsoft.Web/sites"
    )["config"]["properties"]["siteConfig"]
    assert "appSettings" not in site_config  # two writers of one setting list would overwrite each other


def _violations_in(text: str) -> list[str]:
    return loop_violations(BicepParser().parse(text=text))


def test_finds_bicep_own_example_of_a_variable_that_hides_a_runtime_value() -> None:
    """Azure/bicep ScenarioTests.Test_Issue1699: BCP178 through the variable `test`."""
    text = """
targetScope = 'subscription'
resource rg 'Microsoft.Resources/resourceGroups@2020-10-01' = {
  name: 'rg'
  location: 'West US'
}
var test = [
  {
    name: 'test'
    value: rg.properties.provisioningState
  }
]
resource rg2 'Microsoft.Resources/resourceGroups@2020-10-01' = [for item in test: {
  name: 'rg2'
  location: 'West US'
}]
"""
    assert _violations_in(text) == ["test -> rg.properties"]


def test_finds_a_settings_loop_over_a_connection_string() -> None:
    """The shape function.bicep had: a property loop over items() of a union holding a runtime value."""
    text = """
param appSettings object
resource ai 'Microsoft.Insights/components@2020-02-02' existing = {
  name: 'appi'
}
var base = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: ai.properties.ConnectionString
}
var allAppSettings = union(appSettings, base)
resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: 'app'
  location: 'westeurope'
  properties: {
    siteConfig: {
      appSettings: [for setting in items(allAppSettings): { name: setting.key, value: setting.value }]
    }
  }
}
"""
    assert _violations_in(text) == ["allAppSettings -> base -> ai.properties"]


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        ("reference(sa.id, '2023-05-01').primaryEndpoints", ["reference()"]),
        ("sa.listKeys().keys", ["sa.listKeys()"]),
        ("listKeys(sa.id, '2023-05-01').keys", ["listKeys()"]),
        ("items(m.outputs.o)", ["m.outputs"]),
        ("['${sa.properties.primaryEndpoints.blob}x']", ["sa.properties"]),
        ("[sa.name, sa.id, '${sa.name}-x']", []),
        ("items(union(settings, { a: sa.name }))", []),
    ],
)
def test_tells_runtime_reads_from_values_known_at_the_start(array: str, expected: list[str]) -> None:
    text = f"""
param settings object
resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {{
  name: 'st'
}}
module m 'm.bicep' = {{
  name: 'm'
}}
output o array = [for x in {array}: x]
"""
    assert _violations_in(text) == expected


def test_a_variable_loop_body_must_be_known_at_the_start_too() -> None:
    text = """
resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'st'
}
var endpoints = [for i in range(0, 2): sa.properties.primaryEndpoints]
resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for i in range(0, 2): {
  name: 'st/default/q${i}'
  properties: {
    metadata: { endpoint: sa.properties.primaryEndpoints.queue }
  }
}]
"""
    assert _violations_in(text) == ["sa.properties"]
