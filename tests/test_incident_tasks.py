"""Incident tasks for what a person must finish, through both triggers against the simulated ARM.

A synced user whose Active Directory account was not disabled, a guest whose home tenant must
contain them, an account Graph refused to disable: each gets one task on the incident, named for
the user and the step, with an id that is the same on every delivery and every request.
"""

from __future__ import annotations

from typing import Any

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.harness import LogCapture, app_settings, http_request
from revoke.app.triggers import revoke_http
from revoke.containment.handoff import CONTAIN_IN_HOME_TENANT, DISABLE_BY_HAND, DISABLE_IN_ACTIVE_DIRECTORY
from revoke.incidents import task_id
from revoke.sentinel.incident_comment import DEFAULT_API_VERSION
from revoke.sentinel.incident_tasks import MAX_TASKS_PER_INCIDENT, TASK_API_VERSION
from tests.conftest import ADELE, GUEST, MEGAN, body_of
from tests.test_actions import TRIGGERS, contain, expected
from tests.test_incident_comment_flow import INCIDENT, NORMALISED, WORKSPACE, lines_of


@pytest.fixture
def settings(graph: GraphSimulator) -> dict[str, str]:
    return {
        "REVOKE_SENTINEL_WORKSPACE": WORKSPACE,
        "REVOKE_ARM_ENDPOINT": graph.arm_url,
        "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount",
    }


def tasks_of(graph: GraphSimulator) -> dict[str, dict[str, Any]]:
    """Each task on the incident by its id, as last written."""
    return {task: puts[-1] for (incident, task), puts in graph.tasks.items() if incident == NORMALISED.lower()}


def task_events(logs: LogCapture) -> list[tuple[str, str]]:
    return [(e["user"], e["outcome"]) for e in logs.audit_events() if e["action"] == "incidentTask"]


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_synced_user_without_the_on_premises_action_gets_a_task_naming_the_account(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)
    request = {"users": [synced.user_principal_name, ADELE[0]], "incidentId": INCIDENT, "correlationId": "soc-1"}

    run = contain(trigger, request)

    assert run.answer == expected(trigger, http=207, queue="complete")
    expected_id = task_id(NORMALISED, synced.user_principal_name, DISABLE_IN_ACTIVE_DIRECTORY)
    [(name, task)] = tasks_of(app).items()
    assert name == expected_id
    assert task["title"] == f"Disable corp.contoso.com\\pradeep.gupta, SID {synced.on_premises_sid} in Active Directory"
    assert "REVOKE_ONPREM_ACTIONS is not set" in task["description"] and task["status"] == "New"
    # The comments' stable version serves tasks too (they need 2024-03-01 or later).
    assert DEFAULT_API_VERSION >= TASK_API_VERSION
    tasks_sent = [r.path.split("?")[1] for r in app.arm_requests if "/tasks/" in r.path]
    assert tasks_sent == [f"api-version={DEFAULT_API_VERSION}"]
    assert task_events(logs) == [(synced.user_principal_name, "created")]
    if trigger == "http":
        assert run.body["incidentTasks"] == {"wanted": 1, "created": 1, "notCreated": [], "overLimit": 0}
    [message] = next(iter(app.comments.values()))[-1:]
    assert "Tasks for a person: 1 of 1 added to this incident." in lines_of(message)


def test_a_retry_or_a_second_request_updates_the_same_task(app: GraphSimulator, logs: LogCapture) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)

    for correlation in ("soc-1", "soc-1", "soc-2"):
        revoke_http(http_request({"users": [synced.object_id], "incidentId": INCIDENT, "correlationId": correlation}))

    [(key, puts)] = app.tasks.items()
    assert key == (NORMALISED.lower(), task_id(NORMALISED, synced.object_id, DISABLE_IN_ACTIVE_DIRECTORY))
    assert len(puts) == 3
    assert [status for _, status in task_events(logs)] == ["created"] * 3
    statuses = [e["graphStatus"] for e in logs.audit_events() if e["action"] == "incidentTask"]
    assert statuses == [201, 200, 200]


def test_a_guest_gets_a_task_for_their_home_tenant_and_a_refused_disable_one_for_a_person(
    app: GraphSimulator, logs: LogCapture
) -> None:
    app.inject(Fault(status=403, method="PATCH", match=lambda path: path == f"/v1.0/users/{MEGAN[1]}", times=None))

    response = revoke_http(http_request({"users": [GUEST[0], MEGAN[1]], "incidentId": INCIDENT}))

    assert response.status_code == 207
    by_step = {(task["title"]): task for task in tasks_of(app).values()}
    assert set(tasks_of(app)) == {
        task_id(NORMALISED, GUEST[0], CONTAIN_IN_HOME_TENANT),
        task_id(NORMALISED, MEGAN[1], DISABLE_BY_HAND),
    }
    assert "home tenant" in by_step[f"Ask {GUEST[0]}'s home tenant to contain the account"]["description"]
    by_hand = by_step[f"Disable {MEGAN[1]} by hand"]["description"]
    assert "HTTP 403" in by_hand and "Authorization_RequestDenied" in by_hand
    assert sorted(task_events(logs)) == sorted([(GUEST[0], "created"), (MEGAN[1], "created")])


def test_a_contained_cloud_member_needs_no_task(app: GraphSimulator, logs: LogCapture) -> None:
    response = revoke_http(http_request({"users": [ADELE[0]], "incidentId": INCIDENT}))

    assert response.status_code == 200
    assert app.tasks == {} and task_events(logs) == []
    assert "incidentTasks" not in body_of(response)


def test_an_incident_holds_at_most_forty_tasks_and_the_comment_says_so(app: GraphSimulator, logs: LogCapture) -> None:
    guests = [
        app.add_user(f"guest{n:02}_fabrikam.com#EXT#@contoso.onmicrosoft.com").user_principal_name for n in range(42)
    ]

    with app_settings({"REVOKE_MAX_USERS": "50"}):
        response = revoke_http(http_request({"users": guests, "incidentId": INCIDENT}))

    assert len(app.tasks) == MAX_TASKS_PER_INCIDENT
    assert body_of(response)["incidentTasks"] == {"wanted": 42, "created": 40, "notCreated": [], "overLimit": 2}
    assert sorted(outcome for _, outcome in task_events(logs)) == ["created"] * 40 + ["skipped"] * 2
    [message] = next(iter(app.comments.values()))
    assert "Tasks for a person: 40 of 42 added to this incident. 2 not added: an incident holds at most 40 tasks." in (
        lines_of(message)
    )


def test_a_task_arm_refuses_is_reported_and_changes_no_verdict(app: GraphSimulator, logs: LogCapture) -> None:
    app.inject_arm(Fault(status=403, match=lambda path: "/tasks/" in path, times=None))

    response = revoke_http(http_request({"users": [GUEST[0]], "incidentId": INCIDENT}))

    assert response.status_code == 200  # the guest is contained here: the task is a courtesy
    tasks = body_of(response)["incidentTasks"]
    assert (tasks["created"], tasks["notCreated"][0].split(": ")[-1]) == (0, "Authorization_RequestDenied")
    assert task_events(logs) == [(GUEST[0], "failed")]


def test_no_task_on_an_incident_of_another_workspace(app: GraphSimulator, logs: LogCapture) -> None:
    other = INCIDENT.replace("/workspaces/soc-workspace/", "/workspaces/other-workspace/")

    response = revoke_http(http_request({"users": [GUEST[0]], "incidentId": other}))

    assert response.status_code == 200
    assert app.tasks == {} and app.arm_requests == []
    assert task_events(logs) == [(GUEST[0], "skipped")]


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": "revokeSignInSessions,disableAccount"}])
def test_without_comments_no_task_is_written(app: GraphSimulator, logs: LogCapture) -> None:
    response = revoke_http(http_request({"users": [GUEST[0]], "incidentId": INCIDENT}))

    assert response.status_code == 200
    assert app.arm_requests == [] and task_events(logs) == []
