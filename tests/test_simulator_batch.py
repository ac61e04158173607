"""The simulator's JSON batching (POST /{version}/$batch), driven with plain requests over real sockets."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
import requests

from graphsim import Fault, GraphSimulator
from tests.conftest import ADELE, GUEST, LEE, MEGAN

GONE = "gone@contoso.com"


def revoke(item_id: str, user: str, action: str = "revokeSignInSessions") -> dict[str, Any]:
    return {"id": item_id, "method": "POST", "url": f"/users/{quote(user, safe='@')}/{action}"}


def post_batch(
    sim: GraphSimulator, items: list[dict[str, Any]], *, version: str = "v1.0", token: str | None = None
) -> requests.Response:
    return requests.post(
        f"{sim.url}/{version}/$batch",
        json={"requests": items},
        headers={"Authorization": f"Bearer {token if token is not None else sim.request_token()}"},
        timeout=10,
    )


def by_id(response: requests.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["responses"]}


def test_each_item_gets_the_answer_its_single_request_would(graph: GraphSimulator) -> None:
    response = post_batch(
        graph,
        [
            revoke("1", ADELE[0]),
            revoke("2", GONE),
            {"id": "3", "method": "GET", "url": f"/users/{MEGAN[1]}"},
            revoke("4", LEE[0], action="invalidateAllRefreshTokens"),  # beta only
            {"id": "5", "method": "DELETE", "url": f"/users/{LEE[1]}"},
        ],
    )

    items = by_id(response)
    assert {item_id: item["status"] for item_id, item in items.items()} == {
        "1": 200, "2": 404, "3": 200, "4": 400, "5": 400,
    }  # fmt: skip
    assert items["1"]["body"]["value"] is True
    assert items["2"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert items["3"]["body"] == {"id": MEGAN[1], "userPrincipalName": MEGAN[0]}
    assert items["1"]["headers"] == {"Content-Type": "application/json"}
    assert dict(graph.revocations) == {ADELE[1]: 1}


def test_a_lookup_item_may_carry_a_query(graph: GraphSimulator) -> None:
    url = f"/users/{quote(GUEST[0], safe='@')}?$select=id,userPrincipalName"

    item = by_id(post_batch(graph, [{"id": "1", "method": "GET", "url": url}]))["1"]

    assert item["body"] == {"id": GUEST[1], "userPrincipalName": GUEST[0]}
    [recorded] = [r for r in graph.requests if r.in_batch]
    assert (recorded.path, recorded.user_segment) == ("/v1.0" + url, GUEST[0])


def test_beta_batch_reaches_the_beta_only_action(graph: GraphSimulator) -> None:
    response = post_batch(graph, [revoke("a", ADELE[0], action="invalidateAllRefreshTokens")], version="beta")

    assert by_id(response)["a"]["status"] == 200
    assert [r.path for r in graph.requests if r.in_batch] == [f"/beta/users/{ADELE[0]}/invalidateAllRefreshTokens"]
    assert dict(graph.revocations) == {ADELE[1]: 1}


def test_twenty_items_are_accepted_and_twenty_one_refuse_the_whole_batch(graph: GraphSimulator) -> None:
    users = graph.add_users(f"user{n}@contoso.com" for n in range(21))
    items = [revoke(str(n), user.user_principal_name) for n, user in enumerate(users)]

    too_many = post_batch(graph, items)
    assert too_many.status_code == 400
    assert too_many.json()["error"]["code"] == "BadRequest"
    assert graph.revocations == {}
    assert not any(r.in_batch for r in graph.requests)

    assert len(by_id(post_batch(graph, items[:20]))) == 20
    assert sum(graph.revocations.values()) == 20


@pytest.mark.parametrize(
    "body",
    [
        {"requests": [revoke("1", ADELE[0]), revoke("1", MEGAN[0])]},  # duplicate ids
        {"requests": [revoke("x", ADELE[0]), revoke("X", MEGAN[0])]},  # ids compare without case
        {"requests": [{"id": "1", "method": "POST"}]},  # no url
        {"requests": "not a list"},
        {"calls": []},
    ],
)
def test_a_malformed_batch_is_400_and_performs_nothing(graph: GraphSimulator, body: dict[str, Any]) -> None:
    response = requests.post(
        f"{graph.url}/v1.0/$batch", json=body, headers={"Authorization": f"Bearer {graph.request_token()}"}, timeout=5
    )

    assert response.status_code == 400
    assert graph.revocations == {}


def test_an_item_with_a_body_but_no_content_type_is_400_alone(graph: GraphSimulator) -> None:
    items = by_id(post_batch(graph, [{**revoke("1", ADELE[0]), "body": {}}, revoke("2", MEGAN[0])]))

    assert (items["1"]["status"], items["2"]["status"]) == (400, 200)
    assert dict(graph.revocations) == {MEGAN[1]: 1}


def test_an_invalid_token_is_401_for_the_whole_batch(graph: GraphSimulator) -> None:
    response = post_batch(graph, [revoke("1", ADELE[0])], token="forged")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert graph.revocations == {}
    assert [(r.path, r.authorized, r.in_batch) for r in graph.graph_requests()] == [
        ("/v1.0/$batch", False, False),
        (f"/v1.0/users/{ADELE[0]}/revokeSignInSessions", False, True),
    ]


def test_records_the_envelope_and_each_item_as_sent(graph: GraphSimulator) -> None:
    token = graph.request_token()
    post_batch(graph, [revoke("1", GUEST[0]), {"id": "2", "method": "GET", "url": f"users/{MEGAN[1]}"}], token=token)

    envelope, *items = graph.graph_requests()
    assert (envelope.method, envelope.path, envelope.in_batch, envelope.authorized) == (
        "POST",
        "/v1.0/$batch",
        False,
        True,
    )
    assert [(r.method, r.path, r.user_segment, r.authorized, r.in_batch) for r in items] == [
        ("POST", "/v1.0/users/bob_fabrikam.com%23EXT%23@contoso.onmicrosoft.com/revokeSignInSessions", GUEST[0], True, True),
        ("GET", f"/v1.0/users/{MEGAN[1]}", MEGAN[1], True, True),
    ]  # fmt: skip
    assert graph.batch_requests == 1
    assert graph.token_requests == 1


def test_a_fault_on_one_item_answers_that_item_inside_a_200_batch(graph: GraphSimulator) -> None:
    megan_path = f"/v1.0/users/{MEGAN[0]}/revokeSignInSessions"
    graph.inject(Fault(status=429, headers={"Retry-After": "7"}, match=lambda path: path == megan_path))

    items = by_id(post_batch(graph, [revoke("1", ADELE[0]), revoke("2", MEGAN[0]), revoke("3", LEE[0])]))

    assert [items[n]["status"] for n in ("1", "2", "3")] == [200, 429, 200]
    assert items["2"]["headers"]["Retry-After"] == "7"
    assert items["2"]["body"]["error"]["code"] == "TooManyRequests"
    assert dict(graph.revocations) == {ADELE[1]: 1, LEE[1]: 1}


def test_random_faults_apply_to_each_item_not_to_the_batch(graph: GraphSimulator) -> None:
    graph.inject_randomly(1.0, [Fault(status=503)], seed=1)

    items = by_id(post_batch(graph, [revoke("1", ADELE[0]), revoke("2", MEGAN[0])]))

    assert [item["status"] for item in items.values()] == [503, 503]
    assert graph.revocations == {}


def test_an_envelope_fault_answers_the_whole_batch(graph: GraphSimulator) -> None:
    graph.inject(Fault(status=503, headers={"Retry-After": "3"}, batch_envelope=True))

    response = post_batch(graph, [revoke("1", ADELE[0])])

    assert (response.status_code, response.headers["Retry-After"]) == (503, "3")
    assert graph.revocations == {}
    assert by_id(post_batch(graph, [revoke("1", ADELE[0])]))["1"]["status"] == 200  # spent after one batch


def test_an_envelope_fault_never_applies_to_a_single_request(graph: GraphSimulator) -> None:
    graph.inject(Fault(status=503, times=None, batch_envelope=True))

    response = requests.post(
        f"{graph.url}/v1.0/users/{ADELE[0]}/revokeSignInSessions",
        headers={"Authorization": f"Bearer {graph.request_token()}"},
        timeout=5,
    )

    assert response.status_code == 200


@pytest.mark.parametrize("batch_envelope", [True, False], ids=["envelope", "one item"])
def test_a_drop_loses_the_whole_batch_and_performs_nothing(graph: GraphSimulator, batch_envelope: bool) -> None:
    megan_path = f"/v1.0/users/{MEGAN[0]}/revokeSignInSessions"
    graph.inject(
        Fault(drop=True, batch_envelope=batch_envelope, match=lambda path: batch_envelope or path == megan_path)
    )
    token = graph.request_token()

    with pytest.raises(requests.ConnectionError):
        post_batch(graph, [revoke("1", ADELE[0]), revoke("2", MEGAN[0])], token=token)

    assert graph.revocations == {}


def test_latency_is_paid_once_per_batch_not_per_item() -> None:
    with GraphSimulator(latency=0.1) as sim:
        users = sim.add_users(f"user{n}@contoso.com" for n in range(20))
        token = sim.request_token()
        started = time.perf_counter()
        response = post_batch(sim, [revoke(str(n), u.user_principal_name) for n, u in enumerate(users)], token=token)
        elapsed = time.perf_counter() - started

    assert len(by_id(response)) == 20
    assert 0.1 <= elapsed < 0.5  # one round trip; twenty would be 2 s


def test_shuffled_responses_come_back_out_of_order_with_every_id() -> None:
    with GraphSimulator(shuffle_batch_responses=True) as sim:
        users = sim.add_users(f"user{n}@contoso.com" for n in range(5))
        sent = [str(n) for n in range(len(users))]
        response = post_batch(sim, [revoke(n, u.user_principal_name) for n, u in zip(sent, users, strict=True)])

    received = [item["id"] for item in response.json()["responses"]]
    assert received != sent
    assert sorted(received) == sent


def test_no_content_items_carry_no_body() -> None:
    with GraphSimulator(respond_no_content=True) as sim:
        sim.add_user(*ADELE)
        item = by_id(post_batch(sim, [revoke("1", ADELE[0])]))["1"]

    assert (item["status"], item["headers"], "body" in item) == (204, {}, False)
