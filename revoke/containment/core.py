"""The core: from a request body to one verdict per target, every action audited.

Both triggers and the CLI call `Containment.handle`; it never raises for bad input
or a Graph failure, it reports them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from revoke.actions import ActiveDirectoryAction, ContainmentAction, allowed_subset
from revoke.audit.events import RequestContext, audit_event, emit
from revoke.containment.action_run import ActionRun, Graph
from revoke.containment.budgeting import BudgetGate
from revoke.containment.disabled import DisabledUser, disabled_users
from revoke.containment.handoff import Handoff, handoffs
from revoke.containment.ledger import Ledger, Step, interleaved
from revoke.containment.protection import ProtectedUsers, UnverifiedProtection
from revoke.containment.resolution import Resolution, SidUsers, resolve
from revoke.containment.verdict import TargetOutcome, TargetResult, onprem_hint
from revoke.deadline import Deadline
from revoke.errors import CallerNotPermitted, NoResolvableAccount, RequestRejected
from revoke.intake.payloads import (
    RevocationRequest,
    SkippedEntity,
    correlation_id_in,
    load_document,
    read_request,
    require_targets,
)
from revoke.outcomes import ActionResult, CommentResult, Outcome, TasksResult, UserLookup, VerificationResult
from revoke.policy.roles import ROLE_DISABLE, Caller, roles_for
from revoke.settings import Settings

if TYPE_CHECKING:  # imported only by a deployment that uses them: the budget's Table Storage client,
    # the containment records, and Active Directory through Defender for Identity
    from revoke.containment.active_directory import IdentityAccounts
    from revoke.containment.records import RecordWriter, Requester
    from revoke.policy.budget import ActionBudget

# Who is calling, asked once the invocation's deadline runs (HTTP); raises CallerRefused.
Authenticate = Callable[[Deadline], Caller]
WITHHELD_DISABLE = f"the caller may not disable accounts: it lacks the app role {ROLE_DISABLE}"


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
    over_budget: bool = False  # some target was refused by the tenant-wide action budget
    # Some target was refused because whether it is protected could not be read: worth asking again.
    unverified: bool = False
    incident_id: str | None = None
    comment: CommentResult | None = None  # the comment on the Sentinel incident, when one was due
    release: bool = False  # a release (revoke.containment.release) rather than a containment
    # A release whose every target this deployment never contained (or never took the action a release undoes for).
    not_contained_here: bool = False
    handoffs: tuple[Handoff, ...] = ()  # what a person must finish (incident tasks)
    disabled: tuple[DisabledUser, ...] = ()  # whom the check after the next directory sync reads again
    tasks: TasksResult | None = None  # the incident tasks, when some were due
    verification: VerificationResult | None = None  # the check after the next sync, when one was due

    def outcomes(self) -> set[TargetOutcome]:
        return {result.outcome for result in self.results}


DRY_RUN = ActionResult(Outcome.DRY_RUN, detail="dry run: nothing sent to Graph")
QUEUE_TRIGGER = "queue"


class FollowUps(Protocol):
    """After the verdicts, before the comment: incident tasks and the check after the next sync."""

    def after(self, report: ContainmentReport, context: RequestContext, deadline: Deadline) -> ContainmentReport: ...


def steps_in_order(actions: Sequence[ContainmentAction], onprem: Sequence[ActiveDirectoryAction]) -> tuple[Step, ...]:
    """The request's actions, the Active Directory ones right after the disable (stop sign-ins first).

    Only synced targets have the Active Directory steps in their plan (revoke.containment.ledger).
    """
    return interleaved(actions, ContainmentAction.DISABLE_ACCOUNT, onprem)


class Containment:
    """Applies policy (protected users, the limit, dry-run) and takes each action for the rest."""

    def __init__(
        self,
        settings: Settings,
        graph: Graph,
        incidents: IncidentComments | None = None,
        budget: ActionBudget | None = None,
        records: RecordWriter | None = None,
        *,
        identity_accounts: IdentityAccounts | None = None,
        follow_ups: FollowUps | None = None,
        sid_users: SidUsers | None = None,
    ) -> None:
        self._settings = settings
        self._graph = graph
        self._incidents = incidents
        self._budget = BudgetGate(settings, budget)
        self._records = records  # None: REVOKE_CONTAINMENT_RECORDS=false
        self._identity_accounts = identity_accounts  # Defender for Identity, when REVOKE_ONPREM_ACTIONS is set
        self._follow_ups = follow_ups
        self._sid_users = sid_users  # resolves accounts an alert names by on-premises SID
        self._protected = ProtectedUsers.of(settings)
        self._names = {action: action.value for action in ContainmentAction}
        # The legacy beta action still serves revocation when REVOKE_ACTION selects it.
        self._names[ContainmentAction.REVOKE_SESSIONS] = settings.action.value

    @property
    def settings(self) -> Settings:
        return self._settings

    def handle(
        self,
        body: bytes,
        *,
        trigger: str,
        correlation_id: str | None = None,
        authenticate: Authenticate | None = None,
        requester: Requester | None = None,
    ) -> ContainmentReport:
        """`authenticate` (HTTP) names the caller before the body is read; None: the queue or the CLI,
        whose signed-in responder is `requester`, for the containment records."""
        deadline = Deadline(self._settings.retry_budget_seconds)
        context = RequestContext(trigger, correlation_id or str(uuid.uuid4()))
        caller: Caller | None = None
        withheld: str | None = None
        request: RevocationRequest | None = None
        try:
            if authenticate is not None:
                caller = authenticate(deadline)
                context = replace(context, caller_app_id=caller.app_id, caller_object_id=caller.object_id)
            document = load_document(body, self._settings.max_body_bytes)
            context = replace(context, correlation_id=correlation_id_in(document) or context.correlation_id)
            request = read_request(document, require_reason=self._settings.require_reason)
            context = replace(
                context, alert_id=request.alert_id, incident_id=request.incident_id, reason=request.reason
            )
            # The trail shows every account the payload named, those it cannot act on too.
            for entity in request.skipped:
                emit(audit_event(context, Outcome.SKIPPED, action=None, user=entity.entity, detail=entity.reason))
            require_targets(request)
            actions = self._actions_for(request, caller)
            withheld = self._withheld(request, caller)
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
            return self._commented(skipped_all, context, deadline)
        report = self.contain(request, actions, context, deadline, withheld=withheld, requester=requester)
        return self._commented(report, context, deadline)

    def _commented(self, report: ContainmentReport, context: RequestContext, deadline: Deadline) -> ContainmentReport:
        if self._follow_ups is not None:
            # Tasks for a person and the check after the next sync come first: the comment says how they went.
            report = self._follow_ups.after(report, context, deadline)
        if self._incidents is None:
            return report
        return replace(report, comment=self._incidents.comment(report, context, deadline))

    def contain(
        self,
        request: RevocationRequest,
        actions: Sequence[ContainmentAction],
        context: RequestContext,
        deadline: Deadline,
        *,
        withheld: str | None = None,
        requester: Requester | None = None,
    ) -> ContainmentReport:
        dry_run = self._settings.dry_run or request.dry_run
        targets = request.targets
        accounts = self._identity_accounts
        onprem = self._settings.onprem_actions if accounts is not None else ()
        ledger = Ledger(context, targets, actions, self._names, withheld, onprem_hint(bool(onprem)))
        over_budget = False
        lookups: dict[int, UserLookup] = {}
        over_limit = len(targets) > self._settings.max_users
        if over_limit:
            limit = f"the request names more than {self._settings.max_users} users (REVOKE_MAX_USERS); none acted on"
            decided = {i: ActionResult(Outcome.REFUSED, detail=limit) for i in range(len(targets))}
        addresses = list(targets)
        if not over_limit:
            # Named by on-premises SID: resolved first (not in a dry run, which sends nothing but protection's look-ups),
            # and checked for protection as the user the SID resolved to, by that look-up.
            sids = Resolution(list(targets)) if dry_run else resolve(targets, self._sid_users, deadline)
            addresses, decided = sids.addresses, dict(sids.decided)
            checked, lookups = self._protected.check(addresses, self._graph, deadline, lookups=sids.lookups)
            decided = {**checked, **decided}
            lookups = {**lookups, **sids.lookups}
        for i, decision in decided.items():
            ledger.settle(i, decision)
        unverified = any(isinstance(decision, UnverifiedProtection) for decision in decided.values())
        run = ActionRun(self._graph, addresses, ledger, lookups, deadline, actions, onprem)
        on_premises = None
        if accounts is not None and onprem:
            from revoke.containment.active_directory import OnPremisesRun

            on_premises = OnPremisesRun(accounts, ledger, lookups, deadline)
        queue = context.trigger == QUEUE_TRIGGER  # the request queue draws on the whole budget
        for step in steps_in_order(actions, onprem):
            open_targets = ledger.open_targets(step)
            if dry_run:
                for i in open_targets:
                    ledger.add(i, step, DRY_RUN)
            elif open_targets:
                admitted = self._budget.admit(step, open_targets, ledger, deadline, queue=queue)
                over_budget = over_budget or admitted.refused_any
                if admitted.granted and isinstance(step, ContainmentAction):
                    run.take(step, admitted.granted)
                elif admitted.granted and isinstance(step, ActiveDirectoryAction) and on_premises is not None:
                    on_premises.take(step, admitted.granted)
                self._budget.refund_unsent(admitted, step, ledger, deadline)
        results = ledger.results()
        if self._records is not None and not dry_run:
            reached = {i: ledger.confirmed(i) for i in range(len(targets))}
            from revoke.containment.recording import Recording

            recording = Recording(self._records, self._graph, context, deadline)
            results = recording.record(addresses, reached, results, lookups, requester)
        found = on_premises.found() if on_premises is not None else {}
        disables = ContainmentAction.DISABLE_ACCOUNT in actions  # only a confirmed disable is read again after the sync
        return ContainmentReport(
            context.correlation_id,
            dry_run,
            results,
            request.skipped,
            over_limit=over_limit,
            over_budget=over_budget,
            unverified=unverified,
            incident_id=request.incident_id,
            handoffs=handoffs(results, [ledger.kind(i) for i in range(len(targets))], lookups),
            disabled=disabled_users(results, addresses, lookups, found) if disables else (),
        )

    def _actions_for(self, request: RevocationRequest, caller: Caller | None) -> tuple[ContainmentAction, ...]:
        """Named actions: the deployment must allow each and the caller hold its role. None named: every
        action the deployment allows that the caller holds a role for, and 403 if that is none."""
        if request.actions:
            chosen = allowed_subset(request.actions, self._settings.actions)
            if caller is not None:
                caller.require(*roles_for(chosen))
            return chosen
        if caller is None:
            return self._settings.actions
        permitted = caller.permitted(self._settings.actions)
        if not permitted:
            needed = roles_for(self._settings.actions)
            raise CallerNotPermitted(
                needed, f"the caller holds no app role for an action this deployment allows ({', '.join(needed)})"
            )
        return permitted

    def _withheld(self, request: RevocationRequest, caller: Caller | None) -> str | None:
        """Why disableAccount is not taken although the deployment allows it: the caller may not."""
        disable = ContainmentAction.DISABLE_ACCOUNT
        if request.actions or caller is None or disable not in self._settings.actions or caller.may(disable):
            return None
        return WITHHELD_DISABLE
