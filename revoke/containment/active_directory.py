"""The Active Directory actions of a containment (REVOKE_ONPREM_ACTIONS), for synced users only.

A user synced from Active Directory gets accountEnabled back from there at the next directory
sync, so the Entra disable is completed by disabling the Active Directory account through
Microsoft Defender for Identity (and, optionally, forcing a password reset there). Each runs
after the Entra disable, only for targets whose own look-up showed them synced, and only with
the SID that look-up gave: the identity account Defender for Identity finds must be about that
SID, and its answer about that account, or the step fails closed with the reason. Each step is
one result and one audit event per target, in the ledger, like every other action.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from revoke.actions import ActiveDirectoryAction
from revoke.deadline import Deadline
from revoke.graph.defender_identity import UNKNOWN_ACCOUNT, IdentityAccount
from revoke.outcomes import ActionResult, Outcome, UserLookup, unexpected_failure

logger = logging.getLogger(__name__)

ResultCallback = Callable[[int, ActionResult], None]
NO_SID = "the look-up gave no on-premises SID for this synced user, so Defender for Identity cannot be asked"
UNEXPECTED = unexpected_failure("Defender for Identity")
# The outcome a confirmed action is audited with.
DONE = {
    ActiveDirectoryAction.DISABLE: Outcome.DISABLED,
    ActiveDirectoryAction.FORCE_PASSWORD_RESET: Outcome.PASSWORD_RESET,
    ActiveDirectoryAction.ENABLE: Outcome.ENABLED,
}


class StepLedger(Protocol):
    """A containment's or a release's ledger: one result per step, in order (revoke.containment.ledger)."""

    def is_open(self, index: int, step: ActiveDirectoryAction) -> bool: ...

    def add(self, index: int, step: ActiveDirectoryAction, result: ActionResult) -> None: ...

    def answer_the_rest(
        self, indexes: Sequence[int], step: ActiveDirectoryAction, unexpected: ActionResult
    ) -> None: ...


class IdentityAccounts(Protocol):
    """Defender for Identity (revoke.graph.defender_identity.DefenderForIdentity)."""

    def find(self, sids: Sequence[str], deadline: Deadline) -> list[IdentityAccount]: ...

    def invoke(
        self,
        accounts: Sequence[IdentityAccount],
        action: str,
        done: Outcome,
        deadline: Deadline,
        on_result: ResultCallback,
    ) -> None: ...


def account_failure(account: IdentityAccount) -> ActionResult | None:
    """What an identity account that could not be found means for the step; None when it was found."""
    if account.found:
        return None
    if account.unknown:
        return ActionResult(Outcome.FAILED, 200, detail=UNKNOWN_ACCOUNT)
    error = account.error
    if error is None:
        return ActionResult(Outcome.FAILED, detail="Defender for Identity's answer could not be read")
    outcome = Outcome.DEFERRED if error.transient else Outcome.FAILED
    detail = f"could not find the identity account in Defender for Identity: {error.detail}"
    return ActionResult(outcome, error.status, detail=detail, retry_after=error.retry_after)


class OnPremisesRun:
    """One request's Active Directory steps: each identity account found once, then each step taken."""

    def __init__(
        self, accounts: IdentityAccounts, ledger: StepLedger, lookups: dict[int, UserLookup], deadline: Deadline
    ) -> None:
        self._accounts = accounts
        self._ledger = ledger
        self._lookups = lookups
        self._deadline = deadline
        self._found: dict[int, IdentityAccount] = {}
        self._missing: dict[int, ActionResult] = {}  # why a target's account is not known: each later step says it too

    def found(self) -> dict[int, IdentityAccount]:
        """The identity account of each target that has one (the check after the next sync reads it again)."""
        return dict(self._found)

    def take(self, step: ActiveDirectoryAction, indexes: list[int]) -> None:
        """`step` for each target in `indexes`, each result audited as it lands; never raises."""
        try:
            ready = self._find(step, indexes)
            if ready:

                def record(position: int, result: ActionResult) -> None:
                    self._ledger.add(ready[position], step, result)

                accounts = [self._found[i] for i in ready]
                self._accounts.invoke(accounts, step.invoked_as, DONE[step], self._deadline, record)
        except Exception:
            logger.exception("Unexpected failure while calling Defender for Identity for %s", step.value)
        self._ledger.answer_the_rest(indexes, step, UNEXPECTED)

    def _find(self, step: ActiveDirectoryAction, indexes: list[int]) -> list[int]:
        """The targets whose identity account is known (found now if need be); the others get their failure."""
        wanted: list[int] = []
        for i in indexes:
            if i in self._found:
                continue
            sid = self._lookups[i].on_premises_sid if i in self._lookups else None
            if i not in self._missing and sid is None:
                self._missing[i] = ActionResult(Outcome.FAILED, detail=NO_SID)
            if i in self._missing:
                self._ledger.add(i, step, self._missing[i])
            else:
                wanted.append(i)
        if wanted:
            answers = self._accounts.find([str(self._lookups[i].on_premises_sid) for i in wanted], self._deadline)
            for i, account in zip(wanted, answers, strict=True):
                failure = account_failure(account)
                if failure is None:
                    self._found[i] = account
                else:
                    self._missing[i] = failure
                    self._ledger.add(i, step, failure)
        return [i for i in indexes if i in self._found and self._ledger.is_open(i, step)]
