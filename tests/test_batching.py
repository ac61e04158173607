"""Many targets: JSON batches of at most 20, per-item answers, per-item retries, order kept."""

from __future__ import annotations

import json

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.harness import LogCapture, http_request
from revoke.app.triggers import revoke_http
from revoke.containment.verdict import REVOCATION_ALONE
from tests.conftest import body_of

MANY = {"REVOKE_MAX_USERS": "100"}


def add_people(graph: GraphSimulator, count: int) -> list[str]:
    return [graph.add_user(f"person{n:03}@contoso.com").user_principal_name for n in range(count)]


def envelopes(graph: GraphSimulator) -> list[dict[str, object]]:
    """The batches of containing calls (the look-ups that learn each user's kind go in batches of their own)."""
    batches = [json.loads(r.body) for r in graph.graph_requests() if r.path.endswith("/$batch")]
    return [batch for batch in batches if batch["requests"][0]["method"] != "GET"]


@pytest.mark.parametrize("settings", [MANY])
def test_45_targets_go_out_as_three_batches_and_results_keep_the_request_order(app: GraphSimulator) -> None:
    app.shuffle_batch_responses = True
    people = add_people(app, 45)

    response = revoke_http(http_request({"users": people}))

    assert response.status_code == 200
    assert [r["user"] for r in body_of(response)["results"]] == people
    assert sorted(len(e["requests"]) for e in envelopes(app)) == [5, 20, 20]  # type: ignore[arg-type]
    assert len(app.revocations) == 45
    assert app.token_requests == 1


@pytest.mark.parametrize("settings", [MANY])
def test_each_item_gets_its_own_outcome(app: GraphSimulator, logs: LogCapture) -> None:
    people = add_people(app, 3)
    app.inject(Fault(status=403, match=lambda path: people[1] in path, times=None))

    response = revoke_http(http_request({"users": [*people, "ghost@contoso.com"]}))

    assert response.status_code == 207
    assert [(r["outcome"], r["detail"]) for r in body_of(response)["results"]] == [
        ("contained", REVOCATION_ALONE),
        ("failed", "revokeSignInSessions: Authorization_RequestDenied"),
        ("contained", REVOCATION_ALONE),
        ("not_found", "revokeSignInSessions: Request_ResourceNotFound"),
    ]
    assert [e["outcome"] for e in logs.audit_events()] == ["revoked", "failed", "revoked", "not_found"]


@pytest.mark.parametrize("settings", [MANY])
def test_only_the_throttled_item_is_retried(app: GraphSimulator, logs: LogCapture) -> None:
    people = add_people(app, 5)
    app.inject(
        Fault(
            status=429,
            headers={"Retry-After": "1"},
            match=lambda path: path.endswith(f"{people[3]}/revokeSignInSessions"),
        )
    )

    response = revoke_http(http_request({"users": people}))

    assert response.status_code == 200
    sent = [r.user_segment for r in app.graph_requests() if r.user_segment and r.method != "GET"]
    assert sorted(sent) == sorted([*people, people[3]])
    # Audit events are written as results land, so the retried one comes last.
    assert {e["user"]: e["attempts"] for e in logs.audit_events()} == {p: 2 if p == people[3] else 1 for p in people}
    assert logs.audit_events()[-1]["user"] == people[3]


@pytest.mark.parametrize("settings", [MANY])
def test_a_failed_batch_is_retried_whole(app: GraphSimulator, logs: LogCapture) -> None:
    people = add_people(app, 4)
    # The revocations' batch; the four look-ups beside it are one request, not a batch.
    app.inject(Fault(status=503, batch_envelope=True, times=1))

    response = revoke_http(http_request({"users": people}))

    assert response.status_code == 200
    assert [e["attempts"] for e in logs.audit_events()] == [2, 2, 2, 2]
    assert app.batch_requests == 2


@pytest.mark.parametrize("settings", [MANY])
def test_a_batch_that_keeps_failing_defers_every_item_and_revokes_none(app: GraphSimulator) -> None:
    people = add_people(app, 4)
    app.inject(Fault(status=503, batch_envelope=True, times=None))

    response = revoke_http(http_request({"users": people}))

    assert response.status_code == 503
    assert {r["outcome"] for r in body_of(response)["results"]} == {"deferred"}
    assert app.revocations == {}


@pytest.mark.parametrize("settings", [{**MANY, "REVOKE_ACTION": "invalidateAllRefreshTokens"}])
def test_the_legacy_action_batches_against_beta(app: GraphSimulator) -> None:
    people = add_people(app, 3)

    assert revoke_http(http_request({"users": people})).status_code == 200
    writes = [r for r in app.graph_requests() if r.path.endswith("/$batch") and b'"GET"' not in r.body]
    assert {r.path for r in writes} == {"/beta/$batch"}
