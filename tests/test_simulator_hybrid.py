"""The simulator's hybrid tenant, driven with plain requests: what Microsoft documents for a user
synced from Active Directory, the directory sync, Defender for Identity's identity accounts, the
on-premises SID filter on /users, and Sentinel incident tasks.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import requests

from graphsim import GraphSimulator
from graphsim.arm import MAX_TASKS_PER_INCIDENT
from graphsim.users import DIRECTORY_SYNC_PATH
from tests.conftest import ADELE

INCIDENT = (
    "/subscriptions/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/soc/providers/Microsoft.OperationalInsights"
    "/workspaces/sentinel/providers/Microsoft.SecurityInsights/incidents/0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
)
ACCOUNTS = "/v1.0/security/identities/identityAccounts"


def call(sim: GraphSimulator, method: str, path: str, body: Any = None) -> requests.Response:
    token = sim.request_token()
    return requests.request(method, sim.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def by_sid(sid: str) -> str:
    return "?$filter=" + quote(f"onPremisesSecurityIdentifier eq '{sid}'")


def test_graph_accepts_disabling_a_synced_user_and_the_next_sync_enables_them_again(graph: GraphSimulator) -> None:
    synced = graph.add_user("pradeep.gupta@contoso.com", synced=True)

    response = call(graph, "PATCH", f"/v1.0/users/{synced.object_id}", {"accountEnabled": False})

    assert response.status_code == 204
    assert synced.object_id in graph.disabled
    assert graph.directory_sync() == {"enabled": [synced.object_id], "disabled": []}
    assert synced.object_id not in graph.disabled
    selected = call(graph, "GET", f"/v1.0/users/{synced.object_id}?$select=id,accountEnabled,onPremisesSyncEnabled")
    assert selected.json() == {"id": synced.object_id, "accountEnabled": True, "onPremisesSyncEnabled": True}


def test_a_sync_keeps_a_user_disabled_whose_active_directory_account_is_disabled(graph: GraphSimulator) -> None:
    synced = graph.add_user("pradeep.gupta@contoso.com", synced=True)
    graph.active_directory_disabled.add(synced.object_id)

    changed = requests.post(graph.url + DIRECTORY_SYNC_PATH, timeout=10).json()  # the control call

    assert changed == {"enabled": [], "disabled": [synced.object_id]}
    assert synced.object_id in graph.disabled
    assert graph.directory_syncs == 1


def test_a_cloud_only_user_reads_as_never_synced(graph: GraphSimulator) -> None:
    names = "onPremisesSyncEnabled,onPremisesSecurityIdentifier,onPremisesSamAccountName,onPremisesDomainName"
    response = call(graph, "GET", f"/v1.0/users/{ADELE[1]}?$select=id,{names}")

    assert response.json() == {"id": ADELE[1], **dict.fromkeys(names.split(","))}
    graph.disabled.add(ADELE[1])
    graph.directory_sync()
    assert ADELE[1] in graph.disabled  # the sync leaves cloud-only users alone


def test_users_filter_on_the_on_premises_sid_finds_the_synced_user(graph: GraphSimulator) -> None:
    synced = graph.add_user("pradeep.gupta@contoso.com", synced=True)
    assert synced.on_premises_sid is not None and synced.on_premises_sid.startswith("S-1-5-21-")

    found = call(graph, "GET", f"/v1.0/users{by_sid(synced.on_premises_sid)}&$select=id,onPremisesSamAccountName")
    nobody = call(graph, "GET", f"/v1.0/users{by_sid('S-1-5-21-1-2-3-4')}&$select=id")
    other = call(graph, "GET", "/v1.0/users?$filter=" + quote("displayName eq 'x'"))

    assert found.json() == {"value": [{"id": synced.object_id, "onPremisesSamAccountName": "pradeep.gupta"}]}
    assert nobody.json() == {"value": []}
    assert other.status_code == 400


@pytest.mark.parametrize("documented_examples", [True, False])
def test_identity_accounts_answer_in_both_documented_shapes(graph: GraphSimulator, documented_examples: bool) -> None:
    synced = graph.add_user("pradeep.gupta@contoso.com", synced=True)
    graph.defender_identity.documented_examples = documented_examples
    assert synced.on_premises_sid is not None

    listed = call(graph, "GET", ACCOUNTS + by_sid(synced.on_premises_sid)).json()["value"]
    [account] = listed
    got = call(graph, "GET", f"{ACCOUNTS}/{account['id']}").json()

    assert account["onPremisesSecurityIdentifier"] == synced.on_premises_sid and account["isEnabled"] is True
    provider = "provider" if documented_examples else "identityProvider"
    active_directory = next(a for a in account["accounts"] if a[provider].lower() == "activedirectory")
    assert (got["value"] if documented_examples else got) == account
    invoked = call(
        graph,
        "POST",
        f"{ACCOUNTS}/{account['id']}/invokeAction",
        {"accountId": active_directory["identifier"], "action": "disable", "identityProvider": "activeDirectory"},
    )
    assert invoked.status_code == 200
    result = invoked.json()["value"] if documented_examples else invoked.json()
    assert (result["accountId"], result["action"], result[provider]) == (
        active_directory["identifier"], "disable", "activeDirectory",
    )  # fmt: skip
    assert synced.object_id in graph.active_directory_disabled
    again = call(graph, "GET", ACCOUNTS + by_sid(synced.on_premises_sid)).json()["value"]
    assert again[0]["isEnabled"] is False


def test_invoke_action_refuses_what_the_documentation_does_not_support(graph: GraphSimulator) -> None:
    synced = graph.add_user("pradeep.gupta@contoso.com", synced=True)
    account_id = graph.defender_identity.account_id(synced)
    ad_id = graph.defender_identity.active_directory_id(synced)

    def invoke(body: dict[str, Any], account: str = account_id) -> int:
        return call(graph, "POST", f"{ACCOUNTS}/{account}/invokeAction", body).status_code

    # forcePasswordReset is documented for activeDirectory only; revokeAllSessions for okta only.
    assert invoke({"accountId": ad_id, "action": "revokeAllSessions", "identityProvider": "activeDirectory"}) == 400
    assert invoke({"accountId": synced.object_id, "action": "disable", "identityProvider": "activeDirectory"}) == 400
    assert invoke({"accountId": ad_id, "action": "disable"}) == 400
    assert invoke({"accountId": ad_id, "action": "disable", "identityProvider": "activeDirectory"}, "nope") == 404
    assert invoke({"accountId": ad_id, "action": "forcePasswordReset", "identityProvider": "activeDirectory"}) == 200
    assert graph.password_resets == {synced.object_id: 1}
    assert graph.active_directory_disabled == set()


def test_without_the_sensor_defender_for_identity_knows_no_account(graph: GraphSimulator) -> None:
    synced = graph.add_user("pradeep.gupta@contoso.com", synced=True)
    graph.defender_identity.sensor_deployed = False
    assert synced.on_premises_sid is not None

    assert call(graph, "GET", ACCOUNTS + by_sid(synced.on_premises_sid)).json() == {"value": []}


def put_task(graph: GraphSimulator, task_id: str, body: Any, version: str = "2024-03-01") -> requests.Response:
    token = graph.request_token(graph.arm_url)
    return requests.put(
        f"{graph.arm_url}{INCIDENT}/tasks/{task_id}?api-version={version}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_incident_tasks_are_created_then_updated_and_an_incident_holds_forty(graph: GraphSimulator) -> None:
    task = {"properties": {"title": "Disable CORP\\pradeep in Active Directory", "status": "New"}}

    first, second = put_task(graph, "t-0", task), put_task(graph, "t-0", task)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["type"] == "Microsoft.SecurityInsights/incidents/tasks"
    assert put_task(graph, "t-x", task, version="2023-11-01").status_code == 400  # no tasks before 2024-03-01
    assert put_task(graph, "t-y", {"properties": {"title": "no status"}}).status_code == 400
    for number in range(1, MAX_TASKS_PER_INCIDENT):
        assert put_task(graph, f"t-{number}", task).status_code == 201
    refused = put_task(graph, "t-41", task)
    assert refused.status_code == 400 and "40" in refused.json()["error"]["message"]
    assert len(graph.tasks) == MAX_TASKS_PER_INCIDENT
