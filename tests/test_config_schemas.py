"""The configuration files the tools read are what those tools accept.

host.json and local.settings.json.example are validated against SchemaStore's schemas, azure.yaml
against azure-dev's, each pinned in schemas/pins.json (schemas/README.md says where the files are
and why). A mutated copy of each file must be rejected, so the validation is known to bite.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from revoke.settings import SettingNames

ROOT = Path(__file__).resolve().parents[1]
PINS = json.loads((ROOT / "schemas" / "pins.json").read_text())
PINNED_SCHEMAS = Path(os.environ.get("PINNED_SCHEMAS_DIR", ROOT.parent / "shared" / "schemas"))

HOST_JSON = "https://json.schemastore.org/host.json"
LOCAL_SETTINGS = "https://json.schemastore.org/local.settings.json"
AZURE_YAML = "https://raw.githubusercontent.com/Azure/azure-dev/main/schemas/v1.0/azure.yaml.json"

# Bicep each azd release downloads and compiles with (cli/azd/pkg/tools/bicep/bicep.go, `Version`),
# and the least Bicep each Microsoft Graph extension release needs (Microsoft Graph Bicep "What's new").
AZD_BICEP = {"1.16.1": "0.35.1", "1.17.0": "0.36.1"}
GRAPH_EXTENSION_MINIMUM_BICEP = {"1.0.0": "0.36.1"}


def _refuse(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)  # no network: every schema a $ref reaches must be pinned


@cache
def pinned_registry() -> Registry[Any]:
    """Every pinned schema, under the URI $refs name it by; the file's SHA-256 must match its pin."""
    if not PINNED_SCHEMAS.is_dir():
        pytest.skip(f"the pinned schemas are not at {PINNED_SCHEMAS} (see schemas/README.md)")
    resources = []
    for pin in PINS["files"]:
        path = PINNED_SCHEMAS / pin["repo"] / pin["path"]
        content = path.read_bytes()
        assert hashlib.sha256(content).hexdigest() == pin["sha256"], f"{path} is not the pinned version"
        resources.append((pin["uri"], Resource.from_contents(json.loads(content))))
    return Registry(retrieve=_refuse).with_resources(resources)


def errors(document: Any, schema_uri: str) -> list[str]:
    registry = pinned_registry()
    schema = registry.contents(schema_uri)
    validator = validator_for(schema, default=Draft4Validator)(schema, registry=registry)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document))


def _json(name: str) -> Any:
    return json.loads((ROOT / name).read_text())


def _azure_yaml() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert isinstance(document, dict)
    return document


def test_host_json_is_valid() -> None:
    assert errors(_json("host.json"), HOST_JSON) == []


def test_local_settings_example_is_valid() -> None:
    assert errors(_json("local.settings.json.example"), LOCAL_SETTINGS) == []


def test_azure_yaml_is_valid() -> None:
    assert errors(_azure_yaml(), AZURE_YAML) == []


def _mutated(document: Any, path: str, value: Any) -> Any:
    changed = copy.deepcopy(document)
    *parents, last = path.split("/")
    target = changed
    for key in parents:
        target = target[key]
    target[last] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("version", "3.0"),
        ("extensions/queues/messageEncoding", "utf8"),
        ("extensions/queues/batchSize", 64),
        ("extensions/queues/visibilityTimeout", "1 minute"),
        ("functionTimeOut", "00:05:00"),  # a misspelt key
    ],
)
def test_a_mutated_host_json_is_rejected(path: str, value: Any) -> None:
    assert errors(_mutated(_json("host.json"), path, value), HOST_JSON) != []


@pytest.mark.parametrize(
    ("path", "value"),
    [("Values/FUNCTIONS_WORKER_RUNTIME", "python3.11"), ("IsEncrypted", "false"), ("Values/AzureWebJobsStorage", 1)],
)
def test_a_mutated_local_settings_example_is_rejected(path: str, value: Any) -> None:
    assert errors(_mutated(_json("local.settings.json.example"), path, value), LOCAL_SETTINGS) != []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name", "Revoke Sessions"),
        ("requiredVersions/azd", 1.17),
        ("requiredVersions/bicep", ">= 0.36.1"),  # azd takes no Bicep range: it pins its own
        ("infra/provider", "Bicep"),
    ],
)
def test_a_mutated_azure_yaml_is_rejected(path: str, value: Any) -> None:
    assert errors(_mutated(_azure_yaml(), path, value), AZURE_YAML) != []


def test_a_ref_to_an_unpinned_schema_fails_rather_than_fetching() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "$ref": "https://example.org/elsewhere.json"}
    validator = validator_for(schema)(schema, registry=pinned_registry())
    with pytest.raises(Exception, match="elsewhere"):
        validator.validate({})


def test_local_settings_example_names_every_setting_the_code_reads() -> None:
    values = _json("local.settings.json.example")["Values"]
    assert set(SettingNames.all()) - {SettingNames.CLIENT_ID} <= set(values)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


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


def test_the_azure_workflow_compiles_and_previews_with_a_federated_credential() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "azure-dev.yml").read_text())
    assert workflow["permissions"] == {"id-token": "write", "contents": "read"}
    (job,) = workflow["jobs"].values()
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    assert "az bicep build --file infra/main.bicep" in commands
    assert f"az bicep install --version v{GRAPH_EXTENSION_MINIMUM_BICEP['1.0.0']}" in commands
    assert "--federated-credential-provider github" in commands
    assert "azd provision --preview" in commands
    assert any(step.get("uses", "").startswith("Azure/setup-azd@") for step in job["steps"])
