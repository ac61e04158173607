"""Taking the containment actions for one request, once policy has decided who is acted on.

Each action goes to Graph for every target still open, batched, its results audited as
they land (`Ledger`). A user Graph does not know gets no further action. The look-ups the
verdict needs (when revocation is the only containing action, every target's kind; when
disableAccount is asked, whether each target is synced from Active Directory) and those
confirmCompromised needs (a UPN's object id) go out with the first containing action, in
the same round trips, so they never delay the containment; a result whose verdict waits on
its look-up is audited as soon as the look-up lands. A look-up that shows a synced user
plans the Active Directory actions (REVOKE_ONPREM_ACTIONS) right after the disable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from revoke.actions import CONTAINING, ActiveDirectoryAction, ContainmentAction
from revoke.containment.ledger import Ledger
from revoke.containment.protection import look_up, lookup_failure
from revoke.containment.verdict import Kind, is_external, kind_of
from revoke.deadline import Deadline
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, Memberships, UserLookup, unexpected_failure

logger = logging.getLogger(__name__)

UNEXPECTED = unexpected_failure("Graph")


class Graph(Protocol):
    def perform(
        self,
        action: ContainmentAction,
        users: Sequence[UserIdentifier],
        deadline: Deadline,
        on_result: Callable[[int, ActionResult], None] | None = None,
        *,
        look_up: Sequence[UserIdentifier] = (),
        on_lookup: Callable[[int, UserLookup], None] | None = None,
    ) -> list[ActionResult]: ...

    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]: ...

    def check_memberships(
        self, users: Sequence[UserIdentifier], ids: Sequence[str], deadline: Deadline
    ) -> list[Memberships]: ...


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
        actions: Sequence[ContainmentAction],
        onprem_actions: Sequence[ActiveDirectoryAction] = (),
    ) -> None:
        self._graph = graph
        self._targets = targets
        self._ledger = ledger
        self._lookups = lookups  # by target index; shared with the protected-user check
        self._deadline = deadline
        self._actions = tuple(actions)
        self._onprem = tuple(onprem_actions) if ContainmentAction.DISABLE_ACCOUNT in actions else ()
        self._first_containing = next((action for action in actions if action in CONTAINING), None)
        for i in range(len(targets)):
            self._learn(i, lookups.get(i))

    def take(self, action: ContainmentAction, indexes: list[int]) -> None:
        """`action` on each target in `indexes`, each result audited as its batch lands."""
        if action is ContainmentAction.CONFIRM_COMPROMISED:
            indexes, users = self._by_object_id(indexes)
        else:
            users = [self._targets[i] for i in indexes]
        alongside = self._lookups_due(indexes) if action is self._first_containing else []
        awaited = set(alongside)  # targets whose result waits on their kind before it is audited
        held: dict[int, ActionResult] = {}

        def audit_as_it_lands(position: int, result: ActionResult) -> None:
            i = indexes[position]
            if i in awaited:
                held[i] = result
            else:
                self._ledger.add(i, action, result)

        def learned(position: int, lookup: UserLookup) -> None:
            i = alongside[position]
            self._lookups[i] = lookup
            self._learn(i, lookup)
            awaited.discard(i)
            if i in held:
                self._ledger.add(i, action, held.pop(i))

        try:
            self._graph.perform(
                action,
                users,
                self._deadline,
                audit_as_it_lands,
                look_up=[self._targets[i] for i in alongside],
                on_lookup=learned,
            )
        except Exception:
            # Never expected; but every target must still get one result and one audit event.
            logger.exception("Unexpected failure while calling Graph for %s", action.value)
        for i in sorted(awaited):  # a kind that never arrived cannot be told
            self._learn(i, None)
            if i in held:
                self._ledger.add(i, action, held.pop(i))
        self._ledger.answer_the_rest(indexes, action, UNEXPECTED)
        self._ledger.end_unknown_users(indexes, action)

    def _lookups_due(self, indexes: list[int]) -> list[int]:
        """Targets still to be looked up: every one when the verdict turns on its kind or on whether it is
        synced (a disable), a UPN for confirmCompromised."""
        kinds_matter = revocation_alone(self._actions)
        disables = ContainmentAction.DISABLE_ACCOUNT in self._actions
        confirms = ContainmentAction.CONFIRM_COMPROMISED in self._actions
        return [
            i
            for i in indexes
            if i not in self._lookups
            and (
                disables
                or (kinds_matter and not is_external(self._targets[i].value))
                or (confirms and self._targets[i].kind == "upn")
            )
        ]

    def _learn(self, index: int, lookup: UserLookup | None) -> None:
        """What the look-up (None: none, or none that arrived) tells the verdict, and the plan of a synced user."""
        kind: Kind = kind_of(lookup, external=self._kind(index, lookup))
        self._ledger.learn(index, kind)
        disable = ContainmentAction.DISABLE_ACCOUNT
        if kind.synced and self._onprem and self._ledger.is_open(index, disable):
            self._ledger.plan_after(index, disable, self._onprem)

    def _kind(self, index: int, lookup: UserLookup | None) -> bool | None:
        """Whether the target is external; None when it cannot be told (no clean answer about them)."""
        if is_external(self._targets[index].value):
            return True
        if lookup is None:
            # Not looked up: the kind matters only when revocation alone contains, and then it is looked up.
            return False if not revocation_alone(self._actions) else None
        return lookup.external if lookup.answered else None

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
