"""The Functions host's storage account, where the action budget and campaigns are kept, read as
the host reads its own connection."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from revoke.errors import SettingsError
from revoke.settings.names import HostStorageNames
from revoke.settings.values import parse_endpoint

_TABLE_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")


@dataclass(frozen=True)
class HostStorage:
    """The host storage account, where the action budget and campaigns are kept: by connection
    string, or by identity at its Table and Queue endpoints."""

    connection_string: str | None = field(default=None, repr=False)  # holds the account key
    endpoint: str | None = None  # https://{account}.table.core.windows.net, used with the managed identity
    queue_endpoint: str | None = None  # https://{account}.queue.core.windows.net, likewise
    client_id: str | None = None


def host_storage_from(value: Callable[[str], str | None]) -> HostStorage:
    """The host's storage connection as the Functions host reads it, for the Table and Queue services."""
    names = HostStorageNames
    client_id = value(names.CLIENT_ID)
    account = value(names.ACCOUNT_NAME)
    if account is not None and not _TABLE_ACCOUNT.fullmatch(account):
        expected = "a storage account name (3-24 lowercase letters and digits)"
        raise SettingsError(names.ACCOUNT_NAME, f"{account!r} is not {expected}", expected=expected)
    table_uri, queue_uri = value(names.TABLE_SERVICE_URI), value(names.QUEUE_SERVICE_URI)
    if table_uri is None and queue_uri is None and account is None:
        return HostStorage(connection_string=value(names.CONNECTION), client_id=client_id)

    def service(uri: str | None, setting: str, kind: str) -> str | None:
        if uri is not None:
            return parse_endpoint(setting, uri, f"https://ACCOUNT.{kind}.core.windows.net")
        return f"https://{account}.{kind}.core.windows.net" if account is not None else None

    return HostStorage(
        endpoint=service(table_uri, names.TABLE_SERVICE_URI, "table"),
        queue_endpoint=service(queue_uri, names.QUEUE_SERVICE_URI, "queue"),
        client_id=client_id,
    )
