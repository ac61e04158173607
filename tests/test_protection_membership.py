"""REVOKE_PROTECTED_GROUPS and REVOKE_PROTECTED_ROLES: protected by who a user is in the directory, failing closed.

Membership is asked of the simulated Graph with `POST /users/{id}/checkMemberObjects` (transitive,
role template ids accepted, as Microsoft documents it; graphsim/directory.py), through every path:
HTTP, the queue, a release and the CLI; answers are kept for at most five minutes, per user and
per setting; an answer that cannot be read refuses the target, with why, and sends nothing for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.azurite import Azurite
from graphsim.directory import SimulatedGroup
from graphsim.harness import CapturedOut, LogCapture, app_settings, health_request, http_request, queue_message
from revoke.app import runtime
from revoke.app.cli import EXIT_NOT_ALL_CONTAINED, main
from revoke.app.release_triggers import release_http
from revoke.app.triggers import health_http, revoke_http, revoke_queue
from revoke.containment import protection
from revoke.deadline import Deadline
from revoke.errors import RetryLater, SettingsError
from revoke.graph.client import GraphClient
from revoke.identifiers import parse_user_identifier
from revoke.settings import MAX_PROTECTED_OBJECTS, Settings
from tests.conftest import ADELE, LEE, MEGAN, NESTOR, body_of

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
CHECK = "/checkMemberObjects"


def user(graph: GraphSimulator, name: tuple[str, str]) -> Any:
    found = graph.find_user(name[1])
    assert found is not None
    return found


@pytest.fixture
def admins(graph: GraphSimulator) -> SimulatedGroup:
    """Megan is in the administrators' group through a nested group; Lee directly."""
    nested = graph.directory.add_group([user(graph, MEGAN)])
    return graph.directory.add_group([user(graph, LEE)], [nested])


@pytest.fixture
def settings(admins: SimulatedGroup) -> dict[str, str]:
    return {"REVOKE_PROTECTED_GROUPS": admins.object_id, "REVOKE_PROTECTED_ROLES": GLOBAL_ADMINISTRATOR}


def contain(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = revoke_http(http_request(body))
    return response.status_code, body_of(response)


def outcomes(body: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {r["user"]: (r["outcome"], r["detail"]) for r in body["results"]}


def membership_checks(graph: GraphSimulator) -> list[tuple[str, list[str]]]:
    return [
        (r.path.split("/")[3], json.loads(r.body)["ids"])
        for r in graph.graph_requests()
        if r.path.endswith(CHECK) and r.in_batch is False
    ] + [
        (r.path.split("/")[3], json.loads(r.body)["ids"])
        for r in graph.graph_requests()
        if r.path.endswith(CHECK) and r.in_batch
    ]


def sent_for(graph: GraphSimulator, object_id: str, upn: str) -> list[str]:
    """Every write Graph received for the user."""
    return [
        r.path
        for r in graph.graph_requests()
        if r.method in ("PATCH", "POST")
        and not r.path.endswith(("$batch", CHECK))
        and (r.user_segment or "").lower() in (object_id, upn.lower())
    ]


def test_members_of_a_protected_group_at_any_depth_are_refused_and_nothing_is_sent_for_them(
    app: GraphSimulator, logs: LogCapture
) -> None:
    status, body = contain({"users": [ADELE[0], MEGAN[0], LEE[1]], "reason": "SOC-1"})

    assert status == 207
    assert outcomes(body) == {
        ADELE[0]: ("contained", outcomes(body)[ADELE[0]][1]),
        MEGAN[0]: ("refused", "revokeSignInSessions: protected user: a member of a group in REVOKE_PROTECTED_GROUPS"),
        LEE[1]: ("refused", "revokeSignInSessions: protected user: a member of a group in REVOKE_PROTECTED_GROUPS"),
    }
    assert dict(app.revocations) == {ADELE[1]: 1}
    assert sent_for(app, MEGAN[1], MEGAN[0]) == sent_for(app, LEE[1], LEE[0]) == []
    refused = [e for e in logs.audit_events() if e["outcome"] == "refused"]
    assert {e["user"] for e in refused} == {MEGAN[0], LEE[1]}
    assert all(e["contained"] is False and "REVOKE_PROTECTED_GROUPS" in e["detail"] for e in refused)


def test_the_check_asks_graph_once_per_user_with_the_group_and_the_role_template_id(
    app: GraphSimulator, admins: SimulatedGroup
) -> None:
    contain({"users": [ADELE[0], NESTOR[1]], "reason": "SOC-1"})

    ids = sorted([admins.object_id, GLOBAL_ADMINISTRATOR])
    assert sorted(membership_checks(app)) == [(ADELE[0], ids), (NESTOR[1], ids)]


@pytest.mark.parametrize("how", ["directly", "through a role-assignable group"])
def test_an_active_holder_of_a_protected_role_is_refused(app: GraphSimulator, how: str) -> None:
    if how == "directly":
        app.directory.assign_role(GLOBAL_ADMINISTRATOR, [user(app, NESTOR)])
    else:
        holders = app.directory.add_group([user(app, NESTOR)], role_assignable=True)
        app.directory.assign_role_to_group(GLOBAL_ADMINISTRATOR, holders)

    status, body = contain({"users": [NESTOR[0]], "reason": "SOC-2"})

    assert (status, body["error"]["code"]) == (422, "refused_by_policy")
    assert "holds a directory role in REVOKE_PROTECTED_ROLES" in body["error"]["message"]
    assert app.revocations == {}


def test_a_pim_eligible_holder_is_no_active_holder_and_is_contained(app: GraphSimulator) -> None:
    """Graph counts active assignments only: an eligible Global Administrator is contained (docs/DEPLOY.md says so)."""
    app.directory.assign_role(GLOBAL_ADMINISTRATOR, [user(app, NESTOR)], eligible=True)

    status, body = contain({"users": [NESTOR[0]], "reason": "SOC-3"})

    assert status == 200
    assert outcomes(body)[NESTOR[0]][0] == "contained"


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        (Fault(status=503, match=lambda path: path.endswith(CHECK), times=None), "ServiceUnavailable"),
        (Fault(status=403, match=lambda path: path.endswith(CHECK), times=None), "Authorization_RequestDenied"),
        (Fault(status=200, body={"value": "everything"}, match=lambda path: path.endswith(CHECK), times=None),
         "unreadable"),
        (Fault(status=200, body={"value": ["0d9c8b7a-0000-4000-8000-000000000001"]},
               match=lambda path: path.endswith(CHECK), times=None), "an id that was not asked about"),
        (Fault(status=200, body=None, match=lambda path: path.endswith(CHECK), times=None), "unreadable"),
    ],
    ids=["throttled or down", "no permission", "a malformed answer", "an id not asked", "an empty 200"],
)  # fmt: skip
def test_a_membership_that_cannot_be_read_refuses_the_target_with_why_and_sends_nothing(
    app: GraphSimulator, logs: LogCapture, fault: Fault, why: str
) -> None:
    app.inject(fault)

    status, body = contain({"users": [ADELE[0]], "reason": "SOC-4"})

    assert (status, body["error"]["code"]) == (422, "refused_by_policy")
    assert "could not check REVOKE_PROTECTED_GROUPS, REVOKE_PROTECTED_ROLES" in body["error"]["message"]
    assert why in body["error"]["message"]
    assert app.revocations == {}
    [event] = logs.audit_events()
    assert (event["outcome"], event["user"], event["contained"]) == ("refused", ADELE[0], False)


def test_on_the_queue_an_unreadable_membership_is_refused_and_the_message_delivered_again(
    app: GraphSimulator, logs: LogCapture
) -> None:
    app.inject(Fault(status=503, match=lambda path: path.endswith(CHECK), times=None))
    poison = CapturedOut()

    with pytest.raises(RetryLater):
        revoke_queue(queue_message({"users": [ADELE[0], MEGAN[0]]}), poison)

    assert poison.value is None and app.revocations == {}
    app.clear_faults()
    revoke_queue(queue_message({"users": [ADELE[0], MEGAN[0]]}, dequeue_count=2), poison)
    assert dict(app.revocations) == {ADELE[1]: 1}  # Megan is still protected, once it could be read


def test_a_user_graph_does_not_know_is_not_found_and_gets_no_action(app: GraphSimulator) -> None:
    status, body = contain({"users": ["gone@contoso.com", ADELE[0]], "reason": "SOC-5"})

    assert status == 207
    assert outcomes(body)["gone@contoso.com"] == (
        "not_found",
        "revokeSignInSessions: Graph has no such user (membership check)",
    )
    assert not [p for p in sent_for(app, "", "gone@contoso.com") if not p.endswith(CHECK)]


def test_more_than_twenty_protected_objects_are_checked_in_calls_of_twenty(
    app: GraphSimulator, admins: SimulatedGroup
) -> None:
    others = [app.directory.add_group().object_id for _ in range(24)]
    with app_settings({"REVOKE_PROTECTED_GROUPS": ",".join([*others, admins.object_id])}):
        status, body = contain({"users": [MEGAN[0], ADELE[0]], "reason": "SOC-6"})

    assert status == 207 and outcomes(body)[MEGAN[0]][0] == "refused"
    assert sorted(len(ids) for _, ids in membership_checks(app)) == [6, 6, 20, 20]


# --- the cache: at most five minutes, keyed by the setting too --------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Seconds added to the membership cache's clock."""
    offset = [0.0]
    monkeypatch.setattr(protection.MEMBERSHIPS, "_clock", lambda: 1000.0 + offset[0])
    protection.MEMBERSHIPS.clear()
    yield offset
    protection.MEMBERSHIPS.clear()


def test_an_answer_is_kept_for_at_most_five_minutes(app: GraphSimulator, clock: list[float]) -> None:
    contain({"users": [ADELE[0]], "reason": "SOC-7"})
    contain({"users": [ADELE[0]], "reason": "SOC-7"})
    assert app.directory.membership_checks == 1

    clock[0] += protection.MEMBERSHIP_CACHE_SECONDS
    contain({"users": [ADELE[0]], "reason": "SOC-7"})
    assert app.directory.membership_checks == 2


def test_a_group_protected_since_the_last_answer_is_never_answered_from_the_cache(
    app: GraphSimulator, clock: list[float]
) -> None:
    """Two guards of one process share the cache: Adele, checked against the old setting, is
    asked about again for the new one, whose group holds her, and refused at once."""
    settings = Settings.from_environment()
    graph = GraphClient(settings, runtime.managed_identity_credential(settings))
    helpdesk = app.directory.add_group([user(app, ADELE)])
    adele = [parse_user_identifier(ADELE[0])]

    before, _ = protection.ProtectedUsers.of(settings).check(adele, graph, Deadline(5))
    after, _ = protection.ProtectedUsers(frozenset(), frozenset({helpdesk.object_id})).check(adele, graph, Deadline(5))

    assert before == {}
    assert after == {0: protection.PROTECTED_BY_GROUP}
    assert app.directory.membership_checks == 2


def test_a_failed_answer_is_never_kept(app: GraphSimulator, clock: list[float]) -> None:
    app.inject(Fault(status=503, match=lambda path: path.endswith(CHECK), times=None))
    assert contain({"users": [ADELE[0]], "reason": "SOC-9"})[0] == 422
    app.clear_faults()

    assert contain({"users": [ADELE[0]], "reason": "SOC-9"})[0] == 200


def test_the_cache_is_bounded_and_forgets_the_oldest_first() -> None:
    cache = protection.MembershipCache(seconds=60, entries=2, clock=lambda: 0.0)
    ids = frozenset({"g"})
    for name in ("a", "b", "c"):
        cache.put(name, ids, frozenset())

    assert [cache.get(name, ids) for name in ("a", "b", "c")] == [None, frozenset(), frozenset()]
    assert cache.get("b", frozenset({"other"})) is None


# --- every path: release, the CLI, health ---------------------------------------------------------


def test_a_protected_member_is_refused_a_release_too(app: GraphSimulator, azurite: Azurite) -> None:
    """Megan was disabled here before she joined the administrators' group; releasing her now is refused."""
    records = {"REVOKE_CONTAINMENT_RECORDS": "true", "AzureWebJobsStorage": azurite.connection_string}
    with app_settings({**records, "REVOKE_PROTECTED_GROUPS": "", "REVOKE_ACTIONS": "disableAccount"}):
        assert contain({"users": [MEGAN[1]], "reason": "SOC-10"})[0] == 200
    with app_settings({**records, "REVOKE_RELEASE_ACTIONS": "enableAccount"}):
        response = release_http(http_request({"users": [MEGAN[1]], "reason": "SOC-10"}))

    assert (response.status_code, body_of(response)["error"]["code"]) == (422, "refused_by_policy")
    assert "REVOKE_PROTECTED_GROUPS" in body_of(response)["error"]["message"]
    assert MEGAN[1] in app.disabled and app.enabled == {}


def test_the_cli_says_which_protection_is_in_force_and_applies_it(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str], admins: SimulatedGroup
) -> None:
    with app_settings({"REVOKE_PROTECTED_USERS": "breakglass@contoso.com"}):
        assert main(["revoke", "--user", MEGAN[0], "--user", ADELE[0], "--reason", "SOC-11"]) == EXIT_NOT_ALL_CONTAINED

    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        "Protection in force: 1 named user(s) (REVOKE_PROTECTED_USERS); 1 group(s), members at any depth "
        "(REVOKE_PROTECTED_GROUPS); 1 directory role(s), active holders (REVOKE_PROTECTED_ROLES)"
    )
    assert dict(app.revocations) == {ADELE[1]: 1}


def test_the_cli_says_when_nothing_protects_anyone(app: GraphSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    with app_settings({"REVOKE_PROTECTED_GROUPS": "", "REVOKE_PROTECTED_ROLES": ""}):
        main(["revoke", "--user", ADELE[0], "--reason", "SOC-12"])

    assert capsys.readouterr().err.splitlines()[0].startswith("Protection in force: no user is protected")


@pytest.mark.parametrize(
    ("held", "missing"),
    [
        (["User.RevokeSessions.All", "User.Read.All"], []),  # User.Read.All alone serves checkMemberObjects
        (["User.RevokeSessions.All", "Directory.Read.All"], []),
        (["User.RevokeSessions.All", "User.Read.All", "GroupMember.Read.All"], []),
    ],
)
def test_health_counts_the_permissions_that_read_memberships(
    app: GraphSimulator, held: list[str], missing: list[str]
) -> None:
    app.app_roles = held

    assert body_of(health_http(health_request()))["missingRoles"] == missing


def test_health_names_group_member_read_all_when_only_the_basic_read_is_held(app: GraphSimulator) -> None:
    app.app_roles = ["User.RevokeSessions.All", "User.ReadBasic.All", "User.EnableDisableAccount.All"]

    with app_settings({"REVOKE_ACTIONS": "disableAccount"}):
        response = health_http(health_request())

    assert response.status_code == 503
    assert body_of(response)["missingRoles"] == ["GroupMember.Read.All", "User.Read.All"]


# --- the settings -----------------------------------------------------------------------------------


def test_the_settings_take_guids_and_refuse_anything_else() -> None:
    read = Settings.from_environment(
        {
            "REVOKE_PROTECTED_GROUPS": f" {GLOBAL_ADMINISTRATOR.upper()}, ,",
            "REVOKE_PROTECTED_ROLES": GLOBAL_ADMINISTRATOR,
        }
    )
    assert (read.protected_groups, read.protected_roles) == ({GLOBAL_ADMINISTRATOR}, {GLOBAL_ADMINISTRATOR})
    with pytest.raises(SettingsError, match="REVOKE_PROTECTED_ROLES"):
        Settings.from_environment({"REVOKE_PROTECTED_ROLES": "Global Administrator"})
    many = ",".join(f"{n:08x}-0000-4000-8000-000000000000" for n in range(MAX_PROTECTED_OBJECTS + 1))
    with pytest.raises(SettingsError, match="REVOKE_PROTECTED_GROUPS"):
        Settings.from_environment({"REVOKE_PROTECTED_GROUPS": many})
