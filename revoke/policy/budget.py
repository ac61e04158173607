"""The tenant-wide action budget: how many targets each action may be sent for in any rolling hour.

Kept in Azure Table Storage, in the host's own storage account (the AzureWebJobsStorage
connection, or its identity-based settings with the managed identity), so every instance
and both triggers draw on one count. One entity per action holds the units reserved in each
minute of the last hour. A reservation reads it, drops the minutes that left the window,
grants what fits, and writes it back only if nobody wrote it meanwhile (ETag, If-Match); on
a conflict it reads again. So two processes can never both take the last unit.

A window counts whole minutes: a unit reserved at 10:00:59 frees at 11:01:00, never earlier.
If the store cannot be reached in the invocation's time, `BudgetUnavailable` is raised and
the targets are deferred: no action is sent without a reservation (fail closed).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from revoke.actions import ContainmentAction
from revoke.deadline import Deadline
from revoke.errors import BudgetUnavailable
from revoke.settings import HostStorage, SettingNames, Settings

logger = logging.getLogger(__name__)

TABLE_NAME = "revokeactionbudget"
PARTITION = "budget"
WINDOW_MINUTES = 60
CALL_CEILING_SECONDS = 5.0
MIN_CALL_SECONDS = 0.2
CONFLICT_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class Reservation:
    """Units granted for one action; when fewer than asked, `frees_at` says when the next unit frees."""

    action: str  # the budgeted action's name, as REVOKE_ACTION_BUDGET names it
    asked: int
    granted: int
    limit: int
    frees_at: datetime | None = None

    @property
    def refusal(self) -> str:
        """The detail of a target the budget refused."""
        when = self.frees_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.frees_at else "within the hour"
        return (
            f"over the action budget: {self.action} may be sent for {self.limit} targets per rolling hour "
            f"({SettingNames.ACTION_BUDGET}); the next unit frees up at {when}"
        )


class ActionBudget:
    """Reservations against the per-action limits in Settings, in one table shared by every instance."""

    def __init__(
        self, settings: Settings, table: Callable[[], TableClient], clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self._make_table = table  # built on first use: a missing connection defers targets, not the import
        self._client: TableClient | None = None
        self._clock = clock
        self._table_ready = False

    @property
    def _table(self) -> TableClient:
        if self._client is None:
            self._client = self._make_table()
        return self._client

    def reserve(self, action: str, asked: int, deadline: Deadline) -> Reservation:
        """Take up to `asked` units of `action`'s budget; BudgetUnavailable if the store cannot answer in time."""
        limit = self._settings.budget_for(action)
        if limit is None:
            return Reservation(action, asked, asked, asked)
        if asked <= 0:
            return Reservation(action, 0, 0, limit)
        self._ensure_table(deadline)
        while True:
            entity, etag = self._read(action, deadline)
            minute = int(self._clock() // 60)
            used = _window(entity, minute)
            granted = max(0, min(asked, limit - sum(used.values())))
            if granted == 0:
                return Reservation(action, asked, 0, limit, _frees_at(used, minute))
            used[minute] = used.get(minute, 0) + granted
            if self._write(action, used, etag, deadline):
                frees_at = None if granted == asked else _frees_at(used, minute)
                return Reservation(action, asked, granted, limit, frees_at)
            # Someone else reserved meanwhile: read again, after a pause so the writers spread out.
            pause = random.uniform(0, CONFLICT_PAUSE_SECONDS)  # noqa: S311 - jitter, not a secret
            if not deadline.allows_wait(pause):
                raise BudgetUnavailable("the action budget stayed contended past the invocation's deadline")
            time.sleep(pause)

    def check(self, deadline: Deadline) -> None:
        """Reach the store as a reservation would (the health check); BudgetUnavailable if it cannot."""
        self._ensure_table(deadline)
        self._read(ContainmentAction.REVOKE_SESSIONS, deadline)

    def _ensure_table(self, deadline: Deadline) -> None:
        if self._table_ready:
            return
        try:
            self._table.create_table(**_timeouts(deadline))
        except ResourceExistsError:
            pass
        except AzureError as problem:
            raise _unavailable("create the table", problem) from None
        self._table_ready = True

    def _read(self, action: str, deadline: Deadline) -> tuple[dict[str, Any] | None, str | None]:
        try:
            entity = self._table.get_entity(PARTITION, str(action), **_timeouts(deadline))
        except ResourceNotFoundError:
            return None, None
        except AzureError as problem:
            raise _unavailable("read", problem) from None
        return dict(entity), entity.metadata["etag"]

    def _write(self, action: str, used: dict[int, int], etag: str | None, deadline: Deadline) -> bool:
        """Whether the write landed; False when another writer got there first."""
        entity = {"PartitionKey": PARTITION, "RowKey": str(action), "minutes": json.dumps(used)}
        try:
            if etag is None:
                self._table.create_entity(entity, **_timeouts(deadline))
            else:
                self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                    **_timeouts(deadline),
                )
        except ResourceExistsError:
            return False
        except HttpResponseError as problem:
            if problem.status_code == 412:
                return False
            raise _unavailable("write", problem) from None
        except AzureError as problem:
            raise _unavailable("write", problem) from None
        return True


def _window(entity: dict[str, Any] | None, minute: int) -> dict[int, int]:
    """Units reserved per minute in the hour ending at `minute`; what cannot be read counts as spent."""
    if entity is None:
        return {}
    try:
        stored = json.loads(entity.get("minutes") or "{}")
        used = {int(key): int(value) for key, value in stored.items()}
    except (ValueError, TypeError, AttributeError):
        # An entity this code did not write: fail closed for the hour rather than grant from garbage.
        logger.error("The action budget entity is unreadable; treating the hour as spent")
        return {minute: 10**9}
    return {m: count for m, count in used.items() if minute - WINDOW_MINUTES < m <= minute and count > 0}


def _frees_at(used: dict[int, int], minute: int) -> datetime:
    oldest = min(used, default=minute)
    return datetime.fromtimestamp((oldest + WINDOW_MINUTES) * 60, UTC)


def _timeouts(deadline: Deadline) -> dict[str, Any]:
    seconds = min(deadline.remaining(), CALL_CEILING_SECONDS)
    if seconds < MIN_CALL_SECONDS:
        raise BudgetUnavailable("no time left to reach the action budget")
    return {"connection_timeout": seconds, "read_timeout": seconds}


def _unavailable(what: str, problem: AzureError) -> BudgetUnavailable:
    logger.warning("Could not %s the action budget: %s", what, type(problem).__name__)
    return BudgetUnavailable(f"could not {what} the action budget ({type(problem).__name__})")


def budget_table(store: HostStorage, credential_for_storage: Callable[[str | None], TokenCredential]) -> TableClient:
    """The budget's table in the host storage account; no retries of its own (reserve loops within the deadline)."""
    options: dict[str, Any] = {"retry_total": 0}
    if store.endpoint is not None:
        return TableClient(store.endpoint, TABLE_NAME, credential=credential_for_storage(store.client_id), **options)
    if store.connection_string is None:
        raise BudgetUnavailable("no host storage connection (AzureWebJobsStorage) for the action budget")
    return TableClient.from_connection_string(store.connection_string, TABLE_NAME, **options)
