"""A campaign's state in Table Storage: one partition per campaign, the only record of where it stands.

    PartitionKey = campaign id
    RowKey "campaign"                 the request, its preview, status, who previewed, started and cancelled
                                      it, the start's id, pace (anchor, rate), throttled calls
    RowKey "chunk-{n:06d}"            chunk n: its place in the schedule, state (open, running, done, failed,
                                      cancelled), lease, round, when it was first sent, tally
    RowKey "t-{n:06d}-{object id}"    one target of chunk n (written by the preview): its name, where it
                                      signs in, each action's result, outcome

Every write is an upsert keyed by campaign and target (or page, or chunk) and writes the
whole truth for that key, never an increment: a redelivered message that writes again
writes the same thing, and a target is counted once however often its chunk runs. The
campaign row changes by optimistic concurrency (ETag), so instances never wait on a lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from revoke.campaigns.names import TABLE_NAME

CAMPAIGN_ROW = "campaign"
TRANSACTION_LIMIT = 100  # Table Storage: operations in one entity group transaction


class Conflict(Exception):
    """Another instance changed the row first (its ETag no longer matches)."""


@dataclass
class Row:
    data: dict[str, Any]
    etag: str | None = None


def chunk_key(chunk: int) -> str:
    return f"chunk-{chunk:06d}"


def target_key(chunk: int, object_id: str) -> str:
    return f"t-{chunk:06d}-{object_id}"


class CampaignStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    @classmethod
    def from_connection_string(cls, connection: str, table_name: str = TABLE_NAME) -> CampaignStore:
        """For Azurite and local runs: the host's AzureWebJobsStorage connection string."""
        return cls._ready(TableServiceClient.from_connection_string(connection), table_name)

    @classmethod
    def from_endpoint(cls, endpoint: str, credential: TokenCredential, table_name: str = TABLE_NAME) -> CampaignStore:
        """In Azure: the host's identity-based storage, at its Table endpoint."""
        return cls._ready(TableServiceClient(endpoint, credential=credential), table_name)

    @classmethod
    def _ready(cls, service: TableServiceClient, table_name: str) -> CampaignStore:
        service.create_table_if_not_exists(table_name)
        return cls(service.get_table_client(table_name))

    # --- the campaign row ----------------------------------------------------------------
    def create(self, campaign: str, data: dict[str, Any]) -> None:
        self._table.create_entity({"PartitionKey": campaign, "RowKey": CAMPAIGN_ROW, **_stored(data)})

    def campaign(self, campaign: str) -> Row | None:
        return self._get(campaign, CAMPAIGN_ROW)

    def replace_campaign(self, campaign: str, row: Row) -> None:
        """Write `row` back only if nobody changed it since it was read; Conflict otherwise."""
        entity = {"PartitionKey": campaign, "RowKey": CAMPAIGN_ROW, **_stored(row.data)}
        try:
            self._table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=row.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise Conflict(campaign) from None

    # --- chunks and targets -----------------------------------------------------------------
    def put_chunk_with_targets(
        self, campaign: str, chunk: int, data: dict[str, Any], targets: Sequence[dict[str, Any]]
    ) -> None:
        """The chunk's row and its targets' rows as enumeration found them; a later result is kept (MERGE)."""
        operations = [("upsert", _entity(campaign, chunk_key(chunk), data), {"mode": UpdateMode.MERGE})]
        operations += [
            ("upsert", _entity(campaign, target_key(chunk, t["id"]), t), {"mode": UpdateMode.MERGE}) for t in targets
        ]
        for start in range(0, len(operations), TRANSACTION_LIMIT):
            self._table.submit_transaction(operations[start : start + TRANSACTION_LIMIT])

    def chunk(self, campaign: str, chunk: int) -> Row | None:
        return self._get(campaign, chunk_key(chunk))

    def chunks(self, campaign: str) -> list[dict[str, Any]]:
        return [row.data for row in self._range(campaign, "chunk-", "chunk.")]

    def claim_chunk(self, campaign: str, chunk: int, row: Row, data: dict[str, Any]) -> Row:
        """Merge `data` into the chunk's row if it is unchanged since read; Conflict otherwise."""
        entity = _entity(campaign, chunk_key(chunk), data)
        try:
            result = self._table.update_entity(
                entity, mode=UpdateMode.MERGE, etag=row.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise Conflict(campaign) from None
        return Row({**row.data, **data}, result.get("etag"))

    def update_chunk(self, campaign: str, chunk: int, data: dict[str, Any]) -> None:
        self._upsert(campaign, chunk_key(chunk), data)

    def targets(self, campaign: str, chunk: int) -> list[dict[str, Any]]:
        prefix = f"t-{chunk:06d}-"
        return [row.data for row in self._range(campaign, prefix, prefix[:-1] + ".")]

    def put_targets(self, campaign: str, chunk: int, targets: Iterable[dict[str, Any]]) -> None:
        operations = [
            ("upsert", _entity(campaign, target_key(chunk, t["id"]), t), {"mode": UpdateMode.MERGE}) for t in targets
        ]
        for start in range(0, len(operations), TRANSACTION_LIMIT):
            self._table.submit_transaction(operations[start : start + TRANSACTION_LIMIT])

    # --- the wire -----------------------------------------------------------------------------
    def _get(self, campaign: str, row_key: str) -> Row | None:
        try:
            entity = self._table.get_entity(campaign, row_key)
        except ResourceNotFoundError:
            return None
        return Row(_loaded(entity), entity.metadata.get("etag"))

    def _upsert(self, campaign: str, row_key: str, data: dict[str, Any]) -> None:
        self._table.upsert_entity(_entity(campaign, row_key, data), mode=UpdateMode.MERGE)

    def _range(self, campaign: str, low: str, high: str) -> Iterator[Row]:
        query = "PartitionKey eq @p and RowKey ge @low and RowKey lt @high"
        parameters = {"p": campaign, "low": low, "high": high}
        for entity in self._table.query_entities(query, parameters=parameters):
            yield Row(_loaded(entity), entity.metadata.get("etag"))


def is_conflict(error: Exception) -> bool:
    return isinstance(error, Conflict | ResourceExistsError)


def _entity(campaign: str, row_key: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"PartitionKey": campaign, "RowKey": row_key, **_stored(data)}


def _stored(data: dict[str, Any]) -> dict[str, Any]:
    """Tables hold scalars: lists and dicts go as JSON text, None is left out."""
    stored: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        stored[key] = json.dumps(value, separators=(",", ":")) if isinstance(value, dict | list) else value
    return stored


JSON_FIELDS = frozenset({"request", "preview", "tally", "results", "scope", "previewedBy", "startedBy", "cancelledBy"})


def _loaded(entity: Any) -> dict[str, Any]:
    data = {key: value for key, value in dict(entity).items() if key not in ("PartitionKey", "RowKey")}
    for key in JSON_FIELDS & set(data):
        data[key] = json.loads(data[key])
    return data
