"""The fault matrix: each Graph or identity failure, through both triggers.

For every fault: the outcome, the HTTP status or queue behaviour, the audit event,
and how many requests Graph received.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.faults import is_lookup
from graphsim.harness import CapturedOut, LogCapture, app_settings, http_request, queue_message
from revoke.app.triggers import revoke_http, revoke_queue
from revoke.errors import RetryLater
from tests.conftest import ADELE, MEGAN, body_of


def on_action(path: str) -> bool:
    return path.endswith("/revokeSignInSessions")


@dataclass(frozen=True)
class Case:
    name: str
    fault: Fault
    outcome: str
    http_status: int
    queue: str  # complete | poison | retry
    attempts: int | None  # None: at least two, as many as the budget allowed
    graph_calls: int  # revocation calls Graph received


CASES = [
    Case("429 with Retry-After", Fault(status=429, headers={"Retry-After": "1"}, match=on_action), "revoked", 200, "complete", 2, 2),
    Case("429 without Retry-After", Fault(status=429, match=on_action), "revoked", 200, "complete", 2, 2),
    Case("500 once", Fault(status=500, match=on_action), "revoked", 200, "complete", 2, 2),
    Case("503 once", Fault(status=503, match=on_action), "revoked", 200, "complete", 2, 2),
    Case("504 once", Fault(status=504, match=on_action), "revoked", 200, "complete", 2, 2),
    Case("dropped connection once", Fault(drop=True, match=on_action), "revoked", 200, "complete", 2, 2),
    Case("401 once: fresh token", Fault(status=401, match=on_action), "revoked", 200, "complete", 2, 2),
    Case("401 always", Fault(status=401, match=on_action, times=None), "failed", 502, "poison", 2, 2),
    Case("403", Fault(status=403, match=on_action, times=None), "failed", 502, "poison", 1, 1),
    Case("404", Fault(status=404, match=on_action, times=None), "not_found", 207, "complete", 1, 1),
    Case("302: not followed", Fault(status=302, headers={"Location": "http://127.0.0.1:9/"}, match=on_action, times=None), "failed", 502, "poison", 1, 1),
    Case("429 longer than the budget", Fault(status=429, headers={"Retry-After": "30"}, match=on_action, times=None), "deferred", 503, "retry", 1, 1),
    Case("503 always", Fault(status=503, match=on_action, times=None), "deferred", 503, "retry", None, 2),
    Case("read timeout", Fault(delay=4.0, match=on_action, times=None), "deferred", 503, "retry", 1, 1),
    Case("identity endpoint 500", Fault(status=500, identity=True, times=None), "deferred", 503, "retry", 0, 0),
    Case("identity endpoint slow", Fault(delay=3.0, identity=True, times=None), "deferred", 503, "retry", 0, 0),
]  # fmt: skip


def assert_attempts(event: dict[str, object], case: Case, graph_calls: int) -> None:
    """The audited attempts are the calls Graph really received, and as many as the case expects."""
    assert event["outcome"] == case.outcome
    if case.graph_calls:
        assert event["attempts"] == graph_calls
    if case.attempts is None:  # retried until the budget ran out: how often depends on the jitter
        assert graph_calls >= 2
    else:
        assert (event["attempts"], graph_calls) == (case.attempts, case.graph_calls)


def revocation_calls(graph: GraphSimulator) -> int:
    return sum(1 for r in graph.graph_requests() if on_action(r.path))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_http_trigger_under_fault(app: GraphSimulator, logs: LogCapture, case: Case) -> None:
    app.inject(case.fault)

    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == case.http_status
    [result] = body_of(response).get("results", [{"actions": [{}]}])
    assert result["actions"][0].get("outcome") == case.outcome
    if case.http_status == 503:
        assert int(response.headers["Retry-After"]) >= 5
    [event] = logs.audit_events()
    assert_attempts(event, case, revocation_calls(app))
    assert (ADELE[1] in app.revocations) == (case.outcome == "revoked")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_queue_trigger_under_fault(app: GraphSimulator, logs: LogCapture, case: Case) -> None:
    app.inject(case.fault)
    poison = CapturedOut()
    body = '{"users": ["adele.vance@contoso.com"]}'

    if case.queue == "retry":
        with pytest.raises(RetryLater):
            revoke_queue(queue_message(body), poison)
    else:
        revoke_queue(queue_message(body), poison)

    assert poison.value == (body if case.queue == "poison" else None)
    [event] = logs.audit_events()
    assert event["trigger"] == "queue"
    assert_attempts(event, case, revocation_calls(app))


def test_a_fresh_token_is_fetched_once_after_a_401(app: GraphSimulator) -> None:
    app.inject(Fault(status=401, match=on_action))

    assert revoke_http(http_request({"users": [ADELE[0]]})).status_code == 200
    assert app.token_requests == 2


@pytest.mark.parametrize("settings", [{"REVOKE_PROTECTED_USERS": ADELE[1]}])
def test_a_protected_object_id_is_recognised_when_the_request_names_the_upn(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 422
    assert not any(on_action(r.path) for r in app.graph_requests())
    assert [r.path for r in app.graph_requests()] == [
        "/v1.0/users?$filter=userPrincipalName%20in%20('adele.vance@contoso.com')"
        "&$select=id,userPrincipalName,userType,externalUserState,creationType,identities,"
        "onPremisesSyncEnabled,onPremisesSecurityIdentifier,onPremisesSamAccountName,onPremisesDomainName"
    ]


@pytest.mark.parametrize("settings", [{"REVOKE_PROTECTED_USERS": ADELE[0]}])
def test_a_protected_upn_is_recognised_when_the_request_names_the_object_id(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [ADELE[1], "megan.bowen@contoso.com"]}))

    assert response.status_code == 207
    assert [r["outcome"] for r in body_of(response)["results"]] == ["refused", "contained"]
    assert ADELE[1] not in app.revocations


@pytest.mark.parametrize("settings", [{"REVOKE_PROTECTED_USERS": ADELE[0]}])
def test_a_failing_protection_lookup_defers_and_never_revokes(app: GraphSimulator, logs: LogCapture) -> None:
    app.inject(Fault(status=503, match=is_lookup, times=None))

    response = revoke_http(http_request({"users": [ADELE[1]]}))

    assert response.status_code == 503
    assert app.revocations == {}
    [event] = logs.audit_events()
    assert event["outcome"] == "deferred"
    assert "REVOKE_PROTECTED_USERS" in event["detail"]


@pytest.mark.parametrize("settings", [{"REVOKE_PROTECTED_USERS": ADELE[0]}])
def test_a_forbidden_protection_lookup_fails_closed(app: GraphSimulator) -> None:
    app.inject(Fault(status=403, match=lambda path: not on_action(path), times=None))

    response = revoke_http(http_request({"users": [ADELE[1]]}))

    assert response.status_code == 502
    assert app.revocations == {}


def test_graph_unreachable_defers_and_counts_no_attempt(app: GraphSimulator, logs: LogCapture) -> None:
    """With nothing listening, no request reaches Graph: deferred, 0 attempts, never revoked."""
    revoke_http(http_request({"users": [ADELE[0]]}))  # fetch the token while the simulator is up
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_port = placeholder.getsockname()[1]
    with app_settings({"REVOKE_GRAPH_ENDPOINT": f"http://127.0.0.1:{closed_port}"}):
        response = revoke_http(http_request({"users": [MEGAN[0]]}))

    assert response.status_code == 503
    event = logs.audit_events()[-1]
    assert (event["outcome"], event["attempts"], event["user"]) == ("deferred", 0, MEGAN[0])
