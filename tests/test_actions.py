"""The containment actions through both triggers: what reaches Graph, each action's outcome, the verdict.

revokeSignInSessions, disableAccount and confirmCompromised, alone and together, as Graph
confirms, refuses or fails them; what policy (protected users, the limit, dry run,
REVOKE_ACTIONS) keeps from being sent; and when a target counts as contained. Every test
asserts on what the simulator received and on the audit trail, which both triggers write;
through HTTP also on the answer, through the queue on what became of the message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.faults import is_lookup_by_filter
from graphsim.harness import CapturedOut, LogCapture, http_request, queue_message
from revoke.app.cli import EXIT_NOT_ALL_CONTAINED, EXIT_OK, EXIT_TRANSIENT, EXIT_USAGE, main
from revoke.app.triggers import revoke_http, revoke_queue
from revoke.containment.verdict import REVOCATION_ALONE, ActionRecord, most_pressing
from revoke.errors import RetryLater
from revoke.outcomes import ActionResult, Outcome
from tests.conftest import ADELE, GUEST, MEGAN, body_of

REVOKE, DISABLE, CONFIRM = "revokeSignInSessions", "disableAccount", "confirmCompromised"
EVERY_ACTION = {"REVOKE_ACTIONS": f"{REVOKE},{DISABLE},{CONFIRM}"}
TRIGGERS = ["http", "queue"]
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


# --- running a request through either trigger -------------------------------------------
@dataclass(frozen=True)
class Run:
    """What one trigger made of a request: its HTTP status, or what became of the queue message."""

    answer: int | str  # HTTP status; for the queue: complete, retry or poison
    body: dict[str, Any] = field(default_factory=dict)  # the HTTP answer
    headers: dict[str, str] = field(default_factory=dict)


def contain(trigger: str, request: dict[str, Any]) -> Run:
    if trigger == "http":
        response = revoke_http(http_request(request))
        return Run(response.status_code, body_of(response), dict(response.headers))
    poison = CapturedOut()
    try:
        revoke_queue(queue_message(request), poison)
    except RetryLater:
        assert poison.value is None
        return Run("retry")
    if poison.value is not None:
        assert poison.value == json.dumps(request)  # unchanged, for an operator to replay
        return Run("poison")
    return Run("complete")


def expected(trigger: str, *, http: int, queue: str) -> int | str:
    return http if trigger == "http" else queue


def trail(logs: LogCapture) -> list[tuple[str, str, str, bool | None]]:
    """(user, action, outcome, contained) of each action's audit event, in the order written."""
    return [
        (e["user"], e["action"], e["outcome"], e["contained"])
        for e in logs.audit_events()
        if e["action"] not in (None, "incidentComment", "incidentTask", "verifyContainment")
    ]


def by_user(logs: LogCapture) -> dict[str, list[tuple[str, str, bool | None]]]:
    """Each user's (action, outcome, contained), in the order written."""
    users: dict[str, list[tuple[str, str, bool | None]]] = {}
    for user, action, outcome, contained in trail(logs):
        users.setdefault(user, []).append((action, outcome, contained))
    return users


def event(logs: LogCapture, user: str, action: str) -> dict[str, Any]:
    [found] = [e for e in logs.audit_events() if e["user"] == user and e["action"] == action]
    return found


def actions_of(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["action"], a["outcome"]) for a in result["actions"]]


def sent(graph: GraphSimulator) -> list[tuple[str, str, Any]]:
    """Every Graph call as (method, path, JSON body), batch items included, batch envelopes not."""
    return [
        (r.method, r.path, json.loads(r.body) if r.body else None)
        for r in graph.graph_requests()
        if not r.path.endswith("/$batch")
    ]


def revoke_call(user: str) -> tuple[str, str, Any]:
    return ("POST", f"/v1.0/users/{user}/revokeSignInSessions", None)


def disable_call(user: str) -> tuple[str, str, Any]:
    return ("PATCH", f"/v1.0/users/{user}", {"accountEnabled": False})


def confirm_call(*object_ids: str) -> tuple[str, str, Any]:
    """One call confirms every user it names."""
    return ("POST", "/v1.0/identityProtection/riskyUsers/confirmCompromised", {"userIds": list(object_ids)})


GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LOOKUP_SELECT = (
    "$select=id,userPrincipalName,userType,externalUserState,creationType,identities,"
    "onPremisesSyncEnabled,onPremisesSecurityIdentifier,onPremisesSamAccountName,onPremisesDomainName"
)


def lookup_call(*users: str) -> tuple[str, str, Any]:
    """One look-up of `users`, all named the same way: Graph's $filter with `in`, a quote doubled."""
    name = "id" if all(GUID.fullmatch(user) for user in users) else "userPrincipalName"
    values = ",".join("'" + quote(user.replace("'", "''"), safe="@") + "'" for user in users)
    return ("GET", f"/v1.0/users?$filter={name}%20in%20({values})&{LOOKUP_SELECT}", None)


def unordered(calls: list[tuple[str, str, Any]]) -> list[str]:
    """Calls that go out together (a look-up beside the containing call), in a comparable order."""
    return sorted(json.dumps(call) for call in calls)


# Each action's requests, by path and method: a look-up's GET shares the disable's PATCH path.
MATCHES = {
    REVOKE: lambda path: path.endswith("/revokeSignInSessions"),
    DISABLE: lambda path: re.fullmatch(r"/v1\.0/users/[^/]+", path) is not None,
    CONFIRM: lambda path: path.endswith("/riskyUsers/confirmCompromised"),
}
METHODS = {REVOKE: "POST", DISABLE: "PATCH", CONFIRM: "POST"}


def fault_for(action: str, **fault: Any) -> Fault:
    """A fault for `action`'s requests only (not the look-up beside a disable)."""
    return Fault(match=MATCHES[action], method=METHODS[action], **fault)


def calls_for(graph: GraphSimulator, action: str) -> int:
    """How many of `action`'s requests Graph received."""
    return sum(method == METHODS[action] and MATCHES[action](path.split("?")[0]) for method, path, _ in sent(graph))


DONE = {REVOKE: "revoked", DISABLE: "disabled", CONFIRM: "confirmed"}


def state(graph: GraphSimulator) -> dict[str, object]:
    """What Graph holds: revocations, disabled accounts, confirmed compromises."""
    return {
        REVOKE: dict(graph.revocations),
        DISABLE: set(graph.disabled),
        CONFIRM: dict(graph.confirmed_compromised),
    }


def state_after(action: str | None, object_id: str) -> dict[str, object]:
    """What Graph holds once `action` (or nothing, None) was done to one user."""
    after: dict[str, object] = {REVOKE: {}, DISABLE: set(), CONFIRM: {}}
    if action == DISABLE:
        after[DISABLE] = {object_id}
    elif action is not None:
        after[action] = {object_id: 1}
    return after


# --- each action, confirmed by Graph ----------------------------------------------------
@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_revoking_a_members_sessions_contains_them(app: GraphSimulator, logs: LogCapture, trigger: str) -> None:
    """Graph is asked who the user is, in the same round trip: a member, whose sessions revocation ends."""
    run = contain(trigger, {"users": [ADELE[1]], "actions": [REVOKE]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    assert unordered(sent(app)) == unordered([lookup_call(ADELE[1]), revoke_call(ADELE[1])])
    assert state(app) == state_after(REVOKE, ADELE[1])
    assert trail(logs) == [(ADELE[1], REVOKE, "revoked", True)]
    # Contained, and the verdict says what revocation alone leaves open: in the audit too.
    assert logs.audit_events()[-1]["detail"] == REVOCATION_ALONE
    if trigger == "http":
        assert run.body["results"] == [
            {
                "user": ADELE[1],
                "outcome": "contained",
                "contained": True,
                "graphStatus": 200,
                "detail": REVOCATION_ALONE,
                "actions": [{"action": REVOKE, "outcome": "revoked", "graphStatus": 200, "detail": None}],
            }
        ]


@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_disabling_an_account_contains_it(app: GraphSimulator, logs: LogCapture, trigger: str) -> None:
    run = contain(trigger, {"users": [ADELE[0]], "actions": [DISABLE]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    # Beside the disable, Graph is asked whether the account is synced from Active Directory.
    assert unordered(sent(app)) == unordered([lookup_call(ADELE[0]), disable_call(ADELE[0])])
    assert state(app) == state_after(DISABLE, ADELE[1])
    assert trail(logs) == [(ADELE[0], DISABLE, "disabled", True)]
    if trigger == "http":
        [result] = run.body["results"]
        assert (result["outcome"], result["contained"], result["graphStatus"]) == ("contained", True, 204)
        assert actions_of(result) == [(DISABLE, "disabled")]


@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_confirming_a_compromise_alone_records_it_but_contains_nobody(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    run = contain(trigger, {"users": [ADELE[1]], "actions": [CONFIRM]})

    assert run.answer == expected(trigger, http=207, queue="complete")
    assert sent(app) == [confirm_call(ADELE[1])]
    assert state(app) == state_after(CONFIRM, ADELE[1])
    assert trail(logs) == [(ADELE[1], CONFIRM, "confirmed", False)]
    if trigger == "http":
        [result] = run.body["results"]
        assert (result["outcome"], result["contained"], result["graphStatus"]) == ("not_contained", False, 204)
        assert "confirmCompromised alone does not" in result["detail"]
        assert actions_of(result) == [(CONFIRM, "confirmed")]


@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_every_action_is_taken_in_order_whatever_order_the_request_names_them(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    run = contain(trigger, {"users": [ADELE[1]], "actions": [CONFIRM, DISABLE, REVOKE]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    # Disable first: revoking first would leave a stolen password or refresh token a window to mint tokens.
    first, then = sent(app)[:2], sent(app)[2:]
    assert unordered(first) == unordered([lookup_call(ADELE[1]), disable_call(ADELE[1])])
    assert then == [revoke_call(ADELE[1]), confirm_call(ADELE[1])]
    assert trail(logs) == [
        (ADELE[1], DISABLE, "disabled", None),
        (ADELE[1], REVOKE, "revoked", None),
        (ADELE[1], CONFIRM, "confirmed", True),
    ]
    if trigger == "http":
        [result] = run.body["results"]
        assert actions_of(result) == [(DISABLE, "disabled"), (REVOKE, "revoked"), (CONFIRM, "confirmed")]
        assert (result["outcome"], result["graphStatus"]) == ("contained", 204)  # the last action's status


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": f"{REVOKE},{DISABLE}"}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_request_without_actions_gets_every_action_the_deployment_allows(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    run = contain(trigger, {"users": [MEGAN[0]]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    assert unordered(sent(app)[:2]) == unordered([lookup_call(MEGAN[0]), disable_call(MEGAN[0])])
    assert sent(app)[2:] == [revoke_call(MEGAN[0])]
    assert [(action, outcome) for _, action, outcome, _ in trail(logs)] == [(DISABLE, "disabled"), (REVOKE, "revoked")]


@pytest.mark.parametrize("settings", [EVERY_ACTION])
def test_a_sentinel_incident_on_the_queue_gets_every_action_the_deployment_allows(
    app: GraphSimulator, logs: LogCapture
) -> None:
    """samples/sentinel-incident.json names Adele by object id and the guest by UPN."""
    poison = CapturedOut()
    revoke_queue(queue_message((SAMPLES / "sentinel-incident.json").read_bytes()), poison)

    assert poison.value is None
    assert app.revocations.keys() == app.disabled == app.confirmed_compromised.keys() == {ADELE[1], GUEST[1]}
    sid = "S-1-5-21-1004336348-1177238915-682003330-1105"  # CORP\\svc-backup: no user here is synced from it
    assert by_user(logs) == {
        sid: [(DISABLE, "not_found", None), (REVOKE, "not_found", None), (CONFIRM, "not_found", False)],
        ADELE[1]: [(DISABLE, "disabled", None), (REVOKE, "revoked", None), (CONFIRM, "confirmed", True)],
        GUEST[0]: [(DISABLE, "disabled", None), (REVOKE, "revoked", None), (CONFIRM, "confirmed", True)],
    }


# --- Graph refuses, or fails for a while -------------------------------------------------
@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("action", [REVOKE, DISABLE, CONFIRM])
def test_graph_refusing_the_action_fails_the_target(
    app: GraphSimulator, logs: LogCapture, trigger: str, action: str
) -> None:
    app.inject(fault_for(action, status=403, times=None))

    run = contain(trigger, {"users": [MEGAN[1]], "actions": [action]})

    assert run.answer == expected(trigger, http=502, queue="poison")
    assert state(app) == state_after(None, MEGAN[1])
    refused = event(logs, MEGAN[1], action)
    assert (refused["outcome"], refused["graphStatus"], refused["attempts"]) == ("failed", 403, 1)
    assert (refused["detail"], refused["contained"]) == ("Authorization_RequestDenied", False)
    assert calls_for(app, action) == 1  # never retried
    if trigger == "http":
        [result] = run.body["results"]
        assert (result["outcome"], result["graphStatus"]) == ("failed", 403)
        assert result["detail"] == f"{action}: Authorization_RequestDenied"
        assert run.body["error"]["code"] == "graph_refused"


@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_refused_disable_still_lets_the_other_actions_run_and_the_target_fails(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    app.inject(fault_for(DISABLE, status=403, times=None))

    run = contain(trigger, {"users": [MEGAN[1]]})

    assert run.answer == expected(trigger, http=502, queue="poison")
    assert unordered(sent(app)[:2]) == unordered([lookup_call(MEGAN[1]), disable_call(MEGAN[1])])
    assert sent(app)[2:] == [revoke_call(MEGAN[1]), confirm_call(MEGAN[1])]
    assert by_user(logs)[MEGAN[1]] == [
        (DISABLE, "failed", None),
        (REVOKE, "revoked", None),
        (CONFIRM, "confirmed", False),
    ]
    if trigger == "http":
        [result] = run.body["results"]
        assert (result["outcome"], result["detail"]) == ("failed", "disableAccount: Authorization_RequestDenied")


TRANSIENT = [
    pytest.param(Fault(status=429, headers={"Retry-After": "1"}), id="429 once"),
    pytest.param(Fault(status=503), id="503 once"),
]


# confirmCompromised takes turns a second apart across the process (Identity Protection's
# limit), so the previous test's confirmation may hold this one's first turn back a second.
PACED = {**EVERY_ACTION, "REVOKE_RETRY_BUDGET_SECONDS": "6"}


@pytest.mark.parametrize("settings", [PACED])
@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("action", [REVOKE, DISABLE, CONFIRM])
@pytest.mark.parametrize("fault", TRANSIENT)
def test_a_passing_fault_is_retried_and_the_action_done(
    app: GraphSimulator, logs: LogCapture, trigger: str, action: str, fault: Fault
) -> None:
    app.inject(fault_for(action, status=fault.status, headers=fault.headers))

    run = contain(trigger, {"users": [MEGAN[1]], "actions": [action, DISABLE]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    assert calls_for(app, action) == 2
    done = event(logs, MEGAN[1], action)
    assert (done["outcome"], done["attempts"]) == (DONE[action], 2)
    assert MEGAN[1] in app.disabled


@pytest.mark.parametrize("settings", [PACED])
@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("action", [REVOKE, DISABLE, CONFIRM])
def test_graph_unavailable_throughout_defers_the_action_and_the_target(
    app: GraphSimulator, logs: LogCapture, trigger: str, action: str
) -> None:
    app.inject(fault_for(action, status=503, times=None))

    run = contain(trigger, {"users": [MEGAN[1]], "actions": [action]})

    assert run.answer == expected(trigger, http=503, queue="retry")
    assert state(app) == state_after(None, MEGAN[1])
    deferred = event(logs, MEGAN[1], action)
    assert (deferred["outcome"], deferred["graphStatus"], deferred["contained"]) == ("deferred", 503, False)
    assert deferred["attempts"] >= 2
    assert deferred["attempts"] == calls_for(app, action)
    if trigger == "http":
        assert int(run.headers["Retry-After"]) >= 5
        [result] = run.body["results"]
        assert (result["outcome"], result["detail"]) == ("deferred", f"{action}: ServiceUnavailable")


# --- policy: protected users, the limit, dry run, REVOKE_ACTIONS -------------------------
@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_PROTECTED_USERS": f"{ADELE[0]},{ADELE[1]}"}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_protected_user_is_refused_every_action_and_nothing_is_sent_for_them(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    run = contain(trigger, {"users": [ADELE[0], MEGAN[1]]})

    assert run.answer == expected(trigger, http=207, queue="complete")
    # The list names UPNs, so a target named by object id is looked up first; Adele matches as named.
    assert sent(app) == [
        lookup_call(MEGAN[1]), disable_call(MEGAN[1]), revoke_call(MEGAN[1]), confirm_call(MEGAN[1])
    ]  # fmt: skip
    assert by_user(logs)[ADELE[0]] == [
        (DISABLE, "refused", None),
        (REVOKE, "refused", None),
        (CONFIRM, "refused", False),
    ]
    assert {e["attempts"] for e in logs.audit_events() if e["user"] == ADELE[0]} == {0}
    if trigger == "http":
        protected, contained = run.body["results"]
        assert actions_of(protected) == [(DISABLE, "refused"), (REVOKE, "refused"), (CONFIRM, "refused")]
        assert (protected["outcome"], contained["outcome"]) == ("refused", "contained")


@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_PROTECTED_USERS": ADELE[0]}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_protected_user_named_the_other_way_is_looked_up_and_nothing_else_sent(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    run = contain(trigger, {"users": [ADELE[1]]})

    assert run.answer == expected(trigger, http=422, queue="complete")
    assert sent(app) == [lookup_call(ADELE[1])]
    assert [outcome for _, _, outcome, _ in trail(logs)] == ["refused", "refused", "refused"]
    if trigger == "http":
        assert run.body["error"]["code"] == "refused_by_policy"


@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_MAX_USERS": "2"}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_request_over_the_limit_is_refused_every_action_and_nothing_is_sent(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    run = contain(trigger, {"users": [ADELE[1], MEGAN[1], GUEST[0]]})

    assert run.answer == expected(trigger, http=422, queue="poison")
    assert app.requests == []  # not even a token
    assert len(trail(logs)) == 9
    assert {outcome for _, _, outcome, _ in trail(logs)} == {"refused"}


@pytest.mark.parametrize(
    ("settings", "dry_run"),
    [({**EVERY_ACTION, "REVOKE_DRY_RUN": "true"}, None), (EVERY_ACTION, True)],
    ids=["REVOKE_DRY_RUN", "dryRun in the request"],
)
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_dry_run_sends_nothing_for_any_action(
    app: GraphSimulator, logs: LogCapture, trigger: str, dry_run: bool | None
) -> None:
    """Not even the look-ups a guest's verdict or confirmCompromised by UPN would need."""
    request: dict[str, Any] = {"users": [ADELE[0], MEGAN[1], GUEST[0]]}
    if dry_run is not None:
        request["dryRun"] = dry_run

    run = contain(trigger, request)

    assert run.answer == expected(trigger, http=200, queue="complete")
    assert app.requests == []
    assert {outcome for _, _, outcome, _ in trail(logs)} == {"dry_run"}
    assert len(trail(logs)) == 9
    if trigger == "http":
        assert run.body["dryRun"] is True
        assert [(r["outcome"], r["contained"]) for r in run.body["results"]] == [("dry_run", False)] * 3
        assert {outcome for r in run.body["results"] for _, outcome in actions_of(r)} == {"dry_run"}


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_an_action_the_deployment_does_not_allow_refuses_the_request_and_sends_nothing(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    """REVOKE_ACTIONS is left at its default, revokeSignInSessions."""
    run = contain(trigger, {"users": [ADELE[0]], "actions": [REVOKE, DISABLE]})

    assert run.answer == expected(trigger, http=400, queue="poison")
    assert app.requests == []
    [rejected] = logs.audit_events()
    assert (rejected["outcome"], rejected["action"]) == ("rejected", None)
    assert rejected["detail"].startswith("action_not_allowed: ") and "disableAccount" in rejected["detail"]
    if trigger == "http":
        assert run.body["error"]["code"] == "action_not_allowed"
        assert "disableAccount" in run.body["error"]["message"]
        assert "revokeSignInSessions" in run.body["error"]["message"].split("allows")[-1]


@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("actions", [["lockAccount"], [], "disableAccount", [DISABLE, 7]])
def test_an_unknown_action_name_refuses_the_request(app: GraphSimulator, actions: object) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]], "actions": actions}))

    assert response.status_code == 400
    assert body_of(response)["error"]["code"] == "invalid_field"
    if actions == ["lockAccount"]:
        assert "lockAccount" in body_of(response)["error"]["message"]
    assert app.requests == []


# --- guests, synced accounts, users Graph does not know -----------------------------------
@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": f"{REVOKE},{DISABLE}"}])
@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("named_by", ["upn", "object id"])
def test_revoking_a_guests_sessions_alone_does_not_contain_them(
    app: GraphSimulator, logs: LogCapture, trigger: str, named_by: str
) -> None:
    user = GUEST[0] if named_by == "upn" else GUEST[1]

    run = contain(trigger, {"users": [user], "actions": [REVOKE]})

    assert run.answer == expected(trigger, http=207, queue="complete")
    assert app.revocations == {GUEST[1]: 1}  # the revocation was done; it is not enough
    segment = user.replace("#", "%23")
    # A name with #EXT# shows the guest; an object id is looked up, beside the revocation.
    looked_up = [lookup_call(segment)] if named_by == "object id" else []
    assert unordered(sent(app)) == unordered([*looked_up, revoke_call(segment)])
    assert trail(logs) == [(user, REVOKE, "revoked", False)]
    [event] = logs.audit_events()
    assert "external (guest) user" in event["detail"]  # the trail says why, not only the answer
    if trigger == "http":
        [result] = run.body["results"]
        assert (result["outcome"], result["contained"]) == ("not_contained", False)
        assert "external (guest) user" in result["detail"] and "disableAccount" in result["detail"]
        assert actions_of(result) == [(REVOKE, "revoked")]


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": f"{REVOKE},{DISABLE}"}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_disabling_a_guest_contains_them(app: GraphSimulator, logs: LogCapture, trigger: str) -> None:
    run = contain(trigger, {"users": [GUEST[0]], "actions": [REVOKE, DISABLE]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    assert app.disabled == {GUEST[1]}
    assert trail(logs) == [(GUEST[0], DISABLE, "disabled", None), (GUEST[0], REVOKE, "revoked", True)]
    if trigger == "http":
        assert [(r["outcome"], r["detail"]) for r in run.body["results"]] == [("contained", None)]


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_user_whose_kind_cannot_be_learned_is_not_reported_contained_by_revocation(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    """The look-up is refused (the identity lacks User.ReadBasic.All): sessions revoked, verdict withheld."""
    app.inject(Fault(status=403, match=is_lookup_by_filter, times=None))

    run = contain(trigger, {"users": [MEGAN[1]]})

    assert run.answer == expected(trigger, http=207, queue="complete")
    assert app.revocations == {MEGAN[1]: 1}
    assert trail(logs) == [(MEGAN[1], REVOKE, "revoked", False)]
    if trigger == "http":
        [result] = run.body["results"]
        assert result["outcome"] == "not_contained"
        assert result["detail"].startswith("could not tell whether the user is external")


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": f"{REVOKE},{DISABLE}"}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_synced_account_disabled_in_entra_id_alone_is_not_contained_and_the_answer_says_where_to_do_it(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    """Graph accepts the disable; the next directory sync would undo it (tests/test_hybrid.py has the rest)."""
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)

    run = contain(trigger, {"users": [synced.object_id, MEGAN[1]]})

    assert run.answer == expected(trigger, http=207, queue="complete")
    assert app.disabled == {synced.object_id, MEGAN[1]}
    assert app.revocations == {synced.object_id: 1, MEGAN[1]: 1}
    disabled = event(logs, synced.object_id, DISABLE)
    assert (disabled["outcome"], disabled["graphStatus"]) == ("disabled", 204)
    verdict = event(logs, synced.object_id, REVOKE)
    assert verdict["contained"] is False
    assert "until the next directory sync" in verdict["detail"] and "REVOKE_ONPREM_ACTIONS" in verdict["detail"]
    if trigger == "http":
        result, megan = run.body["results"]
        assert actions_of(result) == [(DISABLE, "disabled"), (REVOKE, "revoked")]
        assert (result["outcome"], result["detail"]) == ("not_contained", verdict["detail"])
        assert megan["outcome"] == "contained"
    app.directory_sync()
    assert app.disabled == {MEGAN[1]}  # what the verdict foresaw


@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_confirming_a_user_named_by_upn_looks_up_the_object_id_first(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    run = contain(trigger, {"users": [ADELE[0]], "actions": [CONFIRM]})

    assert run.answer == expected(trigger, http=207, queue="complete")  # confirmation alone contains nobody
    assert sent(app) == [lookup_call(ADELE[0]), confirm_call(ADELE[1])]
    assert app.confirmed_compromised == {ADELE[1]: 1}
    assert trail(logs) == [(ADELE[0], CONFIRM, "confirmed", False)]


@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize(
    ("status", "outcome", "http"), [(503, "deferred", 503), (403, "failed", 502)], ids=["503 throughout", "403"]
)
def test_a_failed_look_up_for_confirming_sends_no_confirmation(
    app: GraphSimulator, logs: LogCapture, trigger: str, status: int, outcome: str, http: int
) -> None:
    app.inject(Fault(status=status, match=is_lookup_by_filter, times=None))

    run = contain(trigger, {"users": [ADELE[0]], "actions": [REVOKE, CONFIRM]})

    assert run.answer == expected(trigger, http=http, queue="retry" if outcome == "deferred" else "poison")
    assert app.revocations == {ADELE[1]: 1} and app.confirmed_compromised == {}
    assert not any(path.endswith("/confirmCompromised") for _, path, _ in sent(app))
    looked_up = event(logs, ADELE[0], CONFIRM)
    assert (looked_up["outcome"], looked_up["graphStatus"], looked_up["contained"]) == (outcome, status, False)
    assert looked_up["detail"].startswith("could not find the user's object id: ")


@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_confirming_without_the_p2_licence_fails(app: GraphSimulator, logs: LogCapture, trigger: str) -> None:
    app.licensed_for_risk = False

    run = contain(trigger, {"users": [ADELE[0]], "actions": [REVOKE, CONFIRM]})

    assert run.answer == expected(trigger, http=502, queue="poison")
    assert app.revocations == {ADELE[1]: 1} and app.confirmed_compromised == {}
    assert sent(app)[-1] == confirm_call(ADELE[1])
    refused = event(logs, ADELE[0], CONFIRM)
    assert (refused["outcome"], refused["graphStatus"], refused["detail"]) == ("failed", 403, "Forbidden")
    if trigger == "http":
        [result] = run.body["results"]
        assert (result["outcome"], result["detail"]) == ("failed", "confirmCompromised: Forbidden")


@pytest.mark.parametrize("settings", [EVERY_ACTION])
@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize(
    ("ghost", "actions", "first_calls"),
    [
        ("ghost@contoso.com", [REVOKE, CONFIRM], [revoke_call("ghost@contoso.com"), lookup_call("ghost@contoso.com")]),
        # With disableAccount every target is looked up (is it synced?), both in one request.
        ("0f0e0d0c-0b0a-4908-8706-050403020100", [DISABLE, CONFIRM], [disable_call("0f0e0d0c-0b0a-4908-8706-050403020100"), lookup_call("0f0e0d0c-0b0a-4908-8706-050403020100", MEGAN[1])]),
        ("ghost@contoso.com", [CONFIRM], [lookup_call("ghost@contoso.com")]),
    ],
    ids=["revoke first", "disable first", "confirm's look-up"],
)  # fmt: skip
def test_a_user_graph_does_not_know_gets_no_further_action(
    app: GraphSimulator,
    logs: LogCapture,
    trigger: str,
    ghost: str,
    actions: list[str],
    first_calls: list[tuple[str, str, Any]],
) -> None:
    """The look-up confirmCompromised needs goes out beside the first containing call."""
    run = contain(trigger, {"users": [ghost, MEGAN[1]], "actions": actions})

    assert run.answer == expected(trigger, http=207, queue="complete")
    assert unordered([call for call in sent(app) if ghost in call[1]]) == unordered(first_calls)
    assert [(a, o) for a, o, _ in by_user(logs)[ghost]] == [(action, "not_found") for action in actions]
    assert by_user(logs)[ghost][-1][2] is False
    assert by_user(logs)[MEGAN[1]][-1][1] == DONE[actions[-1]]
    if trigger == "http":
        assert run.body["results"][0]["outcome"] == "not_found"


# --- many users: JSON batches ------------------------------------------------------------
@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_MAX_USERS": "100"}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_many_users_are_disabled_in_batches_of_twenty(app: GraphSimulator, logs: LogCapture, trigger: str) -> None:
    app.shuffle_batch_responses = True
    people = [app.add_user(f"person{n:02}@contoso.com").object_id for n in range(45)]
    app.inject(fault_for(DISABLE, status=429, headers={"Retry-After": "1"}))  # one item, once

    run = contain(trigger, {"users": people, "actions": [DISABLE]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    envelopes = [json.loads(r.body) for r in app.graph_requests() if r.path.endswith("/$batch")]
    # The disables in three batches; beside them the look-ups (is each synced?), 15 users a request, in one.
    assert sorted(len(e["requests"]) for e in envelopes) == [3, 5, 20, 20]
    [throttled] = [e["user"] for e in logs.audit_events() if e["attempts"] == 2]
    calls = [call for call in sent(app) if call[0] == "PATCH"]
    assert sorted(path.rsplit("/", 1)[-1] for _, path, _ in calls) == sorted([*people, throttled])
    assert app.disabled == set(people)
    assert sorted(user for user, _, outcome, _ in trail(logs) if outcome == "disabled") == sorted(people)
    if trigger == "http":
        assert [r["user"] for r in run.body["results"]] == people


@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_MAX_USERS": "100"}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_many_users_are_confirmed_in_one_call(app: GraphSimulator, logs: LogCapture, trigger: str) -> None:
    """Identity Protection allows one request per second per tenant: the API takes a list, so one call."""
    people = [app.add_user(f"person{n:02}@contoso.com").object_id for n in range(45)]

    run = contain(trigger, {"users": people, "actions": [CONFIRM]})

    assert run.answer == expected(trigger, http=207, queue="complete")
    assert sent(app) == [confirm_call(*people)]
    assert app.confirmed_compromised == dict.fromkeys(people, 1)
    assert sorted(user for user, _, outcome, _ in trail(logs) if outcome == "confirmed") == sorted(people)


# --- the audit trail ----------------------------------------------------------------------
@pytest.mark.parametrize("settings", [{**EVERY_ACTION, "REVOKE_PROTECTED_USERS": MEGAN[0]}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_one_event_per_target_per_action_and_only_the_last_carries_the_verdict(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    app.inject(fault_for(CONFIRM, status=403, times=None))

    contain(trigger, {"users": [ADELE[1], MEGAN[0], GUEST[0]], "actions": [REVOKE, CONFIRM], "correlationId": "c-1"})

    assert by_user(logs) == {
        ADELE[1]: [(REVOKE, "revoked", None), (CONFIRM, "failed", False)],
        MEGAN[0]: [(REVOKE, "refused", None), (CONFIRM, "refused", False)],
        GUEST[0]: [(REVOKE, "revoked", None), (CONFIRM, "failed", False)],
    }
    assert {(e["trigger"], e["correlationId"]) for e in logs.audit_events()} == {(trigger, "c-1")}


# --- the CLI ------------------------------------------------------------------------------
@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": f"{REVOKE},{DISABLE}"}])
def test_the_cli_exit_code_follows_the_verdict_not_graphs_answer(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Graph revokes the guest's sessions both times; only the disable makes the exit code 0."""
    assert main(["revoke", "--user", GUEST[0], "--action", REVOKE, "--json"]) == EXIT_NOT_ALL_CONTAINED
    assert json.loads(capsys.readouterr().out)["results"][0]["outcome"] == "not_contained"
    assert app.revocations == {GUEST[1]: 1} and app.disabled == set()

    assert main(["revoke", "--user", GUEST[0], "--action", REVOKE, "--action", DISABLE, "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["results"][0]["outcome"] == "contained"
    assert app.disabled == {GUEST[1]}


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": f"{REVOKE},{DISABLE}"}])
def test_the_cli_exit_code_for_each_kind_of_verdict(app: GraphSimulator) -> None:
    assert main(["revoke", "--user", ADELE[0], "--action", DISABLE]) == EXIT_OK
    assert main(["revoke", "--user", GUEST[0], "--dry-run"]) == EXIT_OK
    assert main(["revoke", "--user", MEGAN[0], "--action", CONFIRM]) == EXIT_USAGE  # not allowed here
    assert main(["revoke", "--user", MEGAN[0], "--action", "lockAccount"]) == EXIT_USAGE
    app.inject(fault_for(DISABLE, status=503, times=None))
    assert main(["revoke", "--user", MEGAN[0]]) == EXIT_TRANSIENT
    assert app.disabled == {ADELE[1]}


@pytest.mark.parametrize("settings", [EVERY_ACTION])
def test_the_cli_takes_only_the_actions_asked_for_whatever_the_payload(app: GraphSimulator) -> None:
    """A Sentinel incident carries no "actions"; --action still narrows what is done to its accounts."""
    incident = str(SAMPLES / "sentinel-incident.json")

    assert main(["revoke", "--payload", incident, "--action", REVOKE]) == EXIT_NOT_ALL_CONTAINED  # the guest

    assert app.revocations.keys() == {ADELE[1], GUEST[1]}
    assert app.disabled == set() and app.confirmed_compromised == {}
    assert main(["revoke", "--payload", incident, "--action", "lockAccount"]) == EXIT_USAGE


@pytest.mark.parametrize(
    ("outcomes", "deciding"),
    [
        ((Outcome.REVOKED, Outcome.DISABLED), None),
        ((Outcome.NOT_FOUND, Outcome.FAILED, Outcome.DEFERRED), 2),
        ((Outcome.FAILED, Outcome.REVOKED, Outcome.FAILED), 0),
        ((Outcome.REFUSED, Outcome.NOT_FOUND), 0),
        ((Outcome.REVOKED, Outcome.NOT_FOUND, Outcome.REFUSED), 2),
    ],
)
def test_the_most_pressing_record_is_the_first_of_the_most_urgent_outcome(
    outcomes: tuple[Outcome, ...], deciding: int | None
) -> None:
    """Deferred, then failed, then refused, then not found: what a responder must act on first."""
    records = [ActionRecord(f"step{n}", ActionResult(outcome)) for n, outcome in enumerate(outcomes)]

    found = most_pressing(records)

    assert found is (None if deciding is None else records[deciding])
