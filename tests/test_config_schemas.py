"""The configuration files the tools read are what those tools accept."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]

# Bicep each azd release downloads and compiles with (cli/azd/pkg/tools/bicep/bicep.go, `Version`),
# and the least Bicep each Microsoft Graph extension release needs (Microsoft Graph Bicep "What's new").
AZD_BICEP = {"1.16.1": "0.35.1", "1.17.0": "0.36.1"}
GRAPH_EXTENSION_MINIMUM_BICEP = {"1.0.0": "0.36.1"}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _azure_yaml() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert isinstance(document, dict)
    return document


def test_azure_yaml_requires_an_azd_whose_bicep_compiles_the_graph_extension() -> None:
    required = _azure_yaml()["requiredVersions"]["azd"]
    match = re.fullmatch(r">=\s*(\d+\.\d+\.\d+)", required)
    assert match, f"requiredVersions.azd should be a lower bound, not {required!r}"
    oldest_azd = match.group(1)
    extension = json.loads((ROOT / "bicepconfig.json").read_text())["extensions"]["microsoftGraphV1"]
    extension_version = extension.rsplit(":", 1)[1]
    assert extension_version in GRAPH_EXTENSION_MINIMUM_BICEP, "look up the Bicep this extension release needs"
    assert oldest_azd in AZD_BICEP, "look up the Bicep this azd release pins"
    assert _version(AZD_BICEP[oldest_azd]) >= _version(GRAPH_EXTENSION_MINIMUM_BICEP[extension_version])


def test_azd_1_16_would_not_do() -> None:
    assert _version(AZD_BICEP["1.16.1"]) < _version(GRAPH_EXTENSION_MINIMUM_BICEP["1.0.0"])
