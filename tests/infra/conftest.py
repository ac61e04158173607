"""Parsed Bicep templates for the infrastructure tests (pycep turns each file into JSON-like dicts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))


def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


@pytest.fixture(scope="session")
def templates() -> dict[str, dict[str, Any]]:
    """Every template under infra/, keyed by its path relative to infra/ (e.g. "app/storage.bicep")."""
    return {path.relative_to(INFRA).as_posix(): parse(path) for path in BICEP_FILES}


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template.get("resources", {}).items() if res["type"] == resource_type}


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource's own properties, under any `if (...)` condition or `for` loop pycep wraps it in."""
    config = resource["config"]
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def the_resource(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = resources_of_type(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.values()))


def function_app_settings(template: dict[str, Any]) -> dict[str, Any]:
    """The settings app/function.bicep adds to the REVOKE_* object, as its `appsettings` config resource writes them."""
    configs = [
        body(resource)
        for resource in resources_of_type(template, "Microsoft.Web/sites/config").values()
        if body(resource)["name"] == "appsettings"
    ]
    assert len(configs) == 1, "one appsettings config resource writes every setting"
    value = configs[0]["properties"]
    if isinstance(value, str):  # a variable
        value = template["variables"][value]["value"]
    union = value["function"]
    assert union["type"] == "union"
    first, *others = union["parameters"].values()
    assert first == "appSettings", "the REVOKE_* settings from main.bicep come first; the fixed ones win"
    fixed: dict[str, Any] = {}
    for other in others:
        fixed.update(other)
    return fixed
