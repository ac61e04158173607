"""Keeps tokens and the identity header out of every log record, the libraries' included.

Our own modules never log a secret (the test suite checks every record). The libraries
that handle secrets can: MSAL logs an identity endpoint's unreadable answer, token and
all, at DEBUG, and azure-identity repeats a failed parse at WARNING. So:

* `azure.identity`, `azure.core`, `azure.monitor` (the audit ingestion client), `msal` and
  `urllib3` log nothing below WARNING, whatever level the host sets for the root logger;
* every record from outside this package that is still written is redacted when it is
  made: access tokens (JWTs, `Bearer ...`, `"access_token": ...`), the identity header's
  value, and any token this process has been given.

The identity header is remembered for the life of the process, and every token until it
expires, however many tokens are fetched: nothing still secret is ever forgotten.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

LIBRARY_LOGGERS = ("azure.identity", "azure.core", "azure.monitor", "msal", "urllib3")
OWN_LOGGER_PREFIX = "revoke"
REDACTED = "[REDACTED]"
_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"),  # a JWT
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"""(?i)(["']?(?:access_token|refresh_token|id_token|client_secret)["']?\s*[:=]\s*["']?)[^"'\s,&}]+"""),
    re.compile(r"""(?i)(["']?x-identity-header["']?\s*[:=]\s*["']?)[^"'\s,}]+"""),
)

_lock = threading.Lock()
_installed = False
_lasting: set[str] = set()  # secrets that never expire (the identity header)
_until: dict[str, float] = {}  # a token -> when it expires (seconds since the epoch)


def redact(text: str) -> str:
    with _lock:
        secrets = [*_lasting, *_until]
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: (match.group(1) if match.groups() else "") + REDACTED, text)
    return text


def remember(secret: str, expires_on: float | None = None) -> None:
    """A secret this process holds: redacted wherever it appears, whatever its shape, until
    `expires_on` (seconds since the epoch) has passed; without it, for as long as the process lives."""
    if not secret:
        return
    with _lock:
        now = time.time()
        for expired in [known for known, until in _until.items() if until <= now]:
            del _until[expired]
        if expires_on is None:
            _lasting.add(secret)
        elif secret not in _lasting:
            _until[secret] = max(expires_on, _until.get(secret, expires_on))


def protect_logs(environ: Mapping[str, str] | None = None) -> None:
    """Install the levels and the redacting record factory, once per process."""
    global _installed
    # The header can change between settings reloads: each one is kept, whenever it is seen.
    identity_header = (os.environ if environ is None else environ).get("IDENTITY_HEADER", "")
    if identity_header:
        remember(identity_header)
    with _lock:
        if _installed:
            return
        for name in LIBRARY_LOGGERS:
            library = logging.getLogger(name)
            if library.level < logging.WARNING:
                library.setLevel(logging.WARNING)
        logging.setLogRecordFactory(_redacting(logging.getLogRecordFactory()))
        _installed = True


def _redacting(make_record: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    render = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.name == OWN_LOGGER_PREFIX or record.name.startswith(OWN_LOGGER_PREFIX + "."):
            return record
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format: keep only where it came from
            message = f"unformattable log record from {record.name}"
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            trace = render.formatException(record.exc_info)
            cleaned = redact(trace)
            if cleaned != trace:
                record.exc_info, record.exc_text = None, cleaned
        return record

    return factory
