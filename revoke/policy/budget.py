"""The tenant-wide action budget: how many targets each action may be sent for in any rolling hour.

Kept in Azure Table Storage, in the host's own storage account (the AzureWebJobsStorage
connection, or its identity-based settings with the managed identity), so every instance
and both triggers draw on one count. One entity per action holds the units reserved in each
minute, and how many of them HTTP callers took. A reservation reads it, grants what fits,
and writes it back only if nobody wrote it meanwhile (ETag, If-Match); on a conflict it
reads again. So two processes can never both take the last unit.

    the hour       A unit reserved in minute m is held until minute m + 61 begins: one hour
                   after the minute ends. "Now" is the later of this host's clock and the
                   newest minute any instance recorded, so an instance whose clock runs a few
                   seconds behind counts the minute another has already written, writes into
                   it, and never drops it as "the future".
    the queue      REVOKE_QUEUE_BUDGET_SHARE of each action's units is kept for the request
                   queue (Sentinel incidents): HTTP callers together may take the rest, the
                   queue may take all of it. No HTTP caller can spend what an incident needs.
    refunds        A unit is charged for what reached Graph. The caller gives back the units
                   of targets never sent (no token, no connection) and of users Graph does
                   not know (`refund`), so neither an outage nor made-up ids spend the hour.
    fail closed    If the store cannot be reached in the invocation's time, `BudgetUnavailable`
                   is raised and the targets are deferred: no action is sent without a
                   reservation. A table that went missing is created again; until it can be,
                   every reservation and the health check fail.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.data.tables import TableClient, UpdateMode

from revoke.actions import ContainmentAction
from revoke.deadline import Deadline
from revoke.errors import BudgetUnavailable
from revoke.policy.host_tables import call_timeouts, host_table
from revoke.settings import HostStorage, SettingNames, Settings

logger = logging.getLogger(__name__)

TABLE_NAME = "revokeactionbudget"
PARTITION = "budget"
WINDOW_MINUTES = 60
CONFLICT_PAUSE_SECONDS = 0.05
TABLE_NOT_FOUND = "TableNotFound"
_SPENT = 10**9  # what an unreadable entity counts as: the whole hour


@dataclass(frozen=True)
class Reservation:
    """Units granted for one action; when fewer than asked, `frees_at` says when the next unit frees."""

    action: str  # the budgeted action's name, as REVOKE_ACTION_BUDGET names it
    asked: int
    granted: int
    limit: int
    frees_at: datetime | None = None
    minute: int | None = None  # the minute the granted units were recorded in, for a refund
    queue: bool = False  # drawn on the whole budget (the request queue), not the HTTP callers' share
    kept: int = 0  # units of `limit` kept for the request queue

    @property
    def refusal(self) -> str:
        """The detail of a target the budget refused."""
        when = self.frees_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.frees_at else "within the hour"
        if not self.queue and self.kept:
            return (
                f"over the action budget of HTTP callers: {self.action} may be sent for {self.limit - self.kept} "
                f"targets per rolling hour by HTTP callers, {self.kept} of its {self.limit} being kept for the "
                f"request queue ({SettingNames.ACTION_BUDGET}, {SettingNames.QUEUE_BUDGET_SHARE}); "
                f"the next unit frees up at {when}"
            )
        return (
            f"over the action budget: {self.action} may be sent for {self.limit} targets per rolling hour "
            f"({SettingNames.ACTION_BUDGET}); the next unit frees up at {when}"
        )


@dataclass
class _Hour:
    """One action's entity as read: units per minute, the HTTP callers' part of them, and "now"."""

    used: dict[int, int]
    callers: dict[int, int]
    minute: int
    etag: str | None

    def total(self, of: dict[int, int]) -> int:
        return sum(of.values())

    def frees_at(self, of: dict[int, int]) -> datetime:
        oldest = min((m for m, count in of.items() if count > 0), default=self.minute)
        return datetime.fromtimestamp((oldest + WINDOW_MINUTES + 1) * 60, UTC)

    def entity(self, action: str) -> dict[str, Any]:
        return {
            "PartitionKey": PARTITION,
            "RowKey": action,
            "minutes": json.dumps(self.used),
            "callers": json.dumps(self.callers),
        }


def kept_for_queue(limit: int, share: float) -> int:
    """Units of `limit` only the request queue may take."""
    return min(limit, math.ceil(limit * share)) if share > 0 else 0


class ActionBudget:
    """Reservations against the per-action limits in Settings, in one table shared by every instance."""

    def __init__(
        self, settings: Settings, table: Callable[[], TableClient], clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self._make_table = table  # built on first use: a missing connection defers targets, not the import
        self._client: TableClient | None = None
        self._clock = clock

    @property
    def _table(self) -> TableClient:
        if self._client is None:
            self._client = self._make_table()
        return self._client

    def reserve(self, action: str, asked: int, deadline: Deadline, *, queue: bool = False) -> Reservation:
        """Take up to `asked` units of `action`'s budget; BudgetUnavailable if the store cannot answer in time.

        `queue` draws on the whole budget (the request queue's trigger); otherwise on the HTTP
        callers' share, which leaves REVOKE_QUEUE_BUDGET_SHARE of it to the queue.
        """
        limit = self._settings.budget_for(action)
        if limit is None:
            return Reservation(action, asked, asked, asked, queue=queue)
        kept = kept_for_queue(limit, self._settings.queue_budget_share)
        if asked <= 0:
            return Reservation(action, 0, 0, limit, queue=queue, kept=kept)
        while True:
            hour = self._read(action, deadline)
            room = limit - hour.total(hour.used)
            # HTTP callers are held by their share when it is tighter than what is left of the whole.
            by_share = not queue and limit - kept - hour.total(hour.callers) < room
            if by_share:
                room = limit - kept - hour.total(hour.callers)
            granted = max(0, min(asked, room))
            units = hour.callers if by_share else hour.used
            if granted == 0:
                return Reservation(action, asked, 0, limit, hour.frees_at(units), queue=queue, kept=kept)
            hour.used[hour.minute] = hour.used.get(hour.minute, 0) + granted
            if not queue:
                hour.callers[hour.minute] = hour.callers.get(hour.minute, 0) + granted
            if self._write(action, hour, deadline):
                frees_at = None if granted == asked else hour.frees_at(units)
                return Reservation(action, asked, granted, limit, frees_at, hour.minute, queue, kept)
            self._pause(deadline)

    def refund(self, reservation: Reservation, units: int, deadline: Deadline) -> bool:
        """Give back `units` of `reservation` (targets never sent, or users Graph does not know).

        Whether they were given back: when the store cannot be reached in time they stay
        spent (fail closed), and the caller carries on.
        """
        units = min(units, reservation.granted)
        if units <= 0 or reservation.minute is None:
            return False
        try:
            while True:
                hour = self._read(reservation.action, deadline)
                hour.used = _less(hour.used, reservation.minute, units)
                if not reservation.queue:
                    hour.callers = _less(hour.callers, reservation.minute, units)
                if self._write(reservation.action, hour, deadline):
                    return True
                self._pause(deadline)
        except BudgetUnavailable as problem:
            logger.warning("Could not give %s units of %s back: %s", units, reservation.action, problem)
            return False

    def check(self, deadline: Deadline) -> None:
        """Reach the store as a reservation would (the health check); BudgetUnavailable if it cannot."""
        self._read(ContainmentAction.REVOKE_SESSIONS.value, deadline)

    # --- the wire -------------------------------------------------------------------------------
    def _read(self, action: str, deadline: Deadline) -> _Hour:
        """The entity of `action` as an hour; the table is created again if it went missing."""
        for _ in range(2):
            try:
                entity = self._table.get_entity(PARTITION, action, **_timeouts(deadline))
            except HttpResponseError as problem:
                if problem.status_code != 404:
                    raise _unavailable("read", problem) from None
                if _table_missing(problem):
                    self._create_table(deadline)
                    continue
                return _hour(None, None, self._minute())
            except AzureError as problem:
                raise _unavailable("read", problem) from None
            return _hour(dict(entity), entity.metadata["etag"], self._minute())
        raise BudgetUnavailable("the action budget's table is missing and was not there after creating it")

    def _write(self, action: str, hour: _Hour, deadline: Deadline) -> bool:
        """Whether the write landed; False when another writer got there first (or the table was made again)."""
        entity = hour.entity(action)
        try:
            if hour.etag is None:
                self._table.create_entity(entity, **_timeouts(deadline))
            else:
                self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=hour.etag,
                    match_condition=MatchConditions.IfNotModified,
                    **_timeouts(deadline),
                )
        except ResourceExistsError:
            return False
        except HttpResponseError as problem:
            if problem.status_code == 412:
                return False
            if problem.status_code == 404 and _table_missing(problem):
                self._create_table(deadline)
                return False
            raise _unavailable("write", problem) from None
        except AzureError as problem:
            raise _unavailable("write", problem) from None
        return True

    def _create_table(self, deadline: Deadline) -> None:
        logger.warning("The action budget's table %s is missing; creating it", TABLE_NAME)
        try:
            self._table.create_table(**_timeouts(deadline))
        except ResourceExistsError:
            pass  # another instance made it first
        except AzureError as problem:
            logger.warning("Could not create the action budget's table: %s", type(problem).__name__)
            raise BudgetUnavailable(
                f"the action budget's table {TABLE_NAME} is missing and could not be created ({type(problem).__name__})"
            ) from None

    def _minute(self) -> int:
        return int(self._clock() // 60)

    def _pause(self, deadline: Deadline) -> None:
        # Someone else wrote meanwhile: read again, after a pause so the writers spread out.
        pause = random.uniform(0, CONFLICT_PAUSE_SECONDS)  # noqa: S311 - jitter, not a secret
        if not deadline.allows_wait(pause):
            raise BudgetUnavailable("the action budget stayed contended past the invocation's deadline")
        time.sleep(pause)


def _hour(entity: dict[str, Any] | None, etag: str | None, local_minute: int) -> _Hour:
    """The units still held, by minute; what cannot be read counts as the hour spent."""
    if entity is None:
        return _Hour({}, {}, local_minute, None)
    try:
        used = _minutes(entity.get("minutes"))
        callers = _minutes(entity.get("callers"))
    except (ValueError, TypeError, AttributeError):
        # An entity this code did not write: fail closed for the hour rather than grant from garbage.
        logger.error("The action budget entity is unreadable; treating the hour as spent")
        return _Hour({local_minute: _SPENT}, {local_minute: _SPENT}, local_minute, etag)
    # Never behind what another instance already wrote: its clock may be a few seconds ahead.
    minute = max([local_minute, *used])
    held = minute - WINDOW_MINUTES
    return _Hour(
        {m: n for m, n in used.items() if m >= held and n > 0},
        {m: n for m, n in callers.items() if m >= held and n > 0},
        minute,
        etag,
    )


def _minutes(raw: Any) -> dict[int, int]:
    stored = json.loads(raw or "{}")
    return {int(key): int(value) for key, value in stored.items()}


def _less(units: dict[int, int], minute: int, count: int) -> dict[int, int]:
    left = max(0, units.get(minute, 0) - count)
    return {**{m: n for m, n in units.items() if m != minute}, **({minute: left} if left else {})}


def _table_missing(problem: HttpResponseError) -> bool:
    """A 404 for the table itself, not for the entity (azure-data-tables sets `error_code` from the answer)."""
    return bool(getattr(problem, "error_code", None) == TABLE_NOT_FOUND)


def _timeouts(deadline: Deadline) -> dict[str, Any]:
    return call_timeouts(deadline, lambda: BudgetUnavailable("no time left to reach the action budget"))


def _unavailable(what: str, problem: AzureError) -> BudgetUnavailable:
    logger.warning("Could not %s the action budget: %s", what, type(problem).__name__)
    return BudgetUnavailable(f"could not {what} the action budget ({type(problem).__name__})")


def budget_table(store: HostStorage, credential_for_storage: Callable[[str | None], TokenCredential]) -> TableClient:
    """The budget's table in the host storage account; no retries of its own (reserve loops within the deadline)."""
    no_connection = BudgetUnavailable("no host storage connection (AzureWebJobsStorage) for the action budget")
    return host_table(store, TABLE_NAME, credential_for_storage, no_connection)
