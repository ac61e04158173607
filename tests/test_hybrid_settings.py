"""REVOKE_ONPREM_ACTIONS, REVOKE_VERIFY_AFTER_SECONDS and REVOKE_VERIFY_QUEUE_NAME, read as the rest are."""

from __future__ import annotations

import pytest

from revoke.actions import ActiveDirectoryAction
from revoke.errors import SettingsError
from revoke.settings import DEFAULT_VERIFY_AFTER_SECONDS, Settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        ("disableAccount", (ActiveDirectoryAction.DISABLE,)),
        (" forcePasswordReset , DISABLEACCOUNT ", (ActiveDirectoryAction.DISABLE, ActiveDirectoryAction.FORCE_PASSWORD_RESET)),
    ],
)  # fmt: skip
def test_onprem_actions_name_the_containment_action_they_complete(raw: str, expected: tuple[object, ...]) -> None:
    settings = Settings.from_environment({"REVOKE_ONPREM_ACTIONS": raw})
    assert settings.onprem_actions == expected
    assert settings.disables_active_directory is bool(expected)


@pytest.mark.parametrize("raw", ["forcePasswordReset", "disableAccount,enable", "revokeSignInSessions"])
def test_onprem_actions_refuse_anything_else_naming_the_setting(raw: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environment({"REVOKE_ONPREM_ACTIONS": raw})
    assert refused.value.setting == "REVOKE_ONPREM_ACTIONS"


def test_the_check_after_the_next_sync_defaults_to_one_sync_cycle_and_a_margin() -> None:
    assert Settings.from_environment({}).verify_after_seconds == DEFAULT_VERIFY_AFTER_SECONDS == 2100
    assert Settings.from_environment({}).verify_queue_name == "revoke-verify"
    assert Settings.from_environment({"REVOKE_VERIFY_AFTER_SECONDS": "OFF"}).verify_after_seconds is None
    assert Settings.from_environment({"REVOKE_VERIFY_AFTER_SECONDS": "3600"}).verify_after_seconds == 3600


@pytest.mark.parametrize("raw", ["-1", "604801", "soon", "1.5"])
def test_the_check_delay_must_fit_a_queue_messages_invisibility(raw: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environment({"REVOKE_VERIFY_AFTER_SECONDS": raw})
    assert refused.value.setting == "REVOKE_VERIFY_AFTER_SECONDS"


def test_active_directory_actions_are_budgeted_like_disable_account() -> None:
    settings = Settings.from_environment({})
    for action in ActiveDirectoryAction:
        assert settings.budget_for(action.value) == settings.budget_for("disableAccount") == 50
    tight = Settings.from_environment({"REVOKE_ACTION_BUDGET": "disableActiveDirectoryAccount=5"})
    assert tight.budget_for(ActiveDirectoryAction.DISABLE.value) == 5
