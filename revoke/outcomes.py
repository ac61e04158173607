"""The outcome of acting on one target, what Graph said about it, and what became of an incident comment."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from revoke.errors import GraphError


class Outcome(StrEnum):
    REVOKED = "revoked"  # Graph confirmed the revocation
    DISABLED = "disabled"  # Graph confirmed the account is disabled
    CONFIRMED = "confirmed"  # Graph confirmed it recorded the user as compromised
    ENABLED = "enabled"  # release: Graph confirmed the account is enabled again
    DISMISSED = "dismissed"  # release: Graph confirmed it dismissed the user's risk
    # Defender for Identity confirmed it forced an Active Directory password reset (an outcome, not a secret).
    PASSWORD_RESET = "password_reset"  # noqa: S105
    DRY_RUN = "dry_run"  # would have been revoked; nothing was sent
    REFUSED = "refused"  # policy: a protected user, or the request is over the limit
    NOT_FOUND = "not_found"  # Graph has no such user
    FAILED = "failed"  # Graph refused for good (permission, bad request)
    DEFERRED = "deferred"  # transient failure: the caller should retry
    REJECTED = "rejected"  # the request could not be read; no target was acted on
    # An account an alert names that is no user Graph can act on (on-premises, invalid id):
    # audited so the trail shows everything the alert named, never sent, and not counted
    # when the HTTP status is chosen.
    SKIPPED = "skipped"

    @property
    def is_success(self) -> bool:
        return self in (
            Outcome.REVOKED,
            Outcome.DISABLED,
            Outcome.CONFIRMED,
            Outcome.ENABLED,
            Outcome.DISMISSED,
            Outcome.PASSWORD_RESET,
            Outcome.DRY_RUN,
        )

    @property
    def confirmed_by_graph(self) -> bool:
        """A success Graph confirmed: any but a dry run, which sent nothing."""
        return self.is_success and self is not Outcome.DRY_RUN


@dataclass(frozen=True)
class ActionResult:
    """What happened to one target: a policy decision (nothing sent, no attempts), or what
    Graph said about the action after every attempt the budget allowed."""

    outcome: Outcome
    status: int | None = None
    request_id: str | None = None
    detail: str | None = None
    attempts: int = 0
    retry_after: float | None = None
    duration_ms: float | None = None


@dataclass(frozen=True)
class UnexpectedFailure(ActionResult):
    """A step an internal error cut short: whether anything reached the service is not known, so the
    action budget keeps its unit (revoke.containment.budgeting)."""


def unexpected_failure(service: str) -> UnexpectedFailure:
    return UnexpectedFailure(Outcome.DEFERRED, detail=f"unexpected internal error; not confirmed by {service}")


@dataclass(frozen=True)
class UserLookup:
    """A user's two names as Graph knows them, whether another tenant or identity provider
    signs them in (`external`, None when Graph's answer cannot tell), and where the account is
    mastered; or that Graph has no such user; or why we cannot tell.

    `synced`: True when the user is synced from on-premises Active Directory
    (`onPremisesSyncEnabled: true`), False when Graph says they are not (null: never synced;
    false: no longer synced), None when the answer does not say. For a synced user the SID,
    sAMAccountName and domain of the Active Directory account come with it, when Graph gave them.
    """

    object_id: str | None = None
    user_principal_name: str | None = None
    missing: bool = False
    error: GraphError | None = None
    external: bool | None = None
    synced: bool | None = None
    on_premises_sid: str | None = None
    on_premises_sam_account_name: str | None = None
    on_premises_domain_name: str | None = None

    @property
    def answered(self) -> bool:
        """A clean answer about a user Graph knows: neither missing nor an error."""
        return not self.missing and self.error is None

    @property
    def on_premises_name(self) -> str | None:
        """The Active Directory account as DOMAIN\\name, when Graph gave both parts."""
        if self.on_premises_domain_name and self.on_premises_sam_account_name:
            return f"{self.on_premises_domain_name}\\{self.on_premises_sam_account_name}"
        return self.on_premises_sam_account_name

    @property
    def keys(self) -> set[str]:
        return {name.lower() for name in (self.object_id, self.user_principal_name) if name}


def clean_object_id(lookup: UserLookup | None) -> str | None:
    """The object id a clean look-up gave; None without one."""
    return lookup.object_id if lookup is not None and lookup.answered else None


@dataclass(frozen=True)
class Memberships:
    """Which of the groups and directory roles asked about a user is in (transitively), as Graph
    answered; or that Graph has no such user; or why it cannot be told."""

    member_of: frozenset[str] = frozenset()  # lower-case ids, each one of those asked
    missing: bool = False
    error: GraphError | None = None


CommentStatus = Literal["commented", "deferred", "failed", "skipped"]


@dataclass(frozen=True)
class CommentResult:
    """What became of one comment: `commented`, `deferred` (worth trying again), `failed`, or `skipped`."""

    status: CommentStatus
    http_status: int | None = None
    detail: str | None = None
    attempts: int = 0  # requests that reached Azure Resource Manager
    request_id: str | None = None
    duration_ms: float | None = None


@dataclass(frozen=True)
class TasksResult:
    """What became of the incident tasks a containment asked a person to finish."""

    wanted: int  # tasks the containment needed
    created: int  # tasks Sentinel confirmed (created, or already there from an earlier delivery)
    not_created: tuple[str, ...] = ()  # for each task that was not: whose, and why
    over_limit: int = 0  # tasks never sent: an incident holds at most 40


VerificationStatus = Literal["scheduled", "failed"]


@dataclass(frozen=True)
class VerificationResult:
    """Whether the check after the next directory sync was scheduled (`due`: when it runs, ISO 8601 UTC)."""

    status: VerificationStatus
    detail: str | None = None
    due: str | None = None


@dataclass(frozen=True)
class AccountState:
    """A user's accountEnabled as Graph answered it now; None with `error` when it could not be read."""

    enabled: bool | None = None
    error: GraphError | None = None
