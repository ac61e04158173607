"""The core: from a request body to one outcome per target, each audited.

Both triggers and the CLI call `Containment.handle`; it never raises for bad input
or a Graph failure, it reports them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from revoke.audit import RequestContext, audit_event, emit
from revoke.budget import Deadline
from revoke.errors import RequestRejected
from revoke.identifiers import UserIdentifier, is_object_id
from revoke.outcomes import GraphResult, Outcome, UserLookup
from revoke.payloads import RevocationRequest, SkippedEntity, correlation_id_in, load_document, parse_request
from revoke.settings import Settings


class Revoker(Protocol):
    def revoke_all(
        self,
        users: Sequence[UserIdentifier],
        deadline: Deadline,
        on_result: Callable[[int, GraphResult], None] | None = None,
    ) -> list[GraphResult]: ...

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


@dataclass(frozen=True)
class Decision:
    """What happens to one target, before it is audited."""

    outcome: Outcome
    detail: str | None = None
    graph: GraphResult | None = None
    status: int | None = None
    retry_after: float | None = None


PROTECTED = Decision(Outcome.REFUSED, "protected user (REVOKE_PROTECTED_USERS)")


class Containment:
    """Applies policy (protected users, the limit, dry-run) and calls Graph for the rest."""

    def __init__(self, settings: Settings, revoker: Revoker) -> None:
        self._settings = settings
        self._revoker = revoker
        self._protected_object_ids = {key for key in settings.protected_users if is_object_id(key)}
        self._protected_upns = settings.protected_users - self._protected_object_ids

    def handle(self, body: bytes, *, trigger: str, correlation_id: str | None = None) -> ContainmentReport:
        correlation_id = correlation_id or str(uuid.uuid4())
        context = RequestContext(trigger, self._settings.action.value, correlation_id)
        try:
            document = load_document(body, self._settings.max_body_bytes)
            correlation_id = correlation_id_in(document) or correlation_id
            context = RequestContext(trigger, context.action, correlation_id)
            request = parse_request(document)
        except RequestRejected as rejection:
            emit(audit_event(context, Outcome.REJECTED, user=None, detail=f"{rejection.code}: {rejection.message}"))
            return ContainmentReport(correlation_id, self._settings.dry_run, rejection=rejection)
        context = RequestContext(
            trigger, context.action, correlation_id, request.alert_id, request.incident_id, request.reason
        )
        return self.contain(request, context)

    def contain(self, request: RevocationRequest, context: RequestContext) -> ContainmentReport:
        deadline = Deadline(self._settings.retry_budget_seconds)
        dry_run = self._settings.dry_run or request.dry_run
        targets = request.targets
        over_limit = len(targets) > self._settings.max_users
        if over_limit:
            limit = f"the request names more than {self._settings.max_users} users (REVOKE_MAX_USERS); none acted on"
            decided = {i: Decision(Outcome.REFUSED, limit) for i in range(len(targets))}
        else:
            decided = self._apply_protection(targets, deadline)
        to_revoke = [i for i in range(len(targets)) if i not in decided]
        if dry_run:
            decided.update({i: Decision(Outcome.DRY_RUN, "dry run: nothing sent to Graph") for i in to_revoke})
        results = {i: self._record(context, targets[i], decision) for i, decision in decided.items()}
        if to_revoke and not dry_run:

            def audit_as_it_lands(position: int, graph: GraphResult) -> None:
                i = to_revoke[position]
                results[i] = self._record(context, targets[i], Decision(graph.outcome, graph.detail, graph))

            self._revoker.revoke_all([targets[i] for i in to_revoke], deadline, audit_as_it_lands)
        ordered = tuple(results[i] for i in range(len(targets)))
        return ContainmentReport(context.correlation_id, dry_run, ordered, request.skipped, over_limit=over_limit)

    def _apply_protection(self, targets: Sequence[UserIdentifier], deadline: Deadline) -> dict[int, Decision]:
        """Refuse protected users, asking Graph for a target's other name when the list uses it."""
        protected = self._settings.protected_users
        decided = {i: PROTECTED for i, user in enumerate(targets) if user.key in protected}
        unresolved = [i for i, user in enumerate(targets) if i not in decided and self._needs_lookup(user)]
        if not unresolved:
            return decided
        lookups = self._revoker.lookup_all([targets[i] for i in unresolved], deadline)
        for i, lookup in zip(unresolved, lookups, strict=True):
            if lookup.error is not None:
                # Fail closed: a target we cannot check is never revoked.
                outcome = Outcome.DEFERRED if lookup.error.transient else Outcome.FAILED
                detail = f"could not check REVOKE_PROTECTED_USERS: {lookup.error.detail}"
                decided[i] = Decision(outcome, detail, status=lookup.error.status, retry_after=lookup.error.retry_after)
            elif lookup.keys & protected:
                decided[i] = PROTECTED
        return decided

    def _needs_lookup(self, user: UserIdentifier) -> bool:
        other_form = self._protected_upns if user.kind == "object_id" else self._protected_object_ids
        return bool(other_form)

    def _record(self, context: RequestContext, user: UserIdentifier, decision: Decision) -> TargetResult:
        graph = decision.graph
        emit(
            audit_event(
                context,
                decision.outcome,
                user=user.value,
                graph_status=graph.status if graph else decision.status,
                graph_request_id=graph.request_id if graph else None,
                attempts=graph.attempts if graph else 0,
                duration_ms=graph.duration_ms if graph else None,
                detail=decision.detail,
            )
        )
        return TargetResult(
            user.value,
            decision.outcome,
            graph.status if graph else decision.status,
            decision.detail,
            graph.retry_after if graph else decision.retry_after,
        )
