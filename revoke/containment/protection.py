"""The break-glass guard: users in REVOKE_PROTECTED_USERS are never acted on, in either form.

When the list names a user by UPN and a request by object id (or the other way round),
Graph is asked for the user's other name first. That look-up fails closed: only a clean
answer holding both names lets the actions go ahead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from revoke.deadline import Deadline
from revoke.errors import TransientGraphError
from revoke.identifiers import UserIdentifier, is_object_id
from revoke.outcomes import ActionResult, Outcome, UserLookup

logger = logging.getLogger(__name__)

PROTECTED = ActionResult(Outcome.REFUSED, detail="protected user (REVOKE_PROTECTED_USERS)")


class Directory(Protocol):
    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]: ...


def look_up(directory: Directory, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]:
    """Each user's look-up; an unexpected failure is an error for each, never an exception."""
    try:
        return directory.lookup_all(users, deadline)
    except Exception:
        logger.exception("Unexpected failure while looking users up")
        return [UserLookup(error=TransientGraphError("unexpected internal error"))] * len(users)


def lookup_failure(lookup: UserLookup, purpose: str) -> ActionResult | None:
    """What an unsuccessful look-up means for the user's actions; None when it succeeded."""
    if lookup.missing:
        return ActionResult(Outcome.NOT_FOUND, 404, detail="Graph has no such user (look-up)")
    error = lookup.error
    if error is None:
        return None
    outcome = Outcome.DEFERRED if error.transient else Outcome.FAILED
    return ActionResult(outcome, error.status, detail=f"{purpose}: {error.detail}", retry_after=error.retry_after)


class ProtectedUsers:
    def __init__(self, protected: frozenset[str]) -> None:
        self._protected = protected
        self._object_ids = {key for key in protected if is_object_id(key)}
        self._upns = protected - self._object_ids

    def check(
        self, targets: Sequence[UserIdentifier], directory: Directory, deadline: Deadline
    ) -> tuple[dict[int, ActionResult], dict[int, UserLookup]]:
        """Targets that must not be acted on, with why; and the look-ups made, for reuse."""
        decided = {i: PROTECTED for i, user in enumerate(targets) if user.key in self._protected}
        unresolved = [i for i, user in enumerate(targets) if i not in decided and self._needs_lookup(user)]
        if not unresolved:
            return decided, {}
        lookups = dict(zip(unresolved, look_up(directory, [targets[i] for i in unresolved], deadline), strict=True))
        for i, lookup in lookups.items():
            failure = lookup_failure(lookup, "could not check REVOKE_PROTECTED_USERS")
            if failure is not None:
                decided[i] = failure  # fail closed: a target we cannot check is never acted on
            elif lookup.keys & self._protected:
                decided[i] = PROTECTED
        return decided, lookups

    def _needs_lookup(self, user: UserIdentifier) -> bool:
        if user.kind == "sid":
            return False  # resolved and checked first (revoke.containment.resolution), or settled
        other_form = self._upns if user.kind == "object_id" else self._object_ids
        return bool(other_form)
