"""The Logs Ingestion API in the simulator: one data collection rule's endpoint, on loopback HTTPS,
keeping the audit events it accepts as the rule would hand them to its table.

Modelled on Microsoft's documentation, not guessed:

* Logs Ingestion API in Azure Monitor (learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview,
  "REST API call"): `POST {endpoint}/dataCollectionRules/{immutable id}/streams/{stream}?api-version=2023-01-01`
  over HTTPS; `Authorization: Bearer` with a token for `https://monitor.azure.com`; `Content-Type:
  application/json`; `Content-Encoding: gzip` optional; the body a JSON array of objects shaped as the
  stream declares them.
* The API's REST description (Azure/azure-rest-api-specs, specification/monitor/data-plane/ingestion/
  stable/2023-01-01/DataCollectionRules.json): 204 on success; any other answer is an ErrorResponse,
  `{"error": {"code", "message"}}`, with an `x-ms-error-code` header.
* Azure Monitor service limits, Logs Ingestion API: at most 1 MB per call, compressed and uncompressed
  (read here as 1,000,000 bytes, the stricter reading); throttled calls are answered 429 with a
  `Retry-After` to honour.
* Sample code to send data ... using Logs ingestion API, "Troubleshooting": 403 when the caller has no
  role on the rule (Monitoring Metrics Publisher), 413 for a message over 1 MB, 429 with Retry-After;
  the Python client's TROUBLESHOOTING.md quotes the 403's code, `OperationFailed`.
* Structure of a data collection rule, "Stream declarations": a rule drops the properties its stream does
  not declare; the simulator records which it would have dropped (`dropped_fields`), so a test sees an
  event field the deployed table has no column for.

Microsoft documents no error code for a wrong audience, an unknown stream, a bad api-version or an
unreadable body; the codes the simulator uses for them are its own (`InvalidAuthenticationTokenAudience`,
`InvalidStream`, `InvalidApiVersion`, `InvalidContent`), the statuses the ones those pages imply.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from graphsim.wire import Answer, Exchange, graph_error

if TYPE_CHECKING:
    from graphsim.server import GraphSimulator

INGESTION_API_VERSION = "2023-01-01"
MONITOR_AUDIENCES = frozenset({"https://monitor.azure.com", "https://monitor.azure.com/"})
MAX_CALL_BYTES = 1_000_000
AUDIT_STREAM = "Custom-ContainmentAudit_CL"
# The columns the deployed rule declares for the stream (infra/app/audit-columns.json, from the audit schema).
STREAM_COLUMNS_FILE = Path(__file__).resolve().parent.parent / "infra" / "app" / "audit-columns.json"
_UPLOAD_PATH = re.compile(r"^/dataCollectionRules/([^/]+)/streams/([^/]+)$")


@dataclass(frozen=True)
class Upload:
    """One call to the endpoint, as received, and the status it was answered."""

    status: int
    records: int  # readable records in the body (0 if it was refused before they were read)
    body_bytes: int  # as sent
    uncompressed_bytes: int
    gzip: bool
    audience: str | None


@dataclass
class LogsIngestion:
    """The rule's endpoint: its immutable id, its stream, whether the app may send, and what it accepted."""

    simulator: GraphSimulator
    rule_id: str = field(default_factory=lambda: "dcr-" + secrets.token_hex(16))
    stream: str = AUDIT_STREAM
    # The app's identity holds Monitoring Metrics Publisher on the rule.
    publisher: bool = True
    records: list[dict[str, Any]] = field(default_factory=list)  # as the table receives them
    uploads: list[Upload] = field(default_factory=list)
    dropped_fields: set[str] = field(default_factory=set)
    columns: frozenset[str] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.columns = frozenset(column["name"] for column in json.loads(STREAM_COLUMNS_FILE.read_text()))

    def serve(self, exchange: Exchange, path: str, body: bytes) -> None:
        fault = self.simulator.faults.take_ingestion(path)
        exchange.pause([fault], identity=False)
        exchange.drip = fault.drip if fault is not None else 0.0
        if fault is not None and fault.drop:
            exchange.drop()
            return
        audience = self.simulator.identity_endpoint.audience(exchange.bearer())
        if fault is not None and fault.status is not None:
            self._note(fault.status, body, body, exchange, audience, 0)
            exchange.answer_fault(fault)
            return
        answer, raw, records = self._perform(exchange, path, body, audience)
        self._note(answer.status, body, raw, exchange, audience, len(records))
        exchange.answer(answer)

    def _perform(
        self, exchange: Exchange, path: str, body: bytes, audience: str | None
    ) -> tuple[Answer, bytes, list[dict[str, Any]]]:
        upload = _UPLOAD_PATH.match(path)
        if upload is None:
            return _error(404, "NotFound", f"no such resource: {path}"), body, []
        if exchange.command != "POST":
            return _error(405, "MethodNotAllowed", f"{exchange.command} is not served here"), body, []
        if parse_qs(urlsplit(exchange.path).query).get("api-version") != [INGESTION_API_VERSION]:
            return _error(400, "InvalidApiVersion", f"api-version must be {INGESTION_API_VERSION}"), body, []
        if audience is None:
            return _error(401, "InvalidAuthenticationToken", "The access token is invalid."), body, []
        if audience not in MONITOR_AUDIENCES:
            message = "The access token has been obtained for wrong audience or resource."
            return _error(401, "InvalidAuthenticationTokenAudience", message), body, []
        if upload.group(1) != self.rule_id or not self.publisher:
            message = (
                "The authentication token provided does not have access to ingest data for the data "
                f"collection rule with immutable Id '{upload.group(1)}'."
            )
            return _error(403, "OperationFailed", message), body, []
        if upload.group(2) != self.stream:
            return _error(400, "InvalidStream", f"the rule declares no stream {upload.group(2)!r}"), body, []
        if len(body) > MAX_CALL_BYTES:
            return _error(413, "ContentLengthLimitExceeded", "The maximum message size is 1 MB per call."), body, []
        raw = _decoded(body, exchange.header("Content-Encoding"))
        if raw is None:
            return _error(400, "InvalidContent", "the body is not what Content-Encoding says"), body, []
        if len(raw) > MAX_CALL_BYTES:
            return _error(413, "ContentLengthLimitExceeded", "The maximum message size is 1 MB per call."), raw, []
        if (exchange.header("Content-Type") or "").split(";")[0].strip() != "application/json":
            return _error(400, "InvalidContent", "Content-Type must be application/json"), raw, []
        records = _records(raw)
        if records is None:
            return _error(400, "InvalidContent", "malformed JSON: the body must be an array of objects"), raw, []
        with self._lock:
            for record in records:
                self.dropped_fields.update(set(record) - self.columns)
                self.records.append({**record, "TimeGenerated": record.get("time")})
        return Answer(204), raw, records

    def _note(
        self, status: int, body: bytes, raw: bytes, exchange: Exchange, audience: str | None, records: int
    ) -> None:
        gzip = (exchange.header("Content-Encoding") or "").lower() == "gzip"
        with self._lock:
            self.uploads.append(Upload(status, records, len(body), len(raw), gzip, audience))


def _decoded(body: bytes, encoding: str | None) -> bytes | None:
    """The body uncompressed (at most one byte past the limit, so a bomb is never inflated), or None."""
    if not encoding:
        return body
    if encoding.lower() != "gzip":
        return None
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        raw = inflater.decompress(body, MAX_CALL_BYTES + 1)
    except zlib.error:
        return None
    return raw if len(raw) > MAX_CALL_BYTES or inflater.eof else None


def _records(raw: bytes) -> list[dict[str, Any]] | None:
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        return None
    return document


def _error(status: int, code: str, message: str) -> Answer:
    """The API's ErrorResponse (the shape graph_error builds), its code repeated in `x-ms-error-code`."""
    return graph_error(status, code, message, {"x-ms-error-code": code})
