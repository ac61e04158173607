"""Containment that holds for users synced from Active Directory, through both triggers.

A synced user disabled in Entra ID alone is enabled again by the next directory sync, so the
verdict says `not_contained` unless Defender for Identity disabled the Active Directory account
too (REVOKE_ONPREM_ACTIONS). Every test runs against the simulator's hybrid tenant, and most end
with a directory sync to show that what the verdict said holds.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from graphsim import Fault, GraphSimulator
from graphsim.azurite import Azurite
from graphsim.faults import is_lookup_by_filter
from graphsim.harness import LogCapture, app_settings, http_request
from graphsim.users import SimulatedUser
from revoke.app.release_triggers import release_http
from revoke.app.triggers import revoke_http
from revoke.containment.active_directory import NO_SID
from revoke.containment.release import ENABLED_UNTIL_SYNC
from revoke.containment.verdict import DISABLED_UNTIL_SYNC, ONPREM_OFF_HINT, REVOCATION_ALONE, SYNC_UNKNOWN
from revoke.graph.defender_identity import ANOTHER_ACCOUNT, UNKNOWN_ACCOUNT
from revoke.policy.budget import TABLE_NAME
from tests.conftest import ADELE, MEGAN, body_of
from tests.test_actions import DISABLE, REVOKE, TRIGGERS, by_user, contain, event, expected, sent

AD_DISABLE, AD_RESET = "disableActiveDirectoryAccount", "forceActiveDirectoryPasswordReset"
BOTH = {"REVOKE_ACTIONS": f"{REVOKE},{DISABLE}"}
ONPREM = {**BOTH, "REVOKE_ONPREM_ACTIONS": "disableAccount"}
ONPREM_RESET = {**BOTH, "REVOKE_ONPREM_ACTIONS": "disableAccount,forcePasswordReset"}
ACCOUNTS = "/v1.0/security/identities/identityAccounts"


def synced_user(graph: GraphSimulator) -> SimulatedUser:
    return graph.add_user("pradeep.gupta@contoso.com", synced=True)


def defender_calls(graph: GraphSimulator) -> list[tuple[str, str]]:
    return [(method, path.split("?")[0]) for method, path, _ in sent(graph) if path.startswith(ACCOUNTS)]


def result_of(run: Any, user: str) -> dict[str, Any]:
    [result] = [r for r in run.body["results"] if r["user"] == user]
    return result


# --- the verdict, without the on-premises action --------------------------------------------
@pytest.mark.parametrize("settings", [BOTH])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_revocation_alone_contains_a_synced_member_as_any_member(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    synced = synced_user(app)

    run = contain(trigger, {"users": [synced.object_id], "actions": [REVOKE]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    assert by_user(logs)[synced.object_id] == [(REVOKE, "revoked", True)]
    assert event(logs, synced.object_id, REVOKE)["detail"] == REVOCATION_ALONE
    assert defender_calls(app) == []


@pytest.mark.parametrize("settings", [BOTH])
@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault(status=403, method="GET", times=None), id="look-up refused"),
        # A look-up answers a collection ($filter=id in (...)): the user in it, without a readable sync state.
        pytest.param(Fault(status=200, body={"value": [{"id": MEGAN[1], "userPrincipalName": MEGAN[0]}]}, method="GET"), id="no onPremisesSyncEnabled"),
        pytest.param(Fault(status=200, body={"value": [{"id": MEGAN[1], "userPrincipalName": MEGAN[0], "onPremisesSyncEnabled": "yes"}]}, method="GET"), id="unreadable"),
    ],
)  # fmt: skip
def test_a_disable_contains_no_one_whose_look_up_cannot_tell_whether_they_are_synced(
    app: GraphSimulator, logs: LogCapture, trigger: str, fault: Fault
) -> None:
    """Fail closed on the claim: a synced account would be enabled again at the next sync."""
    app.inject(fault)

    run = contain(trigger, {"users": [MEGAN[1]]})

    assert run.answer == expected(trigger, http=207, queue="complete")
    assert app.disabled == {MEGAN[1]} and app.revocations == {MEGAN[1]: 1}  # both were done
    assert by_user(logs)[MEGAN[1]] == [(DISABLE, "disabled", None), (REVOKE, "revoked", False)]
    assert event(logs, MEGAN[1], REVOKE)["detail"] == SYNC_UNKNOWN
    if trigger == "http":
        assert (result_of(run, MEGAN[1])["outcome"], result_of(run, MEGAN[1])["detail"]) == (
            "not_contained",
            SYNC_UNKNOWN,
        )


# --- the Active Directory account, through Defender for Identity -------------------------------
@pytest.mark.parametrize("settings", [ONPREM])
@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("documented_examples", [True, False], ids=["examples' shape", "resource shape"])
def test_a_synced_user_is_contained_once_their_active_directory_account_is_disabled(
    app: GraphSimulator, logs: LogCapture, trigger: str, documented_examples: bool
) -> None:
    synced = synced_user(app)
    app.defender_identity.documented_examples = documented_examples

    run = contain(trigger, {"users": [synced.user_principal_name, ADELE[1]]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    assert by_user(logs)[synced.user_principal_name] == [
        (DISABLE, "disabled", None),
        (AD_DISABLE, "disabled", None),
        (REVOKE, "revoked", True),
    ]
    assert by_user(logs)[ADELE[1]] == [(DISABLE, "disabled", None), (REVOKE, "revoked", True)]
    # Stop sign-ins first: the Entra disable, then Active Directory, then the revocation.
    methods = [(m, p.split("?")[0]) for m, p, _ in sent(app) if m != "GET"]
    account = app.defender_identity.account_id(synced)
    assert methods.index(("POST", f"{ACCOUNTS}/{account}/invokeAction")) < methods.index(
        ("POST", f"/v1.0/users/{synced.user_principal_name}/revokeSignInSessions")
    )
    assert defender_calls(app) == [("GET", ACCOUNTS), ("POST", f"{ACCOUNTS}/{account}/invokeAction")]
    [listed] = [p for m, p, _ in sent(app) if p.startswith(ACCOUNTS + "?")]
    assert f"onPremisesSecurityIdentifier%20eq%20'{synced.on_premises_sid}'" in listed  # the look-up's own SID
    ad_event = event(logs, synced.user_principal_name, AD_DISABLE)
    assert (ad_event["graphStatus"], ad_event["attempts"]) == (200, 1)
    app.directory_sync()
    assert synced.object_id in app.disabled  # it holds past the sync


@pytest.mark.parametrize("settings", [ONPREM_RESET])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_cloud_only_user_never_causes_an_on_premises_call(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    run = contain(trigger, {"users": [ADELE[0], MEGAN[1]]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    assert defender_calls(app) == []
    assert {action for user in by_user(logs).values() for action, _, _ in user} == {DISABLE, REVOKE}


@pytest.mark.parametrize("settings", [ONPREM_RESET])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_password_reset_in_active_directory_follows_the_disable_when_asked_for(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    synced = synced_user(app)

    run = contain(trigger, {"users": [synced.object_id]})

    assert run.answer == expected(trigger, http=200, queue="complete")
    assert by_user(logs)[synced.object_id] == [
        (DISABLE, "disabled", None),
        (AD_DISABLE, "disabled", None),
        (AD_RESET, "password_reset", None),
        (REVOKE, "revoked", True),
    ]
    assert app.password_resets == {synced.object_id: 1}
    # The identity account is found once, for both Active Directory actions.
    assert [call for call in defender_calls(app) if call[0] == "GET"] == [("GET", ACCOUNTS)]


@pytest.mark.parametrize("settings", [ONPREM])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_an_account_defender_for_identity_does_not_know_is_not_contained_and_says_why(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    synced = synced_user(app)
    app.defender_identity.sensor_deployed = False

    run = contain(trigger, {"users": [synced.object_id, MEGAN[1]]})

    assert run.answer == expected(trigger, http=207, queue="poison")
    assert by_user(logs)[synced.object_id] == [
        (DISABLE, "disabled", None),
        (AD_DISABLE, "failed", None),
        (REVOKE, "revoked", False),
    ]
    assert event(logs, synced.object_id, AD_DISABLE)["detail"] == UNKNOWN_ACCOUNT
    assert [m for m, _ in defender_calls(app)] == ["GET"]  # nothing invoked
    if trigger == "http":
        result = result_of(run, synced.object_id)
        assert (result["outcome"], result["contained"]) == ("failed", False)
        assert result["detail"] == f"{AD_DISABLE}: {UNKNOWN_ACCOUNT}"
    app.directory_sync()
    assert synced.object_id not in app.disabled


@pytest.mark.parametrize("settings", [ONPREM])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_an_identity_account_about_another_sid_is_never_acted_on(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    synced, other = synced_user(app), app.add_user("raul.razo@contoso.com", synced=True)
    shown = {
        "value": [
            {
                "id": app.defender_identity.account_id(other),
                "onPremisesSecurityIdentifier": other.on_premises_sid,
                "isEnabled": True,
                "accounts": [
                    {"provider": "ActiveDirectory", "identifier": app.defender_identity.active_directory_id(other)}
                ],
            }
        ]
    }
    app.inject(Fault(status=200, body=shown, match=lambda path: path == ACCOUNTS, times=None))

    run = contain(trigger, {"users": [synced.object_id]})

    assert run.answer == expected(trigger, http=502, queue="poison")  # its only target failed
    assert event(logs, synced.object_id, AD_DISABLE)["outcome"] == "failed"
    assert ANOTHER_ACCOUNT in event(logs, synced.object_id, AD_DISABLE)["detail"]
    assert app.active_directory_disabled == set()
    assert [m for m, _ in defender_calls(app)] == ["GET"]


@pytest.mark.parametrize("settings", [ONPREM])
@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize(
    ("answer", "outcome", "detail"),
    [
        ({"value": {"accountId": "0d7c6b5a-4938-4271-8160-5f4e3d2c1b0a", "action": "disable", "provider": "activeDirectory"}}, "failed", ANOTHER_ACCOUNT),
        ({"value": {"correlationId": "x"}}, "deferred", "does not name the account and the action"),
        (None, "deferred", "does not say the action was taken"),
    ],
    ids=["another account", "names no account", "empty"],
)  # fmt: skip
def test_an_invoke_action_answer_counts_only_when_it_is_about_the_account_asked(
    app: GraphSimulator, logs: LogCapture, trigger: str, answer: Any, outcome: str, detail: str
) -> None:
    synced = synced_user(app)
    invoke = f"{ACCOUNTS}/{app.defender_identity.account_id(synced)}/invokeAction"
    app.inject(Fault(status=200, body=answer, match=lambda path: path == invoke, times=None))

    run = contain(trigger, {"users": [synced.object_id]})

    assert run.answer == expected(
        trigger, http=502 if outcome == "failed" else 503, queue="poison" if outcome == "failed" else "retry"
    )
    ad_event = event(logs, synced.object_id, AD_DISABLE)
    assert ad_event["outcome"] == outcome and detail in ad_event["detail"]
    assert by_user(logs)[synced.object_id][-1] == (REVOKE, "revoked", False)


@pytest.mark.parametrize("settings", [ONPREM])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_refused_active_directory_action_fails_the_target_and_the_rest_goes_on(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    synced = synced_user(app)
    app.inject(Fault(status=403, match=lambda path: path.endswith("/invokeAction"), times=None))

    run = contain(trigger, {"users": [synced.object_id, ADELE[1]]})

    assert run.answer == expected(trigger, http=207, queue="poison")
    refused = event(logs, synced.object_id, AD_DISABLE)
    assert (refused["outcome"], refused["graphStatus"], refused["contained"]) == ("failed", 403, None)
    assert app.revocations == {synced.object_id: 1, ADELE[1]: 1}
    assert by_user(logs)[ADELE[1]][-1] == (REVOKE, "revoked", True)


@pytest.mark.parametrize("settings", [ONPREM])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_synced_user_whose_look_up_gave_no_sid_gets_no_on_premises_call(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    synced = synced_user(app)
    answer = {"id": synced.object_id, "userPrincipalName": synced.user_principal_name, "onPremisesSyncEnabled": True}
    answer |= dict.fromkeys(("userType", "externalUserState", "creationType"), None) | {"identities": []}
    app.inject(Fault(status=200, body={"value": [answer]}, method="GET", match=is_lookup_by_filter))

    run = contain(trigger, {"users": [synced.object_id]})

    assert run.answer == expected(trigger, http=502, queue="poison")
    assert event(logs, synced.object_id, AD_DISABLE)["detail"] == NO_SID
    assert defender_calls(app) == []


@pytest.mark.parametrize("settings", [ONPREM])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_without_the_setting_the_detail_names_it(app: GraphSimulator, logs: LogCapture, trigger: str) -> None:
    """With REVOKE_ONPREM_ACTIONS set the hint is not given: the action was taken."""
    synced = synced_user(app)

    contain(trigger, {"users": [synced.object_id]})

    assert ONPREM_OFF_HINT not in (event(logs, synced.object_id, REVOKE)["detail"] or "")
    assert DISABLED_UNTIL_SYNC.split(":")[0] not in (event(logs, synced.object_id, REVOKE)["detail"] or "")


# --- a release ----------------------------------------------------------------------------------
def release(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = release_http(http_request(body))
    return response.status_code, body_of(response)


@pytest.fixture
def records(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    """The containment records a release must find, in Azurite, emptied for the test."""
    from revoke.containment.records import TABLE_NAME as RECORDS

    TableServiceClient.from_connection_string(azurite.connection_string).delete_table(RECORDS)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("REVOKE_CONTAINMENT_RECORDS", "true")


@pytest.mark.parametrize("settings", [{**ONPREM, "REVOKE_RELEASE_ACTIONS": "enableAccount"}])
def test_a_release_enables_the_active_directory_account_too_when_the_setting_is_on(
    app: GraphSimulator, logs: LogCapture, records: None
) -> None:
    synced = synced_user(app)
    contain("http", {"users": [synced.object_id, ADELE[1]], "actions": [DISABLE]})  # recorded, Active Directory too
    assert app.disabled == {synced.object_id, ADELE[1]} and app.active_directory_disabled == {synced.object_id}
    logs.records.clear()

    status, body = release({"users": [synced.user_principal_name, ADELE[0]], "reason": "false positive"})

    assert status == 200, body
    assert [(a["action"], a["outcome"]) for a in body["results"][0]["actions"]] == [
        ("enableAccount", "enabled"),
        ("enableActiveDirectoryAccount", "enabled"),
    ]
    assert [a["action"] for a in body["results"][1]["actions"]] == ["enableAccount"]  # cloud-only: Entra alone
    assert body["results"][0]["detail"] is None
    assert app.active_directory_disabled == set()
    app.directory_sync()
    assert app.disabled == set()  # it holds past the sync
    [ad_event] = [e for e in logs.audit_events() if e["action"] == "enableActiveDirectoryAccount"]
    assert (ad_event["outcome"], ad_event["contained"], ad_event["user"]) == (
        "enabled",
        None,
        synced.user_principal_name,
    )


@pytest.mark.parametrize("settings", [{**BOTH, "REVOKE_RELEASE_ACTIONS": "enableAccount"}])
def test_without_the_setting_a_synced_release_says_the_next_sync_may_disable_them_again(
    app: GraphSimulator, logs: LogCapture, records: None
) -> None:
    synced = synced_user(app)
    contain("http", {"users": [synced.object_id], "actions": [DISABLE]})  # in Entra ID alone: recorded so
    app.active_directory_disabled.add(synced.object_id)  # a person disabled it there, following a task

    status, body = release({"users": [synced.object_id], "reason": "false positive"})

    assert status == 200
    assert (body["results"][0]["outcome"], body["results"][0]["detail"]) == ("released", ENABLED_UNTIL_SYNC)
    assert defender_calls(app) == []
    app.directory_sync()
    assert synced.object_id in app.disabled  # as the detail said


# --- the action budget ----------------------------------------------------------------------------
def test_the_active_directory_disable_is_budgeted_under_its_own_name(
    graph: GraphSimulator, azurite: Azurite, logs: LogCapture
) -> None:
    """One Active Directory disable an hour: the second synced user is refused it, and says so."""
    TableServiceClient.from_connection_string(azurite.connection_string).delete_table(TABLE_NAME)
    first, second = synced_user(graph), graph.add_user("raul.razo@contoso.com", synced=True)
    budget = {**ONPREM, "AzureWebJobsStorage": azurite.connection_string}
    budget["REVOKE_ACTION_BUDGET"] = "disableActiveDirectoryAccount=1"
    budget["REVOKE_QUEUE_BUDGET_SHARE"] = "0"  # one pool: the HTTP caller may take the one unit

    with app_settings({**graph.environment(), **budget}):
        response = revoke_http(http_request({"users": [first.object_id, second.object_id]}))

    assert response.status_code == 207
    assert graph.active_directory_disabled == {first.object_id}
    refused = event(logs, second.object_id, AD_DISABLE)
    assert refused["outcome"] == "refused" and "REVOKE_ACTION_BUDGET" in refused["detail"]
    assert by_user(logs)[second.object_id][-1] == (REVOKE, "revoked", False)
    assert by_user(logs)[first.object_id][-1] == (REVOKE, "revoked", True)


@pytest.mark.parametrize("settings", [{**ONPREM, "REVOKE_RELEASE_ACTIONS": "enableAccount"}])
def test_a_release_leaves_alone_an_active_directory_account_this_deployment_did_not_disable(
    app: GraphSimulator, logs: LogCapture, records: None
) -> None:
    """Contained in Entra ID alone (before REVOKE_ONPREM_ACTIONS was set); HR disabled the Active
    Directory account since: the release enables the Entra account only, and says the sync may undo it."""
    synced = synced_user(app)
    with app_settings({"REVOKE_ONPREM_ACTIONS": ""}):
        contain("http", {"users": [synced.object_id], "actions": [DISABLE]})
    app.active_directory_disabled.add(synced.object_id)  # HR, not this deployment
    logs.records.clear()

    status, body = release({"users": [synced.object_id], "reason": "false positive"})

    assert status == 200, body
    assert [a["action"] for a in body["results"][0]["actions"]] == ["enableAccount"]
    assert (body["results"][0]["outcome"], body["results"][0]["detail"]) == ("released", ENABLED_UNTIL_SYNC)
    assert defender_calls(app) == [] and app.active_directory_disabled == {synced.object_id}
