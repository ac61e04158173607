"""The storage queues the triggers bind to: their names, which the bindings need at import time,
and the poison queues next to them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from revoke.errors import SettingsError
from revoke.settings.names import SettingNames

DEFAULT_QUEUE_NAME = "revoke-requests"
DEFAULT_CAMPAIGN_QUEUE_NAME = "revoke-campaigns"
DEFAULT_VERIFY_QUEUE_NAME = "revoke-verify"
POISON_SUFFIX = "-poison"


def poison_queue_of(queue_name: str) -> str:
    """Where the queue trigger puts messages a person must look at."""
    return queue_name + POISON_SUFFIX


@cache
def max_dequeue_count() -> int:
    """How many deliveries the host makes before a message goes to the poison queue (host.json's
    extensions.queues.maxDequeueCount), read once per process."""
    host = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text())
    return int(host["extensions"]["queues"]["maxDequeueCount"])


def queue_name_from(environ: Mapping[str, str]) -> str:
    """The request queue's name; the trigger binding needs it at import time."""
    return _queue_name(SettingNames.QUEUE_NAME, environ, DEFAULT_QUEUE_NAME)


def campaign_queue_name_from(environ: Mapping[str, str]) -> str:
    """The campaign queue's name; its trigger binding needs it at import time too."""
    return _queue_name(SettingNames.CAMPAIGN_QUEUE_NAME, environ, DEFAULT_CAMPAIGN_QUEUE_NAME)


def verify_queue_name_from(environ: Mapping[str, str]) -> str:
    """The queue the check after the next directory sync waits on; its trigger binding needs it at import time."""
    return _queue_name(SettingNames.VERIFY_QUEUE_NAME, environ, DEFAULT_VERIFY_QUEUE_NAME)


def distinct_queues(queues: Sequence[tuple[str, str]]) -> None:
    """The request, campaign and verify queues (each `(setting, name)`) and their poison queues are six
    queues, never fewer: a trigger handed another's messages would not act on them as they were meant
    (a check after the sync read as a containment request, a campaign chunk as an incident)."""
    for later, (setting, name) in enumerate(queues):
        for earlier_setting, earlier in queues[:later]:
            if {name, poison_queue_of(name)} & {earlier, poison_queue_of(earlier)}:
                raise SettingsError(
                    setting,
                    f"{name!r} shares a queue with {earlier_setting} {earlier!r} or its poison queue",
                    expected=f"a queue name that is neither {earlier_setting}'s, its poison queue, nor the queue "
                    "whose poison queue it is",
                )


def _queue_name(setting: str, environ: Mapping[str, str], default: str) -> str:
    name = environ.get(setting, "").strip() or default
    # Azure Storage queue names: 3-63 chars, lowercase letters, digits and single hyphens.
    # The poison queue adds "-poison", so the name itself may use at most 56.
    valid = (
        3 <= len(name) <= 56
        and name[0].isalnum()
        and name[-1].isalnum()
        and "--" not in name
        and all(c.isdigit() or ("a" <= c <= "z") or c == "-" for c in name)
    )
    if not valid:
        raise SettingsError(
            setting,
            f"{name!r} is not a storage queue name (3-56 lowercase letters, digits, single hyphens)",
            expected="a storage queue name of 3-56 lowercase letters, digits and single hyphens",
        )
    return name
