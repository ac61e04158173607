"""`python -m revoke` as a responder uses it mid-incident: the table, the audit lines, the
signed-in caller, a missing sign-in, release, and `check` with a delegated token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from graphsim import Fault, GraphSimulator
from graphsim.azurite import Azurite
from graphsim.harness import app_settings
from revoke.app.cli import EXIT_NOT_ALL_CONTAINED, EXIT_OK, EXIT_TRANSIENT, EXIT_USAGE, main
from revoke.app.readiness import USER_ADMINISTRATOR
from revoke.app.responder import NO_CREDENTIAL
from revoke.containment.records import TABLE_NAME
from revoke.containment.verdict import EXTERNAL_NOT_CONTAINED
from tests.conftest import ADELE, AUDIT_VALIDATOR, GUEST, MEGAN

ROOT = Path(__file__).resolve().parent.parent
RESPONDER = {"upn": "responder@contoso.com", "scp": "User.ReadWrite.All Directory.AccessAsUser.All"}


def audit_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"schema":"revoke.audit/')]


def test_revoke_prints_a_table_of_user_verdict_actions_and_reason(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["revoke", "--user", GUEST[0], "--user", ADELE[0]]) == EXIT_NOT_ALL_CONTAINED

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["USER", "VERDICT", "ACTIONS", "REASON"]
    guest = next(line for line in lines if line.startswith(GUEST[0]))
    assert guest.split()[1:3] == ["not_contained", "revokeSignInSessions=revoked"]
    assert EXTERNAL_NOT_CONTAINED[:60] in guest
    assert next(line for line in lines if line.startswith(ADELE[0])).split()[1] == "contained"
    assert lines[-1].startswith("Correlation id: ")


def test_every_action_is_audited_on_stderr_with_the_signed_in_responder(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    app.token_claims = dict(RESPONDER)

    assert main(["revoke", "--user", ADELE[0], "--user", MEGAN[0], "--reason", "SOC-1"]) == EXIT_OK

    events = audit_lines(capsys.readouterr().err)
    assert [(e["user"], e["outcome"]) for e in events] == [(ADELE[0], "revoked"), (MEGAN[0], "revoked")]
    for event in events:
        AUDIT_VALIDATOR.validate(event)
        assert (event["trigger"], event["reason"]) == ("cli", "SOC-1")
        assert (event["callerObjectId"], event["callerUpn"]) == (app.identity_object_id, "responder@contoso.com")


def test_the_audit_goes_to_a_file_when_asked(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"

    assert main(["revoke", "--user", ADELE[0], "--audit-log", str(log)]) == EXIT_OK
    assert main(["revoke", "--user", MEGAN[0], "--audit-log", str(log), "--json"]) == EXIT_OK

    assert audit_lines(capsys.readouterr().err) == []
    assert [e["user"] for e in audit_lines(log.read_text())] == [ADELE[0], MEGAN[0]]


def test_without_a_credential_it_says_so_once_and_exits_2(tmp_path: Path) -> None:
    """No az, no service principal, no managed-identity endpoint: one line, no library error block."""
    bare = {"HOME": str(tmp_path), "PATH": str(tmp_path), "PYTHONPATH": str(ROOT)}
    finished = subprocess.run(
        [sys.executable, "-m", "revoke", "revoke", "--user", ADELE[0], "--reason", "drill"],
        cwd=ROOT,
        env=bare,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == EXIT_USAGE, finished.stderr
    assert finished.stderr.count(NO_CREDENTIAL) == 1
    assert len(finished.stderr.strip().splitlines()) == 1, finished.stderr
    assert finished.stdout == ""


def test_release_from_the_cli(app: GraphSimulator, capsys: pytest.CaptureFixture[str], azurite: Azurite) -> None:
    """The responder contains Adele and Megan, then releases Adele: the record the CLI wrote is the one it finds."""
    TableServiceClient.from_connection_string(azurite.connection_string).delete_table(TABLE_NAME)
    records = {"REVOKE_CONTAINMENT_RECORDS": "true", "AzureWebJobsStorage": azurite.connection_string}
    with app_settings({**records, "REVOKE_ACTIONS": "disableAccount"}):
        assert main(["revoke", "--user", ADELE[0], "--user", MEGAN[0], "--reason", "SOC-1"]) == EXIT_OK
    capsys.readouterr()

    with app_settings({**records, "REVOKE_RELEASE_ACTIONS": "enableAccount"}):
        assert main(["release", "--user", ADELE[0], "--reason", "false positive"]) == EXIT_OK
        out, err = capsys.readouterr()
        assert next(line for line in out.splitlines() if line.startswith(ADELE[0])).split()[1:3] == [
            "released",
            "enableAccount=enabled",
        ]
        assert [(e["action"], e["outcome"]) for e in audit_lines(err)] == [("enableAccount", "enabled")]
        assert app.disabled == {MEGAN[1]}

        assert main(["release", "--user", "ghost@contoso.com"]) == EXIT_NOT_ALL_CONTAINED
        assert main(["release", "--user", MEGAN[0], "--action", "dismissRisk"]) == EXIT_USAGE  # not allowed
        app.inject(Fault(status=503, times=None))
        assert main(["release", "--user", MEGAN[0]]) == EXIT_TRANSIENT
    assert app.disabled == {MEGAN[1]}


def test_release_is_refused_when_the_deployment_allows_none(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["release", "--user", ADELE[0]]) == EXIT_USAGE
    assert "REVOKE_RELEASE_ACTIONS" in capsys.readouterr().out
    assert app.graph_requests() == []


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": "revokeSignInSessions,disableAccount"}])
def test_check_reads_a_delegated_tokens_directory_roles_and_never_flags_its_scopes(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    app.app_roles = []
    app.token_claims = {**RESPONDER, "wids": []}

    assert main(["check", "--json"]) == EXIT_NOT_ALL_CONTAINED
    report = json.loads(capsys.readouterr().out)
    assert report["missingRoles"] == ["User Administrator"]
    assert report["warnings"] == []  # the Azure CLI's broad scopes are not the responder's to remove
    roles = next(c for c in report["checks"] if c["name"] == "directoryRoles")
    assert roles["detail"] == "the signed-in user needs User Administrator (for disableAccount, revokeSignInSessions)"

    app.token_claims = {**RESPONDER, "wids": [USER_ADMINISTRATOR]}
    app.issued_tokens.clear()
    assert main(["check"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("ready")


@pytest.mark.parametrize(
    "settings", [{"REVOKE_ACTIONS": "revokeSignInSessions,disableAccount", "REVOKE_ONPREM_ACTIONS": "disableAccount"}]
)
def test_check_names_the_directory_role_the_active_directory_action_needs(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """identityAccounts: Security Administrator is the least privileged role Microsoft documents."""
    app.app_roles = []
    app.token_claims = {**RESPONDER, "wids": [USER_ADMINISTRATOR]}

    assert main(["check", "--json"]) == EXIT_NOT_ALL_CONTAINED
    roles = next(c for c in json.loads(capsys.readouterr().out)["checks"] if c["name"] == "directoryRoles")
    assert roles["detail"] == "the signed-in user needs Security Administrator (for disableActiveDirectoryAccount)"


def test_targets_shows_the_actions_that_would_apply_and_flags_guests(capsys: pytest.CaptureFixture[str]) -> None:
    os.environ.pop("REVOKE_ACTIONS", None)
    assert main(["targets", str(ROOT / "samples" / "sentinel-incident.json")]) == EXIT_OK

    out = capsys.readouterr().out
    assert "actions that would apply: revokeSignInSessions" in out
    assert "external (guest)" in next(line for line in out.splitlines() if line.startswith(GUEST[0]))
    assert "external" not in next(line for line in out.splitlines() if line.startswith(ADELE[1]))


def test_check_without_a_credential_says_so_once_and_exits_2(tmp_path: Path) -> None:
    """As CLI.md says: one line, no table, no library error block."""
    bare = {"HOME": str(tmp_path), "PATH": str(tmp_path), "PYTHONPATH": str(ROOT)}
    finished = subprocess.run(
        [sys.executable, "-m", "revoke", "check"],
        cwd=ROOT,
        env=bare,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == EXIT_USAGE, finished.stdout + finished.stderr
    assert finished.stderr.strip().splitlines() == [NO_CREDENTIAL]
    assert finished.stdout == ""


@pytest.mark.parametrize(
    "settings", [{"REVOKE_CALLER_AUTH": "entra", "REVOKE_AUTH_TENANT_ID": "", "REVOKE_ACTION_BUDGET": "off"}]
)
def test_check_judges_only_what_the_cli_needs(app: GraphSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    """The HTTP callers' settings (here: entra without a tenant, which the function's health refuses) and the
    budget, which the CLI does not draw on, are the function's business, not the responder's."""
    assert main(["check", "--json"]) == EXIT_OK

    out, err = capsys.readouterr()
    report = json.loads(out)
    assert [check["name"] for check in report["checks"]] == ["settings", "graphToken", "graphPermissions"]
    assert report["warnings"] == []
    assert err.startswith("Protection in force: ")
