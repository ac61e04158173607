"""The campaign queue's messages: what each carries, built in one place and recognised in one place.

    {"kind": "chunk", "campaign", "start", "chunk": n, "write": w, "round": r}   act on chunk n at write w's slot
    {"kind": "schedule", "campaign", "start", "from": n}                        queue chunks n, n+1, ... each at its slot
    {"kind": "finish", "campaign"}                                              end the campaign once every chunk is final

`start` is the id of the start that queued the message: a message of a start that never
landed (its row change failed after the send) finds another id, or none, and is dropped.
"""

from __future__ import annotations

from typing import Any

CHUNK, SCHEDULE, FINISH = "chunk", "schedule", "finish"
KINDS = frozenset({CHUNK, SCHEDULE, FINISH})


def chunk_message(campaign: str, start: str, chunk: int, write: int, round_: int = 0) -> dict[str, Any]:
    return {"kind": CHUNK, "campaign": campaign, "start": start, "chunk": chunk, "write": write, "round": round_}


def schedule_message(campaign: str, start: str, first: int) -> dict[str, Any]:
    return {"kind": SCHEDULE, "campaign": campaign, "start": start, "from": first}


def finish_message(campaign: str) -> dict[str, Any]:
    return {"kind": FINISH, "campaign": campaign}


def is_campaign_message(message: Any) -> bool:
    """Whether `message` is one of the three kinds, well formed; anything else is no campaign's."""
    if (
        not isinstance(message, dict)
        or message.get("kind") not in KINDS
        or not isinstance(message.get("campaign"), str)
    ):
        return False
    if message["kind"] == CHUNK:
        return all(_whole(message.get(key)) for key in ("chunk", "write", "round")) and isinstance(
            message.get("start"), str
        )
    if message["kind"] == SCHEDULE:
        return _whole(message.get("from")) and isinstance(message.get("start"), str)
    return True


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
