"""Look-ups: only an answer about the user asked for counts; who is external is learned from
Graph's answer; and no look-up that only serves the verdict ever delays the containment.

Every test runs through a trigger against the simulator, with the fault it names: an answer
about another user, external users without the #EXT# marker, a look-up that stalls.
"""

from __future__ import annotations

from typing import Any

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.faults import EXTERNAL_MEMBER, INTERNAL_GUEST, SOCIAL_GUEST, answers_about
from graphsim.harness import LogCapture
from tests.conftest import ADELE, GUEST, MEGAN
from tests.test_actions import CONFIRM, EVERY_ACTION, REVOKE, TRIGGERS, by_user, contain, expected, sent

REVOKE_ONLY = {"REVOKE_ACTIONS": REVOKE}


def is_lookup(path: str) -> bool:
    return path.startswith("/v1.0/users/") and path.count("/") == 3


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
    app.inject(Fault(status=200, body={"id": MEGAN[1], "userPrincipalName": MEGAN[0]}, match=is_lookup, times=None))

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
