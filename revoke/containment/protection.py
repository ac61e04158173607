"""The break-glass guard: protected users are never acted on, by name, by group or by directory role.

Three settings protect a user, checked in this order before anything is sent for a target:

    REVOKE_PROTECTED_USERS   object ids and UPNs; a target named the other way is looked up first
    REVOKE_PROTECTED_GROUPS  group object ids: the groups' members at any depth
    REVOKE_PROTECTED_ROLES   directory role template ids: the roles' active holders, directly or
                             through a role-assignable group

Group and role membership is asked of Graph (`checkMemberObjects`, which is transitive and
takes role template ids, revoke.graph.client) and kept per process for at most
MEMBERSHIP_CACHE_SECONDS, keyed by the user and by the protected ids, so changing either
setting is never answered from the cache. Every check fails closed: a look-up or a membership
answer that cannot be read refuses the target, with why, and nothing is sent for it.

`ProtectedUsers.check(targets, directory, deadline) -> (decided, lookups)` is the one entry
point, for containments, releases and campaigns alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from revoke.deadline import Deadline
from revoke.errors import TransientGraphError
from revoke.identifiers import UserIdentifier, is_object_id
from revoke.outcomes import ActionResult, Memberships, Outcome, UserLookup, clean_object_id
from revoke.settings import SettingNames, Settings

logger = logging.getLogger(__name__)

PROTECTED = ActionResult(Outcome.REFUSED, detail=f"protected user ({SettingNames.PROTECTED_USERS})")
PROTECTED_BY_GROUP = ActionResult(
    Outcome.REFUSED, detail=f"protected user: a member of a group in {SettingNames.PROTECTED_GROUPS}"
)
PROTECTED_BY_ROLE = ActionResult(
    Outcome.REFUSED, detail=f"protected user: holds a directory role in {SettingNames.PROTECTED_ROLES}"
)
MEMBERSHIP_SETTINGS = f"{SettingNames.PROTECTED_GROUPS}, {SettingNames.PROTECTED_ROLES}"
MEMBERSHIP_CACHE_SECONDS = 300.0
MEMBERSHIP_CACHE_ENTRIES = 10_000


@dataclass(frozen=True)
class UnverifiedProtection(ActionResult):
    """A target refused because whether it is protected could not be read (fail closed): a queue
    message holding one is delivered again, since the answer may come next time."""


class Lookups(Protocol):
    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]: ...


class Directory(Lookups, Protocol):
    """What the guard asks Graph: users' look-ups, and their group and role memberships."""

    def check_memberships(
        self, users: Sequence[UserIdentifier], ids: Sequence[str], deadline: Deadline
    ) -> list[Memberships]: ...


def look_up(directory: Lookups, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]:
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


class MembershipCache:
    """Membership answers per (user, protected ids), each for at most `seconds`; safe between threads.

    Only clean answers are kept; a failure is asked again next time. Bounded: the oldest answer
    goes first when it is full.
    """

    def __init__(
        self,
        seconds: float = MEMBERSHIP_CACHE_SECONDS,
        entries: int = MEMBERSHIP_CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._entries = entries
        self._clock = clock
        self._answers: OrderedDict[tuple[str, frozenset[str]], tuple[float, frozenset[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user: str, ids: frozenset[str]) -> frozenset[str] | None:
        with self._lock:
            kept = self._answers.get((user, ids))
            if kept is None:
                return None
            if self._clock() >= kept[0]:
                del self._answers[(user, ids)]
                return None
            return kept[1]

    def put(self, user: str, ids: frozenset[str], member_of: frozenset[str]) -> None:
        with self._lock:
            self._answers[(user, ids)] = (self._clock() + self._seconds, member_of)
            self._answers.move_to_end((user, ids))
            while len(self._answers) > self._entries:
                self._answers.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


# The process's membership answers, which every ProtectedUsers of the process shares.
MEMBERSHIPS = MembershipCache()


class ProtectedUsers:
    """The users a deployment must never act on: named, in a protected group, or holding a protected role."""

    def __init__(
        self,
        protected: frozenset[str],
        groups: frozenset[str] = frozenset(),
        roles: frozenset[str] = frozenset(),
        cache: MembershipCache = MEMBERSHIPS,
    ) -> None:
        self._protected = protected
        self._object_ids = {key for key in protected if is_object_id(key)}
        self._upns = protected - self._object_ids
        self._groups = frozenset(group.lower() for group in groups)
        self._roles = frozenset(role.lower() for role in roles)
        self._cache = cache

    @classmethod
    def of(cls, settings: Settings) -> ProtectedUsers:
        return cls(settings.protected_users, settings.protected_groups, settings.protected_roles)

    def in_force(self) -> str:
        """What protects users, in one line (the CLI says it at start)."""
        parts = [
            f"{len(found)} {what} ({setting})"
            for found, what, setting in (
                (self._protected, "named user(s)", SettingNames.PROTECTED_USERS),
                (self._groups, "group(s), members at any depth", SettingNames.PROTECTED_GROUPS),
                (self._roles, "directory role(s), active holders", SettingNames.PROTECTED_ROLES),
            )
            if found
        ]
        if not parts:
            return (
                "no user is protected: set REVOKE_PROTECTED_USERS, REVOKE_PROTECTED_GROUPS or "
                "REVOKE_PROTECTED_ROLES to protect break-glass and administrator accounts"
            )
        return "; ".join(parts)

    def check(
        self,
        targets: Sequence[UserIdentifier],
        directory: Directory,
        deadline: Deadline,
        *,
        lookups: dict[int, UserLookup] | None = None,
    ) -> tuple[dict[int, ActionResult], dict[int, UserLookup]]:
        """Targets that must not be acted on, with why; and the look-ups made, for reuse.

        `lookups` are clean look-ups the caller already holds (a release looks every target up
        first, a containment resolves SIDs first, and each settles those that fail itself): they
        are used rather than asked again.
        """
        known = dict(lookups or {})
        decided = {i: PROTECTED for i, user in enumerate(targets) if user.key in self._protected}
        for i, lookup in known.items():
            if i not in decided and lookup.keys & self._protected:
                decided[i] = PROTECTED
        unresolved = [
            i for i, user in enumerate(targets) if i not in decided and i not in known and self._needs_lookup(user)
        ]
        made: dict[int, UserLookup] = {}
        if unresolved:
            made = dict(zip(unresolved, look_up(directory, [targets[i] for i in unresolved], deadline), strict=True))
        for i, lookup in made.items():
            failure = lookup_failure(lookup, f"could not check {SettingNames.PROTECTED_USERS}")
            if failure is not None:
                decided[i] = failure  # fail closed: a target we cannot check is never acted on
            elif lookup.keys & self._protected:
                decided[i] = PROTECTED
        if self._groups or self._roles:
            # A target still named by SID was not resolved to a user (not found, failed, or a dry run):
            # there is no user to ask about, and it is settled or sends nothing.
            open_targets = [i for i, user in enumerate(targets) if i not in decided and user.kind != "sid"]
            decided.update(self._by_membership(targets, open_targets, {**known, **made}, directory, deadline))
        return decided, made

    def _needs_lookup(self, user: UserIdentifier) -> bool:
        if user.kind == "sid":
            return False  # resolved and checked first (revoke.containment.resolution), or settled
        other_form = self._upns if user.kind == "object_id" else self._object_ids
        return bool(other_form)

    def _by_membership(
        self,
        targets: Sequence[UserIdentifier],
        indexes: list[int],
        lookups: dict[int, UserLookup],
        directory: Directory,
        deadline: Deadline,
    ) -> dict[int, ActionResult]:
        """Targets in a protected group or role, or whose membership could not be read."""
        ids = self._groups | self._roles
        names = {i: _checked_name(targets[i], lookups.get(i)) for i in indexes}
        answers: dict[int, Memberships] = {}
        asked: list[int] = []
        for i in indexes:
            cached = self._cache.get(names[i].key, ids)
            if cached is None:
                asked.append(i)
            else:
                answers[i] = Memberships(member_of=cached)
        if asked:
            fresh = _check(directory, [names[i] for i in asked], sorted(ids), deadline)
            for i, answer in zip(asked, fresh, strict=True):
                answers[i] = answer
                if answer.error is None and not answer.missing:
                    self._cache.put(names[i].key, ids, answer.member_of)
        return {i: decision for i, answer in answers.items() if (decision := self._decision(answer)) is not None}

    def _decision(self, answer: Memberships) -> ActionResult | None:
        if answer.missing:
            return ActionResult(Outcome.NOT_FOUND, 404, detail="Graph has no such user (membership check)")
        if answer.error is not None:
            error = answer.error
            why = f"could not check {MEMBERSHIP_SETTINGS}: {error.detail}; nothing sent"
            return UnverifiedProtection(Outcome.REFUSED, error.status, detail=why, retry_after=error.retry_after)
        if answer.member_of & self._groups:
            return PROTECTED_BY_GROUP
        if answer.member_of & self._roles:
            return PROTECTED_BY_ROLE
        return None


def _checked_name(target: UserIdentifier, lookup: UserLookup | None) -> UserIdentifier:
    """The user's object id when a clean look-up gave it (the user that was checked), else the name given."""
    object_id = clean_object_id(lookup)
    return UserIdentifier(object_id, "object_id") if object_id is not None else target


def _check(
    directory: Directory, users: Sequence[UserIdentifier], ids: Sequence[str], deadline: Deadline
) -> list[Memberships]:
    """Each user's memberships; an unexpected failure is an error for each, never an exception."""
    try:
        return directory.check_memberships(users, ids, deadline)
    except Exception:
        logger.exception("Unexpected failure while checking group and role memberships")
        return [Memberships(error=TransientGraphError("unexpected internal error"))] * len(users)
