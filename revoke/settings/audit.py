"""Where the audit events go besides the function's log: a Log Analytics workspace's custom table,
through the Logs Ingestion API, named by a data collection rule (its endpoint, immutable id and stream)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from revoke.errors import SettingsError
from revoke.settings.names import SettingNames
from revoke.settings.values import parse_endpoint

# The stream the deployment declares in its rule (infra/app/audit-workspace.bicep); custom streams
# begin with "Custom-" (Structure of a data collection rule, "Stream declarations").
DEFAULT_AUDIT_STREAM = "Custom-ContainmentAudit_CL"
# A rule's immutable id as Azure Monitor shows it, e.g. dcr-000a00a000a00000a000000aa000a0aa
# (Logs Ingestion API in Azure Monitor, "URI").
_RULE_ID = re.compile(r"dcr-[0-9a-fA-F]{32}")
_STREAM = re.compile(r"Custom-[A-Za-z][A-Za-z0-9_]{0,99}")
# The token audience of the Logs Ingestion API in each cloud (Logs Ingestion API in Azure Monitor,
# "Request headers"), by the suffix of the rule's endpoint host in that cloud.
MONITOR_AUDIENCES = (
    (".azure.us", "https://monitor.azure.us"),
    (".azure.cn", "https://monitor.azure.cn"),
)
PUBLIC_MONITOR_AUDIENCE = "https://monitor.azure.com"


@dataclass(frozen=True)
class AuditIngestion:
    """The data collection rule that feeds the audit table: its logs ingestion endpoint, its immutable id,
    and the stream the events are declared as."""

    endpoint: str  # https://{rule}-{suffix}.{region}-1.ingest.monitor.azure.com
    rule_id: str  # dcr-{32 hex}
    stream: str = DEFAULT_AUDIT_STREAM

    @property
    def scope(self) -> str:
        """The token scope for the Logs Ingestion API of the endpoint's cloud."""
        host = self.endpoint.split("://", 1)[-1].split(":", 1)[0].lower()
        audience = next((aud for suffix, aud in MONITOR_AUDIENCES if host.endswith(suffix)), PUBLIC_MONITOR_AUDIENCE)
        return f"{audience}/.default"


def audit_ingestion_from(value: Callable[[str], str | None]) -> AuditIngestion | None:
    """None when none of the three settings is set (the events stay in the function's log only).

    The endpoint and the rule id go together: either alone, or the stream without them, is an
    error naming what is missing, so a half-configured deployment never silently keeps its evidence
    out of the workspace.
    """
    names = SettingNames
    endpoint, rule_id, stream = value(names.AUDIT_DCR_ENDPOINT), value(names.AUDIT_DCR_ID), value(names.AUDIT_STREAM)
    if endpoint is None and rule_id is None and stream is None:
        return None
    expected = "set together with REVOKE_AUDIT_DCR_ENDPOINT and REVOKE_AUDIT_DCR_ID, or all three left unset"
    for name, given in ((names.AUDIT_DCR_ENDPOINT, endpoint), (names.AUDIT_DCR_ID, rule_id)):
        if given is None:
            raise SettingsError(name, "is not set, but the other audit ingestion settings are", expected=expected)
    assert endpoint is not None and rule_id is not None
    return AuditIngestion(_ingestion_endpoint(endpoint), _rule_id(rule_id), _stream(stream))


def _ingestion_endpoint(raw: str) -> str:
    # Azure's SDKs send a bearer token over TLS only: plain http is refused even on loopback.
    expected = (
        "an https origin such as https://{rule}.{region}-1.ingest.monitor.azure.com (the rule's logsIngestion endpoint)"
    )
    try:
        origin = parse_endpoint(SettingNames.AUDIT_DCR_ENDPOINT, raw, "https://ingest.monitor.azure.com")
    except SettingsError:
        origin = ""
    if not origin.startswith("https://"):
        raise SettingsError(SettingNames.AUDIT_DCR_ENDPOINT, f"{raw!r} is not {expected}", expected=expected)
    return origin


def _rule_id(raw: str) -> str:
    if not _RULE_ID.fullmatch(raw):
        expected = "a data collection rule's immutable id (dcr- and 32 hexadecimal digits)"
        raise SettingsError(SettingNames.AUDIT_DCR_ID, f"{raw!r} is not {expected}", expected=expected)
    return raw


def _stream(raw: str | None) -> str:
    if raw is None:
        return DEFAULT_AUDIT_STREAM
    if not _STREAM.fullmatch(raw):
        expected = "a custom stream name: Custom- then a letter, letters, digits or underscores"
        raise SettingsError(SettingNames.AUDIT_STREAM, f"{raw!r} is not {expected}", expected=expected)
    return raw
