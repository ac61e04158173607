"""The simulator's shared vocabulary: a request as it was received, an answer as it goes out,
the error bodies Graph answers with, the route that says who answers a Graph request, and the
exchange through which a concern answers an HTTP request of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from graphsim.faults import Fault


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent on the wire (for a sub-request: version prefix + its url), percent-encoding intact
    user_segment: str | None  # the decoded user segment of a /users/{id} path
    authorized: bool
    body: bytes = b""
    in_batch: bool = False  # a sub-request of a $batch, recorded besides the batch itself
    filter_values: tuple[str, ...] = ()  # the decoded values of a look-up's $filter on /users

    @property
    def named_users(self) -> tuple[str, ...]:
        """The users the request names: its /users/{id} segment, or the values of its $filter."""
        return (self.user_segment,) if self.user_segment is not None else self.filter_values


@dataclass(frozen=True)
class Answer:
    """What Graph answers one request, on the wire or as an item of a batch response."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Answer:
    """An answer with Graph's error body, `{"error": {"code": ..., "message": ...}}`."""
    return Answer(status, {"error": {"code": code, "message": message}}, headers or {})


UNAUTHORIZED = graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")


def unsupported(method: str, path: str) -> Answer:
    """What the simulator answers a request it does not simulate."""
    return graph_error(400, "BadRequest", f"unsupported: {method} {path}")


@dataclass(frozen=True)
class Route:
    """`method` requests to a path `pattern` matches are answered by `handle(match, body, query)`.

    `body` is the request's JSON (None if absent or unreadable), `query` its query string as sent.
    """

    method: str
    pattern: re.Pattern[str]
    handle: Callable[[re.Match[str], Any, str], Answer]


class Exchange(Protocol):
    """The HTTP request being served, as the concern answering it sees it (graphsim.server's handler).

    A concern pauses first (injected delays, the simulated latency), then ends the exchange
    once: it drops the connection, or answers (an injected fault, or its own answer).
    """

    command: str  # the request's method
    path: str  # as sent, query string included
    drip: float  # seconds between the bytes of the answer (Fault.drip); 0: all at once

    def bearer(self) -> str:
        """The request's bearer token ("" if none)."""

    def header(self, name: str) -> str | None:
        """The request's header `name`, if it was sent."""

    def authorized(self) -> bool:
        """The bearer token is one the simulator issued for Graph."""

    def pause(self, faults: list[Fault | None], *, identity: bool) -> None:
        """The longest delay of `faults` now, else the round trip's latency before the answer."""

    def drop(self) -> None:
        """Close the connection without an answer."""

    def answer(self, answer: Answer) -> None: ...

    def answer_fault(self, fault: Fault) -> None:
        """The answer `fault` gives in the request's place (its `raw_body` as it is, if it has one)."""

    def open_with(self, fault: Fault | None, *, identity: bool) -> bool:
        """Pause for `fault` (or the round trip) and drip as it says; True when it ended the exchange
        itself (a dropped connection, or the status it names)."""
