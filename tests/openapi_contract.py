"""The HTTP API's description (openapi/revoke.openapi.yaml), and a check of responses against it.

`checked` wraps `revoke.app.triggers._http_response`, where the registered HTTP functions build
their answers. It finds the registered function that asked for the response on the call
stack, takes the operation from that function's route and its request's method, and
validates status code, headers and JSON body with openapi-core.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import azure.functions as func
import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

import revoke.app.campaign_triggers
import revoke.app.release_triggers
import revoke.app.triggers

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTION_PATH = ROOT / "openapi" / "revoke.openapi.yaml"
DESCRIPTION: dict[str, Any] = yaml.safe_load(DESCRIPTION_PATH.read_text())
API = OpenAPI.from_dict(DESCRIPTION)  # validates the description itself, with openapi-spec-validator
ROUTE_PREFIX: str = json.loads((ROOT / "host.json").read_text())["extensions"]["http"]["routePrefix"]
SERVER = DESCRIPTION["servers"][0]
HOST_URL = "https://" + SERVER["variables"]["host"]["default"]
# How far up the stack the registered function may be from the response builder.
MAX_FRAMES = 20


class ResponseMismatch(AssertionError):
    """A response a registered HTTP function built does not match the description."""


@dataclass
class ResponseLog:
    """What the check saw during one test: (function, status) of each response it validated, and each mismatch."""

    validated: list[tuple[str, int]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: str
    methods: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"/{ROUTE_PREFIX}/{self.route}"


def http_functions() -> dict[tuple[str, str], HttpFunction]:
    """Each registered HTTP function, by the (module, qualified name) of its Python function.

    Read from the blueprint as it is now: a test may reload revoke.app.triggers, which makes
    new function objects with the same names.
    """
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
    app.register_functions(revoke.app.triggers.blueprint)
    app.register_functions(revoke.app.release_triggers.blueprint)
    app.register_functions(revoke.app.campaign_triggers.blueprint)
    found = {}
    for function in app.get_functions():
        trigger = next(
            (b for b in json.loads(function.get_function_json())["bindings"] if b["type"] == "httpTrigger"), None
        )
        if trigger is None:
            continue
        user_function = function.get_user_function()
        key = (user_function.__module__, user_function.__qualname__)
        found[key] = HttpFunction(function.get_function_name(), trigger["route"], tuple(trigger["methods"]))
    return found


def validate(response: func.HttpResponse, function: HttpFunction, method: str) -> None:
    """Raise ResponseMismatch unless `response` is one the description documents for the function's operation."""
    request = MockRequest(HOST_URL, method.lower(), function.path)
    answer = MockResponse(
        response.get_body(),
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=response.mimetype,
    )
    try:
        API.validate_response(request, answer)
    except Exception as problem:
        details = "; ".join(str(e.message) for e in getattr(problem, "schema_errors", ()))
        raise ResponseMismatch(
            f"{method} {function.path} answered {response.status_code} {response.get_body()[:500]!r}, "
            f"which {DESCRIPTION_PATH.name} does not describe: {type(problem).__name__}: {problem} {details}".rstrip()
        ) from problem


def checked(build: Callable[..., func.HttpResponse], log: ResponseLog) -> Callable[..., func.HttpResponse]:
    """`build`, with each response it returns validated for the registered function that asked for it
    (a response built outside every registered function answers no request and is not checked).

    A mismatch raises in the test that caused it, and is also kept in `log`, so that a caller
    that catches the error cannot hide it.
    """
    functions = http_functions()

    @functools.wraps(build)
    def build_and_check(*args: Any, **kwargs: Any) -> func.HttpResponse:
        response = build(*args, **kwargs)
        caller = _registered_caller(sys._getframe(1), functions)
        if caller is None:  # not an answer to a request: a test calling the builder itself
            return response
        function, request = caller
        method = request.method if request is not None else _only(function.methods)
        try:
            validate(response, function, method)
        except ResponseMismatch as mismatch:
            log.mismatches.append(str(mismatch))
            raise
        log.validated.append((function.name, response.status_code))
        return response

    return build_and_check


def _registered_caller(
    frame: FrameType | None, functions: dict[tuple[str, str], HttpFunction]
) -> tuple[HttpFunction, func.HttpRequest | None] | None:
    """The registered function on the stack above `frame`, and the request it was called with."""
    for _ in range(MAX_FRAMES):
        if frame is None:
            return None
        function = functions.get((frame.f_globals.get("__name__", ""), frame.f_code.co_qualname))
        if function is not None:
            request = next((v for v in frame.f_locals.values() if isinstance(v, func.HttpRequest)), None)
            return function, request
        frame = frame.f_back
    return None


def _only(methods: tuple[str, ...]) -> str:
    if len(methods) != 1:
        raise ResponseMismatch(f"cannot tell which of {methods} was called: the function has no request argument")
    return methods[0]
