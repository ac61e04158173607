"""The outcome of acting on one target, and what the whole request came to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    REVOKED = "revoked"  # Graph confirmed the revocation
    DRY_RUN = "dry_run"  # would have been revoked; nothing was sent
    REFUSED = "refused"  # policy: a protected user, or the request is over the limit
    NOT_FOUND = "not_found"  # Graph has no such user
    FAILED = "failed"  # Graph refused for good (permission, bad request)
    DEFERRED = "deferred"  # transient failure: the caller should retry
    REJECTED = "rejected"  # the request could not be read; no target was acted on

    @property
    def is_success(self) -> bool:
        return self in (Outcome.REVOKED, Outcome.DRY_RUN)


@dataclass(frozen=True)
class GraphResult:
    """What Graph said about one action, after every attempt the budget allowed."""

    outcome: Outcome
    status: int | None = None
    request_id: str | None = None
    detail: str | None = None
    attempts: int = 1
    retry_after: float | None = None
