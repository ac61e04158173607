"""Writes revoke.swagger2.json, the OpenAPI 2.0 (Swagger) copy of revoke.openapi.yaml that Power Platform imports.

Power Automate, Power Apps and Logic Apps custom connectors import OpenAPI 2.0 only. This
converts the constructs revoke.openapi.yaml uses and refuses any other, so the copy never
silently loses a rule it could have kept. What 2.0 cannot say is dropped on purpose:

* the request body is described as the direct request (2.0 has no `anyOf`); the service
  still accepts the alert, incident and entity shapes;
* `[T, "null"]` becomes `T` with `x-nullable: true`, `const` a one-value `enum`;
* conditional rules (`if`/`then`/`else`) go, and a `$ref` with a description of its own is
  inlined (2.0 ignores a reference's siblings); the test suite validates every response
  against the 3.1 description, which keeps every rule;
* the security definitions are the header key (`x-functions-key`), first, since a custom
  connector uses the first security definition only, and the Entra ID token (`entraToken`) as
  an OAuth 2.0 client-credentials (`application`) flow, which a tool that reads OpenAPI 2.0
  and supports that flow can use; the query-string key is left out;
* the campaign operations (`/campaigns...`) and their schemas are left out: a campaign is
  started by a responder with the `Containment.Campaign` role, not by a connector's flow.

    python openapi/to_swagger2.py          # rewrite the copy
    python openapi/to_swagger2.py --check  # exit 1 if the copy is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

HERE = Path(__file__).resolve().parent
CAMPAIGN_PATHS = "/campaigns"
CAMPAIGN_SCHEMAS = "Campaign"
SOURCE = HERE / "revoke.openapi.yaml"
TARGET = HERE / "revoke.swagger2.json"

SECURITY_SCHEME = "functionKey"
BEARER_SCHEME = "entraToken"  # the name of the security scheme, not a secret
REQUEST_SHAPE = "DirectRequest"
# Keywords 2.0's Schema Object has, kept as they are.
_KEPT = frozenset(
    {
        "title", "description", "default", "enum", "required", "properties", "additionalProperties",
        "items", "allOf", "pattern", "maxLength", "minLength", "maxItems", "minItems", "minimum", "maximum",
    }
)  # fmt: skip
_DROPPED = frozenset({"if", "then", "else"})


def render(document: dict[str, Any]) -> str:
    """The 2.0 copy of `document`, as the JSON text the file holds."""
    return json.dumps(_Converter(document).convert(), indent=2, ensure_ascii=False) + "\n"


class _Converter:
    def __init__(self, document: dict[str, Any]) -> None:
        if not str(document.get("openapi", "")).startswith("3.1"):
            raise ValueError("expected an OpenAPI 3.1 document")
        self._document = document

    def convert(self) -> dict[str, Any]:
        document = self._document
        server = document["servers"][0]
        url = server["url"].format(**{name: v["default"] for name, v in server.get("variables", {}).items()})
        parts = urlsplit(url)
        scheme = document["components"]["securitySchemes"][SECURITY_SCHEME]
        return {
            "swagger": "2.0",
            "info": {key: document["info"][key] for key in ("title", "version", "description")},
            "host": parts.netloc,
            "basePath": parts.path,
            "schemes": [parts.scheme],
            "consumes": ["application/json"],
            "produces": ["application/json"],
            "securityDefinitions": {
                SECURITY_SCHEME: {key: scheme[key] for key in ("type", "in", "name", "description")},
                BEARER_SCHEME: _oauth2(document["components"]["securitySchemes"][BEARER_SCHEME]),
            },
            # REVOKE_CALLER_AUTH=entra (the default): the key and the token; =key: the key alone.
            "security": [{SECURITY_SCHEME: [], BEARER_SCHEME: []}, {SECURITY_SCHEME: []}],
            "paths": {
                path: {method: self._operation(operation) for method, operation in item.items()}
                for path, item in document["paths"].items()
                if not path.startswith(CAMPAIGN_PATHS)
            },
            "definitions": {
                name: self._schema(schema)
                for name, schema in document["components"]["schemas"].items()
                if not name.startswith(CAMPAIGN_SCHEMAS)
            },
        }

    def _operation(self, operation: dict[str, Any]) -> dict[str, Any]:
        converted = {key: operation[key] for key in ("operationId", "summary", "description") if key in operation}
        body = operation.get("requestBody")
        if body is not None:
            converted["parameters"] = [
                {
                    "name": "body",
                    "in": "body",
                    "required": body.get("required", False),
                    "description": "The direct request; Sentinel and Graph alert, incident and entity bodies are accepted too.",
                    "schema": {"$ref": f"#/definitions/{REQUEST_SHAPE}"},
                }
            ]
        converted["responses"] = {
            status: self._response(response) for status, response in operation["responses"].items()
        }
        return converted

    def _response(self, response: dict[str, Any]) -> dict[str, Any]:
        converted: dict[str, Any] = {"description": response["description"]}
        media = response.get("content", {}).get("application/json")
        if media is not None:
            converted["schema"] = self._schema(media["schema"])
            examples = media.get("examples", {})
            if examples:
                converted["examples"] = {"application/json": next(iter(examples.values()))["value"]}
        headers = response.get("headers", {})
        if headers:
            converted["headers"] = {name: self._header(header) for name, header in headers.items()}
        return converted

    def _header(self, header: dict[str, Any]) -> dict[str, Any]:
        header = self._resolve(header)
        # A 2.0 header is a plain type with its rules: no $ref, no "required".
        return {"description": header["description"], **self._schema(self._resolve(header["schema"]))}

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """`node`, or what its $ref names, with the referring node's other keys laid over it."""
        if "$ref" not in node:
            return node
        target: Any = self._document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return {**target, **{key: value for key, value in node.items() if key != "$ref"}}

    def _schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema and len(schema) > 1:
            # 2.0 ignores a $ref's siblings (a field's own description): inline the target instead.
            return self._schema(self._resolve(schema))
        converted: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$ref":
                converted[key] = value.replace("#/components/schemas/", "#/definitions/")
            elif key == "type":
                converted.update(_type(value))
            elif key == "const":
                converted["enum"] = [value]
            elif key == "examples":
                converted["example"] = value[0]
            elif key == "anyOf" and all(set(option) <= {"$ref", "required"} for option in value):
                continue  # a choice of shapes, or "one of these fields": 2.0 cannot say it; the description does
            elif key == "properties":
                converted[key] = {name: self._schema(s) for name, s in value.items()}
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                converted[key] = self._schema(value)
            elif key == "allOf":
                converted[key] = [self._schema(s) for s in value]
            elif key in _KEPT:
                converted[key] = value
            elif key not in _DROPPED:
                raise ValueError(f"no OpenAPI 2.0 rendering for the keyword {key!r}")
        return converted


def _oauth2(scheme: dict[str, Any]) -> dict[str, Any]:
    """An OAuth 2.0 client-credentials scheme as 2.0 says it: the `application` flow."""
    if scheme.get("type") != "oauth2" or set(scheme["flows"]) != {"clientCredentials"}:
        raise ValueError("only an OAuth 2.0 client-credentials scheme has an OpenAPI 2.0 rendering here")
    flow = scheme["flows"]["clientCredentials"]
    return {
        "type": "oauth2",
        "flow": "application",
        "tokenUrl": flow["tokenUrl"],
        "scopes": flow["scopes"],
        "description": scheme["description"],
    }


def _type(value: str | list[str]) -> dict[str, Any]:
    types = [value] if isinstance(value, str) else list(value)
    nullable = "null" in types
    types = [t for t in types if t != "null"]
    if len(types) != 1:
        if "string" not in types:
            raise ValueError(f"no OpenAPI 2.0 rendering for the type {value!r}")
        # 2.0 has no union type; each union here includes a string, which the service accepts.
        return {"type": "string"}
    return {"type": types[0], **({"x-nullable": True} if nullable else {})}


def main(argv: list[str]) -> int:
    text = render(yaml.safe_load(SOURCE.read_text()))
    if argv[1:] == ["--check"]:
        if TARGET.read_text() != text:
            print(f"{TARGET.name} is stale: run python openapi/to_swagger2.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
