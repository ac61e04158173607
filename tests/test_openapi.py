"""The HTTP API's description, openapi/revoke.openapi.yaml: valid, complete, true to the code, and its 2.0 copy current.

Every response the suite makes a registered function build is validated against the
description by the autouse fixture in conftest.py; these tests show that check can fail, and
hold the description's examples and status codes to the code.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import InvalidRequestBody
from openapi_spec_validator import validate as validate_description
from openapi_spec_validator.validation import OpenAPIV2SpecValidator, OpenAPIV31SpecValidator
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

import revoke
import revoke.app.campaign_triggers
import revoke.app.release_triggers
import revoke.app.triggers
from graphsim import Fault, GraphSimulator
from graphsim.harness import app_settings, http_request
from revoke.app.replies import HttpReply
from revoke.app.triggers import revoke_http
from revoke.errors import RequestRejected
from tests.conftest import ADELE, body_of
from tests.openapi_contract import API, DESCRIPTION, HOST_URL, ROOT, ResponseLog, ResponseMismatch, http_functions

REVOKE = DESCRIPTION["paths"]["/revoke"]["post"]
HOST_ANSWERS = {"401"}  # the Functions host's own: a missing or wrong function key
SAMPLES = sorted((ROOT / "samples").glob("*.json"))


def documented_codes(status: int) -> set[str]:
    """The error codes POST /revoke and POST /release document for `status` (409 is the release's alone)."""
    codes: set[str] = set()
    for path in ("/revoke", "/release"):
        response = DESCRIPTION["paths"][path]["post"]["responses"].get(str(status))
        schema = response["content"]["application/json"]["schema"] if response else {}
        if "allOf" in schema:
            code = schema["allOf"][1]["properties"]["error"]["properties"]["code"]
            codes |= set(code.get("enum", [code.get("const")]))
    return codes


# --- the description -------------------------------------------------------------------
def test_the_description_is_valid_openapi_3_1() -> None:
    assert DESCRIPTION["openapi"].startswith("3.1.")
    validate_description(copy.deepcopy(DESCRIPTION), cls=OpenAPIV31SpecValidator)


def test_an_invalid_description_is_refused() -> None:
    broken = copy.deepcopy(DESCRIPTION)
    del broken["paths"]["/revoke"]["post"]["responses"]["200"]["description"]

    with pytest.raises(OpenAPIValidationError, match="'description' is a required property"):
        validate_description(broken, cls=OpenAPIV31SpecValidator)


def test_every_registered_http_route_is_described_with_its_methods() -> None:
    for function in http_functions().values():
        described = DESCRIPTION["paths"].get(f"/{function.route}")
        assert described is not None, f"{function.name}: /{function.route} is not described"
        assert {m.lower() for m in function.methods} <= set(described), function.name


def test_every_described_route_is_registered() -> None:
    registered = {f"/{function.route}" for function in http_functions().values()}
    pending = sorted(set(DESCRIPTION["paths"]) - registered)
    if pending:
        pytest.skip(f"described, not registered in this tree yet: {', '.join(pending)}")


# --- the check can fail ----------------------------------------------------------------
def contained_adele(**changes: Any) -> dict[str, Any]:
    """A 200 body as the code writes it, with `changes` made to its one target."""
    action = {"action": "revokeSignInSessions", "outcome": "revoked", "graphStatus": 200, "detail": None}
    target = {"user": ADELE[0], "outcome": "contained", "contained": True, "graphStatus": 200, "detail": None}
    body = {"correlationId": "soc-1", "status": "succeeded", "dryRun": False, "skipped": []}
    return {**body, "results": [{**target, "actions": [action], **changes}]}


# Each wrong in one way, and what the check says about it.
WRONG_REPLIES = {
    "an undocumented status": (HttpReply(418, contained_adele()), "Unknown response http status: 418"),
    "a 503 without Retry-After": (
        HttpReply(503, {**contained_adele(outcome="deferred", contained=False), "status": "failed"}),
        "Missing required header: Retry-After",
    ),
    "a field the description does not name": (
        HttpReply(400, {"error": {"code": "malformed_json", "message": "x"}, "correlationId": "soc-1", "hint": "x"}),
        "'hint' was unexpected",
    ),
    "an error code the status does not document": (
        HttpReply(400, {"error": {"code": "payload_too_large", "message": "x"}, "correlationId": "soc-1"}),
        "'payload_too_large' is not one of",
    ),
    "contained disagreeing with outcome": (HttpReply(200, contained_adele(contained=False)), "True was expected"),
    "a null where the description wants a string": (
        HttpReply(200, contained_adele(user=None)),
        "None is not of type 'string'",
    ),
}


def test_a_correct_reply_passes_the_check(app: GraphSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The baseline the wrong replies below depart from."""
    monkeypatch.setattr(revoke.app.triggers, "http_reply", lambda report: HttpReply(200, contained_adele()))

    assert revoke_http(http_request({"users": [ADELE[0]]})).status_code == 200


@pytest.mark.parametrize(("reply", "complaint"), WRONG_REPLIES.values(), ids=WRONG_REPLIES.keys())
def test_a_response_the_description_does_not_describe_fails_the_test(
    app: GraphSimulator,
    monkeypatch: pytest.MonkeyPatch,
    responses_match_the_openapi_description: ResponseLog,
    reply: HttpReply,
    complaint: str,
) -> None:
    monkeypatch.setattr(revoke.app.triggers, "http_reply", lambda report: reply)

    with pytest.raises(ResponseMismatch, match=re.escape(complaint)):
        revoke_http(http_request({"users": [ADELE[0]]}))

    # Kept even when a caller swallows the error; cleared here, or this test would fail at teardown.
    assert len(responses_match_the_openapi_description.mismatches) == 1
    responses_match_the_openapi_description.mismatches.clear()


def test_the_same_response_built_outside_a_registered_function_is_not_checked() -> None:
    """Only answers to requests are checked: the builder called on its own returns what it built."""
    response = revoke.app.triggers._http_response(WRONG_REPLIES["an undocumented status"][0])

    assert response.status_code == 418


def test_every_registered_http_function_answers_through_the_checked_builder(
    app: GraphSimulator, responses_match_the_openapi_description: ResponseLog
) -> None:
    """A function that built its response some other way would escape the check: this call would record nothing."""
    application = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
    application.register_functions(revoke.app.triggers.blueprint)
    application.register_functions(revoke.app.release_triggers.blueprint)
    application.register_functions(revoke.app.campaign_triggers.blueprint)
    registered_functions = {f.get_function_name(): f for f in application.get_functions()}
    for function in http_functions().values():
        registered = registered_functions[function.name]
        before = len(responses_match_the_openapi_description.validated)
        request = func.HttpRequest(function.methods[0], f"/api/{function.route}", body=b"")

        registered.get_user_function()(request)

        assert [name for name, _ in responses_match_the_openapi_description.validated[before:]] == [function.name]


# --- answers no other test asks for ----------------------------------------------------
WORKSPACE = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/soc-rg/providers/Microsoft.OperationalInsights/workspaces/soc-workspace"


@pytest.mark.parametrize(
    ("workspace", "arm_fault", "comment"),
    [
        (WORKSPACE, None, "commented"),
        (WORKSPACE, Fault(status=403, times=None), "failed"),
        (WORKSPACE.replace("soc-workspace", "other-workspace"), None, "skipped"),
    ],
    ids=["commented", "failed", "another workspace"],
)
def test_an_answer_with_an_incident_comment_is_described(
    app: GraphSimulator, workspace: str, arm_fault: Fault | None, comment: str
) -> None:
    if arm_fault is not None:
        app.inject_arm(arm_fault)
    incident = json.loads((ROOT / "samples" / "sentinel-incident.json").read_text())

    with app_settings({"REVOKE_SENTINEL_WORKSPACE": workspace, "REVOKE_ARM_ENDPOINT": app.arm_url}):
        response = revoke_http(http_request(incident))

    assert response.status_code == 207  # the sample names a guest, whom revocation alone does not contain
    assert body_of(response)["incidentComment"]["status"] == comment


# --- the examples ----------------------------------------------------------------------
def request_examples() -> Iterator[Any]:
    for path, item in DESCRIPTION["paths"].items():
        for method, operation in item.items():
            for name, example in (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("examples", {})
                .items()
            ):
                yield pytest.param(method, path, example["value"], id=f"{method} {path} {name}")


def response_examples() -> Iterator[Any]:
    for path, item in DESCRIPTION["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                for name, example in (
                    response.get("content", {}).get("application/json", {}).get("examples", {}).items()
                ):
                    yield pytest.param(
                        method, path, int(status), example["value"], id=f"{method} {path} {status} {name}"
                    )


def keyed_request(method: str, path: str, body: Any) -> MockRequest:
    return MockRequest(
        HOST_URL, method, "/api" + path, headers={"x-functions-key": "a-key"}, data=json.dumps(body).encode()
    )


@pytest.mark.parametrize(("method", "path", "body"), list(request_examples()))
def test_each_request_example_matches_the_request_schema(method: str, path: str, body: Any) -> None:
    API.validate_request(keyed_request(method, path, body))


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_each_sample_payload_matches_the_request_schema(sample: Path) -> None:
    API.validate_request(keyed_request("post", "/revoke", json.loads(sample.read_text())))


def test_a_request_naming_no_user_does_not_match() -> None:
    with pytest.raises(InvalidRequestBody):
        API.validate_request(keyed_request("post", "/revoke", {"reason": "no users"}))


@pytest.mark.parametrize(("method", "path", "status", "body"), list(response_examples()))
def test_each_response_example_matches_its_status_schema(method: str, path: str, status: int, body: Any) -> None:
    headers = {"X-Correlation-Id": body["correlationId"]} if "correlationId" in body else {}
    if status == 503:
        headers["Retry-After"] = "30"
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token", error_description="expired"'
    answer = MockResponse(json.dumps(body).encode(), status_code=status, headers=headers)

    API.validate_response(MockRequest(HOST_URL, method, "/api" + path), answer)


def test_the_examples_cover_every_status_revoke_answers_with_a_body() -> None:
    with_bodies = {status for status, response in REVOKE["responses"].items() if "content" in response}
    with_examples = {status for status, response in REVOKE["responses"].items() if response.get("content", {})
                     .get("application/json", {}).get("examples")}  # fmt: skip

    assert with_examples == with_bodies


# --- every status the code can return is documented, and no other ----------------------
def request_rejections(*, campaigns: bool = False) -> Iterator[type[RequestRejected]]:
    """Those of POST /revoke; with `campaigns`, those only the campaign operations raise."""
    pending = list(RequestRejected.__subclasses__())
    while pending:
        rejection = pending.pop()
        pending.extend(rejection.__subclasses__())
        if rejection.__name__.startswith("Campaign") is campaigns:
            yield rejection


CAMPAIGN_TRIGGERS = "campaign_triggers.py"


def campaign_statuses() -> set[str]:
    return {
        status
        for path, item in DESCRIPTION["paths"].items()
        if path.startswith("/campaigns")
        for op in item.values()
        for status in op["responses"]
    }


def test_every_campaign_rejection_and_reply_is_documented_on_the_campaign_operations() -> None:
    statuses = campaign_statuses()
    rejections = list(request_rejections(campaigns=True))
    assert len(rejections) >= 4
    for rejection in rejections:
        assert str(rejection.http_status) in statuses, rejection.__name__
    for status, _ in built_replies(only=CAMPAIGN_TRIGGERS):
        assert str(status) in statuses, status


def built_replies(only: str | None = None) -> set[tuple[int, str | None]]:
    """(status, error code or None) of every HttpReply and error_reply the revoke package writes with a literal status.

    The campaign triggers' replies are documented on the campaign operations: left out unless `only` names them.
    """
    found: set[tuple[int, str | None]] = set()
    for module in Path(revoke.__file__).parent.rglob("*.py"):
        if (module.name == CAMPAIGN_TRIGGERS) is (only is None):
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
                continue
            if node.func.id not in ("HttpReply", "error_reply"):
                continue
            statuses = [
                n.value for n in ast.walk(node.args[0]) if isinstance(n, ast.Constant) and isinstance(n.value, int)
            ]
            code = node.args[1] if node.func.id == "error_reply" and len(node.args) > 1 else None
            literal = code.value if isinstance(code, ast.Constant) and isinstance(code.value, str) else None
            found.update((status, literal) for status in statuses)
    return found


def test_every_rejection_is_documented_with_its_status_and_code() -> None:
    rejections = list(request_rejections())
    assert len(rejections) >= 7

    for rejection in rejections:
        assert rejection.code in documented_codes(rejection.http_status), rejection.__name__


def test_every_status_and_code_the_code_writes_is_documented() -> None:
    replies = built_replies()
    assert {status for status, _ in replies} >= {200, 207, 422, 500, 502, 503}
    documented = {
        status for item in DESCRIPTION["paths"].values() for op in item.values() for status in op["responses"]
    }

    for status, code in replies:
        assert str(status) in documented, status
        if code is not None:
            assert code in documented_codes(status), (status, code)


def test_revoke_documents_no_status_the_code_cannot_return() -> None:
    possible = {str(status) for status, _ in built_replies()} | {str(r.http_status) for r in request_rejections()}

    assert set(REVOKE["responses"]) - HOST_ANSWERS <= possible


# --- the OpenAPI 2.0 copy for Power Platform -------------------------------------------
def swagger2_module() -> Any:
    spec = importlib.util.spec_from_file_location("to_swagger2", ROOT / "openapi" / "to_swagger2.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_swagger2_copy_is_current() -> None:
    converter = swagger2_module()

    assert converter.TARGET.read_text() == converter.render(DESCRIPTION), "run: python openapi/to_swagger2.py"


def test_the_swagger2_copy_is_valid_openapi_2_and_imports_into_power_platform() -> None:
    converter = swagger2_module()
    copy_2 = json.loads(converter.TARGET.read_text())

    validate_description(copy_2, cls=OpenAPIV2SpecValidator)
    assert len(converter.TARGET.read_bytes()) < 1_000_000  # Power Platform's limit for a definition
    token = DESCRIPTION["components"]["securitySchemes"]["entraToken"]["flows"]["clientCredentials"]
    assert copy_2["securityDefinitions"] == {
        "functionKey": {
            **copy_2["securityDefinitions"]["functionKey"],
            "type": "apiKey",
            "in": "header",
            "name": "x-functions-key",
        },
        # The Entra ID token, as the 2.0 client-credentials flow a connector that supports it can use.
        "entraToken": {
            **copy_2["securityDefinitions"]["entraToken"],
            "type": "oauth2",
            "flow": "application",
            "tokenUrl": token["tokenUrl"],
            "scopes": token["scopes"],
        },
    }
    assert list(copy_2["securityDefinitions"]) == ["functionKey", "entraToken"]  # Power Platform uses the first
    assert copy_2["security"] == [{"functionKey": [], "entraToken": []}, {"functionKey": []}]
    # The campaign operations are left out of the 2.0 copy (openapi/to_swagger2.py).
    described = {path: item for path, item in DESCRIPTION["paths"].items() if not path.startswith("/campaigns")}
    assert {path: set(item) for path, item in copy_2["paths"].items()} == {
        path: set(item) for path, item in described.items()
    }
    for path, item in described.items():
        for method, operation in item.items():
            assert set(copy_2["paths"][path][method]["responses"]) == set(operation["responses"])


def test_the_converter_refuses_a_keyword_it_cannot_render() -> None:
    converter = swagger2_module()
    document = copy.deepcopy(DESCRIPTION)
    document["components"]["schemas"]["CorrelationId"]["prefixItems"] = []

    with pytest.raises(ValueError, match="prefixItems"):
        converter.render(document)
