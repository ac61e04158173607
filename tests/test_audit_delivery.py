"""Every audit event also reaches the workspace table, once per invocation, and delivery never costs a
containment: the real azure-monitor-ingestion client against the simulated rule, over loopback HTTPS."""

from __future__ import annotations

import ast
import inspect
import json
import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import function_app
from graphsim import Fault, GraphSimulator
from graphsim.azurite import Azurite
from graphsim.harness import CapturedOut, LogCapture, app_settings, http_request, queue_message
from graphsim.identity_endpoint import IDENTITY_PATH
from revoke.app import evidence, runtime
from revoke.app.release_triggers import release_http
from revoke.app.triggers import revoke_http, revoke_queue
from revoke.audit import ingestion
from revoke.audit.ingestion import MAX_UPLOAD_BYTES, WORKSPACE_INGESTION, upload_batches
from revoke.audit.redaction import protect_logs
from revoke.deadline import Deadline
from revoke.errors import RetryLater
from revoke.settings import Settings
from tests.conftest import ADELE, GUEST, MEGAN, body_of
from tests.test_incident_comment_flow import INCIDENT, WORKSPACE
from tests.test_release import contain

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = (ROOT / "samples" / "sentinel-incident.json").read_bytes()


@pytest.fixture
def settings(graph: GraphSimulator) -> dict[str, str]:
    """Delivery on, to the simulated rule; comments on, so the comment's event is delivered too."""
    return {
        **graph.ingestion_environment(),
        "REVOKE_SENTINEL_WORKSPACE": WORKSPACE,
        "REVOKE_ARM_ENDPOINT": graph.arm_url,
    }


@pytest.fixture(autouse=True)
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stalled endpoint costs the whole wait; the suite waits 2 s instead of 10."""
    monkeypatch.setattr(ingestion, "DELIVERY_SECONDS", 2.0)


def table(graph: GraphSimulator) -> list[dict[str, Any]]:
    """The records as the table has them, without the column the rule adds."""
    return [{k: v for k, v in record.items() if k != "TimeGenerated"} for record in graph.ingestion.records]


def warnings_about_ingestion(logs: LogCapture) -> list[str]:
    return [
        r.getMessage() for r in logs.records if r.levelno == logging.WARNING and WORKSPACE_INGESTION in r.getMessage()
    ]


def monitor_token_requests(graph: GraphSimulator) -> int:
    identity = [parse_qs(urlsplit(r.path).query) for r in graph.requests if r.path.startswith(IDENTITY_PATH)]
    return sum(1 for query in identity if query.get("resource") == ["https://monitor.azure.com"])


# --- what arrives, and when --------------------------------------------------------------


def test_an_http_requests_events_arrive_in_one_upload_after_its_graph_work_and_comment(
    app: GraphSimulator, logs: LogCapture
) -> None:
    response = revoke_http(http_request({"users": [ADELE[0], GUEST[0]], "incidentId": INCIDENT, "reason": "theft"}))

    assert response.status_code == 207  # the guest is not contained by revocation alone
    events = logs.audit_events()
    assert [e["action"] for e in events][-1] == "incidentComment"
    assert table(app) == events  # every event, the same shape, in the order emitted, the comment's last
    [upload] = app.ingestion.uploads
    # Two revocations, the incident task for the guest's home tenant, the comment.
    assert [e["action"] for e in events] == ["revokeSignInSessions"] * 2 + ["incidentTask", "incidentComment"]
    assert (upload.status, upload.records, upload.gzip, upload.audience) == (204, 4, True, "https://monitor.azure.com")
    assert all(record["TimeGenerated"] == record["time"] for record in app.ingestion.records)
    assert app.ingestion.dropped_fields == set()  # every field has a column in the deployed stream
    assert monitor_token_requests(app) == 1


def test_one_monitor_token_serves_many_invocations(app: GraphSimulator) -> None:
    for user in (ADELE[0], MEGAN[0], ADELE[1]):
        assert revoke_http(http_request({"user": user})).status_code == 200

    assert [upload.status for upload in app.ingestion.uploads] == [204, 204, 204]
    assert monitor_token_requests(app) == 1


def test_a_rejected_request_is_delivered_too(app: GraphSimulator, logs: LogCapture) -> None:
    response = revoke_http(http_request(b'{"users": ['))

    assert response.status_code == 400
    assert [e["outcome"] for e in table(app)] == ["rejected"]


def test_the_queue_triggers_events_arrive_and_a_deferred_message_still_delivers(
    app: GraphSimulator, logs: LogCapture
) -> None:
    poison = CapturedOut()
    revoke_queue(queue_message(SAMPLE), poison)
    assert poison.value is None
    first = len(app.ingestion.records)
    assert table(app) == logs.audit_events() and first > 0

    app.inject(Fault(status=503, times=None, match=lambda path: "revokeSignInSessions" in path))
    with pytest.raises(RetryLater):
        revoke_queue(queue_message(json.dumps({"users": [MEGAN[0]]}), message_id="m-2"), CapturedOut())

    deferred = table(app)[first:]
    assert [(e["user"], e["outcome"]) for e in deferred] == [(MEGAN[0], "deferred")]


@pytest.mark.parametrize("release_actions", ["enableAccount"])
def test_a_releases_events_arrive(
    graph: GraphSimulator,
    settings: dict[str, str],
    release_actions: str,
    azurite: Azurite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("REVOKE_CONTAINMENT_RECORDS", "true")
    graph.app_roles = [*graph.app_roles, "User.EnableDisableAccount.All"]
    contain(graph, [MEGAN[1]], actions="disableAccount")  # recorded: a release may undo it
    with app_settings({**graph.environment(), **settings, "REVOKE_RELEASE_ACTIONS": release_actions}):
        response = release_http(http_request({"users": [MEGAN[0]], "reason": "false positive"}))

    assert body_of(response)["results"][0]["outcome"] == "released"
    assert [(e["action"], e["outcome"]) for e in table(graph)] == [("enableAccount", "enabled")]


def test_with_the_settings_unset_nothing_is_collected_or_sent(graph: GraphSimulator, logs: LogCapture) -> None:
    with app_settings(graph.environment()):
        assert revoke_http(http_request({"user": ADELE[0]})).status_code == 200

    assert graph.ingestion.uploads == [] and len(logs.audit_events()) == 1
    assert monitor_token_requests(graph) == 0


# --- every trigger that acts delivers: the wrapper the lead's new triggers must use too ---


def test_every_registered_function_but_health_runs_inside_audit_delivery() -> None:
    """A trigger added later that forgets the wrapper fails here: wrap its body in `with audit_delivery():`."""
    unwrapped = []
    # The app's registered functions, read without indexing it (the host indexes an app only once,
    # and tests/test_registration.py does).
    for builder in function_app.app._function_builders:
        function = builder._function
        name = function.get_function_name()
        source = textwrap.dedent(inspect.getsource(function.get_user_function()))
        body = ast.parse(source).body[0]
        assert isinstance(body, ast.FunctionDef)
        wrapped = any(
            isinstance(node, ast.With)
            and any(
                isinstance(item.context_expr, ast.Call)
                and getattr(item.context_expr.func, "id", "") == "audit_delivery"
                for item in node.items
            )
            for node in body.body
        )
        if not wrapped:
            unwrapped.append(name)
    assert unwrapped == ["health"]


# --- delivery never costs a containment ---------------------------------------------------


def test_a_refused_delivery_is_one_warning_naming_the_status_never_the_events(
    app: GraphSimulator, logs: LogCapture
) -> None:
    app.ingestion.publisher = False  # no Monitoring Metrics Publisher on the rule

    response = revoke_http(http_request({"users": [ADELE[0]], "reason": "a reason only the trail holds"}))

    assert response.status_code == 200
    assert body_of(response)["results"][0]["outcome"] == "contained"
    [warning] = warnings_about_ingestion(logs)
    assert "HTTP 403 OperationFailed" in warning and "they are in the function's log" in warning
    assert ADELE[0] not in warning and "a reason only the trail holds" not in warning
    assert app.ingestion.records == []
    last = runtime.shared_ingestion().last  # type: ignore[union-attr]
    assert last is not None and (last.ok, last.events, last.detail) == (False, 1, "HTTP 403 OperationFailed")


def test_a_retry_after_beyond_the_wait_ends_the_delivery_without_sleeping_it(
    app: GraphSimulator, logs: LogCapture
) -> None:
    app.inject_ingestion(Fault(status=429, headers={"Retry-After": "3600"}, times=None))

    assert revoke_http(http_request({"user": ADELE[0]})).status_code == 200

    assert [upload.status for upload in app.ingestion.uploads] == [429]  # asked once; the hour not slept
    [warning] = warnings_about_ingestion(logs)
    assert "HTTP 429" in warning


def test_a_retry_after_that_fits_is_honoured(app: GraphSimulator, logs: LogCapture) -> None:
    app.inject_ingestion(Fault(status=429, headers={"Retry-After": "0"}))

    assert revoke_http(http_request({"user": ADELE[0]})).status_code == 200

    assert [upload.status for upload in app.ingestion.uploads] == [429, 204]
    assert warnings_about_ingestion(logs) == [] and len(app.ingestion.records) == 1


def test_an_unavailable_endpoint_is_tried_again_then_given_up(app: GraphSimulator, logs: LogCapture) -> None:
    app.inject_ingestion(Fault(status=503, times=None))

    assert revoke_http(http_request({"user": ADELE[0]})).status_code == 200

    assert [upload.status for upload in app.ingestion.uploads] == [503] * (ingestion.UPLOAD_RETRIES + 1)
    [warning] = warnings_about_ingestion(logs)
    assert "HTTP 503" in warning


@pytest.mark.parametrize("fault", [Fault(delay=30), Fault(drip=0.5)], ids=["never answers", "drips its answer"])
def test_a_stalled_endpoint_costs_the_wait_never_the_answer(
    app: GraphSimulator, logs: LogCapture, fault: Fault
) -> None:
    app.inject_ingestion(fault)

    response = revoke_http(http_request({"user": ADELE[0]}))

    assert response.status_code == 200 and body_of(response)["results"][0]["outcome"] == "contained"
    [warning] = warnings_about_ingestion(logs)
    assert "no answer within 2.0 s" in warning


def test_the_wait_is_what_is_left_of_the_invocation_when_that_is_less(
    app: GraphSimulator, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evidence, "HOST_LIMIT_SECONDS", 1.0)
    app.inject_ingestion(Fault(delay=30))

    assert revoke_http(http_request({"user": ADELE[0]})).status_code == 200

    [warning] = warnings_about_ingestion(logs)
    waited = float(re.search(r"no answer within ([\d.]+) s", warning).group(1))  # type: ignore[union-attr]
    assert waited <= 1.0  # not the 2 s a delivery may otherwise take


def test_no_monitor_token_is_a_warning_and_nothing_is_sent(app: GraphSimulator, logs: LogCapture) -> None:
    graph_scope = Settings.from_environment().graph_scope
    runtime.shared_tokens(Settings.from_environment(), graph_scope).token(Deadline(5))  # the Graph token, cached
    app.inject(Fault(status=500, identity=True, times=None))  # every later token request, the monitor's

    response = revoke_http(http_request({"user": ADELE[0]}))

    assert response.status_code == 200
    [warning] = warnings_about_ingestion(logs)
    assert "no token from the managed identity" in warning
    assert app.ingestion.uploads == []


def test_a_redirect_is_not_followed(app: GraphSimulator, logs: LogCapture) -> None:
    app.inject_ingestion(Fault(status=307, headers={"Location": app.url + "/elsewhere"}))

    assert revoke_http(http_request({"user": ADELE[0]})).status_code == 200

    [warning] = warnings_about_ingestion(logs)
    assert "HTTP 307" in warning
    assert not [r for r in app.requests if r.path.startswith("/elsewhere")]


def test_a_dropped_connection_is_named_by_its_kind(app: GraphSimulator, logs: LogCapture) -> None:
    app.inject_ingestion(Fault(drop=True))

    assert revoke_http(http_request({"user": ADELE[0]})).status_code == 200

    [warning] = warnings_about_ingestion(logs)
    assert re.search(r"\(\w+Error\)", warning)


# --- large invocations: uploads under the API's 1 MB per call ------------------------------


def test_events_are_split_into_uploads_of_at_most_a_million_bytes_in_order() -> None:
    events = [{"n": i, "detail": "x" * 900} for i in range(3000)]

    batches = list(upload_batches(events))

    assert [e for batch in batches for e in batch] == events
    assert len(batches) > 2
    assert all(len(json.dumps(batch).encode()) <= MAX_UPLOAD_BYTES for batch in batches)
    assert list(upload_batches([])) == []


def test_many_events_arrive_whole_in_several_uploads(graph: GraphSimulator, logs: LogCapture) -> None:
    names = [f"user{i:04d}@contoso.com" for i in range(1000)]
    graph.add_users(names)
    with app_settings({**graph.environment(), **graph.ingestion_environment(), "REVOKE_MAX_USERS": "1000",
                       "REVOKE_DRY_RUN": "true", "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount"}):  # fmt: skip
        assert revoke_http(http_request({"users": names, "reason": "r" * 400})).status_code == 200

    assert table(graph) == logs.audit_events() and len(graph.ingestion.records) == 2000
    assert len(graph.ingestion.uploads) > 1
    assert all(u.status == 204 and u.uncompressed_bytes <= MAX_UPLOAD_BYTES for u in graph.ingestion.uploads)


def test_an_upload_refused_among_several_names_only_its_own_events(graph: GraphSimulator, logs: LogCapture) -> None:
    names = [f"user{i:04d}@contoso.com" for i in range(1000)]
    graph.add_users(names)
    graph.inject_ingestion(Fault(status=400))  # the first upload only; the others are taken
    with app_settings({**graph.environment(), **graph.ingestion_environment(), "REVOKE_MAX_USERS": "1000",
                       "REVOKE_DRY_RUN": "true", "REVOKE_ACTIONS": "revokeSignInSessions,disableAccount"}):  # fmt: skip
        assert revoke_http(http_request({"users": names, "reason": "r" * 400})).status_code == 200

    [refused, *taken] = graph.ingestion.uploads
    assert refused.status == 400 and taken and all(upload.status == 204 for upload in taken)
    [warning] = warnings_about_ingestion(logs)
    lost = 2000 - len(graph.ingestion.records)
    assert 0 < lost < 2000
    assert f"failed for {lost} of 2000 audit event(s) (HTTP 400" in warning


# --- the client library's own logging, and the cold start ------------------------------------


def test_the_client_librarys_loggers_are_held_at_warning() -> None:
    protect_logs()
    for name in (
        "azure.monitor.ingestion",
        "azure.core.pipeline.policies.http_logging_policy",
        "azure.core.pipeline.policies._universal",
    ):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING


def test_the_ingestion_client_is_imported_on_first_use_only(graph: GraphSimulator) -> None:
    probe = textwrap.dedent(
        """
        import os, sys
        import function_app
        from revoke.app.evidence import audit_delivery
        assert "azure.monitor.ingestion" not in sys.modules, "imported at indexing"
        with audit_delivery():
            pass
        assert "azure.monitor.ingestion" not in sys.modules, "imported with delivery off"
        os.environ.update({"REVOKE_AUDIT_DCR_ENDPOINT": "https://127.0.0.1:9", "REVOKE_AUDIT_DCR_ID": "dcr-" + "0" * 32})
        from revoke.app import runtime
        runtime.reset()
        with audit_delivery():
            pass
        assert "azure.monitor.ingestion" not in sys.modules, "imported for an invocation without events"
        print("lazy")
        """
    )
    finished = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=_child(graph.environment()),
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "lazy"


def _child(extra: dict[str, str]) -> dict[str, str]:
    import os

    keep = {k: v for k, v in os.environ.items() if not k.startswith("REVOKE_AUDIT_")}
    return {**keep, **extra, "PYTHONPATH": str(ROOT)}


# --- health: the last delivery, as a warning that never makes the deployment not ready -----


def test_health_shows_the_last_delivery_and_warns_when_it_failed_but_stays_ready(app: GraphSimulator) -> None:
    from tests.test_health import health

    first = body_of(health())
    assert first["auditDelivery"] == {"status": "never", "time": None, "events": 0, "detail": None}

    revoke_http(http_request({"user": ADELE[0]}))
    delivered = health()
    assert delivered.status_code == 200
    body = body_of(delivered)
    assert (body["auditDelivery"]["status"], body["auditDelivery"]["events"]) == ("ok", 1)
    assert not any(WORKSPACE_INGESTION in warning for warning in body["warnings"])

    app.ingestion.publisher = False
    revoke_http(http_request({"user": MEGAN[0]}))
    failed = health()
    assert failed.status_code == 200 and body_of(failed)["status"] == "ready"
    body = body_of(failed)
    assert (body["auditDelivery"]["status"], body["auditDelivery"]["detail"]) == ("failed", "HTTP 403 OperationFailed")
    [warning] = [w for w in body["warnings"] if WORKSPACE_INGESTION in w]
    assert "HTTP 403 OperationFailed" in warning
    assert all(check["name"] != "auditDelivery" for check in body["checks"])


def test_health_says_nothing_of_delivery_when_it_is_off(graph: GraphSimulator) -> None:
    from tests.test_health import health

    with app_settings(graph.environment()):
        assert "auditDelivery" not in body_of(health())
