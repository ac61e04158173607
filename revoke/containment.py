"""The core: from a request body to one outcome per target, each audited.

Both triggers and the CLI call `Containment.handle`; it never raises for bad input
or a Graph failure, it reports them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from revoke.audit import RequestContext, audit_event, emit
from revoke.errors import RequestRejected
from revoke.identifiers import UserIdentifier
from revoke.outcomes import GraphResult, Outcome
from revoke.payloads import RevocationRequest, SkippedEntity, correlation_id_in, load_document, parse_request
from revoke.settings import Settings


class Revoker(Protocol):
    def revoke_sessions(self, user: UserIdentifier) -> GraphResult: ...


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


class Containment:
    """Applies policy (protected users, the limit, dry-run) and calls Graph for the rest."""

    def __init__(self, settings: Settings, revoker: Revoker) -> None:
        self._settings = settings
        self._revoker = revoker

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
        dry_run = self._settings.dry_run or request.dry_run
        over_limit = len(request.targets) > self._settings.max_users
        results = []
        for user in request.targets:
            result = self._act_on(user, context, dry_run=dry_run, over_limit=over_limit)
            results.append(result)
        return ContainmentReport(
            context.correlation_id, dry_run, tuple(results), request.skipped, over_limit=over_limit
        )

    def _act_on(
        self, user: UserIdentifier, context: RequestContext, *, dry_run: bool, over_limit: bool
    ) -> TargetResult:
        if over_limit:
            detail = f"the request names more than {self._settings.max_users} users (REVOKE_MAX_USERS); none acted on"
            return self._record(context, user, Outcome.REFUSED, detail=detail)
        if user.key in self._settings.protected_users:
            return self._record(context, user, Outcome.REFUSED, detail="protected user (REVOKE_PROTECTED_USERS)")
        if dry_run:
            return self._record(context, user, Outcome.DRY_RUN, detail="dry run: nothing sent to Graph")
        started = time.perf_counter()
        graph = self._revoker.revoke_sessions(user)
        return self._record(context, user, graph.outcome, graph=graph, started=started)

    def _record(
        self,
        context: RequestContext,
        user: UserIdentifier,
        outcome: Outcome,
        *,
        detail: str | None = None,
        graph: GraphResult | None = None,
        started: float | None = None,
    ) -> TargetResult:
        duration_ms = None if started is None else (time.perf_counter() - started) * 1000
        emit(
            audit_event(
                context,
                outcome,
                user=user.value,
                graph_status=graph.status if graph else None,
                graph_request_id=graph.request_id if graph else None,
                attempts=graph.attempts if graph else 0,
                duration_ms=duration_ms,
                detail=graph.detail if graph else detail,
            )
        )
        return TargetResult(
            user.value,
            outcome,
            graph.status if graph else None,
            graph.detail if graph else detail,
            graph.retry_after if graph else None,
        )
