"""`python -m revoke` leaves the same trail in the workspace table as the function, naming the signed-in
responder; when it cannot, one line on standard error says so and the local copy is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphsim import GraphSimulator
from revoke.app.cli import EXIT_OK, main
from revoke.audit.ingestion import WORKSPACE_INGESTION
from tests.conftest import ADELE, AUDIT_VALIDATOR, MEGAN
from tests.test_cli_responder import RESPONDER, audit_lines


@pytest.fixture
def settings(graph: GraphSimulator) -> dict[str, str]:
    return graph.ingestion_environment()


def table(graph: GraphSimulator) -> list[dict[str, object]]:
    return [{k: v for k, v in record.items() if k != "TimeGenerated"} for record in graph.ingestion.records]


def test_the_clis_events_reach_the_table_naming_the_responder_as_its_local_copy_does(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    app.token_claims = dict(RESPONDER)

    assert main(["revoke", "--user", ADELE[0], "--user", MEGAN[0], "--reason", "SOC-1"]) == EXIT_OK

    err = capsys.readouterr().err
    local = audit_lines(err)
    assert table(app) == local and len(local) == 2
    for event in table(app):
        AUDIT_VALIDATOR.validate(event)
        assert (event["trigger"], event["callerUpn"], event["callerObjectId"]) == (
            "cli",
            "responder@contoso.com",
            app.identity_object_id,
        )
    assert [upload.audience for upload in app.ingestion.uploads] == ["https://monitor.azure.com"]
    assert WORKSPACE_INGESTION not in err and "warning" not in err


def test_when_it_cannot_send_it_says_so_once_and_keeps_the_local_copy(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app.ingestion.publisher = False  # the responder has no Monitoring Metrics Publisher on the rule

    assert main(["revoke", "--user", ADELE[0]]) == EXIT_OK
    err = capsys.readouterr().err
    [warning] = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warning == (
        "warning: the audit events were not sent to the Log Analytics workspace (HTTP 403 OperationFailed); "
        "the local copy is above, on standard error"
    )
    assert [e["user"] for e in audit_lines(err)] == [ADELE[0]]

    log = tmp_path / "audit.jsonl"
    assert main(["revoke", "--user", MEGAN[0], "--audit-log", str(log)]) == EXIT_OK
    said = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("Protection in force:")]
    assert said == [
        "warning: the audit events were not sent to the Log Analytics workspace (HTTP 403 OperationFailed); "
        f"the local copy is in {log}"
    ]
    assert [e["user"] for e in audit_lines(log.read_text())] == [MEGAN[0]]
    assert app.ingestion.records == []
