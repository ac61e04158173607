"""What REVOKE_ACTION_BUDGET counts, and when a unit frees: only what reached Graph for a user it
knows; never less than an hour, whatever the instances' clocks say; room kept for the request queue
(Sentinel incidents) that no HTTP caller can spend; a table that went missing is made again.

The budget lives in Azurite's Table Storage, read and written by the real azure-data-tables client.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.data.tables import (
    AccountSasPermissions,
    ResourceTypes,
    TableClient,
    TableServiceClient,
    generate_account_sas,
)

from graphsim import Fault, GraphSimulator
from graphsim.azurite import Azurite
from graphsim.harness import CapturedOut, app_settings, health_request, http_request, queue_message
from revoke.actions import ContainmentAction
from revoke.app.triggers import health_http, revoke_http, revoke_queue
from revoke.deadline import Deadline
from revoke.policy.budget import TABLE_NAME, ActionBudget
from revoke.settings import Settings
from tests.conftest import ADELE, LEE, MEGAN, NESTOR, body_of

REVOKE = ContainmentAction.REVOKE_SESSIONS.value


@pytest.fixture
def store(azurite: Azurite) -> Iterator[str]:
    """Azurite's connection string, with the budget's table emptied: each test starts with a full budget."""
    TableServiceClient.from_connection_string(azurite.connection_string).delete_table(TABLE_NAME)
    yield azurite.connection_string


def outcomes(response: object) -> list[str]:
    return [result["outcome"] for result in body_of(response)["results"]]


def budget_at(store: str, limit: int, now: list[float]) -> ActionBudget:
    settings = Settings.from_environment(
        {"REVOKE_ACTION_BUDGET": f"{REVOKE}={limit}", "REVOKE_QUEUE_BUDGET_SHARE": "0"}
    )
    return ActionBudget(settings, lambda: TableClient.from_connection_string(store, TABLE_NAME), lambda: now[0])


def at(hour: int, minute: int, second: int) -> float:
    return datetime(2026, 12, 6, hour, minute, second, tzinfo=UTC).timestamp()


# --- a unit frees an hour after its minute ends, never earlier --------------------------------------
def test_a_unit_reserved_in_a_minutes_last_second_frees_when_the_next_hours_minute_ends(store: str) -> None:
    now = [at(10, 0, 59)]
    budget = budget_at(store, 1, now)
    assert budget.reserve(REVOKE, 1, Deadline(10)).granted == 1

    now[0] = at(11, 0, 30)  # 59.5 minutes later: still held
    held = budget.reserve(REVOKE, 1, Deadline(10))
    assert (held.granted, held.frees_at) == (0, datetime(2026, 12, 6, 11, 1, tzinfo=UTC))
    now[0] = at(11, 1, 0)
    assert budget.reserve(REVOKE, 1, Deadline(10)).granted == 1


# --- instances whose clocks differ by seconds across a minute boundary ------------------------------
def test_an_instance_a_few_seconds_behind_neither_overspends_nor_erases_the_others_units(store: str) -> None:
    ahead, behind = [at(10, 1, 1)], [at(10, 0, 58)]  # the same instant, 3 s apart
    first, second = budget_at(store, 3, ahead), budget_at(store, 3, behind)

    assert first.reserve(REVOKE, 2, Deadline(10)).granted == 2
    assert second.reserve(REVOKE, 2, Deadline(10)).granted == 1  # sees the minute written "in its future"
    assert first.reserve(REVOKE, 1, Deadline(10)).granted == 0  # and kept it: the hour holds 3
    entity = TableClient.from_connection_string(store, TABLE_NAME).get_entity("budget", REVOKE)
    assert sum(json.loads(entity["minutes"]).values()) == 3


# --- only what was sent to a user Graph knows is charged -------------------------------------------
@pytest.mark.parametrize("settings", [{"REVOKE_ACTION_BUDGET": f"{REVOKE}=2", "REVOKE_QUEUE_BUDGET_SHARE": "0"}])
def test_tries_during_an_identity_outage_spend_nothing(
    settings: dict[str, str], store: str, app: GraphSimulator
) -> None:
    app.inject(Fault(status=500, identity=True, times=None))
    with app_settings({"AzureWebJobsStorage": store}):
        for _ in range(3):
            assert outcomes(revoke_http(http_request({"users": [ADELE[0], MEGAN[0]]}))) == ["deferred", "deferred"]
    app.clear_faults()
    with app_settings({"AzureWebJobsStorage": store}):  # another instance, once the endpoint answers
        response = revoke_http(http_request({"users": [ADELE[0], MEGAN[0]]}))

    assert outcomes(response) == ["contained", "contained"]


@pytest.mark.parametrize("settings", [{"REVOKE_ACTION_BUDGET": f"{REVOKE}=4", "REVOKE_MAX_USERS": "50"}])
def test_made_up_users_spend_nothing_and_the_next_incident_is_contained(
    settings: dict[str, str], store: str, app: GraphSimulator
) -> None:
    """Forty object ids no user has, from a caller holding only the revocation role: Graph answers 404 for each."""
    made_up = [str(uuid.uuid4()) for _ in range(40)]
    with app_settings({"AzureWebJobsStorage": store}):
        flood = revoke_http(http_request({"users": made_up}))
        assert set(outcomes(flood)) <= {"not_found", "refused"}
        assert outcomes(revoke_http(http_request({"users": [ADELE[0], MEGAN[0]]}))) == ["contained", "contained"]
        poison = CapturedOut()
        revoke_queue(queue_message({"users": [LEE[0]]}), poison)

    assert poison.value is None
    assert dict(app.revocations) == {ADELE[1]: 1, MEGAN[1]: 1, LEE[1]: 1}


# --- room kept for the request queue ---------------------------------------------------------------
@pytest.mark.parametrize("settings", [{"REVOKE_ACTION_BUDGET": f"{REVOKE}=4", "REVOKE_QUEUE_BUDGET_SHARE": "0.25"}])
def test_http_callers_cannot_spend_the_share_kept_for_the_request_queue(
    settings: dict[str, str], store: str, app: GraphSimulator
) -> None:
    with app_settings({"AzureWebJobsStorage": store}):
        burst = revoke_http(http_request({"users": [ADELE[0], MEGAN[0], LEE[0], NESTOR[0]]}))
        poison = CapturedOut()
        revoke_queue(queue_message({"users": [NESTOR[0]]}), poison)

    assert outcomes(burst) == ["contained", "contained", "contained", "refused"]
    assert "REVOKE_QUEUE_BUDGET_SHARE" in body_of(burst)["results"][3]["detail"]
    assert poison.value is None and app.revocations[NESTOR[1]] == 1


# --- a table that went missing -----------------------------------------------------------------------
@pytest.mark.parametrize("settings", [{"REVOKE_ACTION_BUDGET": f"{REVOKE}=5"}])
def test_a_budget_table_deleted_while_running_is_made_again(
    settings: dict[str, str], store: str, app: GraphSimulator
) -> None:
    with app_settings({"AzureWebJobsStorage": store}):
        assert outcomes(revoke_http(http_request({"users": [ADELE[0]]}))) == ["contained"]
        TableServiceClient.from_connection_string(store).delete_table(TABLE_NAME)
        assert outcomes(revoke_http(http_request({"users": [MEGAN[0]]}))) == ["contained"]
        assert body_of(health_http(health_request()))["status"] == "ready"


def connection_without_table_rights(store: str) -> str:
    """A SAS for entities only: it reads and writes the budget's entities but cannot create a table."""
    parts = dict(part.split("=", 1) for part in store.split(";") if part)
    sas = generate_account_sas(
        AzureNamedKeyCredential(parts["AccountName"], parts["AccountKey"]),
        resource_types=ResourceTypes(object=True),
        permission=AccountSasPermissions(read=True, write=True, update=True, add=True, delete=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    return f"TableEndpoint={parts['TableEndpoint']};SharedAccessSignature={sas}"


@pytest.mark.parametrize("settings", [{"REVOKE_ACTION_BUDGET": f"{REVOKE}=5"}])
def test_health_says_not_ready_while_a_missing_table_cannot_be_made_again(
    settings: dict[str, str], store: str, app: GraphSimulator
) -> None:
    service = TableServiceClient.from_connection_string(store)
    service.create_table(TABLE_NAME)
    with app_settings({"AzureWebJobsStorage": connection_without_table_rights(store)}):
        assert body_of(health_http(health_request()))["status"] == "ready"
        service.delete_table(TABLE_NAME)
        missing = body_of(health_http(health_request()))
        deferred = revoke_http(http_request({"users": [ADELE[0]]}))
        service.create_table(TABLE_NAME)
        back = body_of(health_http(health_request()))

    [check] = [c for c in missing["checks"] if c["name"] == "actionBudget"]
    assert missing["status"] == "not_ready" and check["ok"] is False and "table" in check["detail"]
    assert outcomes(deferred) == ["deferred"] and app.revocations == {}
    assert back["status"] == "ready"
