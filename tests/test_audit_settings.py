"""REVOKE_AUDIT_DCR_ENDPOINT, REVOKE_AUDIT_DCR_ID and REVOKE_AUDIT_STREAM: all unset is off, all of them
(the stream may keep its default) is on, anything between is an error naming what is missing."""

from __future__ import annotations

import pytest

from revoke.errors import SettingsError
from revoke.settings import DEFAULT_AUDIT_STREAM, AuditIngestion, SettingNames, Settings

ENDPOINT = "https://revoke-audit-a1b2.westeurope-1.ingest.monitor.azure.com"
RULE = "dcr-000a00a000a00000a000000aa000a0aa"  # the immutable id's shape in Microsoft's documentation
BOTH = {SettingNames.AUDIT_DCR_ENDPOINT: ENDPOINT, SettingNames.AUDIT_DCR_ID: RULE}


def test_unset_is_off() -> None:
    assert Settings.from_environment({}).audit_ingestion is None
    blank = {SettingNames.AUDIT_DCR_ENDPOINT: " ", SettingNames.AUDIT_DCR_ID: "", SettingNames.AUDIT_STREAM: ""}
    assert Settings.from_environment(blank).audit_ingestion is None


def test_endpoint_and_rule_turn_it_on_with_the_default_stream() -> None:
    assert Settings.from_environment({**BOTH}).audit_ingestion == AuditIngestion(ENDPOINT, RULE, DEFAULT_AUDIT_STREAM)
    assert DEFAULT_AUDIT_STREAM == "Custom-ContainmentAudit_CL"


def test_a_stream_of_its_own_and_a_trailing_slash() -> None:
    settings = Settings.from_environment(
        {**BOTH, SettingNames.AUDIT_DCR_ENDPOINT: ENDPOINT + "/", SettingNames.AUDIT_STREAM: "Custom-Evidence_CL"}
    )
    assert settings.audit_ingestion == AuditIngestion(ENDPOINT, RULE, "Custom-Evidence_CL")


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({SettingNames.AUDIT_DCR_ENDPOINT: ENDPOINT}, SettingNames.AUDIT_DCR_ID),
        ({SettingNames.AUDIT_DCR_ID: RULE}, SettingNames.AUDIT_DCR_ENDPOINT),
        ({SettingNames.AUDIT_STREAM: DEFAULT_AUDIT_STREAM}, SettingNames.AUDIT_DCR_ENDPOINT),
    ],
)
def test_partly_set_is_an_error_naming_what_is_missing(given: dict[str, str], missing: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(given)
    assert raised.value.setting == missing
    assert "is not set" in str(raised.value)
    assert missing in raised.value.public_message


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8443",  # the SDK sends a bearer token over TLS only, loopback or not
        "http://ingest.example.com",
        "https://ingest.monitor.azure.com/dataCollectionRules",
        "https://user@ingest.monitor.azure.com",
        "ingest.monitor.azure.com",
        "https://ingest.monitor.azure.com\\@evil.example",
    ],
)
def test_an_endpoint_that_is_not_an_https_origin_is_refused(endpoint: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({**BOTH, SettingNames.AUDIT_DCR_ENDPOINT: endpoint})
    assert raised.value.setting == SettingNames.AUDIT_DCR_ENDPOINT
    assert "an https origin" in raised.value.public_message
    assert "loopback" not in raised.value.public_message


@pytest.mark.parametrize(
    "rule", ["dcr-123", "000a00a000a00000a000000aa000a0aa", "dcr-000a00a000a00000a000000aa000a0ag", "DCR-" + "0" * 32]
)
def test_a_rule_id_that_is_not_an_immutable_id_is_refused(rule: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({**BOTH, SettingNames.AUDIT_DCR_ID: rule})
    assert raised.value.setting == SettingNames.AUDIT_DCR_ID


@pytest.mark.parametrize("stream", ["ContainmentAudit_CL", "Microsoft-Syslog", "Custom-", "Custom-a b", "Custom-1x"])
def test_a_stream_that_is_not_a_custom_stream_is_refused(stream: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({**BOTH, SettingNames.AUDIT_STREAM: stream})
    assert raised.value.setting == SettingNames.AUDIT_STREAM


@pytest.mark.parametrize(
    ("endpoint", "scope"),
    [
        (ENDPOINT, "https://monitor.azure.com/.default"),
        ("https://rule-x.usgovvirginia-1.ingest.monitor.azure.us", "https://monitor.azure.us/.default"),
        ("https://rule-x.chinanorth3-1.ingest.monitor.azure.cn", "https://monitor.azure.cn/.default"),
        ("https://127.0.0.1:8443", "https://monitor.azure.com/.default"),
    ],
)
def test_the_token_audience_follows_the_endpoints_cloud(endpoint: str, scope: str) -> None:
    assert AuditIngestion(endpoint, RULE).scope == scope
