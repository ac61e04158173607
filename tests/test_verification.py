"""The check after the next directory sync, on real Storage queues (Azurite) and the simulator.

A containment that disabled someone schedules a message on REVOKE_VERIFY_QUEUE_NAME, invisible
for REVOKE_VERIFY_AFTER_SECONDS; when it arrives, each user is read again and audited `verified`
or `reverted`, and a revert is commented on the incident. Nothing is done again. No test waits
for a clock: a check due later is seen to be invisible, and one due now is delivered by the
queue host (graphsim.queue_host).
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from graphsim import Fault, GraphSimulator
from graphsim.azurite import Azurite
from graphsim.harness import LogCapture, app_settings, http_request, queue_message
from graphsim.queue_host import QueueHost
from revoke.app.triggers import revoke_http
from revoke.app.verify_triggers import revoke_verify
from revoke.containment.verification import MESSAGE_TYPE
from revoke.errors import RetryLater
from revoke.settings import Settings
from tests.conftest import ADELE, MEGAN, body_of
from tests.test_incident_comment_flow import INCIDENT, WORKSPACE, lines_of

BOTH = "revokeSignInSessions,disableAccount"


@pytest.fixture
def queue_name() -> str:
    return f"verify-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(graph: GraphSimulator, azurite: Azurite, queue_name: str) -> dict[str, str]:
    return {
        "REVOKE_ACTIONS": BOTH,
        "AzureWebJobsStorage": azurite.connection_string,
        "REVOKE_VERIFY_QUEUE_NAME": queue_name,
        "REVOKE_VERIFY_AFTER_SECONDS": "0",
        "REVOKE_SENTINEL_WORKSPACE": WORKSPACE,
        "REVOKE_ARM_ENDPOINT": graph.arm_url,
    }


@pytest.fixture
def verify_queue(azurite: Azurite, queue_name: str) -> QueueClient:
    return QueueClient.from_connection_string(azurite.connection_string, queue_name)


def deliver_checks(azurite: Azurite, queue_name: str) -> QueueHost:
    """Run every check on the queue, as the Functions host would, until none is left."""
    host = QueueHost(azurite.connection_string, {queue_name: revoke_verify}, lease_seconds=5, retry_delay_seconds=0)
    client = QueueClient.from_connection_string(azurite.connection_string, queue_name)
    host.run_until(lambda: client.get_queue_properties().approximate_message_count == 0, timeout=60)
    return host


def verify_events(logs: LogCapture) -> list[tuple[str | None, str]]:
    return [(e["user"], e["outcome"]) for e in logs.audit_events() if e["action"] == "verifyContainment"]


def test_a_disable_schedules_a_check_invisible_until_after_the_next_sync(
    app: GraphSimulator, logs: LogCapture, verify_queue: QueueClient
) -> None:
    with app_settings({"REVOKE_VERIFY_AFTER_SECONDS": "2100"}):
        response = revoke_http(http_request({"users": [MEGAN[0], ADELE[1]], "incidentId": INCIDENT}))

    assert response.status_code == 200
    verification = body_of(response)["verification"]
    assert verification["status"] == "scheduled" and verification["due"].endswith("Z")
    assert verify_events(logs) == [(None, "scheduled")]
    assert verify_queue.get_queue_properties().approximate_message_count == 1
    assert list(verify_queue.peek_messages()) == []  # invisible: it waits for the sync


def test_nothing_is_scheduled_when_nobody_was_disabled_or_the_check_is_off(
    app: GraphSimulator, logs: LogCapture, verify_queue: QueueClient
) -> None:
    revoke_http(http_request({"users": [ADELE[0]], "actions": ["revokeSignInSessions"]}))
    with app_settings({"REVOKE_VERIFY_AFTER_SECONDS": "off"}):
        response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 200 and "verification" not in body_of(response)
    assert verify_events(logs) == []
    with pytest.raises(ResourceNotFoundError):  # no message was ever sent: the queue was never even made
        verify_queue.get_queue_properties()


def test_a_check_that_cannot_be_scheduled_is_reported_and_the_verdict_stands(
    app: GraphSimulator, logs: LogCapture
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    nowhere = f"DefaultEndpointsProtocol=http;AccountName=x;AccountKey=eA==;QueueEndpoint=http://127.0.0.1:{port}/x;"

    with app_settings({"AzureWebJobsStorage": nowhere}):
        response = revoke_http(http_request({"users": [MEGAN[0]]}))

    assert response.status_code == 200  # contained, as before
    answer = body_of(response)
    assert answer["results"][0]["outcome"] == "contained"
    assert answer["verification"]["status"] == "failed"
    assert "could not schedule the check after the next directory sync" in answer["verification"]["detail"]
    [(user, outcome)] = verify_events(logs)
    assert (user, outcome) == (None, "failed")


def test_a_synced_user_enabled_again_by_the_sync_is_reported_reverted_and_commented(
    app: GraphSimulator, logs: LogCapture, azurite: Azurite, queue_name: str
) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)
    revoke_http(
        http_request(
            {"users": [synced.user_principal_name, MEGAN[0]], "incidentId": INCIDENT, "correlationId": "soc-9"}
        )
    )
    app.directory_sync()  # the sync the check waits for: it enables the synced user again

    deliver_checks(azurite, queue_name)

    assert verify_events(logs)[1:] == [(synced.user_principal_name, "reverted"), (MEGAN[0], "verified")]
    reverted = next(e for e in logs.audit_events() if e["outcome"] == "reverted")
    assert (reverted["correlationId"], reverted["detail"]) == (
        "soc-9",
        "enabled again in Entra ID: contain the user again",
    )
    comments = [messages for (incident, _), messages in app.comments.items()]
    check_comment = [m[-1] for m in comments if "Containment check after the directory sync" in m[-1]]
    assert check_comment and f"{synced.user_principal_name}: enabled again in Entra ID" in lines_of(check_comment[0])
    assert synced.object_id not in app.disabled  # nothing was done again
    assert [r.method for r in app.graph_requests() if r.path.startswith(f"/v1.0/users/{synced.object_id}")].count(
        "PATCH"
    ) == 0


@pytest.mark.parametrize("extra", [{"REVOKE_ONPREM_ACTIONS": "disableAccount"}])
def test_a_user_disabled_in_active_directory_too_is_verified_after_the_sync(
    app: GraphSimulator, logs: LogCapture, azurite: Azurite, queue_name: str, extra: dict[str, str]
) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)
    with app_settings(extra):
        response = revoke_http(http_request({"users": [synced.object_id], "incidentId": INCIDENT}))
        assert body_of(response)["results"][0]["outcome"] == "contained"
        app.directory_sync()

        deliver_checks(azurite, queue_name)

    assert verify_events(logs)[1:] == [(synced.object_id, "verified")]
    verified = next(e for e in logs.audit_events() if e["outcome"] == "verified")
    assert verified["detail"] == "still disabled in Entra ID and in Active Directory after the directory sync"
    account = app.defender_identity.account_id(synced)
    reads = [r.path.split("?")[0] for r in app.graph_requests() if r.method == "GET"]
    assert f"/v1.0/security/identities/identityAccounts/{account}" in reads  # isEnabled read again
    assert not any("Containment check" in m[-1] for m in app.comments.values())


def test_an_active_directory_account_enabled_again_is_a_revert_too(
    app: GraphSimulator, logs: LogCapture, azurite: Azurite, queue_name: str
) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)
    with app_settings({"REVOKE_ONPREM_ACTIONS": "disableAccount"}):
        revoke_http(http_request({"users": [synced.object_id]}))
        app.active_directory_disabled.discard(synced.object_id)  # someone enabled it on premises
        app.directory_sync()

        deliver_checks(azurite, queue_name)

    [reverted] = [e for e in logs.audit_events() if e["outcome"] == "reverted"]
    assert reverted["detail"] == "enabled again in Entra ID and Active Directory: contain the user again"


def check_message(user: str, address: str) -> dict[str, Any]:
    return {
        "type": MESSAGE_TYPE,
        "correlationId": "soc-7",
        "incidentId": None,
        "due": "2026-12-07T21:00:00Z",
        "users": [{"user": user, "address": address, "identityAccount": None}],
    }


@pytest.fixture
def checked(app: GraphSimulator) -> Iterator[GraphSimulator]:
    app.disabled.add(MEGAN[1])
    yield app


def test_a_read_that_may_pass_is_retried_unaudited_until_the_last_delivery(
    checked: GraphSimulator, logs: LogCapture
) -> None:
    checked.inject(Fault(status=503, method="GET", times=None))
    body = json.dumps(check_message(MEGAN[0], MEGAN[1]))

    with pytest.raises(RetryLater):
        revoke_verify(queue_message(body, dequeue_count=1))
    assert verify_events(logs) == []
    revoke_verify(queue_message(body, dequeue_count=5))  # host.json maxDequeueCount

    [failed] = [e for e in logs.audit_events() if e["action"] == "verifyContainment"]
    assert (failed["user"], failed["outcome"]) == (MEGAN[0], "failed")
    assert failed["detail"].startswith("could not read whether the account is still disabled (Entra ID:")


def test_an_answer_about_another_user_reads_as_unreadable_never_as_verified(
    checked: GraphSimulator, logs: LogCapture
) -> None:
    checked.inject(
        Fault(status=200, body={"id": ADELE[1], "userPrincipalName": ADELE[0], "accountEnabled": False}, method="GET")
    )

    revoke_verify(queue_message(json.dumps(check_message(MEGAN[0], MEGAN[1]))))

    assert verify_events(logs) == [(MEGAN[0], "failed")]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps(["a list"]),
        json.dumps({"type": "revoke.verify/0", "users": []}),
        json.dumps({**check_message(MEGAN[0], "not a user"), "correlationId": "x"}),
    ],
)
def test_a_message_that_is_no_check_is_audited_and_dropped(app: GraphSimulator, logs: LogCapture, body: str) -> None:
    revoke_verify(queue_message(body, message_id="q-1"))

    [event] = logs.audit_events()
    assert (event["outcome"], event["correlationId"], event["action"]) == ("rejected", "q-1", None)
    assert app.graph_requests() == []


def test_the_verify_queue_must_be_its_own() -> None:
    from revoke.errors import SettingsError

    clashes = (
        ({"REVOKE_VERIFY_QUEUE_NAME": "revoke-requests"}, "REVOKE_QUEUE_NAME"),
        ({"REVOKE_QUEUE_NAME": "revoke-verify-poison"}, "REVOKE_QUEUE_NAME"),
        ({"REVOKE_CAMPAIGN_QUEUE_NAME": "revoke-verify"}, "REVOKE_CAMPAIGN_QUEUE_NAME"),
    )
    for clash, other in clashes:
        with pytest.raises(SettingsError) as refused:
            Settings.from_environment(clash)
        message = refused.value.public_message
        assert message.startswith("REVOKE_VERIFY_QUEUE_NAME") and other in message, message


def test_at_a_terminal_without_host_storage_the_cli_says_the_check_was_not_scheduled(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from revoke.app.cli import EXIT_OK, main

    with app_settings({"AzureWebJobsStorage": "", "REVOKE_VERIFY_AFTER_SECONDS": "2100"}):
        assert main(["revoke", "--user", MEGAN[0], "--action", "disableAccount"]) == EXIT_OK  # still contained

    out = capsys.readouterr().out
    assert "Check after the next directory sync: failed" in out
    assert "no host storage connection (AzureWebJobsStorage" in out and "REVOKE_VERIFY_AFTER_SECONDS=off" in out
