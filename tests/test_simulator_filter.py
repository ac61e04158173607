"""The simulator's look-ups by filter (GET /users?$filter=... in (...)), driven with plain requests
over real sockets, against what Microsoft Graph documents (graphsim/users.py cites each rule)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from graphsim import GraphSimulator
from tests.conftest import ADELE, GUEST, LEE, MEGAN

SELECT = "$select=id,userPrincipalName,userType"


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def filtered(name: str, values: list[str], extra: str = SELECT) -> str:
    expression = f"{name} in ({','.join(literal(value) for value in values)})"
    return f"/users?$filter={quote(expression, safe=',()@')}" + (f"&{extra}" if extra else "")


def get(sim: GraphSimulator, url: str) -> requests.Response:
    """A GET of `url` (relative to v1.0, or absolute), with no ConsistencyLevel header."""
    absolute = url if url.startswith("http") else f"{sim.url}/v1.0{url}"
    return requests.get(absolute, headers={"Authorization": f"Bearer {sim.request_token()}"}, timeout=10)


def users_in(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    value: list[dict[str, Any]] = response.json()["value"]
    return value


def test_in_on_id_answers_the_users_named_with_the_properties_selected(graph: GraphSimulator) -> None:
    response = get(graph, filtered("id", [ADELE[1], MEGAN[1].upper(), "0f0e0d0c-0b0a-4908-8706-050403020100"]))

    assert sorted(users_in(response), key=lambda user: user["id"]) == [
        {"id": ADELE[1], "userPrincipalName": ADELE[0], "userType": "Member"},
        {"id": MEGAN[1], "userPrincipalName": MEGAN[0], "userType": "Member"},
    ]
    assert "@odata.nextLink" not in response.json()


def test_in_on_upn_ignores_case_and_reads_a_doubled_quote_and_encoded_characters(graph: GraphSimulator) -> None:
    quoted = graph.add_user("o'brien+soc@contoso.com")

    response = get(graph, filtered("userPrincipalName", [quoted.user_principal_name, GUEST[0], LEE[0].upper()]))

    assert {user["userPrincipalName"] for user in users_in(response)} == {"o'brien+soc@contoso.com", GUEST[0], LEE[0]}
    [recorded] = [r for r in graph.requests if r.path.startswith("/v1.0/users?")]
    assert recorded.filter_values == (quoted.user_principal_name, GUEST[0], LEE[0].upper())
    assert recorded.named_users == recorded.filter_values


def test_a_user_named_twice_is_answered_once(graph: GraphSimulator) -> None:
    assert [user["id"] for user in users_in(get(graph, filtered("id", [ADELE[1], ADELE[1]])))] == [ADELE[1]]


def test_fifteen_values_are_taken_and_sixteen_refused(graph: GraphSimulator) -> None:
    people = graph.add_users(f"person{n:02}@contoso.com" for n in range(16))
    names = [person.user_principal_name for person in people]

    assert len(users_in(get(graph, filtered("userPrincipalName", names[:15])))) == 15
    refused = get(graph, filtered("userPrincipalName", names))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_a_filter_that_is_not_odata_is_refused(graph: GraphSimulator) -> None:
    for expression in ["id in ('a'", "id in ('a'')", "id in ('a' 'b')", "id in 'a'", "id in ('a',)"]:
        response = get(graph, f"/users?$filter={quote(expression)}")
        assert response.status_code == 400, expression
        assert response.json()["error"]["code"] == "BadRequest"


def test_eq_names_one_user(graph: GraphSimulator) -> None:
    response = get(graph, f"/users?$filter={quote(f'userPrincipalName eq {literal(MEGAN[0])}')}&{SELECT}")

    assert [user["id"] for user in users_in(response)] == [MEGAN[1]]


def test_top_pages_the_answer_and_the_next_link_keeps_the_filter(graph: GraphSimulator) -> None:
    names = [ADELE[1], MEGAN[1], LEE[1]]

    first = get(graph, filtered("id", names, extra=f"{SELECT}&$top=2"))
    rest = get(graph, first.json()["@odata.nextLink"])

    assert len(users_in(first)) == 2
    assert "@odata.nextLink" not in rest.json()
    assert sorted(user["id"] for user in [*users_in(first), *users_in(rest)]) == sorted(names)


def test_a_look_up_by_filter_inside_a_batch(graph: GraphSimulator) -> None:
    item = {"id": "1", "method": "GET", "url": filtered("id", [ADELE[1], GUEST[1]])}
    response = requests.post(
        f"{graph.url}/v1.0/$batch",
        json={"requests": [item]},
        headers={"Authorization": f"Bearer {graph.request_token()}"},
        timeout=10,
    )

    [answer] = response.json()["responses"]
    assert answer["status"] == 200
    assert {user["id"] for user in answer["body"]["value"]} == {ADELE[1], GUEST[1]}
    [recorded] = [r for r in graph.requests if r.in_batch]
    assert recorded.filter_values == (ADELE[1], GUEST[1])
