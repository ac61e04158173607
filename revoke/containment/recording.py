"""What a containment and a release do with the containment records (revoke.containment.records).

A containment records every user Graph confirmed an action for, by object id, after the actions
and before it answers (`Recording.record`); a record that cannot be written leaves the
containment standing, and the target's detail and a `containmentRecord` audit event say so.
A release finds each target's record first (`records_of`) and, once Graph confirmed what it
undid, clears that from the record (`clear_undone`); the same rules say so when it cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from revoke.audit.events import RequestContext, audit_event, emit
from revoke.containment.protection import Lookups, look_up
from revoke.containment.records import (
    RECORD_FLOOR_SECONDS,
    Contained,
    ContainmentRecord,
    Recorded,
    RecordWriter,
    ReleaseRecords,
    Requester,
    Undoing,
)
from revoke.containment.verdict import TargetResult
from revoke.deadline import Deadline
from revoke.errors import RecordsUnavailable
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, Outcome, UserLookup, clean_object_id

if TYPE_CHECKING:
    from revoke.containment.release import ReleaseLedger

# The audit event's action for a containment record that could not be written or cleared.
RECORD_ACTION = "containmentRecord"
NOT_RECORDED = "the containment was not recorded, so a release of this user will be refused"
NOT_CLEARED = "the record still shows the containment, so another release may act again"
NOT_CONTAINED_HERE = "not contained by this deployment"
NO_RECORD = ActionResult(
    Outcome.REFUSED, detail=f"{NOT_CONTAINED_HERE}: it holds no containment record of this user; nothing sent"
)
RECORDS_OFF = ActionResult(
    Outcome.REFUSED, detail=f"{NOT_CONTAINED_HERE}: it keeps no containment records (REVOKE_CONTAINMENT_RECORDS)"
)


class Recording:
    """The records one containment writes: for each user Graph confirmed an action for."""

    def __init__(self, writer: RecordWriter, directory: Lookups, context: RequestContext, deadline: Deadline) -> None:
        self._writer = writer
        self._directory = directory  # for the object id of a user named by UPN
        self._context = context
        self._deadline = deadline

    def record(
        self,
        targets: Sequence[UserIdentifier],
        confirmed: Mapping[int, tuple[Recorded, ...]],
        results: tuple[TargetResult, ...],
        lookups: dict[int, UserLookup],
        requester: Requester | None,
    ) -> tuple[TargetResult, ...]:
        """`results`, with a note on each target whose record could not be written. A user named by
        UPN is recorded by the object id a look-up gives (the look-up made for it, or one now)."""
        reached = [i for i, actions in confirmed.items() if actions]
        unnamed = [i for i in reached if targets[i].kind == "upn" and clean_object_id(lookups.get(i)) is None]
        if unnamed:
            found = look_up(self._directory, [targets[i] for i in unnamed], self._deadline)
            lookups.update(zip(unnamed, found, strict=True))
        failures: dict[int, str] = {}
        contained: list[tuple[int, Contained]] = []
        for i in reached:
            object_id = targets[i].value if targets[i].kind == "object_id" else clean_object_id(lookups.get(i))
            if object_id is None:
                failures[i] = "the user's object id could not be looked up"
            else:
                contained.append((i, Contained(object_id.lower(), targets[i].value, confirmed[i])))
        entries = [entry for _, entry in contained]
        written = self._writer.record(entries, self._context, self._deadline, requester)
        failures.update({i: written[entry.object_id] for i, entry in contained if entry.object_id in written})
        return noted(results, {i: f"{why}: {NOT_RECORDED}" for i, why in failures.items()}, targets, self._context)


def records_of(
    records: ReleaseRecords | None, object_ids: Mapping[int, str], ledger: ReleaseLedger, deadline: Deadline
) -> tuple[dict[int, ContainmentRecord], set[int]]:
    """The record of each release target this deployment contained, and the targets it holds none of;
    those are settled refused, and the targets whose records cannot be read deferred (fail closed)."""
    never_contained: set[int] = set()
    found: dict[int, ContainmentRecord] = {}
    for i, object_id in object_ids.items():
        try:
            record = records.find(object_id, deadline) if records is not None else None
        except RecordsUnavailable as problem:
            why = f"{problem}: whether this deployment contained the user is unknown, so nothing was released"
            ledger.settle(i, ActionResult(Outcome.DEFERRED, detail=why))
            continue
        if record is None:
            ledger.settle(i, NO_RECORD if records is not None else RECORDS_OFF)
            never_contained.add(i)
        else:
            found[i] = record
    return found, never_contained


def clear_undone(
    records: ReleaseRecords | None,
    found: Mapping[int, ContainmentRecord],
    undone: Mapping[int, Sequence[Undoing]],
    results: tuple[TargetResult, ...],
    targets: Sequence[UserIdentifier],
    context: RequestContext,
    deadline: Deadline,
) -> tuple[TargetResult, ...]:
    """Clear from each record what Graph confirmed the release undid; `results`, with a note on each
    target whose record could not be cleared (the release stands)."""
    if records is None:
        return results
    time_left = Deadline(max(deadline.remaining(), RECORD_FLOOR_SECONDS))
    failures: dict[int, str] = {}
    for i, record in found.items():
        if not undone.get(i):
            continue
        try:
            records.clear(record, undone[i], time_left)
        except RecordsUnavailable as problem:
            failures[i] = f"{problem}: {NOT_CLEARED}"
    return noted(results, failures, targets, context)


def record_reached(
    writer: RecordWriter, reached: Sequence[Contained], context: RequestContext, deadline: Deadline
) -> None:
    """The records of users named by object id (a campaign's), each one that could not be written
    audited as `noted` audits it; the targets' results were already reported."""
    written = writer.record(reached, context, deadline)
    for entry in reached:
        if entry.object_id in written:
            why = f"{written[entry.object_id]}: {NOT_RECORDED}"
            emit(audit_event(context, Outcome.FAILED, action=RECORD_ACTION, user=entry.user, detail=why))


def noted(
    results: tuple[TargetResult, ...],
    notes: Mapping[int, str],
    targets: Sequence[UserIdentifier],
    context: RequestContext,
) -> tuple[TargetResult, ...]:
    """`results` with each note added to its target's detail, and audited (action containmentRecord, failed)."""
    changed = list(results)
    for i, note in sorted(notes.items()):
        emit(audit_event(context, Outcome.FAILED, action=RECORD_ACTION, user=targets[i].value, detail=note))
        changed[i] = replace(results[i], detail=f"{results[i].detail}; {note}" if results[i].detail else note)
    return tuple(changed)
