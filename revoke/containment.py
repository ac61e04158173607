"""The core: from a request body to one outcome per target, each audited.

Both triggers and the CLI call `Containment.handle`; it never raises for bad input
or a Graph failure, it reports them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from revoke.audit import RequestContext, audit_event, emit
from revoke.budget import Deadline
from revoke.errors import RequestRejected, TransientGraphError
from revoke.identifiers import UserIdentifier, is_object_id
from revoke.outcomes import ActionResult, Outcome, UserLookup
from revoke.payloads import (
    RevocationRequest,
    SkippedEntity,
    correlation_id_in,
    load_document,
    read_request,
    require_targets,
)
from revoke.settings import Settings

logger = logging.getLogger(__name__)


class Revoker(Protocol):
    def revoke_all(
        self,
        users: Sequence[UserIdentifier],
        deadline: Deadline,
        on_result: Callable[[int, ActionResult], None] | None = None,
    ) -> list[ActionResult]: ...

    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]: ...


@dataclass(frozen=True)
class TargetResult:
    user: str
    outcome: Outcome
    graph_status: int | None = None
    detail: str | None = None
    retry_after: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "outcome": self.outcome.value,
            "graphStatus": self.graph_status,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ContainmentReport:
    """Everything that happened to one request, in the order its targets were named."""

    correlation_id: str
    dry_run: bool
    results: tuple[TargetResult, ...] = ()
    skipped: tuple[SkippedEntity, ...] = ()
    rejection: RequestRejected | None = None
    over_limit: bool = False

    def outcomes(self) -> set[Outcome]:
        return {result.outcome for result in self.results}


PROTECTED = ActionResult(Outcome.REFUSED, detail="protected user (REVOKE_PROTECTED_USERS)")
UNEXPECTED = ActionResult(Outcome.DEFERRED, detail="unexpected internal error; not confirmed by Graph")


class Containment:
    """Applies policy (protected users, the limit, dry-run) and calls Graph for the rest."""

    def __init__(self, settings: Settings, revoker: Revoker) -> None:
        self._settings = settings
        self._revoker = revoker
        self._protected_object_ids = {key for key in settings.protected_users if is_object_id(key)}
        self._protected_upns = settings.protected_users - self._protected_object_ids

    def handle(self, body: bytes, *, trigger: str, correlation_id: str | None = None) -> ContainmentReport:
        action = self._settings.action.value
        context = RequestContext(trigger, action, correlation_id or str(uuid.uuid4()))
        try:
            document = load_document(body, self._settings.max_body_bytes)
            correlation_id = correlation_id_in(document) or context.correlation_id
            request = read_request(document)
            context = RequestContext(
                trigger, action, correlation_id, request.alert_id, request.incident_id, request.reason
            )
            # The trail shows every account the payload named, those it cannot act on too.
            for entity in request.skipped:
                emit(audit_event(context, Outcome.SKIPPED, user=entity.entity, detail=entity.reason))
            require_targets(request)
        except RequestRejected as rejection:
            emit(audit_event(context, Outcome.REJECTED, user=None, detail=f"{rejection.code}: {rejection.message}"))
            return ContainmentReport(context.correlation_id, self._settings.dry_run, rejection=rejection)
        return self.contain(request, context)

    def contain(self, request: RevocationRequest, context: RequestContext) -> ContainmentReport:
        deadline = Deadline(self._settings.retry_budget_seconds)
        dry_run = self._settings.dry_run or request.dry_run
        targets = request.targets
        over_limit = len(targets) > self._settings.max_users
        if over_limit:
            limit = f"the request names more than {self._settings.max_users} users (REVOKE_MAX_USERS); none acted on"
            decided = {i: ActionResult(Outcome.REFUSED, detail=limit) for i in range(len(targets))}
        else:
            decided = self._apply_protection(targets, deadline)
        to_revoke = [i for i in range(len(targets)) if i not in decided]
        if dry_run:
            dry = ActionResult(Outcome.DRY_RUN, detail="dry run: nothing sent to Graph")
            decided.update(dict.fromkeys(to_revoke, dry))
        results = {i: self._record(context, targets[i], decision) for i, decision in decided.items()}
        if to_revoke and not dry_run:

            def audit_as_it_lands(position: int, graph: ActionResult) -> None:
                i = to_revoke[position]
                results[i] = self._record(context, targets[i], graph)

            try:
                self._revoker.revoke_all([targets[i] for i in to_revoke], deadline, audit_as_it_lands)
            except Exception:
                # Never expected; but every target must still get one result and one audit event.
                logger.exception("Unexpected failure while calling Graph; correlation id %s", context.correlation_id)
                for i in to_revoke:
                    if i not in results:
                        results[i] = self._record(context, targets[i], UNEXPECTED)
        ordered = tuple(results[i] for i in range(len(targets)))
        return ContainmentReport(context.correlation_id, dry_run, ordered, request.skipped, over_limit=over_limit)

    def _apply_protection(self, targets: Sequence[UserIdentifier], deadline: Deadline) -> dict[int, ActionResult]:
        """Refuse protected users, asking Graph for a target's other name when the list uses it."""
        protected = self._settings.protected_users
        decided = {i: PROTECTED for i, user in enumerate(targets) if user.key in protected}
        unresolved = [i for i, user in enumerate(targets) if i not in decided and self._needs_lookup(user)]
        if not unresolved:
            return decided
        try:
            lookups = self._revoker.lookup_all([targets[i] for i in unresolved], deadline)
        except Exception:
            logger.exception("Unexpected failure while looking users up")
            unknown = UserLookup(error=TransientGraphError("unexpected internal error"))
            lookups = [unknown] * len(unresolved)
        for i, lookup in zip(unresolved, lookups, strict=True):
            if lookup.missing:
                # Graph has no such user: nothing to revoke, and nothing is sent.
                decided[i] = ActionResult(Outcome.NOT_FOUND, 404, detail="Graph has no such user (look-up)")
            elif lookup.error is not None:
                # Fail closed: a target we cannot check is never revoked.
                outcome = Outcome.DEFERRED if lookup.error.transient else Outcome.FAILED
                detail = f"could not check REVOKE_PROTECTED_USERS: {lookup.error.detail}"
                error = lookup.error
                decided[i] = ActionResult(outcome, error.status, detail=detail, retry_after=error.retry_after)
            elif lookup.keys & protected:
                decided[i] = PROTECTED
        return decided

    def _needs_lookup(self, user: UserIdentifier) -> bool:
        other_form = self._protected_upns if user.kind == "object_id" else self._protected_object_ids
        return bool(other_form)

    def _record(self, context: RequestContext, user: UserIdentifier, result: ActionResult) -> TargetResult:
        emit(
            audit_event(
                context,
                result.outcome,
                user=user.value,
                graph_status=result.status,
                graph_request_id=result.request_id,
                attempts=result.attempts,
                duration_ms=result.duration_ms,
                detail=result.detail,
            )
        )
        return TargetResult(user.value, result.outcome, result.status, result.detail, result.retry_after)
