"""Calling the registered functions the way the host does, and collecting what they log.

Microsoft's documented way to exercise v2-model functions without the host: build
`func.HttpRequest` / `func.QueueMessage` and call the decorated functions directly.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import azure.functions as func
from azure.functions.queue import QueueMessage as HostQueueMessage

from revoke.app import runtime
from revoke.audit.events import AUDIT_LOGGER_NAME


class CapturedOut(func.Out[str]):
    """An output binding that keeps what the function set, as the host would send it."""

    def __init__(self) -> None:
        self.value: str | None = None

    def set(self, val: str) -> None:
        self.value = val

    def get(self) -> str:
        assert self.value is not None, "the function set nothing"
        return self.value


class LogCapture(logging.Handler):
    """Keeps every record logged while installed; `audit_events()` parses the audit trail."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def audit_events(self) -> list[dict[str, Any]]:
        return [json.loads(r.getMessage()) for r in self.records if r.name == AUDIT_LOGGER_NAME]

    def text(self) -> str:
        return "\n".join(record.getMessage() for record in self.records)


@contextmanager
def capture_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(previous)


@contextmanager
def app_settings(settings: dict[str, str]) -> Iterator[None]:
    """Set app settings for the duration, and make the service read them afresh."""
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    runtime.reset()  # the campaign engine too
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        runtime.reset()


def http_request(
    body: bytes | str | dict[str, Any],
    *,
    params: dict[str, str] | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> func.HttpRequest:
    """A POST to /api/revoke; `token` is sent as `Authorization: Bearer`, `headers` as they are."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body if isinstance(body, bytes) else body.encode()
    sent = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    return func.HttpRequest("POST", "/api/revoke", body=raw, params=params or {}, headers={**sent, **(headers or {})})


def health_request(*, token: str | None = None, headers: dict[str, str] | None = None) -> func.HttpRequest:
    sent = {"Authorization": f"Bearer {token}"} if token else {}
    return func.HttpRequest("GET", "/api/health", body=b"", headers={**sent, **(headers or {})})


def queue_message(
    body: bytes | str | dict[str, Any], *, dequeue_count: int = 1, message_id: str = "m-1"
) -> func.QueueMessage:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body if isinstance(body, bytes) else body.encode()
    # The worker hands functions this subclass, which carries the delivery count.
    return HostQueueMessage(  # type: ignore[no-untyped-call]
        id=message_id, body=raw, dequeue_count=dequeue_count
    )
