"""Taking the containment actions for one request, once policy has decided who is acted on.

Each action goes to Graph for every target still open, batched, its results audited as
they land (`Ledger`). A user Graph does not know gets no further action; confirmCompromised,
which takes object ids only, has a UPN looked up first; and when revocation is the only
containing action, a user named by object id is looked up to learn whether it is a guest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from revoke.actions import ContainmentAction
from revoke.containment.ledger import Ledger
from revoke.containment.protection import look_up, lookup_failure
from revoke.deadline import Deadline
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, Outcome, UserLookup

logger = logging.getLogger(__name__)

UNEXPECTED = ActionResult(Outcome.DEFERRED, detail="unexpected internal error; not confirmed by Graph")


class Graph(Protocol):
    def perform(
        self,
        action: ContainmentAction,
        users: Sequence[UserIdentifier],
        deadline: Deadline,
        on_result: Callable[[int, ActionResult], None] | None = None,
    ) -> list[ActionResult]: ...

    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]: ...


def revocation_alone(actions: Sequence[ContainmentAction]) -> bool:
    """Whether revoking sessions is the only action asked for that can contain a user."""
    return ContainmentAction.REVOKE_SESSIONS in actions and ContainmentAction.DISABLE_ACCOUNT not in actions


class ActionRun:
    def __init__(
        self,
        graph: Graph,
        targets: Sequence[UserIdentifier],
        ledger: Ledger,
        lookups: dict[int, UserLookup],
        deadline: Deadline,
    ) -> None:
        self._graph = graph
        self._targets = targets
        self._ledger = ledger
        self._lookups = lookups  # by target index; shared with the protected-user check
        self._deadline = deadline

    def learn_kinds(self, decided: dict[int, ActionResult]) -> None:
        """Revocation does not contain a guest: a user named by object id is looked up to learn its UPN."""
        unknown = [
            i
            for i, user in enumerate(self._targets)
            if user.kind == "object_id" and i not in decided and i not in self._lookups
        ]
        if not unknown:
            return
        found = look_up(self._graph, [self._targets[i] for i in unknown], self._deadline)
        for i, lookup in zip(unknown, found, strict=True):
            if lookup.missing:
                decided[i] = ActionResult(Outcome.NOT_FOUND, 404, detail="Graph has no such user (look-up)")
            elif lookup.error is not None:
                # The revocation still goes ahead; only the verdict waits on what the user is.
                self._ledger.mark_external(i, None)
            else:
                self._lookups[i] = lookup

    def take(self, action: ContainmentAction, indexes: list[int]) -> None:
        """`action` on each target in `indexes`, each result audited as its batch lands."""
        users = [self._targets[i] for i in indexes]
        if action is ContainmentAction.CONFIRM_COMPROMISED:
            indexes, users = self._by_object_id(indexes)

        def audit_as_it_lands(position: int, result: ActionResult) -> None:
            self._ledger.add(indexes[position], action, result)

        try:
            self._graph.perform(action, users, self._deadline, audit_as_it_lands)
        except Exception:
            # Never expected; but every target must still get one result and one audit event.
            logger.exception("Unexpected failure while calling Graph for %s", action.value)
            for i in indexes:
                if self._ledger.is_open(i, action):
                    self._ledger.add(i, action, UNEXPECTED)
        unknown_user = ActionResult(Outcome.NOT_FOUND, detail=f"Graph has no such user ({action.value})")
        for i in indexes:  # a user Graph does not know needs no further action
            last = self._ledger.last(i)
            if last is not None and last.outcome is Outcome.NOT_FOUND:
                self._ledger.settle(i, unknown_user)

    def _by_object_id(self, indexes: list[int]) -> tuple[list[int], list[UserIdentifier]]:
        """The targets confirmCompromised can name (it takes object ids), looking UPNs up first."""
        named_by_upn = [i for i in indexes if self._targets[i].kind == "upn" and i not in self._lookups]
        found = look_up(self._graph, [self._targets[i] for i in named_by_upn], self._deadline) if named_by_upn else []
        self._lookups.update(zip(named_by_upn, found, strict=True))
        ready: list[int] = []
        users: list[UserIdentifier] = []
        for i in indexes:
            if self._targets[i].kind == "object_id":
                ready.append(i)
                users.append(self._targets[i])
                continue
            failure = lookup_failure(self._lookups[i], "could not find the user's object id")
            if failure is not None:
                self._ledger.settle(i, failure)
            else:
                ready.append(i)
                users.append(UserIdentifier(str(self._lookups[i].object_id), "object_id"))
        return ready, users
