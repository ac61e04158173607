"""The core: from a request body to one verdict per target, every action audited.

Both triggers and the CLI call `Containment.handle`; it never raises for bad input
or a Graph failure, it reports them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from revoke.actions import ContainmentAction, allowed_subset
from revoke.audit.events import RequestContext, audit_event, emit
from revoke.containment.action_run import ActionRun, Graph
from revoke.containment.ledger import Ledger
from revoke.containment.protection import ProtectedUsers
from revoke.containment.verdict import TargetOutcome, TargetResult
from revoke.deadline import Deadline
from revoke.errors import NoResolvableAccount, RequestRejected
from revoke.intake.payloads import (
    RevocationRequest,
    SkippedEntity,
    correlation_id_in,
    load_document,
    read_request,
    require_targets,
)
from revoke.outcomes import ActionResult, CommentResult, Outcome, UserLookup
from revoke.settings import Settings


class IncidentComments(Protocol):
    def comment(
        self, report: ContainmentReport, context: RequestContext, deadline: Deadline
    ) -> CommentResult | None: ...


@dataclass(frozen=True)
class ContainmentReport:
    """Everything that happened to one request, in the order its targets were named."""

    correlation_id: str
    dry_run: bool
    results: tuple[TargetResult, ...] = ()
    skipped: tuple[SkippedEntity, ...] = ()
    rejection: RequestRejected | None = None
    over_limit: bool = False
    incident_id: str | None = None
    comment: CommentResult | None = None  # the comment on the Sentinel incident, when one was due

    def outcomes(self) -> set[TargetOutcome]:
        return {result.outcome for result in self.results}


DRY_RUN = ActionResult(Outcome.DRY_RUN, detail="dry run: nothing sent to Graph")


class Containment:
    """Applies policy (protected users, the limit, dry-run) and takes each action for the rest."""

    def __init__(self, settings: Settings, graph: Graph, incidents: IncidentComments | None = None) -> None:
        self._settings = settings
        self._graph = graph
        self._incidents = incidents
        self._protected = ProtectedUsers(settings.protected_users)
        self._names = {action: action.value for action in ContainmentAction}
        # The legacy beta action still serves revocation when REVOKE_ACTION selects it.
        self._names[ContainmentAction.REVOKE_SESSIONS] = settings.action.value

    def handle(self, body: bytes, *, trigger: str, correlation_id: str | None = None) -> ContainmentReport:
        context = RequestContext(trigger, correlation_id or str(uuid.uuid4()))
        request: RevocationRequest | None = None
        try:
            document = load_document(body, self._settings.max_body_bytes)
            context = RequestContext(trigger, correlation_id_in(document) or context.correlation_id)
            request = read_request(document)
            context = RequestContext(
                trigger, context.correlation_id, request.alert_id, request.incident_id, request.reason
            )
            # The trail shows every account the payload named, those it cannot act on too.
            for entity in request.skipped:
                emit(audit_event(context, Outcome.SKIPPED, action=None, user=entity.entity, detail=entity.reason))
            require_targets(request)
            actions = self._actions_for(request)
        except RequestRejected as rejection:
            detail = f"{rejection.code}: {rejection.message}"
            emit(audit_event(context, Outcome.REJECTED, action=None, user=None, detail=detail))
            if request is None or not isinstance(rejection, NoResolvableAccount):
                return ContainmentReport(context.correlation_id, self._settings.dry_run, rejection=rejection)
            # Every account the incident names was skipped: its analyst still hears so, and why.
            skipped_all = ContainmentReport(
                context.correlation_id,
                self._settings.dry_run or request.dry_run,
                skipped=request.skipped,
                rejection=rejection,
                incident_id=request.incident_id,
            )
            return self._commented(skipped_all, context, Deadline(self._settings.retry_budget_seconds))
        deadline = Deadline(self._settings.retry_budget_seconds)
        return self._commented(self.contain(request, actions, context, deadline), context, deadline)

    def _commented(self, report: ContainmentReport, context: RequestContext, deadline: Deadline) -> ContainmentReport:
        if self._incidents is None:
            return report
        return replace(report, comment=self._incidents.comment(report, context, deadline))

    def contain(
        self,
        request: RevocationRequest,
        actions: Sequence[ContainmentAction],
        context: RequestContext,
        deadline: Deadline,
    ) -> ContainmentReport:
        dry_run = self._settings.dry_run or request.dry_run
        targets = request.targets
        ledger = Ledger(context, targets, actions, self._names)
        lookups: dict[int, UserLookup] = {}
        over_limit = len(targets) > self._settings.max_users
        if over_limit:
            limit = f"the request names more than {self._settings.max_users} users (REVOKE_MAX_USERS); none acted on"
            decided = {i: ActionResult(Outcome.REFUSED, detail=limit) for i in range(len(targets))}
        else:
            decided, lookups = self._protected.check(targets, self._graph, deadline)
        run = ActionRun(self._graph, targets, ledger, lookups, deadline, actions)
        for i, decision in decided.items():
            ledger.settle(i, decision)
        for action in actions:
            open_targets = ledger.open_targets(action)
            if dry_run:
                for i in open_targets:
                    ledger.add(i, action, DRY_RUN)
            elif open_targets:
                run.take(action, open_targets)
        return ContainmentReport(
            context.correlation_id,
            dry_run,
            ledger.results(),
            request.skipped,
            over_limit=over_limit,
            incident_id=request.incident_id,
        )

    def _actions_for(self, request: RevocationRequest) -> tuple[ContainmentAction, ...]:
        if not request.actions:
            return self._settings.actions
        return allowed_subset(request.actions, self._settings.actions)
