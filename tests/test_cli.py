"""`python -m revoke`: targets, revoke and demo, with their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from graphsim import Fault, GraphSimulator
from revoke.app.cli import EXIT_NOT_ALL_CONTAINED, EXIT_OK, EXIT_TRANSIENT, EXIT_USAGE, main
from tests.conftest import ADELE, MEGAN

ROOT = Path(__file__).resolve().parent.parent


def test_targets_prints_what_a_payload_resolves_to(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets", "--json", str(ROOT / "samples" / "sentinel-incident.json")]) == EXIT_OK

    printed = json.loads(capsys.readouterr().out)
    assert printed["shape"] == "sentinel_incident"
    # CORP\\svc-backup carries its on-premises SID: the user synced from it is looked up by that.
    assert [(t["user"], t["kind"]) for t in printed["targets"]] == [
        (ADELE[1], "object_id"),
        ("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "upn"),
        ("S-1-5-21-1004336348-1177238915-682003330-1105", "sid"),
    ]
    assert printed["skipped"] == []


def test_targets_exits_2_on_an_invalid_payload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = tmp_path / "bad.json"
    payload.write_text('{"users": ["nobody"]}')

    assert main(["targets", str(payload)]) == EXIT_USAGE
    assert "invalid" not in capsys.readouterr().out


def test_revoke_by_user_exits_0_when_all_revoked(app: GraphSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["revoke", "--user", ADELE[0], "--user", MEGAN[1], "--reason", "drill", "--json"]) == EXIT_OK

    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["outcome"] for r in results] == ["contained", "contained"]
    assert len(app.revocations) == 2


def test_revoke_exits_1_when_a_user_is_not_found(app: GraphSimulator) -> None:
    assert main(["revoke", "--user", ADELE[0], "--user", "ghost@contoso.com"]) == EXIT_NOT_ALL_CONTAINED


def test_revoke_exits_3_on_a_transient_failure(app: GraphSimulator) -> None:
    app.inject(Fault(status=503, times=None))

    assert main(["revoke", "--user", ADELE[0]]) == EXIT_TRANSIENT
    assert app.revocations == {}


def test_revoke_dry_run_from_a_payload_sends_nothing(app: GraphSimulator) -> None:
    assert main(["revoke", "--payload", str(ROOT / "samples" / "sentinel-alert.json"), "--dry-run"]) == EXIT_OK
    assert app.graph_requests() == []  # only the sign-in, which names the responder in the audit


def test_revoke_exits_2_on_usage_errors(app: GraphSimulator) -> None:
    assert main(["revoke", "--user", "not-a-user"]) == EXIT_USAGE
    assert main(["revoke", "--payload", str(ROOT / "samples" / "sentinel-alert.json"), "--reason", "x"]) == EXIT_USAGE


def test_demo_runs_end_to_end_in_a_fresh_process() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "graphsim.demo"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Demo passed" in finished.stdout
    assert "POST /v1.0/users/bob_fabrikam.com%23EXT%23@contoso.onmicrosoft.com/revokeSignInSessions" in finished.stdout


def test_the_product_cli_says_where_the_demo_is(capsys: pytest.CaptureFixture[str]) -> None:
    """The simulator is not deployed, so `python -m revoke demo` only points at it."""
    assert main(["demo"]) == EXIT_USAGE
    assert "python -m graphsim.demo" in capsys.readouterr().out
