"""What this deployment contained: one record per user, so a release undoes only that.

Kept in Table Storage, in the host's own storage account beside the action budget (the
AzureWebJobsStorage connection, or its identity-based settings), so every instance sees the
same records. One entity per user, PartitionKey and RowKey the user's object id in lower case:

    revokeSignInSessions, disableAccount, confirmCompromised   true once Graph confirmed the action
    user, containedAt, correlationId, incidentId, alertId,
    reason, trigger, callerAppId, callerObjectId, responder    the latest containment: who, when, why

A containment merges its confirmed actions into the user's record (`RecordWriter.record`), after
Graph confirmed them and before the reply; a record that cannot be written leaves the
containment standing, and the caller says so. A release reads the record first
(`ReleaseRecords.find`): `enableAccount` needs `disableAccount` recorded, `dismissRisk` needs
`confirmCompromised`; once Graph confirmed a release action, its containing action is cleared
(`ReleaseRecords.clear`), and the record goes when nothing a release could undo is left in it.
A store that cannot be reached raises RecordsUnavailable: the release fails closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError

from revoke.actions import ActiveDirectoryAction, ContainmentAction, ReleaseAction
from revoke.audit.collector import ContextPool
from revoke.audit.events import RequestContext
from revoke.deadline import Deadline
from revoke.errors import RecordsUnavailable
from revoke.policy.host_tables import call_timeouts, host_table
from revoke.settings import HostStorage, HostStorageNames

if TYPE_CHECKING:  # Table Storage's client is imported when a table is built
    from azure.data.tables import TableClient

logger = logging.getLogger(__name__)

TABLE_NAME = "revokecontainments"
# What a containment can record (the Active Directory steps of a synced user too), and what a
# release step can undo.
Recorded = ContainmentAction | ActiveDirectoryAction
Undoing = ReleaseAction | ActiveDirectoryAction
RECORDED: tuple[Recorded, ...] = (
    *ContainmentAction,
    ActiveDirectoryAction.DISABLE,
    ActiveDirectoryAction.FORCE_PASSWORD_RESET,
)
# What each release step undoes: a release may only take it where this deployment took that. An
# Active Directory account is enabled only where this deployment disabled it (HR may have too).
UNDOES: dict[Undoing, Recorded] = {
    ReleaseAction.ENABLE_ACCOUNT: ContainmentAction.DISABLE_ACCOUNT,
    ReleaseAction.DISMISS_RISK: ContainmentAction.CONFIRM_COMPROMISED,
    ActiveDirectoryAction.ENABLE: ActiveDirectoryAction.DISABLE,
}
# A record is written after the Graph calls, which may have used the whole budget; it still gets this long.
RECORD_FLOOR_SECONDS = 5.0
WRITERS = 8  # records written at once for one request
_TEXT_LIMIT = 1024  # a property's text, kept well inside Table Storage's 64 KiB


@dataclass(frozen=True)
class Requester:
    """Who asked, when no token names them: the CLI's signed-in responder."""

    app_id: str | None = None
    object_id: str | None = None
    upn: str | None = None


@dataclass(frozen=True)
class Contained:
    """One user Graph confirmed at least one containing action for."""

    object_id: str
    user: str  # as the request named them
    actions: tuple[Recorded, ...]


@dataclass(frozen=True)
class ContainmentRecord:
    """A user's record, as read back (`etag` guards the clearing against a newer containment)."""

    object_id: str
    actions: frozenset[Recorded]
    etag: str
    contained_at: str | None = None
    correlation_id: str | None = None

    def allows(self, action: Undoing) -> bool:
        return UNDOES[action] in self.actions

    @property
    def shown(self) -> str:
        taken = ", ".join(sorted(action.value for action in self.actions)) or "nothing a release undoes"
        return f"its record shows {taken}"


class RecordTable:
    """The records' table, built on first use, created if missing; every call within the deadline."""

    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._make_table = table
        self._client: TableClient | None = None
        self._ready = False

    def client(self, deadline: Deadline) -> TableClient:
        if self._client is None:
            try:
                self._client = self._make_table()
            except RecordsUnavailable:
                raise
            except (AzureError, ValueError) as problem:
                raise _unavailable("reach", problem) from None
        if not self._ready:
            try:
                self._client.create_table(**timeouts(deadline))
            except ResourceExistsError:
                pass
            except AzureError as problem:
                raise _unavailable("create the table of", problem) from None
            self._ready = True
        return self._client

    def check(self, deadline: Deadline) -> None:
        """Reach the table as a release would (the health check); RecordsUnavailable if it cannot."""
        try:
            self.client(deadline).get_entity(_NOBODY, _NOBODY, **timeouts(deadline))
        except ResourceNotFoundError:
            return
        except AzureError as problem:
            raise _unavailable("read", problem) from None


class RecordWriter:
    """Writes the record of each user a containment reached; the one method a containment (or a
    campaign's chunk) calls once Graph confirmed its actions, before it answers."""

    def __init__(self, table: RecordTable, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._table = table
        self._clock = clock
        self._writers = ContextPool(max_workers=WRITERS, thread_name_prefix="containment-records")

    def record(
        self,
        contained: Sequence[Contained],
        context: RequestContext,
        deadline: Deadline,
        requester: Requester | None = None,
    ) -> dict[str, str]:
        """Merge each user's confirmed actions into their record; by object id, why each one that
        could not be written was not (empty: every record was written). Never raises."""
        if not contained:
            return {}
        time_left = Deadline(max(deadline.remaining(), RECORD_FLOOR_SECONDS))
        try:
            table = self._table.client(time_left)
        except RecordsUnavailable as problem:
            return {entry.object_id: str(problem) for entry in contained}
        when = self._clock().isoformat(timespec="seconds").replace("+00:00", "Z")
        shared = _who(context, requester)

        def write(entry: Contained) -> str | None:
            entity = {
                "PartitionKey": entry.object_id,
                "RowKey": entry.object_id,
                **{action.value: True for action in entry.actions},
                "user": entry.user[:_TEXT_LIMIT],
                "containedAt": when,
                **shared,
            }
            try:
                from azure.data.tables import UpdateMode

                table.upsert_entity(entity, mode=UpdateMode.MERGE, **timeouts(time_left))
            except (AzureError, RecordsUnavailable) as problem:
                logger.warning("Could not write a containment record: %s", type(problem).__name__)
                return f"could not write the containment record ({type(problem).__name__})"
            return None

        failures = dict(zip((entry.object_id for entry in contained), self._writers.map(write, contained), strict=True))
        return {object_id: why for object_id, why in failures.items() if why is not None}


class ReleaseRecords:
    """A release's reading and clearing of the records; RecordsUnavailable when the store cannot answer."""

    def __init__(self, table: RecordTable) -> None:
        self._table = table

    def find(self, object_id: str, deadline: Deadline) -> ContainmentRecord | None:
        table = self._table.client(deadline)
        try:
            entity = table.get_entity(object_id, object_id, **timeouts(deadline))
        except ResourceNotFoundError:
            return None
        except AzureError as problem:
            raise _unavailable("read", problem) from None
        actions = frozenset(action for action in RECORDED if entity.get(action.value) is True)
        return ContainmentRecord(
            object_id,
            actions,
            str(entity.metadata["etag"]),
            _text(entity.get("containedAt")),
            _text(entity.get("correlationId")),
        )

    def clear(self, record: ContainmentRecord, undone: Iterable[Undoing], deadline: Deadline) -> None:
        """Forget what the release undid; the record goes when nothing a release undoes is left.

        Only if nobody wrote the record since it was read (ETag): a containment that came in between
        keeps its record, so a later release may undo it.
        """
        left = record.actions - {UNDOES[action] for action in undone}
        table = self._table.client(deadline)
        condition: dict[str, Any] = {"etag": record.etag, "match_condition": MatchConditions.IfNotModified}
        try:
            if not left & set(UNDOES.values()):
                table.delete_entity(record.object_id, record.object_id, **condition, **timeouts(deadline))
            else:
                from azure.data.tables import UpdateMode

                cleared = {action.value: False for action in record.actions - left}
                entity = {"PartitionKey": record.object_id, "RowKey": record.object_id, **cleared}
                table.update_entity(entity, mode=UpdateMode.MERGE, **condition, **timeouts(deadline))
        except ResourceNotFoundError:
            return  # already gone
        except HttpResponseError as problem:
            if problem.status_code == 412:
                logger.info("A containment record was written again during its release; it is kept")
                return
            raise _unavailable("clear", problem) from None
        except AzureError as problem:
            raise _unavailable("clear", problem) from None


def records_table(store: HostStorage, credential_for_storage: Callable[[str | None], TokenCredential]) -> TableClient:
    """The records' table in the host storage account; no retries of its own (calls are bounded by the deadline)."""
    no_connection = RecordsUnavailable(
        f"no host storage connection ({HostStorageNames.CONNECTION}) for the containment records"
    )
    return host_table(store, TABLE_NAME, credential_for_storage, no_connection)


def timeouts(deadline: Deadline) -> dict[str, Any]:
    return call_timeouts(deadline, lambda: RecordsUnavailable("no time left to reach the containment records"))


_NOBODY = "00000000-0000-0000-0000-000000000000"


def _who(context: RequestContext, requester: Requester | None) -> dict[str, str]:
    """Who asked, when and why, as the record keeps it; empty text where unknown, so a merge overwrites it."""
    app_id = context.caller_app_id or (requester.app_id if requester else None)
    object_id = context.caller_object_id or (requester.object_id if requester else None)
    fields = {
        "correlationId": context.correlation_id,
        "incidentId": context.incident_id,
        "alertId": context.alert_id,
        "reason": context.reason,
        "trigger": context.trigger,
        "callerAppId": app_id,
        "callerObjectId": object_id,
        "responder": requester.upn if requester else None,
    }
    return {name: (value or "")[:_TEXT_LIMIT] for name, value in fields.items()}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _unavailable(what: str, problem: Exception) -> RecordsUnavailable:
    logger.warning("Could not %s the containment records: %s", what, type(problem).__name__)
    return RecordsUnavailable(f"could not {what} the containment records ({type(problem).__name__})")
