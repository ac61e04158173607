"""The preview: read every member page of the scope, count each kind, and write down who would be acted on.

A started campaign acts only on the users its preview listed (its target rows, written here in
chunks), never on a scope read again later: a user put into the group between the preview and
the start is not touched, and the count a second approver saw is the count that runs. Only a
preview that read the whole scope within the limit can start, so only such a preview writes
its targets.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, replace
from typing import Any

from revoke.audit.events import emit
from revoke.campaigns.graph_io import CampaignGraph, Member, first_page
from revoke.campaigns.guard import Guard
from revoke.campaigns.request import read_campaign_request
from revoke.campaigns.state import PREVIEWED, CampaignRows, caller_json
from revoke.campaigns.store import CampaignStore
from revoke.campaigns.trail import DRY_RUN_NOTE, campaign_event, context_of, describe
from revoke.campaigns.trail import PREVIEWED as PREVIEWED_EVENT
from revoke.deadline import Deadline
from revoke.policy.roles import Caller, roles_for
from revoke.settings import Settings

MAX_CHUNK_TARGETS = 50  # a chunk's row and targets fit one Table transaction (100 operations)
CHUNK_SHARE_OF_QUOTA = 20  # a chunk holds at most a twentieth of one quota window's writes, so no burst overruns it
# Reading a 50,000-user tenant takes about 50 pages; the preview may use this long, inside the
# 230 s Azure's front end allows an HTTP request (and the host's functionTimeout).
PREVIEW_SECONDS = 180.0


@dataclass(frozen=True)
class Counts:
    """What a listing held, by kind; `targets` are members and guests to act on (past the limit too)."""

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
        guard: Guard,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._rows = rows
        self._graph = graph
        self._guard = guard
        self._clock = clock

    def preview(self, body: bytes, caller: Caller) -> str:
        """Read the scope's members, count them, store the campaign and its targets; send nothing. Its id.

        The caller holds Containment.Campaign (checked by the route) and must hold each action's role too.
        """
        self._rows.require_on()
        request = read_campaign_request(body, self._settings.actions)
        caller.require(*roles_for(request.actions))
        deadline = Deadline(max(self._settings.retry_budget_seconds, PREVIEW_SECONDS))
        counts, complete, targets = Counts(), True, list[Member]()
        path: str | None = first_page(request.scope)
        while path is not None:
            if deadline.remaining() < 1:
                complete = False
                break
            page = self._graph.page(path, deadline)
            counts, found = self._count(page.members, counts, page.malformed, deadline)
            targets += found
            path = page.next_link
        over = max(0, counts.targets - self._settings.max_campaign_users)
        counts = replace(counts, over_limit=over)
        campaign, now = str(uuid.uuid4()), self._clock()
        rate = self._settings.campaign_writes_per_second
        size = chunk_targets(self._settings, len(request.actions))
        chunks = self._write_targets(campaign, targets, size, len(request.actions)) if complete and not over else 0
        preview = {
            **counts.as_json(),
            "complete": complete,
            "estimatedSeconds": math.ceil(counts.targets * len(request.actions) / rate),
        }
        self._store.create(
            campaign,
            {
                "status": PREVIEWED,
                "request": request.as_json(),
                "preview": preview,
                "createdAt": now,
                "expiresAt": now + self._settings.campaign_preview_ttl_seconds,
                "previewedBy": caller_json(caller.app_id, caller.object_id),
                "chunks": chunks,
                "writes": len(targets) * len(request.actions) if chunks else 0,
                "chunkTargets": size,
                "targetRate": rate,
                "rate": rate,
                "throttled": 0,
            },
        )
        detail = f"campaign {campaign} previewed: {describe(request)}; {counts.targets} targets"
        if request.dry_run:
            detail += f"; {DRY_RUN_NOTE}"
        emit(campaign_event(context_of(request, (caller.app_id, caller.object_id)), PREVIEWED_EVENT, detail))
        return campaign

    def _count(
        self, members: Sequence[Member], counts: Counts, malformed: int, deadline: Deadline
    ) -> tuple[Counts, list[Member]]:
        """The counts with one page added, and the page's users to act on."""
        refused = self._guard.refused([(m.object_id, m.user_principal_name) for m in members], deadline)
        protected = [m for m in members if m.object_id in refused]
        disabled = [m for m in members if m.object_id not in refused and not m.enabled]
        targets = [m for m in members if m.object_id not in refused and m.enabled]
        guests = sum(1 for m in targets if m.external is not False)
        added = Counts(len(members), len(targets) - guests, guests, len(disabled), len(protected), 0, malformed)
        total = Counts(*(a + b for a, b in zip(astuple(counts), astuple(added), strict=True)))
        return total, targets

    def _write_targets(self, campaign: str, targets: list[Member], size: int, actions: int) -> int:
        """The targets' rows in chunks of `size`, each chunk with its place in the schedule; how many chunks."""
        for number, start in enumerate(range(0, len(targets), size)):
            members = targets[start : start + size]
            rows = [
                {"id": m.object_id, "upn": m.user_principal_name, "external": m.external, "synced": m.synced}
                for m in members
            ]
            chunk = {"number": number, "targets": len(members), "write": start * actions}
            self._store.put_chunk_with_targets(campaign, number, chunk, rows)
        return math.ceil(len(targets) / size)


def stored_counts(preview: dict[str, Any]) -> dict[str, int]:
    """A stored preview's counts alone (without `complete` and `estimatedSeconds`)."""
    return {key: preview[key] for key in Counts().as_json()}
