"""Graph, a proxy or the identity endpoint answers something odd: the outcome is still true.

Only an answer that confirms the revocation makes a target `revoked`; a redirect is never
followed; a batch answer of any shape gives every target exactly one result and one audit
event; no failure of the credential becomes a 500 or a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.faults import is_lookup_by_filter as on_lookup
from graphsim.harness import CapturedOut, LogCapture, http_request, queue_message
from revoke.app.triggers import revoke_http, revoke_queue
from revoke.errors import RetryLater
from tests.conftest import ADELE, MEGAN, body_of, logged_text


def on_action(path: str) -> bool:
    return path.endswith("/revokeSignInSessions")


def run_queue(body: dict[str, Any]) -> tuple[str, CapturedOut]:
    poison = CapturedOut()
    try:
        revoke_queue(queue_message(body), poison)
    except RetryLater:
        return "retry", poison
    return ("poison" if poison.value is not None else "complete"), poison


# --- 1. only a confirmed revocation is `revoked` -----------------------------------------
CONFIRMING = [
    pytest.param(Fault(status=204, match=on_action, times=None), id="204"),
    pytest.param(Fault(status=200, raw_body="", match=on_action, times=None), id="200 empty"),
]
UNCONFIRMING = [
    # (fault, outcome, HTTP status, queue)
    pytest.param(Fault(status=202, raw_body="", match=on_action, times=None), "deferred", 503, "retry", id="202"),
    pytest.param(Fault(status=201, body={"value": True}, match=on_action, times=None), "deferred", 503, "retry", id="201"),
    pytest.param(Fault(status=206, raw_body="", match=on_action, times=None), "deferred", 503, "retry", id="206"),
    pytest.param(
        Fault(status=200, body={"error": {"code": "ProxyError"}}, match=on_action, times=None),
        "deferred", 503, "retry", id="200 with an error object",
    ),
    pytest.param(
        Fault(status=200, raw_body='{"value": tr', match=on_action, times=None),
        "deferred", 503, "retry", id="200 truncated",
    ),
    pytest.param(
        Fault(status=200, raw_body="<html>Signed out</html>", headers={"Content-Type": "text/html"}, match=on_action, times=None),
        "deferred", 503, "retry", id="200 html",
    ),
    pytest.param(Fault(status=200, body=["value", True], match=on_action, times=None), "deferred", 503, "retry", id="200 list"),
    pytest.param(Fault(status=200, body={"value": False}, match=on_action, times=None), "failed", 502, "poison", id="value false"),
]  # fmt: skip


@pytest.mark.parametrize("fault", CONFIRMING)
def test_a_confirming_answer_is_revoked(app: GraphSimulator, fault: Fault) -> None:
    app.inject(fault)

    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 200
    assert body_of(response)["results"][0]["outcome"] == "contained"


@pytest.mark.parametrize(("fault", "outcome", "http_status", "queue"), UNCONFIRMING)
def test_an_answer_that_does_not_confirm_is_never_revoked(
    app: GraphSimulator, logs: LogCapture, fault: Fault, outcome: str, http_status: int, queue: str
) -> None:
    app.inject(fault)

    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == http_status
    assert body_of(response)["results"][0]["outcome"] == outcome
    assert [e["outcome"] for e in logs.audit_events()] == [outcome]
    assert run_queue({"users": [ADELE[0]]})[0] == queue


@pytest.mark.parametrize(("fault", "outcome", "http_status", "queue"), UNCONFIRMING)
@pytest.mark.parametrize("settings", [{"REVOKE_MAX_USERS": "10"}])
def test_a_batch_item_that_does_not_confirm_is_never_revoked(
    app: GraphSimulator, fault: Fault, outcome: str, http_status: int, queue: str
) -> None:
    app.inject(replace(fault, match=lambda path: on_action(path) and ADELE[0] in path))

    response = revoke_http(http_request({"users": [ADELE[0], MEGAN[0]]}))

    assert [r["outcome"] for r in body_of(response)["results"]] == [outcome, "contained"]
    assert response.status_code == (503 if outcome == "deferred" else 207)


# --- 2. the $batch envelope ----------------------------------------------------------------
TWO = {"users": [ADELE[0], MEGAN[0]]}


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        pytest.param(Fault(status=202, raw_body="", batch_envelope=True, times=None), "deferred", id="202"),
        pytest.param(Fault(status=204, raw_body="", batch_envelope=True, times=None), "deferred", id="204"),
        pytest.param(Fault(status=201, body={"responses": []}, batch_envelope=True, times=None), "deferred", id="201"),
        pytest.param(Fault(status=403, batch_envelope=True, times=None), "failed", id="403 applies to each call"),
        pytest.param(
            Fault(status=429, headers={"Retry-After": "30"}, batch_envelope=True, times=None), "deferred", id="429"
        ),
    ],
)
def test_only_a_200_batch_answer_can_mark_its_calls_revoked(app: GraphSimulator, fault: Fault, outcome: str) -> None:
    app.inject(fault)

    results = body_of(revoke_http(http_request(TWO)))["results"]

    assert [r["outcome"] for r in results] == [outcome, outcome]


# --- 3. no redirect is followed ------------------------------------------------------------
def test_a_redirect_is_failed_and_not_followed(app: GraphSimulator) -> None:
    elsewhere = f"{app.url}/v1.0/users/{MEGAN[1]}/revokeSignInSessions"
    app.inject(Fault(status=307, headers={"Location": elsewhere}, match=on_action, times=None))

    response = revoke_http(http_request({"users": [ADELE[0]]}))

    [result] = body_of(response)["results"]
    assert (response.status_code, result["outcome"], result["graphStatus"]) == (502, "failed", 307)
    assert "307" in result["detail"]
    assert app.revocations == {}
    assert len([r for r in app.graph_requests() if r.method != "GET"]) == 1  # the look-up aside


def test_a_302_is_not_turned_into_a_get_that_succeeds(app: GraphSimulator) -> None:
    app.inject(Fault(status=302, headers={"Location": f"{app.url}/v1.0/users/{ADELE[0]}"}, match=on_action))

    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert body_of(response)["results"][0]["outcome"] == "failed"
    assert [r.method for r in app.graph_requests() if "$select" not in r.path] == ["POST"]


def test_a_redirected_batch_and_a_redirected_item_are_failed(app: GraphSimulator) -> None:
    # The revocations' batch; the look-up of both users beside it is one request, not a batch.
    app.inject(Fault(status=301, headers={"Location": "https://example.invalid/"}, batch_envelope=True))
    first = body_of(revoke_http(http_request(TWO)))["results"]
    app.inject(Fault(status=303, match=lambda path: path.endswith(f"{ADELE[0]}/revokeSignInSessions")))
    second = body_of(revoke_http(http_request(TWO)))["results"]

    assert [r["outcome"] for r in first] == ["failed", "failed"]
    assert [(r["outcome"], r["graphStatus"]) for r in second] == [("failed", 303), ("contained", 200)]


# --- 4. a malformed $batch body --------------------------------------------------------------
def first_item(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], Any]:
    def rewrite(envelope: dict[str, Any]) -> Any:
        change(envelope["responses"][0])
        return envelope

    return rewrite


def duplicate_first(envelope: dict[str, Any]) -> Any:
    envelope["responses"].append(dict(envelope["responses"][0]))
    return envelope


def add_unknown(envelope: dict[str, Any]) -> Any:
    envelope["responses"].append({"id": "999", "status": 204})
    envelope["responses"].append({"id": 0, "status": 204})
    envelope["responses"].append("not an object")
    return envelope


MALFORMED = {
    "responses not a list": lambda envelope: {"responses": {"0": envelope["responses"]}},
    "responses missing": lambda envelope: {"value": []},
    "envelope a list": lambda envelope: envelope["responses"],
    "headers a list": first_item(lambda item: item.update(headers=["request-id", "x"])),
    "headers a string": first_item(lambda item: item.update(headers="Retry-After: 1")),
    "status a string": first_item(lambda item: item.update(status="200")),
    "status true": first_item(lambda item: item.update(status=True)),
    "status out of range": first_item(lambda item: item.update(status=2000)),
    "body a string": first_item(lambda item: item.update(body="true")),
    "body a list": first_item(lambda item: item.update(body=[True])),
    "duplicated id": duplicate_first,
    "unknown and non-string ids": add_unknown,
}


@pytest.mark.parametrize("rewrite", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("settings", [{"REVOKE_MAX_USERS": "100", "REVOKE_RETRY_BUDGET_SECONDS": "1"}])
def test_every_target_gets_one_result_and_one_event_whatever_the_batch_body(
    app: GraphSimulator, logs: LogCapture, rewrite: Callable[[dict[str, Any]], Any]
) -> None:
    people = [app.add_user(f"person{n:02}@contoso.com").user_principal_name for n in range(45)]
    app.inject(Fault(batch_envelope=True, rewrite=rewrite, times=None))

    response = revoke_http(http_request({"users": people}))
    status, _ = run_queue({"users": people})

    assert response.status_code in (200, 207, 503)
    results = body_of(response)["results"]
    assert [r["user"] for r in results] == people
    events = logs.audit_events()
    assert sorted(e["user"] for e in events) == sorted(people * 2)
    reported = {r["user"] for r in results if r["actions"][0]["outcome"] == "revoked"}
    performed = {user for user in people if app.revocations[app.find_user(user).object_id]}  # type: ignore[union-attr]
    assert reported <= performed
    assert status in ("complete", "retry")


# --- 5. any identity-endpoint failure defers -------------------------------------------------
TOKEN_ANSWERS = {
    "html error page": Fault(
        status=500, raw_body="<html><body>Bad gateway</body></html>", headers={"Content-Type": "text/html"}
    ),
    "empty 200": Fault(status=200, raw_body=""),
    "non-JSON 200": Fault(status=200, raw_body="access granted", headers={"Content-Type": "text/plain"}),
    "JSON 200 of the wrong shape": Fault(status=200, body=["access_token"]),
    "malformed expires_on": Fault(
        status=200,
        raw_body='{"access_token": "{token}", "expires_on": "soon", "resource": "x", "token_type": "Bearer"}',
    ),
    "truncated, token-bearing": Fault(status=200, raw_body='{"access_token": "{token}", "expires_on": "17'),
    "expired token": Fault(
        status=200, raw_body='{"access_token": "{token}", "expires_on": "1", "resource": "x", "token_type": "Bearer"}'
    ),
    "stall": Fault(delay=8.0),
}


@pytest.mark.parametrize("fault", TOKEN_ANSWERS.values(), ids=TOKEN_ANSWERS.keys())
@pytest.mark.parametrize("settings", [{"REVOKE_RETRY_BUDGET_SECONDS": "2"}])
def test_any_identity_endpoint_failure_defers_every_target(app: GraphSimulator, logs: LogCapture, fault: Fault) -> None:
    app.inject(replace(fault, identity=True, times=None))

    response = revoke_http(http_request(TWO))
    queue, _ = run_queue(TWO)

    assert response.status_code == 503
    assert [r["outcome"] for r in body_of(response)["results"]] == ["deferred", "deferred"]
    assert queue == "retry"
    events = logs.audit_events()
    assert [(e["outcome"], e["attempts"]) for e in events] == [("deferred", 0)] * 4
    assert not app.graph_requests()


def test_a_malformed_token_answer_leaves_no_token_in_any_log(app: GraphSimulator, logs: LogCapture) -> None:
    """MSAL logs an unreadable identity answer at DEBUG; azure-identity repeats failures at WARNING."""
    app.inject(Fault(status=200, raw_body='{"access_token": "{token}", "expires_on": "17', identity=True, times=None))

    revoke_http(http_request({"users": [ADELE[0]]}))

    assert app.issued_tokens, "the simulator handed out a token in its answer"
    logged = logged_text(logs.records)
    assert all(token not in logged for token in app.issued_tokens)
    assert any(record.name.startswith("azure.identity") for record in logs.records)


# --- 8. protected users fail closed ------------------------------------------------------------
PROTECT_ADELE_BY_OBJECT_ID = {"REVOKE_PROTECTED_USERS": ADELE[1]}


NEXT_PAGE = "https://graph.example.net/v1.0/users?$skiptoken=x"
CUT_OFF_COLLECTION = '{"value":[{"id":"' + ADELE[1] + '","userPrincipalName":"adele.va'


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        pytest.param(Fault(status=200, body={"value": []}, match=on_lookup), "not_found", id="200, nobody: a whole answer"),
        pytest.param(Fault(status=200, body={"value": [], "@odata.nextLink": NEXT_PAGE}, match=on_lookup), "deferred", id="200, nobody in a first page"),
        pytest.param(Fault(status=404, match=on_lookup), "failed", id="404: no answer to a filter"),
        pytest.param(Fault(status=200, body={"value": [{"id": ADELE[1]}]}, match=on_lookup), "failed", id="200 without the UPN"),
        pytest.param(Fault(status=200, body={"value": [{"userPrincipalName": ADELE[0]}]}, match=on_lookup), "failed", id="200 without the id"),
        pytest.param(Fault(status=200, body={"value": [{"id": "x", "userPrincipalName": ADELE[0]}]}, match=on_lookup), "failed", id="200, id not a GUID"),
        pytest.param(Fault(status=200, body={"id": ADELE[1], "userPrincipalName": ADELE[0]}, match=on_lookup, times=None), "deferred", id="200, a user, not a collection"),
        pytest.param(Fault(status=200, raw_body="{", match=on_lookup, times=None), "deferred", id="200 unreadable"),
        pytest.param(Fault(status=200, raw_body=CUT_OFF_COLLECTION, match=on_lookup, times=None), "deferred", id="200, the collection cut off"),
        pytest.param(Fault(status=302, headers={"Location": "https://example.invalid/"}, match=on_lookup), "failed", id="302"),
        pytest.param(Fault(status=202, raw_body="", match=on_lookup, times=None), "deferred", id="202"),
        pytest.param(Fault(status=500, match=on_lookup, times=None), "deferred", id="500"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("settings", [PROTECT_ADELE_BY_OBJECT_ID])
def test_a_protected_user_is_never_revoked_after_an_unhelpful_lookup(
    app: GraphSimulator, logs: LogCapture, fault: Fault, outcome: str
) -> None:
    app.inject(fault)

    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert body_of(response)["results"][0]["outcome"] == outcome
    assert not any(on_action(r.path) for r in app.graph_requests())
    assert app.revocations == {}
    [event] = logs.audit_events()
    assert event["outcome"] == outcome


@pytest.mark.parametrize("settings", [PROTECT_ADELE_BY_OBJECT_ID])
def test_a_lookup_that_finds_an_unprotected_user_lets_the_revocation_go_ahead(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [MEGAN[0]]}))

    assert body_of(response)["results"][0]["outcome"] == "contained"
    assert json.dumps(sorted(app.revocations)) == json.dumps([MEGAN[1]])
