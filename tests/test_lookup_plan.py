"""How look-ups are grouped into requests, and what one answer says about each user it was asked about
(revoke.graph.lookups): unit tests of the domain code, no server involved."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from revoke.errors import PermanentGraphError, Unconfirmed
from revoke.graph.lookups import IN_FILTER_LIMIT, Lookup, plan_lookups
from revoke.graph.transport import GraphReply
from revoke.identifiers import UserIdentifier, parse_user_identifier


def users(*names: str) -> list[UserIdentifier]:
    return [parse_user_identifier(name) for name in names]


def object_ids(count: int) -> list[str]:
    return [str(uuid.UUID(int=n + 1)) for n in range(count)]


def filter_of(lookup: Lookup) -> str:
    return parse_qs(urlsplit(lookup.call.path).query)["$filter"][0]


def test_forty_object_ids_and_three_upns_make_four_requests_by_kind() -> None:
    ids = object_ids(40)
    plan = plan_lookups(users(*ids[:20], "a@contoso.com", *ids[20:], "b@contoso.com", "c@contoso.com"))

    assert [(lookup.kind, len(lookup.keys)) for lookup in plan] == [
        ("object_id", 15), ("object_id", 15), ("object_id", 10), ("upn", 3),
    ]  # fmt: skip
    assert filter_of(plan[3]) == "userPrincipalName in ('a@contoso.com','b@contoso.com','c@contoso.com')"
    assert plan[3].positions == ((20,), (41,), (42,))


def test_a_name_given_twice_is_asked_once_and_answered_for_both() -> None:
    [lookup] = plan_lookups(users("a@contoso.com", "A@CONTOSO.COM"))

    assert lookup.keys == ("a@contoso.com",)
    assert lookup.positions == ((0, 1),)


def test_long_upns_split_so_no_request_is_longer_than_graph_takes() -> None:
    """Each '#' is three characters once encoded: fifteen such names would not fit in 2,048."""
    names = [f"{'#' * 40}{n:02}@contoso.com" for n in range(30)]

    plan = plan_lookups(users(*names))

    assert all(len(lookup.call.path) <= 2048 and len(lookup.keys) <= IN_FILTER_LIMIT for lookup in plan)
    assert len(plan) > 2
    assert sorted(key for lookup in plan for key in lookup.keys) == sorted(names)


def test_a_name_too_long_to_compare_goes_alone_by_path() -> None:
    long_name = f"{'a' * 64}@{'b' * 60}.contoso.com"

    plan = plan_lookups(users("a@contoso.com", long_name))

    assert [(lookup.by_path, lookup.keys) for lookup in plan] == [(True, (long_name,)), (False, ("a@contoso.com",))]
    assert plan[0].call.path.startswith(f"/users/{long_name}?$select=")


def test_a_quote_in_a_name_is_doubled_and_nothing_in_it_ends_the_literal() -> None:
    # The second name could never pass the identifier check; the literal holds it whole all the same.
    forged = UserIdentifier("x') or id in ('y@contoso.com", "upn")
    [lookup] = plan_lookups([*users("o'brien+x@contoso.com"), forged])

    assert filter_of(lookup) == "userPrincipalName in ('o''brien+x@contoso.com','x'') or id in (''y@contoso.com')"
    assert "+" not in lookup.call.path and " " not in lookup.call.path


# --- reading one answer --------------------------------------------------------------------
ADA = {"id": "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69", "userPrincipalName": "ada@contoso.com"}
BEN = {"id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "userPrincipalName": "ben@contoso.com"}
EVE = {"id": "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a", "userPrincipalName": "eve@contoso.com"}


def answered(names: list[str], body: Any, status: int = 200) -> list[tuple[str, Any]]:
    """(what, detail) per name: ('user', object id), ('missing', None) or ('error', the error)."""
    [lookup] = plan_lookups(users(*names))
    reply = GraphReply(status, body)
    problem = lookup.call.check(reply) if reply.succeeded else None
    reply.error = problem
    found = lookup.answers(reply)
    return [
        ("user", found[i].object_id)
        if found[i].object_id
        else ("missing", None)
        if found[i].missing
        else ("error", found[i].error)
        for i in range(len(names))
    ]


def test_a_clean_whole_answer_names_each_user_found_and_the_rest_are_missing() -> None:
    assert answered(["ada@contoso.com", "ben@contoso.com"], {"value": [ADA]}) == [
        ("user", ADA["id"]),
        ("missing", None),
    ]


def test_an_object_is_matched_by_the_name_asked_without_regard_to_case() -> None:
    shouting = {**ADA, "userPrincipalName": "ADA@CONTOSO.COM"}
    assert answered(["ada@contoso.com"], {"value": [shouting]}) == [("user", ADA["id"])]


@pytest.mark.parametrize(
    ("body", "error", "why"),
    [
        ({"value": [ADA, EVE]}, PermanentGraphError, "names another user"),
        ({"value": [ADA, {"id": BEN["id"]}]}, PermanentGraphError, "lacks a user's id"),
        ({"value": [ADA, EVE, EVE]}, PermanentGraphError, "names another user"),
        ({"value": [ADA, {**ADA, "id": EVE["id"]}]}, PermanentGraphError, "cannot say this one is absent"),
        ({"value": [ADA], "@odata.nextLink": "https://graph.microsoft.com/v1.0/users?$skiptoken=x"}, Unconfirmed, "paged"),
    ],
    ids=["a user not asked", "an unreadable user", "a user not asked, twice", "a name answered twice", "a next link"],
)  # fmt: skip
def test_a_name_left_out_of_an_answer_that_is_not_whole_and_clean_is_never_missing(
    body: dict[str, Any], error: type, why: str
) -> None:
    _, (what, problem) = answered(["ada@contoso.com", "ben@contoso.com"], body)

    assert what == "error" and type(problem) is error and why in str(problem)


def test_the_user_a_clean_entry_answers_counts_beside_a_user_not_asked() -> None:
    assert answered(["ada@contoso.com", "ben@contoso.com"], {"value": [ADA, EVE]})[0] == ("user", ADA["id"])


def test_a_user_twice_fails_that_name_closed() -> None:
    [(what, problem)] = answered(["ada@contoso.com"], {"value": [ADA, {**ADA, "id": EVE["id"]}]})

    assert what == "error" and "more than one user for this name" in str(problem)


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, None), (200, ADA), (200, {"value": "ada"}), (202, None), (503, None)],
    ids=["404", "one user, no collection", "value not a list", "202", "503"],
)
def test_an_answer_that_is_no_collection_is_every_names_error_never_missing(status: int, body: Any) -> None:
    assert {what for what, _ in answered(["ada@contoso.com", "ben@contoso.com"], body, status)} == {"error"}


def test_a_look_up_by_path_is_read_as_a_whole_answer_of_one_user() -> None:
    long_name = f"{'a' * 64}@{'b' * 60}.contoso.com"

    assert answered([long_name], None, 404) == [("missing", None)]
    [(what, problem)] = answered([long_name], ADA)
    assert what == "error" and "names another user" in str(problem)
