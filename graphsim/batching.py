"""Microsoft Graph JSON batching: `POST /{version}/$batch`, its body read as Graph reads it, each
sub-request answered as a single request would be, and the responses in the order Graph gives.
"""

from __future__ import annotations

import json
import random
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from graphsim.users import filter_values, user_segment
from graphsim.wire import UNAUTHORIZED, Answer, Exchange, RecordedRequest, graph_error

if TYPE_CHECKING:
    from graphsim.faults import Fault
    from graphsim.server import GraphSimulator

MAX_BATCH_REQUESTS = 20  # Microsoft Graph JSON batching: at most 20 requests in one $batch
BATCH_PATH = re.compile(r"^/(v1\.0|beta)/\$batch$")


@dataclass(frozen=True)
class BatchItem:
    """One sub-request of a `$batch` body, as the client sent it."""

    id: str
    method: str
    url: str  # relative to the version, e.g. /users/{id}/revokeSignInSessions
    headers: dict[str, str]
    body: Any

    def full_path(self, version: str) -> str:
        return f"/{version}/{self.url.removeprefix('/')}"


class BadBatch(ValueError):
    """The `$batch` body as a whole is refused; Graph answers 400 and performs nothing."""


class Batches:
    """The `$batch` POSTs one simulator serves; each sub-request is recorded and performed on its own."""

    def __init__(self, simulator: GraphSimulator, *, shuffle_responses: bool = False) -> None:
        self._sim = simulator
        # Graph does not keep a batch's responses in request order; shuffling makes clients match by id.
        self.shuffle_responses = shuffle_responses
        self.received = 0  # $batch POSTs received
        self._shuffler = random.Random(0)
        self._lock = threading.Lock()

    def serve(self, exchange: Exchange, version: str, path: str, body: bytes) -> None:
        sim = self._sim
        authorized = exchange.authorized()
        sim.record(RecordedRequest(exchange.command, exchange.path, None, authorized, body))
        with self._lock:
            self.received += 1
        envelope_fault = sim.faults.take(path, identity=False, batch_envelope=True)
        exchange.drip = envelope_fault.drip if envelope_fault is not None else 0.0
        if envelope_fault is not None and (envelope_fault.drop or envelope_fault.status is not None):
            exchange.pause([envelope_fault], identity=False)
            exchange.drop() if envelope_fault.drop else exchange.answer_fault(envelope_fault)
            return
        try:
            items = parse_batch(body)
        except BadBatch as problem:
            exchange.pause([envelope_fault], identity=False)
            exchange.answer(graph_error(400, "BadRequest", str(problem)))
            return
        for item in items:
            sent = item.full_path(version)
            recorded_body = b"" if item.body is None else json.dumps(item.body).encode()
            parts = urlsplit(sent)
            segment, values = user_segment(parts.path), filter_values(parts.path, parts.query)
            sim.record(RecordedRequest(item.method, sent, segment, authorized, recorded_body, True, values))
        if not authorized:
            exchange.pause([envelope_fault], identity=False)
            exchange.answer(UNAUTHORIZED)
            return
        item_faults = [
            sim.faults.take(urlsplit(item.full_path(version)).path, identity=False, method=item.method)
            for item in items
        ]
        exchange.pause([envelope_fault, *item_faults], identity=False)
        if any(fault is not None and fault.drop for fault in item_faults):
            exchange.drop()
            return
        responses = [self._response(version, item, fault) for item, fault in zip(items, item_faults, strict=True)]
        envelope: dict[str, Any] = {"responses": self._order(responses)}
        if envelope_fault is not None and envelope_fault.rewrite is not None:
            exchange.answer(Answer(200, envelope_fault.rewrite(envelope)))
        else:
            exchange.answer(Answer(200, envelope))

    def _response(self, version: str, item: BatchItem, fault: Fault | None) -> dict[str, Any]:
        if fault is not None and fault.status is not None and fault.raw_body is not None:
            # Inside a batch, a body that is not JSON travels as a string (as Graph sends base64 content).
            answer = Answer(fault.status, fault.raw_body or None, fault.headers)
        elif fault is not None and fault.status is not None:
            answer = fault.answer()
        elif item.body is not None and not any(name.lower() == "content-type" for name in item.headers):
            message = "Content-Type header is required when a request in a batch has a body."
            answer = graph_error(400, "BadRequest", message)
        else:
            sent = urlsplit(item.full_path(version))
            answer = self._sim.perform(item.method, sent.path, item.body, sent.query)
            if fault is not None and fault.replace is not None:
                answer = fault.replace(answer)
        headers = {"Content-Type": "application/json"} if answer.body is not None else {}
        response: dict[str, Any] = {"id": item.id, "status": answer.status, "headers": {**headers, **answer.headers}}
        if answer.body is not None:
            response["body"] = answer.body
        return response

    def _order(self, responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Request order, or (when shuffling) an order guaranteed to differ from it."""
        if not self.shuffle_responses or len(responses) < 2:
            return responses
        with self._lock:
            shuffled = self._shuffler.sample(responses, len(responses))
        return shuffled if shuffled != responses else responses[1:] + responses[:1]


def parse_batch(body: bytes) -> list[BatchItem]:
    """The sub-requests of a `$batch` body, or `BadBatch` for anything Graph refuses as a whole."""
    try:
        document = json.loads(body)
    except ValueError:
        raise BadBatch("Unable to read the batch body as JSON.") from None
    requests = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(requests, list):
        raise BadBatch("The batch body needs a 'requests' array.")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise BadBatch("Number of requests inside batch exceed the limit.")
    items = [_batch_item(raw) for raw in requests]
    ids = [item.id.lower() for item in items]  # Graph compares ids without regard to case
    if len(set(ids)) != len(ids):
        raise BadBatch("Request ids inside a batch must be unique.")
    return items


def _batch_item(raw: Any) -> BatchItem:
    if not isinstance(raw, dict):
        raise BadBatch("Each request inside a batch must be an object.")
    item_id, method, url, headers = raw.get("id"), raw.get("method"), raw.get("url"), raw.get("headers", {})
    if not (isinstance(item_id, str) and item_id and isinstance(method, str) and isinstance(url, str) and url):
        raise BadBatch("Each request inside a batch needs a string 'id', 'method' and 'url'.")
    if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
        raise BadBatch("A request's 'headers' inside a batch must be an object of strings.")
    return BatchItem(item_id, method.upper(), url, headers, raw.get("body"))
