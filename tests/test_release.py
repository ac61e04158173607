"""Release: undoing a containment through `POST /api/release` against the simulator.

Allowed only by REVOKE_RELEASE_ACTIONS; a direct request only, read exactly; every target
looked up first; protected users refused; one result and one audit event per action. A release
undoes only what this deployment contained: the containment records live in Azurite, and the
users released here were disabled and confirmed compromised by a containment through the
function first (tests/test_records.py covers the records themselves).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from graphsim import Fault, GraphSimulator
from graphsim.authority import EntraAuthority
from graphsim.azurite import Azurite
from graphsim.faults import answers_about, is_lookup
from graphsim.harness import LogCapture, app_settings, http_request
from revoke.app.release_triggers import release_http
from revoke.app.triggers import revoke_http
from revoke.containment.records import TABLE_NAME
from revoke.graph.pacing import RISKY_USERS_INTERVAL_SECONDS
from revoke.policy.roles import ROLE_DISABLE, ROLE_RELEASE, ROLE_REVOKE
from revoke.sentinel.comment_text import CommentSummary, CommentTarget, render_comment
from tests.conftest import ADELE, GUEST, MEGAN, body_of
from tests.test_incident_comment_flow import INCIDENT, WORKSPACE, lines_of

BOTH = {"REVOKE_RELEASE_ACTIONS": "enableAccount,dismissRisk"}


def release(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = release_http(http_request(body))
    return response.status_code, body_of(response)


def trail(logs: LogCapture) -> list[tuple[str | None, str | None, str]]:
    return [(e["user"], e["action"], e["outcome"]) for e in logs.audit_events()]


def graph_calls(graph: GraphSimulator) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in graph.graph_requests() if not r.path.endswith("$batch")]


@pytest.fixture(autouse=True)
def records(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> str:
    """The containment records, in Azurite, emptied for each test."""
    TableServiceClient.from_connection_string(azurite.connection_string).delete_table(TABLE_NAME)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("REVOKE_CONTAINMENT_RECORDS", "true")
    return azurite.connection_string


def contain(graph: GraphSimulator, users: list[str], actions: str = "disableAccount,confirmCompromised") -> None:
    """A containment through the function, which records what it did; then the simulator forgets it was asked."""
    deployment = {
        **graph.environment(),
        "REVOKE_ACTIONS": actions,
        "REVOKE_RETRY_BUDGET_SECONDS": "5",
        "REVOKE_MAX_USERS": "100",
        "REVOKE_PROTECTED_USERS": "",  # protected later, after this containment
        "REVOKE_SENTINEL_WORKSPACE": "",
        "REVOKE_ARM_ENDPOINT": graph.arm_url,
    }
    with app_settings(deployment):
        response = revoke_http(http_request({"users": users, "reason": "SOC-4711"}))
    assert response.status_code == 200, response.get_body()
    graph.requests.clear()


@pytest.fixture
def disabled(graph: GraphSimulator, logs: LogCapture) -> Iterator[GraphSimulator]:
    """Adele and Megan were disabled, and their compromise confirmed, by an earlier containment."""
    contain(graph, [ADELE[1], MEGAN[0]])
    assert graph.disabled == {ADELE[1], MEGAN[1]}
    logs.records.clear()
    yield graph


@pytest.mark.parametrize("settings", [BOTH])
def test_a_release_enables_the_accounts_and_dismisses_their_risk_in_one_call(
    app: GraphSimulator, disabled: GraphSimulator, logs: LogCapture
) -> None:
    status, body = release({"users": [ADELE[0], MEGAN[1]], "reason": "false positive", "correlationId": "fp-1"})

    assert status == 200, body
    assert [(r["user"], r["outcome"], r["contained"]) for r in body["results"]] == [
        (ADELE[0], "released", False),
        (MEGAN[1], "released", False),
    ]
    assert [a["outcome"] for a in body["results"][0]["actions"]] == ["enabled", "dismissed"]
    assert app.disabled == set()
    assert app.enabled == {ADELE[1]: 1, MEGAN[1]: 1}
    assert app.risk_dismissed == {ADELE[1]: 1, MEGAN[1]: 1}
    dismissals = [r for r in app.graph_requests() if r.path.endswith("/riskyUsers/dismiss")]
    assert len(dismissals) == 1 and sorted(eval_ids(dismissals[0].body)) == sorted([ADELE[1], MEGAN[1]])
    assert trail(logs) == [
        (ADELE[0], "enableAccount", "enabled"),
        (MEGAN[1], "enableAccount", "enabled"),
        (ADELE[0], "dismissRisk", "dismissed"),
        (MEGAN[1], "dismissRisk", "dismissed"),
    ]
    assert {e["correlationId"] for e in logs.audit_events()} == {"fp-1"}
    assert {e["contained"] for e in logs.audit_events()} == {None}


def eval_ids(body: bytes) -> list[str]:
    return list(json.loads(body)["userIds"])


@pytest.mark.parametrize("settings", [BOTH])
def test_the_account_is_enabled_by_the_object_id_the_look_up_returned(
    app: GraphSimulator, disabled: GraphSimulator
) -> None:
    status, _ = release({"users": [ADELE[0]], "actions": ["enableAccount"]})

    assert status == 200
    assert graph_calls(app)[-1] == ("PATCH", f"/v1.0/users/{ADELE[1]}")


def test_without_release_actions_allowed_a_release_is_refused_and_nothing_is_sent(
    app: GraphSimulator, disabled: GraphSimulator, logs: LogCapture
) -> None:
    status, body = release({"users": [ADELE[0]]})

    assert status == 400
    assert body["error"]["code"] == "action_not_allowed"
    assert "REVOKE_RELEASE_ACTIONS" in body["error"]["message"]
    assert app.graph_requests() == []
    assert trail(logs) == [(None, None, "rejected")]


@pytest.mark.parametrize("settings", [{"REVOKE_RELEASE_ACTIONS": "enableAccount"}])
def test_an_action_the_setting_does_not_allow_is_refused(app: GraphSimulator) -> None:
    status, body = release({"users": [ADELE[0]], "actions": ["dismissRisk"]})

    assert (status, body["error"]["code"]) == (400, "action_not_allowed")
    assert app.graph_requests() == []


@pytest.mark.parametrize("settings", [BOTH])
@pytest.mark.parametrize(
    ("request_body", "named"),
    [
        ({"users": [ADELE[0]], "dryRun": True}, "dryRun"),
        ({"users": [ADELE[0]], "alertId": "a-1"}, "alertId"),
        ({"Entities": [{"Type": "account", "AadUserId": ADELE[1]}]}, "Entities"),
    ],
)
def test_a_release_takes_a_direct_request_only_and_names_an_unknown_field(
    app: GraphSimulator, request_body: dict[str, Any], named: str
) -> None:
    status, body = release(request_body)

    assert (status, body["error"]["code"]) == (400, "unknown_field")
    assert repr(named) in body["error"]["message"]
    assert app.graph_requests() == []


@pytest.mark.parametrize("settings", [BOTH])
def test_a_user_graph_does_not_know_is_not_found_and_gets_no_action(
    app: GraphSimulator, disabled: GraphSimulator, logs: LogCapture
) -> None:
    status, body = release({"users": [ADELE[0], "ghost@contoso.com"]})

    assert status == 207
    assert [(r["outcome"], r["detail"]) for r in body["results"]] == [
        ("released", None),
        ("not_found", "enableAccount: Graph has no such user (look-up)"),
    ]
    assert ("ghost@contoso.com", "enableAccount", "not_found") in trail(logs)
    assert ("ghost@contoso.com", "dismissRisk", "not_found") in trail(logs)
    # The ghost is named only by the look-up, which asked about both users in one request.
    assert [(r.method, r.named_users) for r in app.graph_requests() if "ghost@contoso.com" in r.named_users] == [
        ("GET", (ADELE[0], "ghost@contoso.com"))
    ]


@pytest.mark.parametrize("settings", [{**BOTH, "REVOKE_PROTECTED_USERS": MEGAN[0]}])
def test_a_protected_user_is_refused_a_release_even_named_by_object_id(
    app: GraphSimulator, disabled: GraphSimulator
) -> None:
    status, body = release({"users": [MEGAN[1]]})

    assert (status, body["error"]["code"]) == (422, "refused_by_policy")
    assert MEGAN[1] in app.disabled
    assert [method for method, _ in graph_calls(app)] == ["GET"]


@pytest.mark.parametrize("settings", [BOTH])
def test_a_throttled_enable_is_deferred_with_retry_after_and_the_risk_still_dismissed(
    app: GraphSimulator, disabled: GraphSimulator, logs: LogCapture
) -> None:
    seen = []

    def after_the_look_up(path: str) -> bool:
        seen.append(path)
        return path.startswith("/v1.0/users/") and len(seen) > 1

    app.inject(Fault(status=429, headers={"Retry-After": "120"}, match=after_the_look_up, times=None))
    response = release_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "120"
    result = body_of(response)["results"][0]
    assert [a["outcome"] for a in result["actions"]] == ["deferred", "dismissed"]
    assert ADELE[1] in app.disabled
    assert trail(logs) == [(ADELE[0], "enableAccount", "deferred"), (ADELE[0], "dismissRisk", "dismissed")]


@pytest.mark.parametrize("settings", [BOTH])
def test_a_failed_look_up_releases_nobody(app: GraphSimulator, disabled: GraphSimulator) -> None:
    app.inject(Fault(status=503, match=is_lookup, times=None))

    status, body = release({"users": [ADELE[0]]})

    assert status == 503
    assert body["results"][0]["outcome"] == "deferred"
    assert app.enabled == {} and app.risk_dismissed == {}
    assert {method for method, _ in graph_calls(app)} == {"GET"}


@pytest.mark.parametrize("settings", [BOTH])
def test_a_look_up_answered_about_another_user_releases_nobody(
    app: GraphSimulator, disabled: GraphSimulator, logs: LogCapture
) -> None:
    """Adele is asked about; a proxy answers with Megan, whom nobody asked to release: she stays disabled."""
    app.inject(answers_about(app.find_user(MEGAN[0]), times=None))  # type: ignore[arg-type]

    status, body = release({"users": [ADELE[0]]})

    assert status == 502
    assert body["results"][0]["outcome"] == "failed"
    assert "names another user" in body["results"][0]["detail"]
    assert app.enabled == {} and app.risk_dismissed == {}
    assert {ADELE[1], MEGAN[1]} <= app.disabled


@pytest.mark.parametrize("settings", [{**BOTH, "REVOKE_RETRY_BUDGET_SECONDS": "10"}])
def test_dismissals_of_more_than_sixty_users_are_a_second_apart(app: GraphSimulator) -> None:
    users = [user.object_id for user in app.add_users(f"user{i}@contoso.com" for i in range(61))]
    contain(app, users)
    app.dismiss_calls.clear()

    with app_settings({"REVOKE_MAX_USERS": "100"}):
        status, body = release({"users": users, "actions": ["dismissRisk"]})

    assert status == 200, body
    assert len(app.dismiss_calls) == 2
    # Generous margin below the interval: the pacer sleeps at least this long between calls.
    assert app.dismiss_calls[1] - app.dismiss_calls[0] >= RISKY_USERS_INTERVAL_SECONDS * 0.9
    assert sum(app.risk_dismissed.values()) == 61


@pytest.mark.parametrize(
    "settings",
    [{**BOTH, "REVOKE_SENTINEL_WORKSPACE": WORKSPACE, "REVOKE_ARM_ENDPOINT": "set-by-fixture"}],
)
def test_the_release_comments_on_the_incident(app: GraphSimulator, disabled: GraphSimulator) -> None:
    contain(app, [GUEST[0]])
    with app_settings({"REVOKE_ARM_ENDPOINT": app.arm_url}):
        status, body = release({"users": [ADELE[0], GUEST[0]], "incidentId": INCIDENT, "correlationId": "fp-2"})

    assert status == 200
    assert body["incidentComment"]["status"] == "commented"
    (messages,) = app.comments.values()
    assert lines_of(messages[0]) == [
        "Account release: 2 of 2 account(s) released, 0 skipped.",
        "Correlation id: fp-2",
        f"{ADELE[0]}: released (outcome: released)",
        "enableAccount: enabled",
        "dismissRisk: dismissed",
        f"{GUEST[0]}: released (outcome: released)",
        "enableAccount: enabled",
        "dismissRisk: dismissed",
    ]


def test_the_comment_names_the_calling_app_when_one_is_known() -> None:
    summary = CommentSummary(
        "fp-3",
        False,
        (CommentTarget(ADELE[0], False, "released", (("enableAccount", "enabled", None),)),),
        (),
        True,
        "<xsoar-prod>",
    )

    text = lines_of(render_comment(summary))

    assert text[:3] == [
        "Account release: 1 of 1 account(s) released, 0 skipped.",
        "Requested by app <xsoar-prod>.",
        "Correlation id: fp-3",
    ]
    assert "&lt;xsoar-prod&gt;" in render_comment(summary)
    assert "Requested by" not in render_comment(replace(summary, caller_app_id=None))


# --- who may release: the caller's Entra ID token and its Containment.Release role ------------
RELEASER = ("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b")  # (app, object)


@pytest.fixture
def authority() -> Iterator[EntraAuthority]:
    with EntraAuthority() as running:
        yield running


@pytest.mark.parametrize("settings", [BOTH])
def test_an_identified_caller_with_the_release_role_releases_and_is_named_in_the_trail(
    authority: EntraAuthority, disabled: GraphSimulator, logs: LogCapture, settings: dict[str, str]
) -> None:
    token = authority.mint([ROLE_RELEASE], app_id=RELEASER[0], object_id=RELEASER[1])
    with app_settings({**disabled.environment(), **settings, **authority.environment()}):
        response = release_http(http_request({"users": [ADELE[0]], "actions": ["enableAccount"]}, token=token))

    assert response.status_code == 200, response.get_body()
    assert ADELE[1] not in disabled.disabled
    assert {(e["callerAppId"], e["callerObjectId"]) for e in logs.audit_events()} == {RELEASER}
    assert token not in logs.text()


@pytest.mark.parametrize("settings", [BOTH])
@pytest.mark.parametrize("roles", [[ROLE_REVOKE, ROLE_DISABLE], []])
def test_a_caller_without_the_release_role_is_refused_before_anything_is_read_or_sent(
    authority: EntraAuthority, disabled: GraphSimulator, logs: LogCapture, settings: dict[str, str], roles: list[str]
) -> None:
    token = authority.mint(roles, app_id=RELEASER[0], object_id=RELEASER[1])
    with app_settings({**disabled.environment(), **settings, **authority.environment()}):
        response = release_http(http_request({"users": [ADELE[0]], "actions": ["enableAccount"]}, token=token))

    assert response.status_code == 403
    assert body_of(response)["error"]["code"] == "caller_not_permitted"
    assert ROLE_RELEASE in body_of(response)["error"]["message"]
    assert disabled.graph_requests() == []
    assert [(e["outcome"], e["callerAppId"]) for e in logs.audit_events()] == [("rejected", RELEASER[0])]


@pytest.mark.parametrize("settings", [BOTH])
def test_a_release_without_a_token_is_401_when_callers_are_identified(
    authority: EntraAuthority, disabled: GraphSimulator, settings: dict[str, str]
) -> None:
    with app_settings({**disabled.environment(), **settings, **authority.environment()}):
        response = release_http(http_request({"users": [ADELE[0]], "actions": ["enableAccount"]}))

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert disabled.graph_requests() == []


@pytest.mark.parametrize("settings", [BOTH])
def test_a_misspelt_release_field_is_refused_with_the_field_it_was_likely_meant_as(app: GraphSimulator) -> None:
    status, body = release({"users": [ADELE[0]], "action": ["enableAccount"]})

    assert (status, body["error"]["code"]) == (400, "unknown_field")
    assert "did you mean 'actions'?" in body["error"]["message"]
    assert app.graph_requests() == []


@pytest.mark.parametrize("settings", [BOTH])
def test_a_look_up_answering_about_someone_else_releases_nobody(
    app: GraphSimulator, disabled: GraphSimulator, logs: LogCapture
) -> None:
    """The release reads users as a containment does: an answer about another user never stands in for the one asked."""
    megan = app.find_user(MEGAN[1])
    assert megan is not None
    app.inject(answers_about(megan, times=None))

    status, body = release({"users": [ADELE[0]], "actions": ["enableAccount"]})

    assert status == 502
    assert body["results"][0]["outcome"] == "failed"
    assert "another user" in body["results"][0]["detail"]
    assert app.enabled == {} and {ADELE[1], MEGAN[1]} <= app.disabled
