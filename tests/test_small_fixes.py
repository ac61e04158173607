"""Small things a newcomer tripped over: a settings example with each key once, an incident
number where an ARM id belongs (tests/test_incident_comment_flow.py), and an identity
endpoint's failure that says what it answered, never what it said."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.harness import LogCapture, http_request
from revoke.app.triggers import revoke_http
from revoke.settings import SettingNames, Settings
from tests.conftest import ADELE, body_of

ROOT = Path(__file__).resolve().parent.parent


def test_local_settings_example_names_each_setting_once() -> None:
    def no_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"repeated: {sorted({k for k in keys if keys.count(k) > 1})}"
        return dict(pairs)

    json.loads((ROOT / "local.settings.json.example").read_text(), object_pairs_hook=no_repeats)


def test_local_settings_example_names_every_setting_the_code_reads_and_reads_as_valid() -> None:
    """AZURE_CLIENT_ID names the managed identity in Azure; a local run signs in otherwise."""
    values = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    read = {name for name in SettingNames.all() if name.startswith("REVOKE_")}

    assert read - values.keys() == set(), "settings the example lacks"
    assert {name for name in values if name.startswith("REVOKE_")} - read == set(), "settings no code reads"
    Settings.from_environment(values)  # raises SettingsError on a value the code refuses


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (Fault(status=500, identity=True, times=None), "the identity endpoint answered HTTP 500"),
        (Fault(status=400, identity=True, times=None, raw_body='{"error":"{token}"}'), "answered HTTP 400"),
        (Fault(delay=3.0, identity=True, times=None), "the identity endpoint gave no answer in time"),
    ],
    ids=["500", "400 quoting a token", "a stall"],
)
def test_a_failure_at_the_identity_endpoint_says_what_it_answered(
    app: GraphSimulator, logs: LogCapture, fault: Fault, says: str
) -> None:
    app.inject(fault)

    response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 503
    detail = body_of(response)["results"][0]["detail"]
    assert detail.startswith("revokeSignInSessions: no token from the managed identity: ")
    assert says in detail
    assert app.revocations == {}


def test_python_m_graphsim_serves_the_simulator_and_prints_the_environment() -> None:
    """The exports it prints are enough for the CLI to contain a sample user against it."""
    server = subprocess.Popen([sys.executable, "-m", "graphsim"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        environment = {}
        for line in server.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                environment[name] = value.strip("'")
            if line.startswith("# Users:"):
                break
        assert {"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REVOKE_GRAPH_ENDPOINT"} <= environment.keys()
        finished = subprocess.run(
            [sys.executable, "-m", "revoke", "revoke", "--user", ADELE[0], "--reason", "drill", "--json"],
            cwd=ROOT,
            env={"PATH": "", "HOME": str(ROOT / "nonexistent"), **environment},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert json.loads(finished.stdout)["results"][0]["outcome"] == "contained"
    finally:
        server.terminate()
        server.wait(timeout=30)
