"""The Storage emulator the suite starts is the real service the SDK clients speak to."""

from __future__ import annotations

import uuid

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.queue import QueueClient

from graphsim.azurite import Azurite


def test_a_table_refuses_a_write_made_against_an_old_etag(azurite: Azurite) -> None:
    table = TableServiceClient.from_connection_string(azurite.connection_string).create_table(
        "t" + uuid.uuid4().hex[:12]
    )
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "count": 1})
    first = table.get_entity("p", "r")
    table.update_entity({"PartitionKey": "p", "RowKey": "r", "count": 2}, mode=UpdateMode.REPLACE)

    try:
        table.update_entity(
            {"PartitionKey": "p", "RowKey": "r", "count": 3},
            mode=UpdateMode.REPLACE,
            etag=first.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
        refused = False
    except ResourceModifiedError:
        refused = True

    assert refused
    assert table.get_entity("p", "r")["count"] == 2


def test_a_queue_message_sent_with_a_delay_stays_invisible_until_then(azurite: Azurite) -> None:
    queue = QueueClient.from_connection_string(azurite.connection_string, "q" + uuid.uuid4().hex[:12])
    queue.create_queue()
    queue.send_message("later", visibility_timeout=60)
    queue.send_message("now")

    assert [message.content for message in queue.receive_messages()] == ["now"]
