"""Look-ups: only an answer about the user asked for counts; who is external is learned from
Graph's answer; and no look-up that only serves the verdict ever delays the containment.

Every test runs through a trigger against the simulator, with the fault it names: an answer
about another user, external users without the #EXT# marker, a look-up that stalls.
"""

from __future__ import annotations

from typing import Any

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.faults import EXTERNAL_MEMBER, INTERNAL_GUEST, SOCIAL_GUEST, answers_about, edits_lookups, is_lookup
from graphsim.harness import LogCapture
from tests.conftest import ADELE, GUEST, LEE, MEGAN
from tests.test_actions import CONFIRM, EVERY_ACTION, REVOKE, TRIGGERS, by_user, contain, expected, sent

REVOKE_ONLY = {"REVOKE_ACTIONS": REVOKE}


def outcome_of(run: Any, logs: LogCapture, user: str) -> tuple[str, bool | None]:
    """The target's last action outcome and verdict, from the audit trail (both triggers write it)."""
    _, outcome, contained = by_user(logs)[user][-1]
    return outcome, contained


# --- 1. a look-up counts only if it answers what was asked ------------------------------
@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_PROTECTED_USERS": ADELE[0]}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_break_glass_account_is_never_acted_on_when_its_look_up_names_another_user(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    """The list names the UPN, the request the object id: the look-up is answered with Megan."""
    app.inject(answers_about(app.find_user(MEGAN[0])))  # type: ignore[arg-type]

    run = contain(trigger, {"users": [ADELE[1]]})

    assert run.answer == expected(trigger, http=502, queue="poison")
    assert [call for call in sent(app) if call[0] != "GET"] == []
    assert app.revocations == {} and app.disabled == set() and app.confirmed_compromised == {}
    assert {outcome for _, outcome, _ in by_user(logs)[ADELE[1]]} == {"failed"}
    assert "names another user" in logs.audit_events()[-1]["detail"]


@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_another_user_is_never_confirmed_compromised_after_a_look_up_names_them(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    app.inject(answers_about(app.find_user(MEGAN[0])))  # type: ignore[arg-type]

    run = contain(trigger, {"users": [ADELE[0]], "actions": [CONFIRM]})

    assert run.answer == expected(trigger, http=502, queue="poison")
    assert app.confirmed_compromised == {}
    assert not any(path.endswith("/confirmCompromised") for _, path, _ in sent(app))
    assert outcome_of(run, logs, ADELE[0]) == ("failed", False)


@pytest.mark.parametrize("settings", [REVOKE_ONLY])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_guest_is_never_reported_contained_when_the_look_up_names_a_member(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    app.inject(answers_about(app.find_user(ADELE[0])))  # type: ignore[arg-type]

    run = contain(trigger, {"users": [GUEST[1]]})

    assert run.answer == expected(trigger, http=207, queue="complete")
    assert app.revocations == {GUEST[1]: 1}  # done; but who it reached cannot be told
    assert outcome_of(run, logs, GUEST[1]) == ("revoked", False)
    if trigger == "http":
        assert run.body["results"][0]["outcome"] == "not_contained"


# --- 2. external users are recognised from Graph's answer ---------------------------------
KINDS = [
    pytest.param(EXTERNAL_MEMBER, False, id="B2B member, no #EXT#"),
    pytest.param(SOCIAL_GUEST, False, id="guest signing in with Google"),
    pytest.param(INTERNAL_GUEST, True, id="internal guest, local credentials"),
    pytest.param({}, True, id="member"),
]


@pytest.mark.parametrize("settings", [REVOKE_ONLY])
@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("named_by", ["upn", "object id"])
@pytest.mark.parametrize(("kind", "contained"), KINDS)
def test_revocation_contains_only_users_this_tenant_signs_in(
    app: GraphSimulator, logs: LogCapture, trigger: str, named_by: str, kind: dict[str, Any], contained: bool
) -> None:
    user = app.add_user("kai.lindqvist@contoso.com", **kind)
    named = user.user_principal_name if named_by == "upn" else user.object_id

    run = contain(trigger, {"users": [named]})

    assert app.revocations == {user.object_id: 1}
    assert outcome_of(run, logs, named) == ("revoked", contained)
    assert run.answer == expected(trigger, http=200 if contained else 207, queue="complete")
    if trigger == "http" and not contained:
        assert "external (guest) user" in run.body["results"][0]["detail"]


@pytest.mark.parametrize("settings", [REVOKE_ONLY])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_an_answer_without_the_sign_in_properties_leaves_the_kind_unknown(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    """A proxy (or a permission that cannot read them) strips userType, identities and the rest."""
    app.inject(
        edits_lookups(lambda users: [{name: user[name] for name in ("id", "userPrincipalName")} for user in users])
    )

    run = contain(trigger, {"users": [MEGAN[1]]})

    assert app.revocations == {MEGAN[1]: 1}
    assert outcome_of(run, logs, MEGAN[1]) == ("revoked", False)
    if trigger == "http":
        assert run.body["results"][0]["detail"].startswith("could not tell whether the user is external")


# --- 3. look-ups never delay the containment ------------------------------------------------
@pytest.mark.parametrize("settings", [REVOKE_ONLY])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_stalled_look_up_never_delays_the_revocation(app: GraphSimulator, logs: LogCapture, trigger: str) -> None:
    """The look-up outlasts the 3 s budget; the revocation went out beside it, so it is done."""
    app.inject(Fault(delay=6.0, match=is_lookup, times=None))

    contain(trigger, {"users": [ADELE[1]]})

    assert app.revocations == {ADELE[1]: 1}
    assert outcome_of(None, logs, ADELE[1]) == ("revoked", False)  # done; the kind never came


@pytest.mark.parametrize("settings", [{**REVOKE_ONLY, "REVOKE_MAX_PARALLEL": "2", "REVOKE_MAX_USERS": "100"}])
def test_stalled_look_ups_never_take_a_write_batchs_place(app: GraphSimulator, logs: LogCapture) -> None:
    """100 targets by object id: 5 write batches and 5 read batches; every read batch stalls past the budget."""
    people = [app.add_user(f"person{n:02}@contoso.com").object_id for n in range(100)]
    app.inject(Fault(delay=6.0, match=is_lookup, times=None))

    contain("http", {"users": people})

    assert app.revocations == dict.fromkeys(people, 1)
    assert {outcome for user in people for _, outcome, _ in by_user(logs)[user]} == {"revoked"}


# --- 4. up to 15 users in one look-up, and what its answer says about each -------------------
def lookups_sent(app: GraphSimulator) -> list[tuple[str, ...]]:
    """The users each look-up asked about, in the order sent."""
    return [r.named_users for r in app.graph_requests() if r.method == "GET"]


@pytest.mark.parametrize("settings", [{**REVOKE_ONLY, "REVOKE_MAX_USERS": "100"}])
@pytest.mark.parametrize("named_by", ["upn", "object id"])
def test_a_hundred_targets_are_looked_up_fifteen_to_a_request(app: GraphSimulator, named_by: str) -> None:
    people = app.add_users(f"person{n:02}@contoso.com" for n in range(100))
    named = [person.object_id if named_by == "object id" else person.user_principal_name for person in people]

    run = contain("http", {"users": named})

    assert [result["outcome"] for result in run.body["results"]] == ["contained"] * 100
    asked = lookups_sent(app)
    assert [len(users) for users in asked] == [15] * 6 + [10]  # 7 look-ups, not 100
    assert sorted(user for users in asked for user in users) == sorted(named)
    assert all(r.path.startswith("/v1.0/users?$filter=") for r in app.graph_requests() if r.method == "GET")


@pytest.mark.parametrize("settings", [REVOKE_ONLY])
def test_a_user_in_the_answer_that_was_not_asked_about_is_ignored_and_logged(
    app: GraphSimulator, logs: LogCapture
) -> None:
    """Megan is asked about; the answer also holds a guest nobody asked about, whose kind is never used for her."""
    guest = app.find_user(GUEST[0])
    assert guest is not None
    app.inject(edits_lookups(lambda users: [*users, guest.properties()]))

    run = contain("http", {"users": [MEGAN[1]]})

    assert run.body["results"][0]["outcome"] == "contained"
    assert app.revocations == {MEGAN[1]: 1}
    assert "1 user(s) not asked for; ignored" in logs.text()


@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_PROTECTED_USERS": ADELE[0]}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_name_the_answer_holds_twice_fails_closed(app: GraphSimulator, logs: LogCapture, trigger: str) -> None:
    """The same user twice in the answer: which one is Adele cannot be told, so nothing is done to her."""
    app.inject(edits_lookups(lambda users: [*users, *users], times=None))

    run = contain(trigger, {"users": [ADELE[1]]})

    assert run.answer == expected(trigger, http=502, queue="poison")
    assert [call for call in sent(app) if call[0] != "GET"] == []
    assert "more than one user for this name" in logs.audit_events()[-1]["detail"]


@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_PROTECTED_USERS": LEE[1]}])
def test_two_users_claiming_one_name_fail_closed(app: GraphSimulator, logs: LogCapture) -> None:
    """An answer holds Adele and an impostor under her UPN, in other case: neither is taken for her."""
    impostor = {"id": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "userPrincipalName": ADELE[0].upper()}
    app.inject(edits_lookups(lambda users: [*users, impostor], times=None))

    run = contain("http", {"users": [ADELE[0]], "actions": [CONFIRM]})

    assert run.answer == 502
    assert app.confirmed_compromised == {}
    assert "more than one user for this name" in run.body["results"][0]["detail"]


@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_PROTECTED_USERS": ADELE[0]}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_user_left_out_of_a_paged_answer_is_deferred_never_not_found(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    """The answer holds Megan and a next link; Lee is not in the page: he is deferred, the link never followed."""
    app.inject(edits_lookups(lambda users: [user for user in users if user["id"] == MEGAN[1]], paged=True))

    run = contain(trigger, {"users": [MEGAN[1], LEE[1]]})

    assert run.answer == expected(trigger, http=503, queue="retry")
    assert LEE[1] not in app.revocations and MEGAN[1] in app.revocations
    assert {outcome for _, outcome, _ in by_user(logs)[LEE[1]]} == {"deferred"}
    assert "was paged" in by_user_detail(logs, LEE[1])
    assert not any("graph.example.net" in r.path or "skiptoken" in r.path for r in app.graph_requests())


@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_PROTECTED_USERS": ADELE[0]}])
def test_a_user_a_whole_clean_answer_leaves_out_is_not_found(app: GraphSimulator, logs: LogCapture) -> None:
    """Graph's complete answer holds Megan and not Lee: Graph has no such user, and nothing is sent for him."""
    app.inject(edits_lookups(lambda users: [user for user in users if user["id"] == MEGAN[1]]))

    run = contain("http", {"users": [MEGAN[1], LEE[1]]})

    assert [result["outcome"] for result in run.body["results"]] == ["contained", "not_found"]
    assert LEE[1] not in app.revocations and LEE[1] not in app.disabled


@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_PROTECTED_USERS": ADELE[0]}])
def test_names_beside_a_user_not_asked_for_are_never_taken_as_absent(app: GraphSimulator, logs: LogCapture) -> None:
    """The answer swaps Lee for Adele: Megan is answered; Lee is not 'not found' but failed, and untouched."""
    adele = app.find_user(ADELE[0])
    assert adele is not None
    app.inject(edits_lookups(lambda users: [*(u for u in users if u["id"] != LEE[1]), adele.properties()]))

    run = contain("http", {"users": [MEGAN[1], LEE[1]]})

    assert [result["outcome"] for result in run.body["results"]] == ["contained", "failed"]
    assert "names another user" in run.body["results"][1]["detail"]
    assert set(app.revocations) == {MEGAN[1]} and ADELE[1] not in app.disabled


@pytest.mark.parametrize("settings", [EVERY_ACTION])
def test_a_upn_with_a_quote_and_a_plus_is_looked_up_as_written(app: GraphSimulator) -> None:
    """confirmCompromised needs the object id; the quote is doubled and the plus encoded, so Graph finds him."""
    user = app.add_user("o'brien+soc@contoso.com")

    run = contain("http", {"users": [user.user_principal_name], "actions": [CONFIRM]})

    assert app.confirmed_compromised == {user.object_id: 1}
    assert lookups_sent(app) == [(user.user_principal_name,)]
    assert run.body["results"][0]["actions"][0]["outcome"] == "confirmed"


@pytest.mark.parametrize("settings", [{**REVOKE_ONLY, "REVOKE_MAX_USERS": "100"}])
def test_a_name_too_long_to_compare_is_looked_up_alone_by_its_path(app: GraphSimulator) -> None:
    """A UPN over the 120 characters Graph compares in a filter goes alone; the others share one request."""
    long_name = app.add_user(f"{'a' * 64}@{'b' * 60}.contoso.com")
    others = app.add_users(f"person{n:02}@contoso.com" for n in range(3))

    run = contain("http", {"users": [long_name.user_principal_name, *(u.user_principal_name for u in others)]})

    assert [result["outcome"] for result in run.body["results"]] == ["contained"] * 4
    looked_up = [r for r in app.graph_requests() if r.method == "GET"]
    by_path = [r for r in looked_up if r.user_segment is not None]
    assert [r.user_segment for r in by_path] == [long_name.user_principal_name]
    assert [r.filter_values for r in looked_up if r.user_segment is None] == [
        tuple(u.user_principal_name for u in others)
    ]


def by_user_detail(logs: LogCapture, user: str) -> str:
    return " ".join(str(event["detail"]) for event in logs.audit_events() if event["user"] == user)
