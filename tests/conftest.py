"""Shared fixtures: a running Graph simulator, the app pointed at it, and the captured audit trail."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import jsonschema
import pytest

import revoke.app.triggers
from graphsim import GraphSimulator
from graphsim.azurite import Azurite
from graphsim.harness import LogCapture, app_settings, capture_logs
from revoke.audit.events import SCHEMA_PATH
from tests import openapi_contract

pytest_plugins = ["tests.campaign_fixtures"]

ADELE = ("adele.vance@contoso.com", "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69")
MEGAN = ("megan.bowen@contoso.com", "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d")
LEE = ("lee.gu@contoso.com", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a")
NESTOR = ("nestor.wilke@contoso.com", "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f")
GUEST = ("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b")
ALL_USERS = (ADELE, MEGAN, LEE, NESTOR, GUEST)

AUDIT_VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


@contextmanager
def sample_tenant() -> Iterator[GraphSimulator]:
    """A running simulator that knows the sample tenant's users."""
    with GraphSimulator() as simulator:
        for upn, object_id in ALL_USERS:
            simulator.add_user(upn, object_id)
        yield simulator


# The product identifies callers by Entra ID token, keeps a tenant-wide action budget and a record
# of each contained user in Table Storage, refuses a direct request or a release that says no
# reason, and schedules a check after the next directory sync on a Storage queue. A test about
# something else runs as a function-key caller without a budget, records or that check, and may
# leave the reason out; the tests of each feature set these themselves (tests/test_callers.py,
# tests/test_budget.py, tests/test_records.py, tests/test_reasons.py, tests/test_verification.py).
SUITE_DEFAULTS = {
    "REVOKE_CALLER_AUTH": "key",
    "REVOKE_ACTION_BUDGET": "off",
    "REVOKE_REQUIRE_REASON": "false",
    "REVOKE_CONTAINMENT_RECORDS": "false",
    "REVOKE_VERIFY_AFTER_SECONDS": "off",
}


@pytest.fixture(autouse=True, scope="session")
def suite_defaults() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SUITE_DEFAULTS.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Azurite, the real Storage emulator, for the whole session; each test uses tables and queues of its own."""
    with Azurite() as emulator:
        yield emulator


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with sample_tenant() as simulator:
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
    with app_settings({**graph.environment(), "REVOKE_RETRY_BUDGET_SECONDS": "3", **settings}):
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


# --- Suite-wide guard: every HTTP answer matches openapi/revoke.openapi.yaml -------------


@pytest.fixture(autouse=True)
def responses_match_the_openapi_description(monkeypatch: pytest.MonkeyPatch) -> Iterator[openapi_contract.ResponseLog]:
    """Each response a registered HTTP function builds is validated (status, headers, body) as it is built."""
    log = openapi_contract.ResponseLog()
    monkeypatch.setattr(
        revoke.app.triggers, "_http_response", openapi_contract.checked(revoke.app.triggers._http_response, log)
    )
    yield log
    assert log.mismatches == [], "responses the API description does not describe"


# --- Suite-wide guard: no test may log a secret the simulator handed out -----------------

STARTED_SIMULATORS: list[GraphSimulator] = []
"""Every simulator started in this run, in order, whoever started it."""
RUNNING_SIMULATORS: set[GraphSimulator] = set()

HOSTILE_INPUT_CASES: Counter[str] = Counter()
"""Generated cases run per property in test_hostile_input.py; printed at the end of the run."""


@pytest.fixture(autouse=True, scope="session")
def track_simulators() -> Iterator[None]:
    """Note each simulator as it starts and stops, so the guard below knows whose secrets to look for."""
    start, stop = GraphSimulator.start, GraphSimulator.stop

    def tracked_start(simulator: GraphSimulator) -> None:
        STARTED_SIMULATORS.append(simulator)
        RUNNING_SIMULATORS.add(simulator)
        start(simulator)

    def tracked_stop(simulator: GraphSimulator) -> None:
        RUNNING_SIMULATORS.discard(simulator)
        stop(simulator)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GraphSimulator, "start", tracked_start)
        patch.setattr(GraphSimulator, "stop", tracked_stop)
        yield


@pytest.fixture(autouse=True)
def no_secret_in_any_log(track_simulators: None) -> Iterator[LogCapture]:
    """Every record logged during the test, at DEBUG and with tracebacks, holds no token or identity header.

    The simulators that matter are those running when the test starts and those it starts.
    """
    involved = set(RUNNING_SIMULATORS)
    first_new = len(STARTED_SIMULATORS)
    with capture_logs() as capture:
        yield capture
    involved.update(STARTED_SIMULATORS[first_new:])
    assert secrets_logged(capture.records, involved) == []


def secrets_logged(records: list[logging.LogRecord], simulators: Iterable[GraphSimulator]) -> list[str]:
    """Which secrets of `simulators` appear in `records`, described without repeating them."""
    if not records:
        return []
    haystack = logged_text(records)
    found = []
    for simulator in simulators:
        if simulator.identity_header in haystack:
            found.append("a simulator's identity header")
        leaked = sum(token in haystack for token in list(simulator.issued_tokens))
        if leaked:
            found.append(f"{leaked} access token(s) a simulator issued")
    return found


def logged_text(records: list[logging.LogRecord]) -> str:
    """All of `records` as handlers would write them, tracebacks included."""
    return "\n".join(_rendered(record) for record in records)


_RENDER = logging.Formatter("%(name)s %(message)s")


def _rendered(record: logging.LogRecord) -> str:
    """The record as a handler would write it, traceback included; a record that cannot format shows its parts."""
    try:
        return _RENDER.format(record)
    except Exception:
        return f"{record.name} {record.msg!r} {record.args!r} {record.exc_info!r}"


@pytest.fixture(scope="session")
def hostile_input_cases() -> Counter[str]:
    """The run's case counter; a fixture, because test modules import this file under another name."""
    return HOSTILE_INPUT_CASES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if HOSTILE_INPUT_CASES:
        per_property = ", ".join(f"{name} {count}" for name, count in sorted(HOSTILE_INPUT_CASES.items()))
        terminalreporter.write_line(f"hostile-input cases: {sum(HOSTILE_INPUT_CASES.values())} ({per_property})")
