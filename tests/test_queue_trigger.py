"""The Sentinel queue trigger: complete, poison, or raise so the host redelivers."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.harness import CapturedOut, LogCapture, queue_message
from revoke.errors import RetryLater, SettingsError
from revoke.triggers import revoke_queue
from tests.conftest import ADELE, GUEST, MEGAN

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
INCIDENT = (SAMPLES / "sentinel-incident.json").read_bytes()


def test_sentinel_incident_revokes_its_accounts_and_completes(app: GraphSimulator, logs: LogCapture) -> None:
    poison = CapturedOut()

    revoke_queue(queue_message(INCIDENT), poison)

    assert poison.value is None
    assert dict(app.revocations) == {ADELE[1]: 1, GUEST[1]: 1}
    events = logs.audit_events()
    # The on-premises account the incident names is in the trail too, with why it was skipped.
    assert [(e["user"], e["outcome"], e["trigger"]) for e in events] == [
        ("CORP\\svc-backup", "skipped", "queue"),
        (ADELE[1], "revoked", "queue"),
        (GUEST[0], "revoked", "queue"),
    ]
    assert events[0]["detail"] == "on-premises account: no Entra object id or UPN suffix"
    assert all(e["incidentId"].endswith("/Incidents/9f1c2d3e-4b5a-4c6d-8e7f-a1b2c3d4e5f6") for e in events)
    assert all(e["reason"].startswith("Sentinel incident 4711:") for e in events)


def test_a_base64_encoded_message_is_accepted(app: GraphSimulator) -> None:
    poison = CapturedOut()

    revoke_queue(queue_message(base64.b64encode(INCIDENT)), poison)

    assert poison.value is None
    assert len(app.revocations) == 2


def test_an_unreadable_message_goes_to_the_poison_queue_unchanged(app: GraphSimulator, logs: LogCapture) -> None:
    poison = CapturedOut()
    body = '{"users": ["not an identifier"]}'

    revoke_queue(queue_message(body), poison)

    assert poison.value == body
    assert app.requests == []
    assert [e["outcome"] for e in logs.audit_events()] == ["rejected"]


def test_a_permanent_graph_failure_poisons_the_message(app: GraphSimulator) -> None:
    app.inject(Fault(status=403, times=None))
    poison = CapturedOut()
    body = json.dumps({"users": [ADELE[0]]})

    revoke_queue(queue_message(body), poison)

    assert poison.value == body


def test_a_deferred_target_raises_so_the_host_redelivers(app: GraphSimulator, logs: LogCapture) -> None:
    app.inject(Fault(status=503, times=None))
    poison = CapturedOut()

    with pytest.raises(RetryLater):
        revoke_queue(queue_message({"users": [ADELE[0], MEGAN[0]]}), poison)

    assert poison.value is None
    assert app.revocations == {}
    assert {e["outcome"] for e in logs.audit_events()} == {"deferred"}


def test_redelivery_after_the_fault_clears_completes_the_message(app: GraphSimulator) -> None:
    app.inject(Fault(status=429, times=None))
    message = {"users": [ADELE[0]]}
    with pytest.raises(RetryLater):
        revoke_queue(queue_message(message, dequeue_count=1), CapturedOut())
    app.clear_faults()

    poison = CapturedOut()
    revoke_queue(queue_message(message, dequeue_count=2), poison)

    assert poison.value is None
    assert dict(app.revocations) == {ADELE[1]: 1}


@pytest.mark.parametrize("settings", [{"REVOKE_PROTECTED_USERS": ADELE[0]}])
def test_a_message_naming_only_protected_users_completes_without_graph(app: GraphSimulator) -> None:
    poison = CapturedOut()

    revoke_queue(queue_message({"users": [ADELE[0]]}), poison)

    assert poison.value is None
    assert app.requests == []


@pytest.mark.parametrize("settings", [{"REVOKE_MAX_USERS": "1"}])
def test_a_message_over_the_user_limit_is_kept_in_the_poison_queue(app: GraphSimulator) -> None:
    poison = CapturedOut()

    revoke_queue(queue_message(INCIDENT), poison)

    assert poison.value == INCIDENT.decode()
    assert app.requests == []


@pytest.mark.parametrize("settings", [{"REVOKE_RETRY_BUDGET_SECONDS": "600"}])
def test_a_retry_budget_over_the_ceiling_fails_the_message_naming_the_setting(app: GraphSimulator) -> None:
    """The host redelivers it, then poisons it; nothing is sent to Graph with a budget the host cannot honour."""
    poison = CapturedOut()

    with pytest.raises(SettingsError, match="REVOKE_RETRY_BUDGET_SECONDS"):
        revoke_queue(queue_message({"users": [ADELE[0]]}), poison)

    assert poison.value is None
    assert app.requests == []
