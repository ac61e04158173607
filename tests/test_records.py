"""A release undoes only what this deployment contained: the containment records, in Table Storage.

The records live in Azurite, the real Storage emulator, read and written by the real
azure-data-tables client; callers send real RS256 tokens from the loopback Entra authority, so
the record names who asked. Covered: what a containment records and when; a record that cannot
be written (the containment stands, the answer and the trail say so); a release of a user this
deployment never contained (409 `not_contained_here`, nothing sent, audited), of an action it
never took (HR disabled the account, this deployment only revoked the sessions), a release that
clears the record, records that cannot be read (fail closed), one record seen by another
process, the release's own budget, and the record-store's health check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient

from graphsim import Fault, GraphSimulator
from graphsim.authority import EntraAuthority
from graphsim.azurite import Azurite
from graphsim.harness import LogCapture, app_settings, health_request, http_request
from revoke.actions import ContainmentAction, ReleaseAction
from revoke.app.cli import EXIT_OK, main
from revoke.app.release_triggers import release_http
from revoke.app.triggers import health_http, revoke_http
from revoke.audit.events import RequestContext
from revoke.containment.records import TABLE_NAME, Contained, RecordTable, RecordWriter, ReleaseRecords
from revoke.deadline import Deadline
from revoke.errors import SettingsError
from revoke.policy.roles import ROLE_DISABLE, ROLE_RELEASE, ROLE_REVOKE
from revoke.settings import Settings
from tests.conftest import ADELE, LEE, MEGAN, body_of

ROOT = Path(__file__).resolve().parent.parent
SOAR = ("9d2e4f60-1a3b-4c5d-8e7f-0a1b2c3d4e5f", "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f")  # (app id, object id)
ANALYST = ("1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b", "8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d")
INCIDENT = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/soc-rg/providers/"
    "Microsoft.OperationalInsights/workspaces/soc-workspace/providers/Microsoft.SecurityInsights/"
    "incidents/9f1c2d3e-4b5a-4c6d-8e7f-a1b2c3d4e5f6"
)
UNREACHABLE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=aGVsbG8=;"
    "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
)


@pytest.fixture
def store(azurite: Azurite) -> str:
    """Azurite's connection string, the records' table emptied."""
    TableServiceClient.from_connection_string(azurite.connection_string).delete_table(TABLE_NAME)
    return azurite.connection_string


@pytest.fixture
def authority() -> Iterator[EntraAuthority]:
    with EntraAuthority() as running:
        yield running


@pytest.fixture
def settings(store: str, authority: EntraAuthority) -> dict[str, str]:
    return {
        **authority.environment(),
        "AzureWebJobsStorage": store,
        "REVOKE_CONTAINMENT_RECORDS": "true",
        "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount,confirmCompromised",
        "REVOKE_RELEASE_ACTIONS": "enableAccount,dismissRisk",
    }


def record_of(store: str, object_id: str) -> dict[str, Any] | None:
    try:
        return dict(TableClient.from_connection_string(store, TABLE_NAME).get_entity(object_id, object_id))
    except ResourceNotFoundError:
        return None


def contain(
    authority: EntraAuthority, body: dict[str, Any], roles: tuple[str, ...] = (ROLE_REVOKE, ROLE_DISABLE)
) -> Any:
    token = authority.mint(list(roles), app_id=SOAR[0], object_id=SOAR[1])
    return revoke_http(http_request({"reason": "SOC-4711", **body}, token=token))


def release(authority: EntraAuthority, body: dict[str, Any]) -> Any:
    token = authority.mint([ROLE_RELEASE], app_id=ANALYST[0], object_id=ANALYST[1])
    return release_http(http_request({"reason": "false positive, SOC-4711", **body}, token=token))


def writes(graph: GraphSimulator) -> list[tuple[str, str]]:
    return [
        (r.method, r.path) for r in graph.graph_requests() if r.method in ("PATCH", "POST") and "$batch" not in r.path
    ]


# --- what a containment records ---------------------------------------------------------------


def test_a_containment_records_who_asked_when_what_and_why_by_object_id(
    app: GraphSimulator, authority: EntraAuthority, store: str
) -> None:
    response = contain(
        authority,
        {"users": [ADELE[0], MEGAN[1]], "actions": ["disableAccount", "revokeSignInSessions"], "incidentId": INCIDENT,
         "correlationId": "soc-4711"},
    )  # fmt: skip

    assert response.status_code == 200, response.get_body()
    adele = record_of(store, ADELE[1])  # named by UPN, recorded by the object id a look-up gave
    assert adele is not None and record_of(store, MEGAN[1]) is not None
    assert {key: adele[key] for key in ("disableAccount", "revokeSignInSessions", "user", "correlationId")} == {
        "disableAccount": True,
        "revokeSignInSessions": True,
        "user": ADELE[0],
        "correlationId": "soc-4711",
    }
    assert "confirmCompromised" not in adele
    assert (adele["callerAppId"], adele["callerObjectId"], adele["trigger"]) == (*SOAR, "http")
    assert (adele["incidentId"], adele["reason"]) == (INCIDENT, "SOC-4711")
    assert adele["containedAt"].endswith("Z")


def test_a_later_containment_adds_to_the_record(app: GraphSimulator, authority: EntraAuthority, store: str) -> None:
    contain(authority, {"users": [MEGAN[1]], "actions": ["revokeSignInSessions"]})
    contain(authority, {"users": [MEGAN[1]], "actions": ["disableAccount"], "correlationId": "second"})

    record = record_of(store, MEGAN[1])
    assert record is not None
    assert (record["revokeSignInSessions"], record["disableAccount"], record["correlationId"]) == (True, True, "second")


def test_nothing_is_recorded_for_what_graph_did_not_confirm_or_a_dry_run(
    app: GraphSimulator, authority: EntraAuthority, store: str
) -> None:
    app.inject(Fault(status=403, match=lambda path: path.startswith("/v1.0/users/") and "revoke" in path, times=None))
    contain(authority, {"users": [ADELE[1]], "actions": ["revokeSignInSessions"]})
    contain(authority, {"users": [MEGAN[1]], "dryRun": True})

    assert record_of(store, ADELE[1]) is None and record_of(store, MEGAN[1]) is None


@pytest.mark.parametrize("storage", [UNREACHABLE, ""], ids=["unreachable", "not configured"])
def test_a_record_that_cannot_be_written_leaves_the_containment_standing_and_says_so(
    app: GraphSimulator, authority: EntraAuthority, logs: LogCapture, storage: str
) -> None:
    with app_settings({"AzureWebJobsStorage": storage}):
        response = contain(authority, {"users": [MEGAN[1]], "actions": ["disableAccount"]})

    assert response.status_code == 200
    [result] = body_of(response)["results"]
    assert (result["outcome"], result["contained"]) == ("contained", True)
    assert "the containment was not recorded, so a release of this user will be refused" in result["detail"]
    assert MEGAN[1] in app.disabled
    failed = [e for e in logs.audit_events() if e["action"] == "containmentRecord"]
    assert [(e["outcome"], e["user"]) for e in failed] == [("failed", MEGAN[1])]
    assert "aGVsbG8=" not in logs.text()  # the connection string's key


# --- what a release may undo ---------------------------------------------------------------------


def test_a_release_of_a_user_this_deployment_never_contained_is_409_sends_nothing_and_is_audited(
    app: GraphSimulator, authority: EntraAuthority, logs: LogCapture
) -> None:
    """HR disabled Lee; this deployment never touched him: a leaked release credential cannot enable him."""
    app.disabled.add(LEE[1])

    response = release(authority, {"users": [LEE[0]]})

    assert response.status_code == 409
    error = body_of(response)["error"]
    assert error["code"] == "not_contained_here"
    assert "not contained by this deployment" in error["message"]
    assert writes(app) == [] and LEE[1] in app.disabled and app.risk_dismissed == {}
    assert [(e["action"], e["outcome"], e["callerAppId"]) for e in logs.audit_events()] == [
        ("enableAccount", "refused", ANALYST[0]),
        ("dismissRisk", "refused", ANALYST[0]),
    ]


def test_a_release_undoes_only_the_actions_this_deployment_took(
    app: GraphSimulator, authority: EntraAuthority, store: str
) -> None:
    """Lee's sessions were revoked here; HR disabled his account: enabling it is not this deployment's to undo."""
    contain(authority, {"users": [LEE[1]], "actions": ["revokeSignInSessions"]})
    app.disabled.add(LEE[1])
    app.requests.clear()

    response = release(authority, {"users": [LEE[1]]})

    assert response.status_code == 409
    assert (
        "it did not disable this account (its record shows revokeSignInSessions)"
        in body_of(response)["error"]["message"]
    )
    assert writes(app) == [] and LEE[1] in app.disabled


def test_a_release_clears_the_record_so_a_second_release_finds_nothing_to_undo(
    app: GraphSimulator, authority: EntraAuthority, store: str
) -> None:
    contain(authority, {"users": [MEGAN[0]], "actions": ["disableAccount", "revokeSignInSessions"]})

    first = release(authority, {"users": [MEGAN[0]], "actions": ["enableAccount"]})
    assert first.status_code == 200, first.get_body()
    assert MEGAN[1] not in app.disabled and record_of(store, MEGAN[1]) is None

    app.disabled.add(MEGAN[1])  # someone else disables her again
    second = release(authority, {"users": [MEGAN[0]], "actions": ["enableAccount"]})
    assert (second.status_code, body_of(second)["error"]["code"]) == (409, "not_contained_here")
    assert MEGAN[1] in app.disabled and app.enabled == {MEGAN[1]: 1}


def test_what_a_release_did_not_undo_stays_recorded(app: GraphSimulator, authority: EntraAuthority, store: str) -> None:
    roles = (ROLE_DISABLE, "Containment.ConfirmCompromised")
    contain(authority, {"users": [ADELE[1]], "actions": ["disableAccount", "confirmCompromised"]}, roles)

    assert release(authority, {"users": [ADELE[1]], "actions": ["enableAccount"]}).status_code == 200
    record = record_of(store, ADELE[1])
    assert record is not None and (record["disableAccount"], record["confirmCompromised"]) == (False, True)

    assert release(authority, {"users": [ADELE[1]], "actions": ["dismissRisk"]}).status_code == 200
    assert record_of(store, ADELE[1]) is None
    assert app.risk_dismissed == {ADELE[1]: 1}


def test_a_mixed_release_refuses_only_the_user_not_contained_here(
    app: GraphSimulator, authority: EntraAuthority, store: str
) -> None:
    contain(authority, {"users": [MEGAN[1]], "actions": ["disableAccount"]})
    app.disabled.add(LEE[1])

    response = release(authority, {"users": [MEGAN[1], LEE[1]], "actions": ["enableAccount"]})

    assert response.status_code == 207
    assert [(r["user"], r["outcome"]) for r in body_of(response)["results"]] == [
        (MEGAN[1], "released"),
        (LEE[1], "refused"),
    ]
    assert app.disabled == {LEE[1]}


@pytest.mark.parametrize("storage", [UNREACHABLE, ""], ids=["unreachable", "not configured"])
def test_records_that_cannot_be_read_release_nothing(
    app: GraphSimulator, authority: EntraAuthority, storage: str
) -> None:
    app.disabled.add(MEGAN[1])
    with app_settings({"AzureWebJobsStorage": storage}):
        response = release(authority, {"users": [MEGAN[1]]})

    assert response.status_code == 503
    [result] = body_of(response)["results"]
    assert result["outcome"] == "deferred"
    assert "containment records" in result["detail"] and "nothing was released" in result["detail"]
    assert writes(app) == [] and MEGAN[1] in app.disabled


def test_a_dry_run_release_reads_the_records_and_clears_nothing(
    app: GraphSimulator, authority: EntraAuthority, store: str
) -> None:
    contain(authority, {"users": [MEGAN[1]], "actions": ["disableAccount"]})
    with app_settings({"REVOKE_DRY_RUN": "true"}):
        response = release(authority, {"users": [MEGAN[1], LEE[1]], "actions": ["enableAccount"]})

    assert [r["outcome"] for r in body_of(response)["results"]] == ["dry_run", "refused"]
    assert record_of(store, MEGAN[1]) is not None and MEGAN[1] in app.disabled


def test_releases_draw_on_their_own_action_budget(
    app: GraphSimulator, authority: EntraAuthority, store: str, azurite: Azurite
) -> None:
    from revoke.policy.budget import TABLE_NAME as BUDGET_TABLE

    TableServiceClient.from_connection_string(azurite.connection_string).delete_table(BUDGET_TABLE)
    contain(authority, {"users": [ADELE[1], MEGAN[1]], "actions": ["disableAccount"]})
    one_pool = {"REVOKE_QUEUE_BUDGET_SHARE": "0"}  # the HTTP caller may take the one unit
    with app_settings({"REVOKE_ACTION_BUDGET": "enableAccount=1", **one_pool}):
        response = release(authority, {"users": [ADELE[1], MEGAN[1]], "actions": ["enableAccount"]})

    assert response.status_code == 207
    refused = body_of(response)["results"][1]
    assert (refused["outcome"], "enableAccount may be sent for 1 targets per rolling hour" in refused["detail"]) == (
        "refused",
        True,
    )
    assert app.enabled == {ADELE[1]: 1} and MEGAN[1] in app.disabled
    assert record_of(store, MEGAN[1]) is not None  # not released, still recorded


def test_a_release_gives_back_the_unit_of_a_user_graph_no_longer_knows(
    app: GraphSimulator, authority: EntraAuthority, store: str, azurite: Azurite
) -> None:
    """Deleted between the look-up and the enable: Graph answers 404, and the unit goes back, as a
    containment's does, so the next release still has it."""
    from revoke.policy.budget import TABLE_NAME as BUDGET_TABLE

    TableServiceClient.from_connection_string(azurite.connection_string).delete_table(BUDGET_TABLE)
    contain(authority, {"users": [ADELE[1], MEGAN[1]], "actions": ["disableAccount"]})
    gone = {"error": {"code": "Request_ResourceNotFound", "message": "Resource does not exist."}}
    app.inject(Fault(status=404, body=gone, method="PATCH", match=lambda path: path.endswith(ADELE[1])))
    one_unit = {"REVOKE_ACTION_BUDGET": "enableAccount=1", "REVOKE_QUEUE_BUDGET_SHARE": "0"}
    with app_settings(one_unit):
        first = release(authority, {"users": [ADELE[1]], "actions": ["enableAccount"]})
        second = release(authority, {"users": [MEGAN[1]], "actions": ["enableAccount"]})

    assert body_of(first)["results"][0]["actions"][0]["outcome"] == "not_found"
    assert (second.status_code, body_of(second)["results"][0]["outcome"]) == (200, "released")
    assert app.enabled == {MEGAN[1]: 1}


# --- one store for every instance ------------------------------------------------------------------


def test_a_record_another_process_wrote_is_the_one_a_release_finds(
    app: GraphSimulator, store: str, authority: EntraAuthority, tmp_path: Path
) -> None:
    """The CLI, in a process of its own as the signed-in responder, contains Megan; the function releases her."""
    environ = {
        **{name: value for name, value in os.environ.items() if not name.startswith("REVOKE_")},
        **app.environment(),
        "AzureWebJobsStorage": store,
        "REVOKE_CONTAINMENT_RECORDS": "true",
        "REVOKE_ACTIONS": "disableAccount",
        "HOME": str(tmp_path),  # no az login here: the managed-identity endpoint is the credential
    }
    finished = subprocess.run(
        [sys.executable, "-m", "revoke", "revoke", "--user", MEGAN[0], "--reason", "SOC-4711"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == EXIT_OK, finished.stdout + finished.stderr
    record = record_of(store, MEGAN[1])
    assert record is not None and (record["trigger"], record["callerObjectId"]) == ("cli", app.identity_object_id)

    assert release(authority, {"users": [MEGAN[0]], "actions": ["enableAccount"]}).status_code == 200
    assert MEGAN[1] not in app.disabled and record_of(store, MEGAN[1]) is None


def test_the_cli_release_needs_the_record_too(app: GraphSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    app.disabled.add(LEE[1])
    assert main(["release", "--user", LEE[0], "--reason", "SOC-4711", "--action", "enableAccount"]) != EXIT_OK
    assert "not contained by this deployment" in capsys.readouterr().out
    assert LEE[1] in app.disabled


# --- the store itself ------------------------------------------------------------------------------


def test_a_containment_between_reading_and_clearing_keeps_its_record(store: str) -> None:
    """A release clears what it read, only if nobody wrote the record since (ETag): a newer containment stands."""
    table = RecordTable(lambda: TableClient.from_connection_string(store, TABLE_NAME))
    writer, records = RecordWriter(table), ReleaseRecords(table)
    context = RequestContext("http", "c-1")
    writer.record([Contained(MEGAN[1], MEGAN[0], (ContainmentAction.DISABLE_ACCOUNT,))], context, Deadline(5))
    read = records.find(MEGAN[1], Deadline(5))
    assert read is not None and read.allows(ReleaseAction.ENABLE_ACCOUNT)

    writer.record([Contained(MEGAN[1], MEGAN[0], (ContainmentAction.DISABLE_ACCOUNT,))], context, Deadline(5))
    records.clear(read, [ReleaseAction.ENABLE_ACCOUNT], Deadline(5))

    again = records.find(MEGAN[1], Deadline(5))
    assert again is not None and again.allows(ReleaseAction.ENABLE_ACCOUNT)


def test_health_says_when_the_records_cannot_be_reached(app: GraphSimulator, authority: EntraAuthority) -> None:
    app.app_roles = [*app.app_roles, "User.EnableDisableAccount.All", "IdentityRiskyUser.ReadWrite.All"]
    token = authority.mint([ROLE_REVOKE])
    with app_settings({"AzureWebJobsStorage": UNREACHABLE}):
        response = health_http(health_request(token=token))

    assert response.status_code == 503
    [check] = [c for c in body_of(response)["checks"] if c["name"] == "containmentRecords"]
    assert check["ok"] is False and "every release is deferred" in check["detail"]

    assert health_http(health_request(token=token)).status_code == 200


def test_release_actions_need_the_records() -> None:
    with pytest.raises(SettingsError, match="REVOKE_RELEASE_ACTIONS"):
        Settings.from_environment({"REVOKE_RELEASE_ACTIONS": "enableAccount", "REVOKE_CONTAINMENT_RECORDS": "false"})
    assert Settings.from_environment({"REVOKE_RELEASE_ACTIONS": "enableAccount"}).containment_records is True
