"""Hybrid users in the templates: Defender for Identity's Graph roles exactly when REVOKE_ONPREM_ACTIONS
is set, and the verify queue with the identity's data roles unless REVOKE_VERIFY_AFTER_SECONDS is off."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
from bicep_values import Evaluator
from conftest import body, resources_of_type
from test_role_coverage import BUILT_IN_ROLES, MESSAGES, QUEUE

from revoke.actions import ACTIVE_DIRECTORY_APP_ROLES
from revoke.settings import DEFAULT_VERIFY_QUEUE_NAME, SettingNames


def _granted(templates: dict[str, dict[str, Any]], onprem: list[str], grant_actions: bool) -> list[str]:
    values = Evaluator(
        templates["app/graph-permissions.bicep"],
        {
            "principalId": "11111111-2222-3333-4444-555555555555",
            "actions": ["revokesigninsessions", "disableaccount"],
            "onpremActions": onprem,
            "grantActionPermissions": grant_actions,
            "grantReadPermission": True,
        },
    )
    return [grant["role"] for grant in values.variable("wantedGrants")]


@pytest.mark.parametrize(
    ("onprem", "grant_actions"),
    list(product([[], ["disableaccount"], ["disableaccount", "forcepasswordreset"]], [True, False])),
)
def test_defender_for_identity_roles_are_granted_exactly_when_the_setting_is_set(
    templates: dict[str, dict[str, Any]], onprem: list[str], grant_actions: bool
) -> None:
    roles = set(_granted(templates, onprem, grant_actions))
    assert (set(ACTIVE_DIRECTORY_APP_ROLES) <= roles) is (bool(onprem) and grant_actions)
    assert not (set(ACTIVE_DIRECTORY_APP_ROLES) & roles) or (onprem and grant_actions)


def test_main_passes_the_setting_as_the_code_reads_it(templates: dict[str, dict[str, Any]]) -> None:
    main = templates["main.bicep"]
    assert main["parameters"]["revokeOnpremActions"]["default"] == ""
    params = main["modules"]["graphPermissions"]["config"]["params"]
    assert params["onpremActions"] == "enabledOnpremActions"
    settings = main["variables"]["revokeAppSettings"]["value"]
    assert settings[SettingNames.ONPREM_ACTIONS] == "revokeOnpremActions"
    assert settings[SettingNames.VERIFY_AFTER_SECONDS] == "revokeVerifyAfterSeconds"
    assert settings[SettingNames.VERIFY_QUEUE_NAME] == "revokeVerifyQueueName"


@pytest.mark.parametrize(("value", "on"), [("2100", True), ("0", True), ("off", False), (" OFF ", False)])
def test_the_verify_queue_is_deployed_unless_the_check_is_off(
    templates: dict[str, dict[str, Any]], value: str, on: bool
) -> None:
    main = templates["main.bicep"]
    module = main["modules"]["verifyQueue"]
    assert module["config"]["condition"] == "verifyOn"
    assert main["parameters"]["revokeVerifyQueueName"]["default"] == DEFAULT_VERIFY_QUEUE_NAME
    values = Evaluator(main, {"revokeVerifyAfterSeconds": value})
    assert values.variable("verifyOn") is on
    assert body(module)["params"]["verifyQueueName"] == "revokeVerifyQueueName"


def test_the_verify_module_creates_both_queues_and_grants_send_and_read(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["app/verify-queue.bicep"]
    (created,) = [r for r in resources_of_type(template, QUEUE).values() if not r.get("existing")]
    assert "verifyQueueName" in str(created["config"]["loop_type"]["detail"]["array_name"])
    assert "-poison" in str(created["config"]["loop_type"]["detail"]["array_name"])
    grants = template["variables"]["queueGrants"]["value"]
    assert [(grant["queue"], grant["role"]) for grant in grants] == [
        ("verifyQueueName", "storageQueueDataMessageSender"),  # schedule: send_message(visibility_timeout)
        ("verifyQueueName", "storageQueueDataContributor"),  # the trigger: receive, delete, update
        ("${verifyQueueName}-poison", "storageQueueDataContributor"),
    ]
    assert all(grant["why"] for grant in grants)


def test_the_identity_may_schedule_receive_and_poison_on_the_verify_queue(templates: dict[str, dict[str, Any]]) -> None:
    """Put Message with a visibility timeout (schedule), Get/Delete/Update Message (the trigger), on the verify queue."""
    template = templates["app/verify-queue.bicep"]
    roles = template["variables"]["roles"]["value"]
    by_queue: dict[str, set[str]] = {}
    for grant in template["variables"]["queueGrants"]["value"]:
        by_queue.setdefault(grant["queue"], set()).add(grant["role"])
    assert by_queue == {
        "verifyQueueName": {"storageQueueDataMessageSender", "storageQueueDataContributor"},
        "${verifyQueueName}-poison": {"storageQueueDataContributor"},
    }
    sender = BUILT_IN_ROLES[roles["storageQueueDataMessageSender"]]
    assert sender.grants(f"{MESSAGES}/add/action") and not sender.grants(f"{MESSAGES}/read")
    contributor = BUILT_IN_ROLES[roles["storageQueueDataContributor"]]
    for needed in (f"{MESSAGES}/read", f"{MESSAGES}/delete", f"{MESSAGES}/write", f"{MESSAGES}/process/action"):
        assert contributor.grants(needed)


def test_the_sentinel_responder_role_may_write_incident_tasks() -> None:
    """IncidentTasks_CreateOrUpdate: Microsoft Sentinel Responder holds Microsoft.SecurityInsights/incidents/*."""
    responder = BUILT_IN_ROLES["3e150937-b8fe-4cfb-8069-0eaf05ecd056"]
    assert responder.grants("Microsoft.SecurityInsights/incidents/tasks/write")
    assert not responder.grants("Microsoft.SecurityInsights/incidents/tasks/delete")
