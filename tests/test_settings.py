"""App settings: defaults, and errors that name the setting."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from revoke import settings as code
from revoke.errors import SettingsError
from revoke.settings import RevocationAction, SettingNames, Settings

HOST_JSON = json.loads((Path(__file__).resolve().parent.parent / "host.json").read_text())


def test_defaults_when_nothing_is_set() -> None:
    settings = Settings.from_environment({})

    assert settings == Settings()
    assert settings.graph_scope == "https://graph.microsoft.com/.default"
    assert settings.action is RevocationAction.REVOKE_SIGN_IN_SESSIONS
    assert (settings.max_users, settings.queue_name, settings.dry_run) == (25, "revoke-requests", False)


def test_values_are_read_and_normalised() -> None:
    settings = Settings.from_environment(
        {
            "REVOKE_GRAPH_ENDPOINT": "https://graph.microsoft.us/",
            "REVOKE_ACTION": "invalidateallrefreshtokens",
            "REVOKE_DRY_RUN": "TRUE",
            "REVOKE_PROTECTED_USERS": " BreakGlass@Contoso.com ,, 3F1D7C2A-9B8E-4D6F-A5C4-1E2D3C4B5A69 ",
            "REVOKE_MAX_USERS": "100",
            "REVOKE_QUEUE_NAME": "contain-users",
            "AZURE_CLIENT_ID": "0A1B2C3D-0000-4000-8000-000000000001",
        }
    )

    assert settings.graph_scope == "https://graph.microsoft.us/.default"
    assert settings.action is RevocationAction.INVALIDATE_ALL_REFRESH_TOKENS
    assert settings.action.api_version == "beta"
    assert settings.dry_run is True
    assert settings.protected_users == {"breakglass@contoso.com", "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69"}
    assert settings.max_users == 100
    assert settings.poison_queue_name == "contain-users-poison"
    assert settings.client_id == "0a1b2c3d-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REVOKE_GRAPH_ENDPOINT", "http://graph.microsoft.com"),
        ("REVOKE_GRAPH_ENDPOINT", "https://graph.microsoft.com/v1.0"),
        ("REVOKE_ACTION", "deleteUser"),
        ("REVOKE_DRY_RUN", "maybe"),
        ("REVOKE_PROTECTED_USERS", "breakglass"),
        ("REVOKE_MAX_USERS", "0"),
        ("REVOKE_MAX_USERS", "ten"),
        ("REVOKE_MAX_BODY_BYTES", "12"),
        ("REVOKE_MAX_BODY_BYTES", "2097153"),
        ("REVOKE_MAX_BODY_BYTES", "16777216"),
        ("REVOKE_QUEUE_NAME", "Revoke_Requests"),
        ("REVOKE_RETRY_BUDGET_SECONDS", "-1"),
        ("REVOKE_MAX_PARALLEL", "1000"),
        ("AZURE_CLIENT_ID", "my-identity"),
    ],
)
def test_an_invalid_value_fails_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name) as raised:
        Settings.from_environment({name: value})

    # The public message (for callers) names the setting and what it needs, never the value.
    assert raised.value.public_message.startswith(name)
    if len(value) > 4:  # shorter values ("0", "12") can be part of the allowed range it states
        assert value not in raised.value.public_message


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("HTTPS://Graph.Microsoft.US/", "https://graph.microsoft.us"),
        ("https://dod-graph.microsoft.us:443", "https://dod-graph.microsoft.us:443"),
    ],
)
def test_the_graph_endpoint_is_an_origin_as_urllib3_reads_it(value: str, origin: str) -> None:
    assert Settings.from_environment({"REVOKE_GRAPH_ENDPOINT": value}).graph_endpoint == origin


@pytest.mark.parametrize(
    "value",
    [
        "http://127.0.0.2:8080\\@127.0.0.1",  # urllib3 connects to 127.0.0.2, urlsplit sees 127.0.0.1
        "https://graph.microsoft.com\\@evil.example",
        "https://user:secret@graph.microsoft.com",
        "https://graph.microsoft.com@evil.example",
        "https://graph.microsoft.com/v1.0",
        "https://graph.microsoft.com//",
        "https://graph.microsoft.com?x=1",
        "https://graph.microsoft.com?",
        "https://graph.microsoft.com#top",
        "https://graph.microsoft.com%2F.evil.example",
        "https://graph.microsoft.com;evil.example",
        "https://graph.micrösoft.com",
        "https://graph.micro\tsoft.com",
        "https://graph.microsoft.com:99999",
        "http://graph.microsoft.com",
        "http://127.0.0.1.evil.example",
        "ftp://graph.microsoft.com",
        "graph.microsoft.com",
        "https://",
    ],
)
def test_a_graph_endpoint_that_is_not_just_an_origin_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="REVOKE_GRAPH_ENDPOINT"):
        Settings.from_environment({"REVOKE_GRAPH_ENDPOINT": value})


def test_every_setting_name_is_listed_once() -> None:
    names = SettingNames.all()
    assert len(names) == len(set(names))
    assert all(name.startswith("REVOKE_") for name in names if name != "AZURE_CLIENT_ID")


def test_the_retry_budget_ceiling_fits_inside_the_http_front_end_limit() -> None:
    assert code.MAX_RETRY_BUDGET_SECONDS + code.RETRY_BUDGET_SLACK_SECONDS <= code.HTTP_FRONT_END_LIMIT_SECONDS
    assert Settings.from_environment({SettingNames.RETRY_BUDGET_SECONDS: "200"}).retry_budget_seconds == 200
    with pytest.raises(SettingsError, match=SettingNames.RETRY_BUDGET_SECONDS):
        Settings.from_environment({SettingNames.RETRY_BUDGET_SECONDS: "200.5"})


def test_host_function_timeout_leaves_room_for_the_largest_retry_budget() -> None:
    """Lowering host.json's functionTimeout must come with a lower ceiling on the budget, and the reverse."""
    hours, minutes, seconds = (int(part) for part in HOST_JSON["functionTimeout"].split(":"))
    timeout = timedelta(hours=hours, minutes=minutes, seconds=seconds).total_seconds()

    assert timeout >= code.MAX_RETRY_BUDGET_SECONDS + code.RETRY_BUDGET_SLACK_SECONDS
