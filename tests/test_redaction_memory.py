"""The redaction never forgets: the identity header, and every token still valid, stay
redacted in library log records however many tokens the process has fetched.
"""

from __future__ import annotations

import logging

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.harness import LogCapture, http_request
from revoke.app.triggers import revoke_http
from tests.conftest import ADELE, logged_text

FETCHES = 20  # more than any fixed-size memory of recent secrets would hold


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": "disableAccount"}])
def test_the_identity_header_and_every_valid_token_stay_redacted_after_many_token_fetches(
    app: GraphSimulator, logs: LogCapture
) -> None:
    """Each invocation meets a 401, so each fetches a fresh token: 20 fetches, all tokens still valid."""
    for _ in range(FETCHES):
        app.inject(Fault(status=401, match=lambda path: path.startswith("/v1.0/users/")))
        assert revoke_http(http_request({"users": [ADELE[1]]})).status_code == 200
    assert app.token_requests == FETCHES + 1

    library = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    library.warning("identity header %s", app.identity_header)
    for token in app.issued_tokens:
        library.warning("Authorization: %s", token)

    written = logged_text(logs.records)
    assert app.identity_header not in written  # opaque hex: only the memory of it can redact it
    assert not any(token in written for token in app.issued_tokens)
