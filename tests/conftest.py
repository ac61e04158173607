"""Shared fixtures: a running Graph simulator, the app pointed at it, and the captured audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from graphsim import GraphSimulator
from graphsim.harness import LogCapture, app_settings, capture_logs
from revoke.audit import SCHEMA_PATH

ADELE = ("adele.vance@contoso.com", "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69")
MEGAN = ("megan.bowen@contoso.com", "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d")
LEE = ("lee.gu@contoso.com", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a")
NESTOR = ("nestor.wilke@contoso.com", "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f")
GUEST = ("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b")
ALL_USERS = (ADELE, MEGAN, LEE, NESTOR, GUEST)

AUDIT_VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    """A running simulator that knows the sample tenant's users."""
    with GraphSimulator() as simulator:
        for upn, object_id in ALL_USERS:
            simulator.add_user(upn, object_id)
        yield simulator


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    with capture_logs() as capture:
        yield capture


@pytest.fixture
def settings() -> dict[str, str]:
    """Extra app settings a test wants; fill it before asking for `app`."""
    return {}


@pytest.fixture
def app(graph: GraphSimulator, logs: LogCapture, settings: dict[str, str]) -> Iterator[GraphSimulator]:
    """The function app configured against the simulator; checks the audit trail afterwards."""
    # A short retry budget keeps tests of persistent faults fast; a test can set its own.
    with app_settings({**graph.environment(), "REVOKE_RETRY_BUDGET_SECONDS": "2", **settings}):
        yield graph
    for event in logs.audit_events():
        AUDIT_VALIDATOR.validate(event)
    assert_no_secrets(logs, graph)


def assert_no_secrets(logs: LogCapture, graph: GraphSimulator, *texts: str) -> None:
    """No token the simulator issued and not the identity header may appear anywhere."""
    haystack = "\n".join([logs.text(), *texts])
    for token in graph.issued_tokens:
        assert token not in haystack
    assert graph.identity_header not in haystack


def body_of(response: Any) -> dict[str, Any]:
    return json.loads(response.get_body())
