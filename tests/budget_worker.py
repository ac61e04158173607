"""One process of the concurrent budget test: the function app in a process of its own, one HTTP request."""

from __future__ import annotations

import json
import os
from typing import Any


def contain(environment: dict[str, str], users: list[str], start: Any, answers: Any) -> None:
    """Call POST /api/revoke once, after every process is ready (`start` is a Barrier); put (status, body) on `answers`."""
    os.environ.update(environment)
    from graphsim.harness import http_request
    from revoke.app.triggers import revoke_http

    start.wait(timeout=60)
    response = revoke_http(http_request({"users": users}))
    answers.put((response.status_code, json.loads(response.get_body())))
