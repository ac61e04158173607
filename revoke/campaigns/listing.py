"""Reading a campaign's scope: the preview counts every member page, and a started campaign's "page"
messages turn each page into chunks of targets, each queued invisible until its slot.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from revoke.campaigns.graph_io import CampaignGraph, Member, first_page
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.request import CampaignRequest, read_campaign_request
from revoke.campaigns.state import CampaignRows, pace_of
from revoke.campaigns.store import CampaignStore, Row
from revoke.deadline import Deadline
from revoke.errors import GraphError, RetryLater
from revoke.identifiers import parse_user_identifier
from revoke.policy.roles import ACTION_ROLES, Caller
from revoke.settings import Settings

MAX_CHUNK_TARGETS = 50  # a chunk's row and targets fit one Table transaction (100 operations)
CHUNK_SHARE_OF_QUOTA = 20  # a chunk holds at most a twentieth of one quota window's writes, so no burst overruns it
# Reading a 50,000-user tenant takes about 50 pages; the preview may use this long, inside the
# 230 s Azure's front end allows an HTTP request (and the host's functionTimeout).
PREVIEW_SECONDS = 180.0


@dataclass(frozen=True)
class Counts:
    """What a listing held, by kind; `targets` are members and guests to act on, within the limit."""

    listed: int = 0
    members: int = 0
    guests: int = 0
    disabled: int = 0
    protected: int = 0
    over_limit: int = 0
    unreadable: int = 0

    @property
    def targets(self) -> int:
        return self.members + self.guests

    def as_json(self) -> dict[str, int]:
        return {
            "listed": self.listed,
            "members": self.members,
            "guests": self.guests,
            "alreadyDisabled": self.disabled,
            "protected": self.protected,
            "overLimit": self.over_limit,
            "unreadable": self.unreadable,
            "targets": self.targets,
        }

    def plus(self, page: dict[str, int]) -> Counts:
        """These counts and a stored page's (`as_json`) together."""
        return Counts(
            self.listed + page["listed"],
            self.members + page["members"],
            self.guests + page["guests"],
            self.disabled + page["alreadyDisabled"],
            self.protected + page["protected"],
            self.over_limit + page["overLimit"],
            self.unreadable + page["unreadable"],
        )


def chunk_targets(settings: Settings, actions: int) -> int:
    writes, _ = settings.graph_write_quota
    per_chunk = int(writes * settings.campaign_quota_share / CHUNK_SHARE_OF_QUOTA) // max(1, actions)
    return max(1, min(MAX_CHUNK_TARGETS, per_chunk))


class Listing:
    def __init__(
        self,
        settings: Settings,
        store: CampaignStore,
        rows: CampaignRows,
        graph: CampaignGraph,
        queue: DelayQueue,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._rows = rows
        self._graph = graph
        self._queue = queue
        self._clock = clock
        self._protected = settings.protected_users

    def preview(self, body: bytes, caller: Caller) -> str:
        """Read the scope's members and count them; store the campaign; send nothing. Its id.

        The caller holds Containment.Campaign (checked by the route) and must hold each action's role too.
        """
        self._rows.require_on()
        request = read_campaign_request(body, self._settings.actions)
        caller.require(*(ACTION_ROLES[action] for action in request.actions))
        deadline = Deadline(max(self._settings.retry_budget_seconds, PREVIEW_SECONDS))
        counts, complete = Counts(), True
        path: str | None = first_page(request.scope)
        while path is not None:
            if deadline.remaining() < 1:
                complete = False
                break
            page = self._graph.page(path, deadline)
            counts = self._count(page.members, counts, page.malformed)
            path = page.next_link
        campaign = str(uuid.uuid4())
        rate = self._settings.campaign_writes_per_second
        preview = {
            **counts.as_json(),
            "complete": complete,
            "estimatedSeconds": math.ceil(counts.targets * len(request.actions) / rate),
        }
        self._store.create(
            campaign,
            {
                "status": "previewed",
                "request": request.as_json(),
                "preview": preview,
                "createdAt": self._clock(),
                "targetRate": rate,
                "rate": rate,
                "throttled": 0,
            },
        )
        return campaign

    def page(self, campaign: str, row: Row, message: dict[str, Any]) -> None:
        """One "page" message: its members' chunks written and queued, then the next page (or the finish)."""
        data = row.data
        if data["status"] != "running" or data.get("enumerated"):
            return
        request = CampaignRequest.from_json(data["request"])
        page_no, chunk, write, so_far = message["page"], message["chunk"], message["write"], message["targets"]
        path = message["path"]
        # Only this campaign's own listing is ever read, whatever a message on the queue says.
        if not isinstance(path, str) or path.split("?")[0] != first_page(request.scope).split("?")[0]:
            raise ValueError("a page message that is not this campaign's member listing")
        try:
            page = self._graph.page(path, Deadline(self._settings.retry_budget_seconds))
        except GraphError as error:
            if error.transient:
                raise RetryLater(f"member page {page_no}: {error.detail}") from None
            failure = f"member listing: {error.detail}"
            self._rows.change(campaign, lambda d: {**d, "enumerated": True, "failure": failure})
            self._queue.send({"kind": "finish", "campaign": campaign}, 0)
            return
        room = max(0, self._settings.max_campaign_users - so_far)
        counts = self._count(page.members, Counts(), page.malformed, room=room)
        chosen = [m for m in page.members if self._is_target(m)][:room]
        size = data["chunkTargets"]
        actions = len(request.actions)
        pace = pace_of(data)
        now = self._clock()
        for start in range(0, len(chosen), size):
            members = chosen[start : start + size]
            targets = [{"id": m.object_id, "upn": m.user_principal_name, "guest": m.guest} for m in members]
            self._store.put_chunk_with_targets(
                campaign, chunk, {"number": chunk, "targets": len(members), "write": write}, targets
            )
            self._queue.send(
                {"kind": "chunk", "campaign": campaign, "chunk": chunk, "write": write, "round": 0},
                pace.slot(write) - now,
            )
            chunk += 1
            write += len(members) * actions
        self._store.put_page(campaign, page_no, counts.as_json())
        so_far += len(chosen)
        if page.next_link is not None and room > len(chosen):
            following = {"kind": "page", "campaign": campaign, "page": page_no + 1, "path": page.next_link}
            self._queue.send({**following, "chunk": chunk, "write": write, "targets": so_far}, 0)
            return
        self._rows.change(
            campaign, lambda d: {**d, "enumerated": True, "targets": so_far, "chunks": chunk, "writes": write}
        )
        self._queue.send({"kind": "finish", "campaign": campaign}, pace.slot(write) - now)

    def _count(self, members: Sequence[Member], counts: Counts, malformed: int, room: int | None = None) -> Counts:
        listed, kinds = counts.listed + len(members), Counter[str]()
        for member in members:
            if self._is_protected(member):
                kinds["protected"] += 1
            elif not member.enabled:
                kinds["disabled"] += 1
            else:
                kinds["guest" if member.guest else "member"] += 1
        targets_before = counts.targets
        cap = self._settings.max_campaign_users if room is None else targets_before + room
        members_n, guests_n = counts.members + kinds["member"], counts.guests + kinds["guest"]
        over = max(0, members_n + guests_n - cap)
        if room is not None and over:
            # Inside a run, the targets past the limit are not queued: count them, not as members or guests.
            take_guests = min(over, kinds["guest"])
            guests_n -= take_guests
            members_n -= over - take_guests
        return Counts(
            listed,
            members_n,
            guests_n,
            counts.disabled + kinds["disabled"],
            counts.protected + kinds["protected"],
            counts.over_limit + over if room is not None else max(0, members_n + guests_n - cap),
            counts.unreadable + malformed,
        )

    def _is_target(self, member: Member) -> bool:
        return member.enabled and not self._is_protected(member)

    def _is_protected(self, member: Member) -> bool:
        if member.object_id in self._protected:
            return True
        try:
            return parse_user_identifier(member.user_principal_name).key in self._protected
        except ValueError:
            return False
