"""The Sentinel queue trigger: complete, poison, or raise so the host redelivers."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.harness import CapturedOut, LogCapture, queue_message
from revoke.app.triggers import revoke_queue
from revoke.errors import RetryLater, SettingsError
from tests.conftest import ADELE, GUEST, MEGAN

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
INCIDENT = (SAMPLES / "sentinel-incident.json").read_bytes()


SVC_BACKUP_SID = "S-1-5-21-1004336348-1177238915-682003330-1105"


def test_sentinel_incident_revokes_its_accounts_and_completes(app: GraphSimulator, logs: LogCapture) -> None:
    poison = CapturedOut()

    revoke_queue(queue_message(INCIDENT), poison)

    assert poison.value is None
    assert dict(app.revocations) == {ADELE[1]: 1, GUEST[1]: 1}
    events = logs.audit_events()
    # The on-premises account the incident names (CORP\\svc-backup) is named by its SID: no user of
    # this tenant is synced from it, so it is not found, first; then each result as it lands.
    assert [(e["user"], e["outcome"], e["trigger"]) for e in events[:1]] == [(SVC_BACKUP_SID, "not_found", "queue")]
    assert sorted((e["user"], e["outcome"], e["trigger"]) for e in events[1:]) == sorted(
        [(ADELE[1], "revoked", "queue"), (GUEST[0], "revoked", "queue")]
    )
    assert SVC_BACKUP_SID in events[0]["detail"]
    assert all(e["incidentId"].endswith("/Incidents/9f1c2d3e-4b5a-4c6d-8e7f-a1b2c3d4e5f6") for e in events)
    assert all(e["reason"].startswith("Sentinel incident 4711:") for e in events)


def test_a_base64_encoded_message_is_accepted(app: GraphSimulator) -> None:
    poison = CapturedOut()

    revoke_queue(queue_message(base64.b64encode(INCIDENT)), poison)

    assert poison.value is None
    assert len(app.revocations) == 2


def mime_lines(data: bytes, newline: bytes) -> bytes:
    """Base64 in 76-character lines, as MIME (RFC 2045) and .NET's InsertLineBreaks write it."""
    encoded = base64.b64encode(data)
    return newline.join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + newline


BASE64_FORMS = {
    "URL-safe alphabet": lambda data: base64.urlsafe_b64encode(data),
    "URL-safe alphabet, no padding": lambda data: base64.urlsafe_b64encode(data).rstrip(b"="),
    "MIME lines with CRLF": lambda data: mime_lines(data, b"\r\n"),
    "MIME lines with LF": lambda data: mime_lines(data, b"\n"),
    "of JSON after a UTF-8 BOM": lambda data: base64.b64encode(b"\xef\xbb\xbf" + data),
}


@pytest.mark.parametrize("form", BASE64_FORMS)
def test_base64_in_the_forms_senders_use_is_read_and_a_mangled_copy_poisoned(app: GraphSimulator, form: str) -> None:
    incident = INCIDENT.replace(b'"severity": "High"', b'"severity": "High", "note": "?>?>~~~"')
    assert set(b"+/") & set(base64.b64encode(incident))  # the URL-safe forms differ
    body = BASE64_FORMS[form](incident)
    poison = CapturedOut()

    revoke_queue(queue_message(body), poison)

    assert poison.value is None
    assert dict(app.revocations) == {ADELE[1]: 1, GUEST[1]: 1}
    # Not JSON and not one of those forms: poisoned unchanged, as before.
    mangled = body[:40] + b" " + body[40:]
    revoke_queue(queue_message(mangled), poison)
    assert poison.value == mangled.decode()
    assert dict(app.revocations) == {ADELE[1]: 1, GUEST[1]: 1}


@pytest.mark.parametrize(
    "body",
    [
        base64.b64encode(b"users: adele"),
        base64.b64encode(b'["not", "an", "object"]'),
        base64.b64encode(b'{"users": []}')[:-4] + b"-_-_",  # two alphabets in one message
        b"=" + base64.b64encode(b'{"users": []}'),
        b"\t".join([base64.b64encode(b'{"users":'), base64.b64encode(b'["a@b.com"]}')]),
    ],
)
def test_a_message_that_is_neither_json_nor_base64_of_a_json_object_is_poisoned_unchanged(
    app: GraphSimulator, body: bytes
) -> None:
    poison = CapturedOut()

    revoke_queue(queue_message(body), poison)

    assert poison.value == body.decode()
    assert app.requests == []


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
