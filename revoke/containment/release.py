"""Undoing a containment after a false positive: enable the account again, dismiss the user's risk.

A release is asked for by a person, by name (`POST /api/release`, `python -m revoke
release`), never by an alert, and only for the release actions REVOKE_RELEASE_ACTIONS
allows (none by default). Every target is looked up first, as a containment's look-ups are
(only an answer about the user asked counts): that finds a user Graph does not know
(`not_found`, nothing sent), gives riskyUsers/dismiss the object id it needs, and lets a
protected user be recognised by either name. Protected users, by name, group or role
(revoke.containment.protection), are refused a release as they are refused a containment:
this deployment never changes them, so a leaked key cannot re-enable a break-glass account
an administrator disabled on purpose.

A release undoes only what this deployment contained (revoke.containment.records): a user
without a record is refused, with nothing sent; `enableAccount` needs the record to show that
this deployment disabled the account, `dismissRisk` that it confirmed the compromise. Records
that cannot be read refuse nothing and release nothing: the targets are deferred. Once Graph
confirmed a release action, the record forgets what it undid, so a second release finds
nothing to undo. Each release action draws on REVOKE_ACTION_BUDGET under its own name.

Each target gets one result and one audit event per action, as a containment does; its
verdict is `released` when Graph confirmed every action asked for.

A user synced from Active Directory takes accountEnabled from there at the next directory sync.
With REVOKE_ONPREM_ACTIONS set, `enableAccount` is followed, for synced users only, by
`enableActiveDirectoryAccount` through Defender for Identity (revoke.containment.active_directory),
with the SID from the user's own look-up; without it, a synced user's verdict says that the
next sync disables them again if their Active Directory account is still disabled.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from revoke.actions import ActiveDirectoryAction, ReleaseAction, allowed_release_subset
from revoke.audit.events import RequestContext, audit_event, emit
from revoke.containment.action_run import UNEXPECTED
from revoke.containment.active_directory import IdentityAccounts, OnPremisesRun
from revoke.containment.budgeting import BudgetGate
from revoke.containment.core import DRY_RUN, Authenticate, ContainmentReport, IncidentComments
from revoke.containment.ledger import StepPlans, interleaved
from revoke.containment.protection import PROTECTED, ProtectedUsers, look_up, lookup_failure
from revoke.containment.recording import NOT_CONTAINED_HERE, clear_undone, records_of
from revoke.containment.records import ContainmentRecord, ReleaseRecords
from revoke.containment.verdict import ActionRecord, TargetOutcome, TargetResult, unfinished
from revoke.deadline import Deadline
from revoke.errors import RequestRejected
from revoke.identifiers import UserIdentifier
from revoke.intake.payloads import correlation_id_in, load_document
from revoke.intake.release_request import ReleaseRequest, read_release_request
from revoke.outcomes import ActionResult, Memberships, Outcome, UserLookup
from revoke.policy.roles import ROLE_RELEASE
from revoke.settings import Settings

if TYPE_CHECKING:  # the budget's Table Storage client is imported only by a deployment that has one
    from revoke.policy.budget import ActionBudget

logger = logging.getLogger(__name__)

ResultCallback = Callable[[int, ActionResult], None]
UNDOES_WHAT = {
    ReleaseAction.ENABLE_ACCOUNT: "disable this account",
    ReleaseAction.DISMISS_RISK: "confirm this user compromised",
}


def not_taken_here(record: ContainmentRecord, action: ReleaseAction) -> ActionResult:
    """The refusal of a release action whose containing action this deployment never took for the user."""
    why = f"{NOT_CONTAINED_HERE}: it did not {UNDOES_WHAT[action]} ({record.shown}); nothing sent"
    return ActionResult(Outcome.REFUSED, detail=why)


class ReleaseDirectory(Protocol):
    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]: ...

    def check_memberships(
        self, users: Sequence[UserIdentifier], ids: Sequence[str], deadline: Deadline
    ) -> list[Memberships]: ...

    def enable(self, users: Sequence[UserIdentifier], deadline: Deadline, on_result: ResultCallback) -> None: ...

    def dismiss(self, object_ids: Sequence[str], deadline: Deadline, on_result: ResultCallback) -> None: ...


# A synced user enabled in Entra ID alone (REVOKE_ONPREM_ACTIONS off).
ENABLED_UNTIL_SYNC = (
    "enabled in Entra ID; the account is synced from Active Directory, so if its Active Directory account "
    "is still disabled the next directory sync disables it again: enable it there too"
)
Step = ReleaseAction | ActiveDirectoryAction


def judge_release(user: str, records: Sequence[ActionRecord], *, synced: bool = False) -> TargetResult:
    unsettled = unfinished(user, records)
    if unsettled is not None:
        return unsettled
    enabled_here_only = synced and not any(r.action == ActiveDirectoryAction.ENABLE.value for r in records)
    entra_enabled = any(r.action == ReleaseAction.ENABLE_ACCOUNT.value for r in records)
    detail = ENABLED_UNTIL_SYNC if enabled_here_only and entra_enabled else None
    return TargetResult(user, TargetOutcome.RELEASED, tuple(records), detail)


class ReleaseLedger(StepPlans[Step]):
    """Each target's result for each release step, audited as it lands, in order."""

    def __init__(
        self, context: RequestContext, targets: Sequence[UserIdentifier], actions: Sequence[ReleaseAction]
    ) -> None:
        super().__init__(context, targets, actions)
        self._synced = [False] * len(targets)

    def mark_synced(self, index: int, onprem: Sequence[ActiveDirectoryAction]) -> None:
        """The target is synced from Active Directory: `onprem` follows its enableAccount."""
        self._synced[index] = True
        if onprem and ReleaseAction.ENABLE_ACCOUNT in self._plans[index]:
            self.plan_after(index, ReleaseAction.ENABLE_ACCOUNT, onprem)

    def add(self, index: int, action: Step, result: ActionResult) -> None:
        self._record(index, action.value, action, result)
        self._audit(index, action.value, result, result.detail)

    def confirmed(self, index: int) -> list[Step]:
        """The release steps Graph confirmed for target `index` (a dry run confirms none)."""
        return [
            action
            for action, record in zip(self._plans[index], self._records[index], strict=False)
            if record.result.outcome in (Outcome.ENABLED, Outcome.DISMISSED)
        ]

    def results(self) -> tuple[TargetResult, ...]:
        return tuple(
            judge_release(user.value, records, synced=synced)
            for user, records, synced in zip(self._targets, self._records, self._synced, strict=True)
        )


class Release:
    """Applies policy (allowed actions, protected users, the limit, dry run) and releases the rest."""

    def __init__(
        self,
        settings: Settings,
        graph: ReleaseDirectory,
        incidents: IncidentComments | None = None,
        *,
        records: ReleaseRecords | None = None,
        budget: ActionBudget | None = None,
        identity_accounts: IdentityAccounts | None = None,
    ) -> None:
        self._settings = settings
        self._graph = graph
        self._incidents = incidents
        self._protected = ProtectedUsers.of(settings)
        self._records = records  # None only with REVOKE_CONTAINMENT_RECORDS=false, which allows no release
        self._budget = BudgetGate(settings, budget)
        self._identity_accounts = identity_accounts  # Defender for Identity, when REVOKE_ONPREM_ACTIONS is set

    def handle(
        self,
        body: bytes,
        *,
        trigger: str,
        correlation_id: str | None = None,
        authenticate: Authenticate | None = None,
    ) -> ContainmentReport:
        """`authenticate` (HTTP) names the caller, who must hold Containment.Release, before the body is read."""
        deadline = Deadline(self._settings.retry_budget_seconds)
        context = RequestContext(trigger, correlation_id or str(uuid.uuid4()))
        try:
            if authenticate is not None:
                caller = authenticate(deadline)
                context = replace(context, caller_app_id=caller.app_id, caller_object_id=caller.object_id)
                caller.require(ROLE_RELEASE)
            document = load_document(body, self._settings.max_body_bytes)
            context = replace(context, correlation_id=correlation_id_in(document) or context.correlation_id)
            request = read_release_request(document, require_reason=self._settings.require_reason)
            context = replace(context, incident_id=request.incident_id, reason=request.reason)
            actions = allowed_release_subset(request.actions, self._settings.release_actions)
        except RequestRejected as rejection:
            detail = f"{rejection.code}: {rejection.message}"
            emit(audit_event(context, Outcome.REJECTED, action=None, user=None, detail=detail))
            return ContainmentReport(context.correlation_id, self._settings.dry_run, rejection=rejection, release=True)
        report = self.release(request, actions, context, deadline)
        if self._incidents is not None:
            report = replace(report, comment=self._incidents.comment(report, context, deadline))
        return report

    def release(
        self, request: ReleaseRequest, actions: Sequence[ReleaseAction], context: RequestContext, deadline: Deadline
    ) -> ContainmentReport:
        targets = request.targets
        ledger = ReleaseLedger(context, targets, actions)
        over_limit = len(targets) > self._settings.max_users
        object_ids: dict[int, str] = {}
        lookups: dict[int, UserLookup] = {}
        if over_limit:
            limit = f"the request names more than {self._settings.max_users} users (REVOKE_MAX_USERS); none acted on"
            for i in range(len(targets)):
                ledger.settle(i, ActionResult(Outcome.REFUSED, detail=limit))
        else:
            object_ids = self._checked(targets, ledger, lookups, deadline)
        records, never_contained = records_of(self._records, object_ids, ledger, deadline)
        accounts = self._identity_accounts if self._settings.disables_active_directory else None
        on_premises = OnPremisesRun(accounts, ledger, lookups, deadline) if accounts is not None else None
        for i in records:
            if lookups[i].synced:
                # The Active Directory account is enabled only where this deployment disabled it.
                enables_there = on_premises is not None and records[i].allows(ActiveDirectoryAction.ENABLE)
                ledger.mark_synced(i, (ActiveDirectoryAction.ENABLE,) if enables_there else ())
        refused_here: dict[int, int] = {}  # release actions refused for what this deployment did not do
        over_budget = False
        for step in release_steps(actions):
            open_targets = [i for i in ledger.open_targets(step) if i in records]
            allowed = []
            for i in open_targets:
                if not isinstance(step, ReleaseAction) or records[i].allows(step):
                    allowed.append(i)
                else:
                    ledger.add(i, step, not_taken_here(records[i], step))
                    refused_here[i] = refused_here.get(i, 0) + 1
            if self._settings.dry_run:
                for i in allowed:
                    ledger.add(i, step, DRY_RUN)
            elif allowed:
                admitted = self._budget.admit(step, allowed, ledger, deadline)
                over_budget = over_budget or admitted.refused_any
                if admitted.granted and isinstance(step, ReleaseAction):
                    self._take(step, admitted.granted, object_ids, ledger, deadline)
                elif admitted.granted and on_premises is not None and isinstance(step, ActiveDirectoryAction):
                    on_premises.take(step, admitted.granted)
                self._budget.refund_unsent(admitted, step, ledger, deadline)
        results = ledger.results()
        if not self._settings.dry_run:
            undone = {i: ledger.confirmed(i) for i in records}
            results = clear_undone(self._records, records, undone, results, targets, context, deadline)
        uncontained = never_contained | {i for i, count in refused_here.items() if count == len(actions)}
        return ContainmentReport(
            context.correlation_id,
            self._settings.dry_run,
            results,
            over_limit=over_limit,
            over_budget=over_budget,
            incident_id=request.incident_id,
            release=True,
            not_contained_here=bool(targets) and all(i in uncontained for i in range(len(targets))),
        )

    def _checked(
        self,
        targets: Sequence[UserIdentifier],
        ledger: ReleaseLedger,
        lookups: dict[int, UserLookup],
        deadline: Deadline,
    ) -> dict[int, str]:
        """Each target's object id once it is known and not protected; the others are settled. Each clean
        look-up lands in `lookups`: whether the user is synced, and the SID Defender for Identity is asked about."""
        unchecked = []
        for i, user in enumerate(targets):
            if user.key in self._settings.protected_users:
                ledger.settle(i, PROTECTED)  # by name: not even looked up
            else:
                unchecked.append(i)
        found = look_up(self._graph, [targets[i] for i in unchecked], deadline) if unchecked else []
        clean: list[tuple[int, UserLookup]] = []
        for i, lookup in zip(unchecked, found, strict=True):
            failure = lookup_failure(lookup, "could not look the user up")
            if failure is not None:
                ledger.settle(i, failure)  # fail closed: a user we cannot check is never released
            else:
                clean.append((i, lookup))
        # The guard of every containment, on the users the look-ups found: by name, group and role.
        checked = [targets[i] for i, _ in clean]
        known = {position: lookup for position, (_, lookup) in enumerate(clean)}
        decided, _ = self._protected.check(checked, self._graph, deadline, lookups=known) if clean else ({}, {})
        object_ids: dict[int, str] = {}
        for position, (i, lookup) in enumerate(clean):
            if position in decided:
                ledger.settle(i, decided[position])
            else:
                object_ids[i] = str(lookup.object_id)
                lookups[i] = lookup
        return object_ids

    def _take(
        self,
        action: ReleaseAction,
        indexes: list[int],
        object_ids: dict[int, str],
        ledger: ReleaseLedger,
        deadline: Deadline,
    ) -> None:
        def record(position: int, result: ActionResult) -> None:
            ledger.add(indexes[position], action, result)

        try:
            if action is ReleaseAction.ENABLE_ACCOUNT:
                # By object id: the user the look-up checked, even if a UPN changed hands since.
                users = [UserIdentifier(object_ids[i], "object_id") for i in indexes]
                self._graph.enable(users, deadline, record)
            else:
                self._graph.dismiss([object_ids[i] for i in indexes], deadline, record)
        except Exception:
            logger.exception("Unexpected failure while calling Graph for %s", action.value)
        ledger.answer_the_rest(indexes, action, UNEXPECTED)
        ledger.end_unknown_users(indexes, action)


def release_steps(actions: Sequence[ReleaseAction]) -> tuple[Step, ...]:
    """The release actions, each synced user's Active Directory enable right after the Entra one."""
    return interleaved(actions, ReleaseAction.ENABLE_ACCOUNT, (ActiveDirectoryAction.ENABLE,))
