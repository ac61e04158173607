"""What a cold start imports: indexing the app, and the first containment, each in a fresh interpreter.

Not timed (speed lives in `make bench`): each test reads `sys.modules` in a new process. A module
the first containment does not need is imported when first used, so a cold start pays for it only
in the deployments that use it: PyJWT and the caller policy with REVOKE_CALLER_AUTH=entra, the
Storage clients with an action budget or a campaign, the Sentinel comment with comments on, the
campaign engine with a campaign call. A new room (a verify queue, an audit delivery client) keeps
to the same rule by adding its heavy modules to HEAVY.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphsim import EntraAuthority, GraphSimulator
from tests.conftest import MEGAN
from tests.test_incident_comment_flow import WORKSPACE

ROOT = Path(__file__).resolve().parent.parent
# Modules a cold start must not pay for unless a deployment uses what they serve.
HEAVY = (
    "jwt",  # PyJWT: the caller's token check, with REVOKE_CALLER_AUTH=entra
    "revoke.policy.callers",
    "revoke.policy.keys",
    "revoke.policy.budget",  # the action budget and its Table Storage client
    "azure.data.tables",
    "azure.storage.queue",  # campaigns' queue
    "azure.monitor.ingestion",  # audit delivery through the Logs Ingestion API
    "revoke.campaigns",
    "revoke.sentinel",  # the incident comment, with comments on
    "revoke.containment.release",
    "revoke.app.readiness",
    "revoke.app.verify_runtime",  # the check after the next sync: its queue client
    "revoke.containment.verification",  # ... and its scheduling, with REVOKE_VERIFY_AFTER_SECONDS
    "revoke.containment.follow_up",  # incident tasks and the check after the sync
    "revoke.containment.records",  # the containment records, with REVOKE_CONTAINMENT_RECORDS
    "revoke.containment.recording",
    "revoke.containment.active_directory",  # Active Directory, with REVOKE_ONPREM_ACTIONS
    "revoke.graph.defender_identity",
)
# Indexing does not even build the credential: azure-identity comes with the first invocation.
HEAVY_AT_INDEXING = (*HEAVY, "azure.identity")

INDEX = """
import json, sys
import function_app
function_app.app.get_functions()  # what the host does when it indexes the app
print(json.dumps(sorted(sys.modules)))
"""

FIRST_CONTAINMENT = """
import json, sys
import azure.functions as func
import function_app
from revoke.app.triggers import revoke_http
function_app.app.get_functions()
body = json.dumps({"users": [sys.argv[1]], "reason": "cold start"}).encode()
response = revoke_http(func.HttpRequest("POST", "/api/revoke", body=body, headers={}))
print(json.dumps({"status": response.status_code, "modules": sorted(sys.modules)}))
"""


def fresh_interpreter(program: str, env: dict[str, str], *args: str) -> object:
    """Run `program` in a new interpreter from the repository root; its last line of output, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", program, *args],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def heavy_in(modules: list[str], heavy: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in heavy))


def app_environment(graph: GraphSimulator, **settings: str) -> dict[str, str]:
    """The process environment without any REVOKE_ setting of the test run's own, plus the simulator's."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("REVOKE_")}
    return {**kept, **graph.environment(), "NO_PROXY": "127.0.0.1", **settings}


def test_indexing_the_app_imports_no_heavy_module(graph: GraphSimulator) -> None:
    modules = fresh_interpreter(INDEX, app_environment(graph))

    assert isinstance(modules, list)
    assert heavy_in(modules, HEAVY_AT_INDEXING) == []
    assert "revoke.app.triggers" in modules  # what it did import: the triggers, to register them


KEY_MODE = {
    "REVOKE_CALLER_AUTH": "key",
    "REVOKE_ACTION_BUDGET": "off",
    "REVOKE_INCIDENT_COMMENTS": "false",
    "REVOKE_CONTAINMENT_RECORDS": "false",
    "REVOKE_VERIFY_AFTER_SECONDS": "off",
}


def test_the_first_containment_in_key_mode_imports_no_heavy_module(graph: GraphSimulator) -> None:
    """Function-key callers, no action budget, records, incident comments or later check: the containment path alone."""
    outcome = fresh_interpreter(FIRST_CONTAINMENT, app_environment(graph, **KEY_MODE), MEGAN[0])

    assert isinstance(outcome, dict)
    assert outcome["status"] == 200
    assert graph.revocations == {MEGAN[1]: 1}
    assert heavy_in(outcome["modules"], HEAVY) == []


@pytest.mark.parametrize(
    ("settings", "needed"),
    [
        ({"REVOKE_CALLER_AUTH": "entra"}, "jwt"),
        ({"REVOKE_SENTINEL_WORKSPACE": WORKSPACE, "REVOKE_INCIDENT_COMMENTS": "true"}, "revoke.sentinel"),
        ({"REVOKE_VERIFY_AFTER_SECONDS": "2100"}, "revoke.containment.verification"),
        ({"REVOKE_ONPREM_ACTIONS": "disableAccount"}, "revoke.graph.defender_identity"),
    ],
    ids=[
        "entra callers: the token check",
        "comments on: the Sentinel comment",
        "the check after the next sync",
        "Active Directory through Defender for Identity",
    ],
)  # fmt: skip
def test_a_deployment_that_uses_a_heavy_module_imports_it_with_the_first_containment(
    graph: GraphSimulator, settings: dict[str, str], needed: str
) -> None:
    """The check above can fail: with the feature on, the same first request imports its module."""
    with EntraAuthority() as authority:
        callers = {
            "REVOKE_AUTH_AUTHORITY": authority.url,
            "REVOKE_AUTH_TENANT_ID": authority.tenant_id,
            "REVOKE_AUTH_AUDIENCE": "api://revoke",
        }
        env = app_environment(graph, **{**KEY_MODE, **callers, **settings})
        outcome = fresh_interpreter(FIRST_CONTAINMENT, env, MEGAN[0])

    assert isinstance(outcome, dict)
    assert outcome["status"] in (200, 401)  # an entra caller without a token is refused, after the import
    assert needed in heavy_in(outcome["modules"], HEAVY)
