"""POST /api/revoke, called as the host calls it, against the simulated Graph."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.harness import LogCapture, app_settings, http_request
from revoke.app.triggers import revoke_http
from revoke.containment.verdict import REVOCATION_ALONE
from tests.conftest import ADELE, GUEST, MEGAN, body_of


def action_paths(graph: GraphSimulator) -> list[str]:
    return [r.path for r in graph.graph_requests()]


def test_revokes_every_named_user_and_answers_200(app: GraphSimulator, logs: LogCapture) -> None:
    response = revoke_http(http_request({"users": [ADELE[0], MEGAN[1]], "reason": "token theft"}))

    assert response.status_code == 200
    body = body_of(response)
    assert body["status"] == "succeeded"
    assert [(r["user"], r["outcome"], r["graphStatus"]) for r in body["results"]] == [
        (ADELE[0], "contained", 200),
        (MEGAN[1], "contained", 200),
    ]
    assert dict(app.revocations) == {ADELE[1]: 1, MEGAN[1]: 1}
    events = logs.audit_events()
    assert [(e["user"], e["outcome"], e["trigger"], e["reason"], e["attempts"]) for e in events] == [
        (ADELE[0], "revoked", "http", "token theft", 1),
        (MEGAN[1], "revoked", "http", "token theft", 1),
    ]
    assert all(e["graphRequestId"] for e in events)
    assert response.headers["X-Correlation-Id"] == body["correlationId"] == events[0]["correlationId"]


def test_single_user_shorthand_and_caller_correlation_id(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"user": ADELE[1], "correlationId": "soc-42"}))

    assert response.status_code == 200
    assert body_of(response)["correlationId"] == "soc-42"


def test_guest_upn_reaches_graph_with_hash_percent_encoded(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [GUEST[0]]}))

    assert body_of(response)["results"][0]["actions"][0]["outcome"] == "revoked"
    assert action_paths(app) == ["/v1.0/users/bob_fabrikam.com%23EXT%23@contoso.onmicrosoft.com/revokeSignInSessions"]


def test_one_token_serves_many_invocations(app: GraphSimulator) -> None:
    for user in (ADELE[0], MEGAN[0], ADELE[1]):
        assert revoke_http(http_request({"user": user})).status_code == 200

    assert app.token_requests == 1


def test_malformed_json_is_400_and_reaches_no_graph_path(app: GraphSimulator, logs: LogCapture) -> None:
    response = revoke_http(http_request(b'{"users": ['))

    assert response.status_code == 400
    assert body_of(response)["error"]["code"] == "malformed_json"
    assert app.requests == []
    [event] = logs.audit_events()
    assert (event["outcome"], event["user"], event["attempts"]) == ("rejected", None, 0)


@pytest.mark.parametrize(
    "bad",
    ["alice", "alice@", "@contoso.com", "a@b@contoso.com", "../me@contoso.com", "x/y@contoso.com", "a?b@contoso.com",
     "a b@contoso.com", "a\\b@contoso.com", "a%2Fb@contoso.com", "a@contoso", "a@-bad-.com", "a\n@contoso.com", 42],
)  # fmt: skip
def test_an_invalid_identifier_refuses_the_whole_request(app: GraphSimulator, bad: object) -> None:
    response = revoke_http(http_request({"users": [ADELE[0], bad]}))

    assert response.status_code == 400
    assert body_of(response)["error"]["code"] == "invalid_identifier"
    assert app.requests == []


def test_body_over_the_limit_is_413(app: GraphSimulator) -> None:
    response = revoke_http(http_request(b'{"users": ["' + b"a" * (1024 * 1024) + b'@contoso.com"]}'))

    assert response.status_code == 413
    assert body_of(response)["error"]["code"] == "payload_too_large"
    assert app.requests == []


def test_a_payload_without_an_entra_account_is_422(app: GraphSimulator) -> None:
    alert = {
        "SystemAlertId": "a1",
        "Entities": [{"Type": "account", "Name": "svc", "NTDomain": "CORP"}],  # no SID: a name alone is never guessed
    }

    response = revoke_http(http_request(alert))

    assert response.status_code == 422
    error = body_of(response)["error"]
    assert error["code"] == "no_resolvable_account"
    assert "on-premises" in error["message"]
    assert app.requests == []


@pytest.mark.parametrize("settings", [{"REVOKE_PROTECTED_USERS": f"{ADELE[0]}, {MEGAN[1]}"}])
def test_protected_users_are_refused_and_never_sent(app: GraphSimulator, logs: LogCapture) -> None:
    response = revoke_http(http_request({"users": ["ADELE.VANCE@contoso.com", MEGAN[1]]}))

    assert response.status_code == 422
    assert body_of(response)["error"]["code"] == "refused_by_policy"
    assert app.graph_requests() == []
    assert [e["outcome"] for e in logs.audit_events()] == ["refused", "refused"]


@pytest.mark.parametrize("settings", [{"REVOKE_PROTECTED_USERS": ADELE[0]}])
def test_a_protected_user_beside_others_gives_207(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [ADELE[0], MEGAN[0]]}))

    assert response.status_code == 207
    assert [r["outcome"] for r in body_of(response)["results"]] == ["refused", "contained"]
    assert list(app.revocations) == [MEGAN[1]]


@pytest.mark.parametrize("settings", [{"REVOKE_MAX_USERS": "2"}])
def test_over_the_user_limit_nothing_is_revoked(app: GraphSimulator, logs: LogCapture) -> None:
    response = revoke_http(http_request({"users": [ADELE[0], MEGAN[0], GUEST[0]]}))

    assert response.status_code == 422
    assert "REVOKE_MAX_USERS" in body_of(response)["error"]["message"]
    assert app.requests == []
    assert [e["outcome"] for e in logs.audit_events()] == ["refused"] * 3


@pytest.mark.parametrize("settings", [{"REVOKE_DRY_RUN": "true"}])
def test_dry_run_setting_sends_nothing(app: GraphSimulator, logs: LogCapture) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]], "dryRun": False}))

    assert response.status_code == 200
    body = body_of(response)
    assert body["dryRun"] is True
    assert body["results"][0]["outcome"] == "dry_run"
    assert app.requests == []
    assert logs.audit_events()[0]["outcome"] == "dry_run"


def test_dry_run_requested_by_the_caller_sends_nothing(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]], "dryRun": True}))

    assert response.status_code == 200
    assert body_of(response)["results"][0]["outcome"] == "dry_run"
    assert app.requests == []


def test_unknown_user_is_not_found_and_mixed_results_give_207(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [ADELE[0], "nobody@contoso.com"]}))

    assert response.status_code == 207
    body = body_of(response)
    assert body["status"] == "partial"
    assert [(r["outcome"], r["detail"]) for r in body["results"]] == [
        ("contained", REVOCATION_ALONE),
        ("not_found", "revokeSignInSessions: Request_ResourceNotFound"),
    ]


def test_graph_refusing_every_target_is_502_with_graphs_code(app: GraphSimulator, logs: LogCapture) -> None:
    app.inject(Fault(status=403, times=None))

    response = revoke_http(http_request({"users": [ADELE[0], MEGAN[0]]}))

    assert response.status_code == 502
    body = body_of(response)
    assert "Authorization_RequestDenied" in body["error"]["message"]
    assert [r["outcome"] for r in body["results"]] == ["failed", "failed"]
    assert [e["outcome"] for e in logs.audit_events()] == ["failed", "failed"]
    assert app.revocations == {}


def test_transient_graph_failure_is_503_with_retry_after_and_never_revoked(app: GraphSimulator) -> None:
    app.inject(Fault(status=503, headers={"Retry-After": "30"}, times=None))

    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 30
    assert body_of(response)["results"][0]["outcome"] == "deferred"
    assert app.revocations == {}


def test_graph_answering_204_counts_as_revoked(app: GraphSimulator) -> None:
    app.respond_no_content = True

    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 200
    assert body_of(response)["results"][0]["graphStatus"] == 204


@pytest.mark.parametrize("settings", [{"REVOKE_ACTION": "invalidateAllRefreshTokens"}])
def test_legacy_action_calls_the_beta_endpoint(app: GraphSimulator, logs: LogCapture) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 200
    assert [path for path in action_paths(app) if "$select" not in path] == [
        "/beta/users/adele.vance@contoso.com/invalidateAllRefreshTokens"
    ]
    assert logs.audit_events()[0]["action"] == "invalidateAllRefreshTokens"


@pytest.mark.parametrize("settings", [{"REVOKE_MAX_USERS": "many"}])
def test_an_invalid_setting_is_a_500_that_names_it_and_sends_nothing(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 500
    error = body_of(response)["error"]
    assert error["code"] == "configuration_error"
    assert "REVOKE_MAX_USERS" in error["message"]
    assert app.requests == []


def test_a_payload_naming_thousands_of_accounts_is_413_and_sends_nothing(app: GraphSimulator) -> None:
    response = revoke_http(http_request({"users": [f"user{n}@contoso.com" for n in range(5000)]}))

    assert response.status_code == 413
    assert body_of(response)["error"]["code"] == "too_many_accounts"
    assert app.requests == []


def test_concurrent_invocations_share_one_session_and_one_token(app: GraphSimulator) -> None:
    """The worker runs invocations on a thread pool: they must share the client safely."""
    users = [ADELE[0], MEGAN[0], GUEST[0], ADELE[1], MEGAN[1], GUEST[1]] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda user: revoke_http(http_request({"user": user})).status_code, users))

    assert statuses == [200, 200, 207, 200, 200, 207] * 4  # a guest is not contained by revocation alone
    assert app.token_requests == 1
    assert app.revocations == {ADELE[1]: 8, MEGAN[1]: 8, GUEST[1]: 8}


BAD_PROTECTED_LIST = "zelda.breakglass@fabrikam.example, Quincy Oswald"


@pytest.mark.parametrize("settings", [{"REVOKE_PROTECTED_USERS": BAD_PROTECTED_LIST}])
def test_a_configuration_error_names_the_setting_but_never_shows_its_value(
    app: GraphSimulator, logs: LogCapture
) -> None:
    """A break-glass account's name must not reach whoever can call the function; the log keeps it."""
    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 500
    error = body_of(response)["error"]
    assert error["code"] == "configuration_error"
    assert "REVOKE_PROTECTED_USERS" in error["message"]
    shown = response.get_body().decode().lower() + " ".join(response.headers.values()).lower()
    value = BAD_PROTECTED_LIST.lower()
    assert [value[i : i + 5] for i in range(len(value) - 4) if value[i : i + 5] in shown] == []
    assert "Quincy Oswald" in logs.text()
    assert app.requests == []


def test_a_retry_budget_the_front_end_would_cut_short_is_refused(app: GraphSimulator) -> None:
    """Azure's front end drops an HTTP request after 230 s: a budget that could outlast it would answer nobody."""
    with app_settings({"REVOKE_RETRY_BUDGET_SECONDS": "201"}):
        refused = revoke_http(http_request({"users": [ADELE[0]]}))
    with app_settings({"REVOKE_RETRY_BUDGET_SECONDS": "200"}):
        accepted = revoke_http(http_request({"users": [MEGAN[0]]}))

    assert refused.status_code == 500
    assert body_of(refused)["error"]["code"] == "configuration_error"
    assert "REVOKE_RETRY_BUDGET_SECONDS" in body_of(refused)["error"]["message"]
    assert accepted.status_code == 200
    assert list(app.revocations) == [MEGAN[1]]


def test_a_body_limit_above_what_the_parser_reads_in_about_a_second_is_refused(app: GraphSimulator) -> None:
    """docs/RELIABILITY.md measures the costliest bodies: 2 MiB is the most the function reads."""
    ceiling = 2 * 1024 * 1024
    filling = {"users": [ADELE[0]], "reason": "r" * (ceiling - 100)}
    with app_settings({"REVOKE_MAX_BODY_BYTES": str(ceiling + 1)}):
        refused = revoke_http(http_request({"users": [ADELE[0]]}))
    with app_settings({"REVOKE_MAX_BODY_BYTES": str(ceiling)}):
        accepted = revoke_http(http_request(filling))

    assert refused.status_code == 500
    assert body_of(refused)["error"]["code"] == "configuration_error"
    assert "REVOKE_MAX_BODY_BYTES" in body_of(refused)["error"]["message"]
    assert accepted.status_code == 200
    assert list(app.revocations) == [ADELE[1]]
