"""REVOKE_ACTION_BUDGET: never more targets per action per rolling hour than the tenant allows.

The budget lives in Table Storage; here that is Azurite, the real emulator, reached by the
real azure-data-tables client, from one process or from several at once.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.data.tables import TableClient, TableServiceClient

from graphsim import GraphSimulator
from graphsim.azurite import Azurite
from graphsim.harness import CapturedOut, LogCapture, app_settings, health_request, http_request, queue_message
from revoke.actions import ContainmentAction
from revoke.app.triggers import health_http, revoke_http, revoke_queue
from revoke.deadline import Deadline
from revoke.errors import BudgetUnavailable, RetryLater
from revoke.policy.budget import TABLE_NAME, ActionBudget
from revoke.settings import Settings
from tests import budget_worker
from tests.conftest import ADELE, LEE, MEGAN, body_of

REVOKE = ContainmentAction.REVOKE_SESSIONS
WHOLE_BUDGET = {"REVOKE_QUEUE_BUDGET_SHARE": "0"}


@pytest.fixture
def store(azurite: Azurite) -> Iterator[str]:
    """Azurite's connection string, with the budget's table emptied: each test starts with a full budget."""
    TableServiceClient.from_connection_string(azurite.connection_string).delete_table(TABLE_NAME)
    yield azurite.connection_string


@pytest.fixture
def settings(store: str) -> dict[str, str]:
    # The share kept for the request queue is off here: these tests are about the count itself
    # (tests/test_budget_accounting.py has the share).
    return {"REVOKE_ACTION_BUDGET": "revokeSignInSessions=2", "AzureWebJobsStorage": store, **WHOLE_BUDGET}


def outcomes(response: Any) -> list[str]:
    return [result["outcome"] for result in body_of(response)["results"]]


def test_targets_beyond_the_budget_are_refused_naming_it_and_when_it_frees_up(
    app: GraphSimulator, logs: LogCapture
) -> None:
    response = revoke_http(http_request({"users": [ADELE[0], MEGAN[0], LEE[0]]}))

    assert response.status_code == 207
    assert outcomes(response) == ["contained", "contained", "refused"]
    assert dict(app.revocations) == {ADELE[1]: 1, MEGAN[1]: 1}
    refused = body_of(response)["results"][2]["detail"]
    assert "REVOKE_ACTION_BUDGET" in refused and "2 targets per rolling hour" in refused
    frees_at = datetime.strptime(refused.rsplit(" ", 1)[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 60 * 60 <= (frees_at - datetime.now(UTC)).total_seconds() <= 62 * 60
    events = logs.audit_events()
    # The refusal is decided, and audited, before the others are sent.
    assert [(e["user"], e["outcome"]) for e in events] == [
        (LEE[0], "refused"),
        (ADELE[0], "revoked"),
        (MEGAN[0], "revoked"),
    ]
    assert refused == f"revokeSignInSessions: {events[0]['detail']}" and events[0]["contained"] is False


def test_a_request_wholly_over_the_budget_is_422_and_sends_nothing(app: GraphSimulator) -> None:
    assert revoke_http(http_request({"users": [ADELE[0], MEGAN[0]]})).status_code == 200
    sent = len(app.graph_requests())

    response = revoke_http(http_request({"users": [LEE[0]]}))

    assert (response.status_code, body_of(response)["error"]["code"]) == (422, "refused_by_policy")
    assert "REVOKE_ACTION_BUDGET" in body_of(response)["error"]["message"]
    assert len(app.graph_requests()) == sent


def test_both_triggers_draw_on_one_budget_and_a_refused_queue_message_is_kept_as_poison(app: GraphSimulator) -> None:
    assert revoke_http(http_request({"users": [ADELE[0]]})).status_code == 200
    message = {"users": [MEGAN[0], LEE[0]]}
    poison = CapturedOut()

    revoke_queue(queue_message(message), poison)

    assert dict(app.revocations) == {ADELE[1]: 1, MEGAN[1]: 1}
    assert json.loads(poison.get()) == message  # unchanged, for a person to replay once it frees up


def test_a_dry_run_draws_nothing(app: GraphSimulator) -> None:
    for _ in range(3):
        assert revoke_http(http_request({"users": [ADELE[0], MEGAN[0]], "dryRun": True})).status_code == 200

    assert outcomes(revoke_http(http_request({"users": [ADELE[0], MEGAN[0]]}))) == ["contained", "contained"]


@pytest.mark.parametrize(
    "settings",
    [
        {
            "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount",
            "REVOKE_ACTION_BUDGET": "disableAccount=1",
            **WHOLE_BUDGET,
        }
    ],
)
def test_each_action_has_its_own_budget(settings: dict[str, str], store: str, app: GraphSimulator) -> None:
    with app_settings({"AzureWebJobsStorage": store}):
        response = revoke_http(http_request({"users": [ADELE[0], MEGAN[0]]}))

    assert dict(app.revocations) == {ADELE[1]: 1, MEGAN[1]: 1}
    assert app.disabled == {ADELE[1]}
    megan = body_of(response)["results"][1]
    assert [(a["action"], a["outcome"]) for a in megan["actions"]] == [
        ("disableAccount", "refused"),
        ("revokeSignInSessions", "revoked"),
    ]


# --- fail closed ---------------------------------------------------------------------------------

UNREACHABLE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=aGVsbG8=;"
    "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
)


@pytest.mark.parametrize(
    "settings",
    [
        {"REVOKE_ACTION_BUDGET": "revokeSignInSessions=5", "AzureWebJobsStorage": UNREACHABLE},
        {"REVOKE_ACTION_BUDGET": "revokeSignInSessions=5", "AzureWebJobsStorage": ""},
    ],
    ids=["unreachable", "not configured"],
)
def test_when_the_store_cannot_be_reached_targets_are_deferred_and_nothing_is_sent(
    app: GraphSimulator, logs: LogCapture
) -> None:
    response = revoke_http(http_request({"users": [ADELE[0], MEGAN[0]]}))

    assert response.status_code == 503
    assert outcomes(response) == ["deferred", "deferred"]
    assert app.revocations == {} and [r for r in app.graph_requests() if "revoke" in r.path.lower()] == []
    assert all("action budget" in e["detail"] for e in logs.audit_events())
    health = health_http(health_request())
    assert health.status_code == 503
    [check] = [c for c in body_of(health)["checks"] if c["name"] == "actionBudget"]
    assert check["ok"] is False and "deferred" in check["detail"]
    assert "aGVsbG8=" not in logs.text()  # the connection string's account key


def test_health_reports_a_reachable_budget(app: GraphSimulator) -> None:
    body = body_of(health_http(health_request()))

    assert {c["name"]: c["ok"] for c in body["checks"]}["actionBudget"] is True
    assert not any("REVOKE_ACTION_BUDGET" in warning for warning in body["warnings"])


# --- the rolling hour, by the minute ------------------------------------------------------------


def test_units_free_up_an_hour_after_their_minute(store: str) -> None:
    now = [datetime(2026, 12, 6, 10, 0, 30, tzinfo=UTC).timestamp()]
    settings = Settings.from_environment({"REVOKE_ACTION_BUDGET": "revokeSignInSessions=3", **WHOLE_BUDGET})
    budget = ActionBudget(settings, lambda: TableClient.from_connection_string(store, TABLE_NAME), lambda: now[0])

    assert budget.reserve(REVOKE, 2, Deadline(10)).granted == 2
    now[0] += 30 * 60
    assert budget.reserve(REVOKE, 2, Deadline(10)).granted == 1
    now[0] += 29 * 60  # 10:59:30: both minutes still count
    full = budget.reserve(REVOKE, 1, Deadline(10))
    assert (full.granted, full.frees_at) == (0, datetime(2026, 12, 6, 11, 1, tzinfo=UTC))
    now[0] += 60  # 11:00:30: the 10:00 minute is held until an hour after it ended
    assert budget.reserve(REVOKE, 1, Deadline(10)).granted == 0
    now[0] += 30  # 11:01:00: it has left the window
    assert budget.reserve(REVOKE, 5, Deadline(10)).granted == 2


def test_an_entity_the_budget_cannot_read_spends_the_hour(store: str) -> None:
    table = TableClient.from_connection_string(store, TABLE_NAME)
    table.create_table()
    table.create_entity({"PartitionKey": "budget", "RowKey": REVOKE.value, "minutes": "not json"})
    settings = Settings.from_environment({"REVOKE_ACTION_BUDGET": "revokeSignInSessions=3", **WHOLE_BUDGET})

    assert ActionBudget(settings, lambda: table).reserve(REVOKE, 1, Deadline(10)).granted == 0


def test_no_time_left_is_unavailable_not_granted(store: str) -> None:
    settings = Settings.from_environment({"REVOKE_ACTION_BUDGET": "revokeSignInSessions=3", **WHOLE_BUDGET})
    budget = ActionBudget(settings, lambda: TableClient.from_connection_string(store, TABLE_NAME))

    with pytest.raises(BudgetUnavailable):
        budget.reserve(REVOKE, 1, Deadline(0))


# --- several processes, one budget ---------------------------------------------------------------

PROCESSES = 4
BUDGET = 5


def test_processes_racing_for_one_budget_send_exactly_the_budget_and_never_more(
    graph: GraphSimulator, store: str
) -> None:
    names = [f"user{i}@contoso.com" for i in range(PROCESSES * 3)]
    graph.add_users(names)
    environment = {
        **graph.environment(),
        "REVOKE_ACTION_BUDGET": f"revokeSignInSessions={BUDGET}",
        "AzureWebJobsStorage": store,
        "REVOKE_CALLER_AUTH": "key",
        "REVOKE_RETRY_BUDGET_SECONDS": "30",
        **WHOLE_BUDGET,
    }
    context = multiprocessing.get_context("spawn")  # fresh interpreters: nothing shared but the store
    start = context.Barrier(PROCESSES)
    answers_queue = context.Queue()
    workers = [
        context.Process(
            target=budget_worker.contain, args=(environment, names[i * 3 : i * 3 + 3], start, answers_queue)
        )
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    try:
        answers = [answers_queue.get(timeout=120) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()

    # A process whose every target was refused answers 422 refused_by_policy, without results.
    results = [result for _, body in answers for result in body.get("results", [])]
    wholly_refused = [body for status, body in answers if status == 422]
    assert all(body["error"]["code"] == "refused_by_policy" for body in wholly_refused)
    revoked = [r["user"] for r in results if r["outcome"] == "contained"]
    assert len(revoked) == BUDGET
    assert sum(graph.revocations.values()) == BUDGET
    assert {graph.find_user(name).object_id for name in revoked} == set(graph.revocations)  # type: ignore[union-attr]
    refused = [r for r in results if r["outcome"] == "refused"]
    assert len(refused) + 3 * len(wholly_refused) == PROCESSES * 3 - BUDGET


def test_the_budget_keeps_to_one_table_of_its_own_in_the_host_account(store: str) -> None:
    other = "t" + uuid.uuid4().hex[:12]
    service = TableServiceClient.from_connection_string(store)
    service.create_table(other)
    settings = Settings.from_environment({"REVOKE_ACTION_BUDGET": "revokeSignInSessions=3", **WHOLE_BUDGET})
    ActionBudget(settings, lambda: TableClient.from_connection_string(store, TABLE_NAME)).reserve(
        REVOKE, 1, Deadline(10)
    )

    assert list(service.get_table_client(other).list_entities()) == []
    assert [e["RowKey"] for e in service.get_table_client(TABLE_NAME).list_entities()] == [REVOKE.value]


class _Stall:
    """A loopback port that accepts connections and never answers: a storage front end that hangs."""

    def __init__(self) -> None:
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.port = self._server.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                continue
            self._held.append(connection)

    def close(self) -> None:
        self._stop.set()
        for connection in self._held:
            connection.close()
        self._server.close()


@pytest.fixture
def stalled_store() -> Iterator[str]:
    stall = _Stall()
    try:
        yield (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=aGVsbG8=;"
            f"TableEndpoint=http://127.0.0.1:{stall.port}/devstoreaccount1;"
        )
    finally:
        stall.close()


def test_a_store_that_stalls_defers_within_the_invocations_deadline(
    stalled_store: str, graph: GraphSimulator, logs: LogCapture
) -> None:
    environment = {
        **graph.environment(),
        "REVOKE_ACTION_BUDGET": "revokeSignInSessions=5",
        "AzureWebJobsStorage": stalled_store,
        "REVOKE_RETRY_BUDGET_SECONDS": "3",
    }
    with app_settings(environment):
        started = time.monotonic()
        response = revoke_http(http_request({"users": [ADELE[0]]}))
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert outcomes(response) == ["deferred"]
    assert app_revocations_none(graph)
    assert elapsed < 15  # the stall would hold it forever; the budget is 3 s (generous margin for a busy CI)


def app_revocations_none(graph: GraphSimulator) -> bool:
    return graph.revocations == {} and not [r for r in graph.graph_requests() if "revoke" in r.path.lower()]


@pytest.mark.parametrize(
    "settings", [{"REVOKE_ACTION_BUDGET": "revokeSignInSessions=5", "AzureWebJobsStorage": UNREACHABLE}]
)
def test_a_queue_message_whose_budget_cannot_be_reached_is_delivered_again(app: GraphSimulator) -> None:
    poison = CapturedOut()

    with pytest.raises(RetryLater):
        revoke_queue(queue_message({"users": [ADELE[0]]}), poison)

    assert poison.value is None
    assert app.revocations == {}
