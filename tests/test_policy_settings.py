"""The caller and budget settings: read once, validated with a message naming the setting, defaults chosen for safety."""

from __future__ import annotations

import pytest

from revoke.actions import ContainmentAction
from revoke.errors import SettingsError
from revoke.settings import DEFAULT_ACTION_BUDGET, CallerAuth, Settings

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def test_the_product_defaults_identify_callers_and_keep_a_budget() -> None:
    settings = Settings.from_environment({})

    assert settings.caller_auth is CallerAuth.ENTRA
    assert settings.auth_authority == "https://login.microsoftonline.com"
    assert settings.action_budget == DEFAULT_ACTION_BUDGET
    assert [settings.budget_for(action) for action in ContainmentAction] == [200, 50, 100]


def test_a_budget_names_some_actions_and_the_others_keep_their_defaults() -> None:
    settings = Settings.from_environment({"REVOKE_ACTION_BUDGET": " DisableAccount = 5 , confirmCompromised=0"})

    assert settings.budget_for(ContainmentAction.DISABLE_ACCOUNT) == 5
    assert settings.budget_for(ContainmentAction.CONFIRM_COMPROMISED) == 0
    assert settings.budget_for(ContainmentAction.REVOKE_SESSIONS) == 200


def test_off_turns_the_budget_off() -> None:
    settings = Settings.from_environment({"REVOKE_ACTION_BUDGET": "OFF"})

    assert settings.action_budget is None
    assert settings.budget_for(ContainmentAction.DISABLE_ACCOUNT) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REVOKE_ACTION_BUDGET", "disableAccount:5"),
        ("REVOKE_ACTION_BUDGET", "disableAccount=-1"),
        ("REVOKE_ACTION_BUDGET", "disableAccount=lots"),
        ("REVOKE_ACTION_BUDGET", "deleteUser=5"),
        ("REVOKE_ACTION_BUDGET", "disableAccount=100001"),
        ("REVOKE_CALLER_AUTH", "none"),
        ("REVOKE_AUTH_TENANT_ID", "contoso.onmicrosoft.com"),
        ("REVOKE_AUTH_AUDIENCE", "api://x, <script>"),
        ("REVOKE_AUTH_AUTHORITY", "http://login.example.com"),
        ("REVOKE_AUTH_AUTHORITY", "https://login.microsoftonline.com/tenant"),
        ("REVOKE_AUTH_AUTHORITY", "https://user@login.microsoftonline.com"),
        ("AzureWebJobsStorage__accountName", "Not_An_Account"),
    ],
)
def test_an_invalid_value_is_refused_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environment({name: value})

    assert refused.value.setting == name
    assert value not in refused.value.public_message


def test_audiences_are_a_list_and_the_tenant_is_normalised() -> None:
    settings = Settings.from_environment(
        {
            "REVOKE_AUTH_TENANT_ID": TENANT.upper(),
            "REVOKE_AUTH_AUDIENCE": f"11111111-2222-3333-4444-555555555555, api://{TENANT}/revoke-api-x,",
        }
    )

    assert settings.auth_tenant_id == TENANT
    assert settings.auth_audiences == ("11111111-2222-3333-4444-555555555555", f"api://{TENANT}/revoke-api-x")
    assert settings.auth_issuer == f"https://login.microsoftonline.com/{TENANT}/v2.0"


def test_a_loopback_authority_may_be_plain_http() -> None:
    settings = Settings.from_environment({"REVOKE_AUTH_AUTHORITY": "http://127.0.0.1:8080/"})

    assert settings.auth_authority == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("environment", "endpoint", "connection"),
    [
        ({"AzureWebJobsStorage__accountName": "strevoke1"}, "https://strevoke1.table.core.windows.net", False),
        (
            {"AzureWebJobsStorage__tableServiceUri": "https://strevoke1.table.core.chinacloudapi.cn/"},
            "https://strevoke1.table.core.chinacloudapi.cn",
            False,
        ),
        ({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, None, True),
    ],
)
def test_the_budget_uses_the_hosts_storage_connection(
    environment: dict[str, str], endpoint: str | None, connection: bool
) -> None:
    store = Settings.from_environment({**environment, "AzureWebJobsStorage__clientId": "cid"}).host_storage

    assert store.endpoint == endpoint
    assert (store.connection_string is not None) == connection
    assert store.client_id == "cid"


def test_the_connection_string_never_shows_in_the_settings_repr() -> None:
    secret = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0;"
    settings = Settings.from_environment({"AzureWebJobsStorage": secret})

    assert settings.host_storage.connection_string == secret
    assert "c2VjcmV0" not in repr(settings)


@pytest.mark.parametrize(
    ("environment", "queue_endpoint"),
    [
        ({"AzureWebJobsStorage__accountName": "strevoke1"}, "https://strevoke1.queue.core.windows.net"),
        (
            {
                "AzureWebJobsStorage__tableServiceUri": "https://strevoke1.table.core.windows.net",
                "AzureWebJobsStorage__queueServiceUri": "https://strevoke1.queue.core.windows.net/",
            },
            "https://strevoke1.queue.core.windows.net",
        ),
        ({"AzureWebJobsStorage__tableServiceUri": "https://strevoke1.table.core.windows.net"}, None),
        ({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, None),
    ],
)
def test_campaigns_find_the_hosts_queue_service_as_the_host_does(
    environment: dict[str, str], queue_endpoint: str | None
) -> None:
    assert Settings.from_environment(environment).host_storage.queue_endpoint == queue_endpoint


def test_campaigns_without_a_host_storage_connection_name_the_setting_to_fix() -> None:
    from revoke.app.campaign_runtime import build_engine

    settings = Settings.from_environment(
        {"REVOKE_CAMPAIGNS": "true", "AzureWebJobsStorage__tableServiceUri": "https://strevoke1.table.core.windows.net"}
    )
    with pytest.raises(SettingsError, match="AzureWebJobsStorage__queueServiceUri"):
        build_engine(settings)
