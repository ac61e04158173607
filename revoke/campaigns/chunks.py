"""The campaign engine: preview, start, follow, cancel, and the queue messages that do the work.

    POST /campaigns          preview: read every member page, count by kind, store; nothing sent
    POST /campaigns/{id}/start   put the first member page on the campaign queue
    queue "page"             read one member page; write its targets' rows and chunks; queue each
                             chunk invisible until its slot (`revoke.campaigns.pace`); queue the next page
    queue "chunk"            if its slot has come, take each action once on each open target;
                             throttled or transient targets go back on the queue for later
    queue "finish"           once every chunk is final: the end event and the incident comment
    poison queue             a chunk that failed every delivery: its open targets `failed`, with why

State lives only in Table Storage (`revoke.campaigns.store`) and on the queue, so any instance
can take any message, a host restart loses nothing, and a redelivered message finds what its
earlier delivery confirmed and does not act on it again.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from revoke.actions import ContainmentAction
from revoke.audit.events import RequestContext, audit_event, emit
from revoke.campaigns.graph_io import CampaignGraph, Member, first_page
from revoke.campaigns.pace import EARLY_TOLERANCE_SECONDS, Pace
from revoke.campaigns.queue import DelayQueue
from revoke.campaigns.request import CampaignRequest, read_campaign_request
from revoke.campaigns.store import CampaignStore, Conflict, Row
from revoke.containment.verdict import ActionRecord, TargetOutcome, judge
from revoke.deadline import Deadline
from revoke.errors import (
    CampaignNotFound,
    CampaignOverLimit,
    CampaignsOff,
    CampaignStateConflict,
    GraphError,
    RetryLater,
)
from revoke.identifiers import is_object_id, parse_user_identifier
from revoke.outcomes import ActionResult, Outcome
from revoke.policy.roles import ACTION_ROLES, Caller
from revoke.settings import Settings

logger = logging.getLogger(__name__)

TRIGGER = "campaign"
CAMPAIGN_ACTION = "campaign"
MAX_CHUNK_TARGETS = 50  # a chunk's row and targets fit one Table transaction (100 operations)
CHUNK_SHARE_OF_QUOTA = 20  # a chunk holds at most a twentieth of one quota window's writes, so no burst overruns it
# Reading a 50,000-user tenant takes about 50 pages; the preview may use this long, inside the
# 230 s Azure's front end allows an HTTP request (and the host's functionTimeout).
PREVIEW_SECONDS = 180.0
MAX_ROUNDS = 8  # deliveries that end with a transient answer before a target is reported deferred
LEASE_SECONDS = 300  # a chunk's claim outlives the host's functionTimeout
FINISH_CHECK_MAX_SECONDS = 60.0
CANCELLED = "cancelled"
FINAL_CHUNK_STATES = frozenset({"done", "failed", CANCELLED})
PROTECTED_DETAIL = "protected user (REVOKE_PROTECTED_USERS)"
OUTCOME_KEYS = (*(o.value for o in TargetOutcome if o is not TargetOutcome.DRY_RUN), CANCELLED)


class Comments(Protocol):
    def campaign_comment(self, context: RequestContext, campaign: str, phase: str, message: str) -> None: ...


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


def chunk_targets(settings: Settings, actions: int) -> int:
    writes, _ = settings.graph_write_quota
    per_chunk = int(writes * settings.campaign_quota_share / CHUNK_SHARE_OF_QUOTA) // max(1, actions)
    return max(1, min(MAX_CHUNK_TARGETS, per_chunk))


class CampaignEngine:
    def __init__(
        self,
        settings: Settings,
        store: CampaignStore,
        graph: CampaignGraph,
        queue: DelayQueue,
        comments: Comments | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._graph = graph
        self._queue = queue
        self._comments = comments
        self._clock = clock
        self._protected = settings.protected_users

    # --- HTTP: preview, start, status, cancel ---------------------------------------------------
    def preview(self, body: bytes, caller: Caller) -> dict[str, Any]:
        """Read the scope's members and count them; store the campaign; send nothing.

        The caller holds Containment.Campaign (checked by the route) and must hold each action's role too.
        """
        self._require_on()
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
        return self.status(campaign)

    def start(self, campaign: str, caller: Caller) -> dict[str, Any]:
        """Start a previewed campaign; the caller must hold each of its actions' roles, and is named in its trail."""
        self._require_on()
        row = self._row(campaign)
        request = replace(
            CampaignRequest.from_json(row.data["request"]),
            caller_app_id=caller.app_id,
            caller_object_id=caller.object_id,
        )
        caller.require(*(ACTION_ROLES[action] for action in request.actions))
        if row.data["status"] != "previewed":
            raise CampaignStateConflict(f"the campaign is {row.data['status']}; only a previewed campaign starts")
        if row.data["preview"]["overLimit"] > 0:
            raise CampaignOverLimit(
                f"the campaign has {row.data['preview']['targets'] + row.data['preview']['overLimit']} targets; "
                f"REVOKE_MAX_CAMPAIGN_USERS allows {self._settings.max_campaign_users}"
            )
        now = self._clock()
        started = {
            **row.data,
            "request": request.as_json(),
            "status": "running",
            "startedAt": now,
            "anchorTime": now,
            "anchorWrite": 0,
            "chunkTargets": chunk_targets(self._settings, len(request.actions)),
        }
        try:
            self._store.replace_campaign(campaign, Row(started, row.etag))
        except Conflict:
            raise CampaignStateConflict("the campaign was started or cancelled at the same moment") from None
        page = {"kind": "page", "campaign": campaign, "page": 0, "path": first_page(request.scope)}
        self._queue.send({**page, "chunk": 0, "write": 0, "targets": 0}, 0)
        context = _context(request)
        emit(
            audit_event(
                context,
                "campaign_started",
                action=CAMPAIGN_ACTION,
                user=None,
                detail=f"campaign {campaign}: {_describe(request)}; {row.data['preview']['targets']} targets at preview",
            )
        )
        self._comment(context, campaign, "start", _start_message(campaign, request, row.data["preview"]))
        return self.status(campaign)

    def cancel(self, campaign: str) -> dict[str, Any]:
        self._require_on()
        data = self._change(campaign, _cancelled)
        if data is None:
            status = self._row(campaign).data["status"]
            raise CampaignStateConflict(f"the campaign is {status}; only a previewed or running campaign is cancelled")
        if "startedAt" in data:  # a campaign that never started has nothing to settle and no end to report
            self._queue.send({"kind": "finish", "campaign": campaign}, 0)
        return self.status(campaign)

    def status(self, campaign: str) -> dict[str, Any]:
        self._require_on()
        data = self._row(campaign).data
        request = data["request"]
        body: dict[str, Any] = {
            "campaignId": campaign,
            "status": data["status"],
            "scope": request["scope"],
            "actions": request["actions"],
            "reason": request["reason"],
            "correlationId": request["correlationId"],
            "incidentId": request.get("incidentId"),
            "preview": data["preview"],
            "createdAt": _iso(data.get("createdAt")),
            "startedAt": _iso(data.get("startedAt")),
            "endedAt": _iso(data.get("endedAt")),
        }
        if "startedAt" in data:
            body["progress"] = self._progress(campaign, data)
        return body

    # --- queue ----------------------------------------------------------------------------------
    def handle(self, message: dict[str, Any], *, message_id: str) -> None:
        """One campaign queue message; RetryLater when it must be delivered again."""
        kind, campaign = message.get("kind"), str(message.get("campaign"))
        row = self._store.campaign(campaign) if is_object_id(campaign) else None
        if row is None:
            logger.warning("Campaign queue message %s names no campaign; dropped", message_id)
            return
        if kind == "page":
            self._page(campaign, row, message)
        elif kind == "chunk":
            self._chunk(campaign, row, message, message_id)
        elif kind == "finish":
            self._finish(campaign, row)
        else:
            logger.warning("Campaign queue message %s has no known kind; dropped", message_id)

    def poisoned(self, message: dict[str, Any], dequeue_count: int) -> None:
        """A message the host gave up on: none of its targets is lost silently."""
        campaign = str(message.get("campaign"))
        row = self._store.campaign(campaign) if is_object_id(campaign) else None
        if row is None:
            return
        why = f"the campaign's {message.get('kind')} message failed {dequeue_count} deliveries (poison queue)"
        if message.get("kind") == "chunk" and isinstance(message.get("chunk"), int):
            request = CampaignRequest.from_json(row.data["request"])
            self._settle_open(campaign, request, message["chunk"], Outcome.FAILED, why, "failed")
        elif message.get("kind") == "page":
            self._change(campaign, lambda data: {**data, "enumerated": True, "failure": why})
            self._queue.send({"kind": "finish", "campaign": campaign}, 0)
        elif message.get("kind") == "finish":
            self._queue.send({"kind": "finish", "campaign": campaign}, FINISH_CHECK_MAX_SECONDS)

    # --- a member page --------------------------------------------------------------------------
    def _page(self, campaign: str, row: Row, message: dict[str, Any]) -> None:
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
            self._change(campaign, lambda d: {**d, "enumerated": True, "failure": failure})
            self._queue.send({"kind": "finish", "campaign": campaign}, 0)
            return
        room = max(0, self._settings.max_campaign_users - so_far)
        counts = self._count(page.members, Counts(), page.malformed, room=room)
        chosen = [m for m in page.members if self._is_target(m)][:room]
        size = data["chunkTargets"]
        actions = len(request.actions)
        pace = _pace(data)
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
        self._change(campaign, lambda d: {**d, "enumerated": True, "targets": so_far, "chunks": chunk, "writes": write})
        self._queue.send({"kind": "finish", "campaign": campaign}, pace.slot(write) - now)

    # --- a chunk --------------------------------------------------------------------------------
    def _chunk(self, campaign: str, row: Row, message: dict[str, Any], message_id: str) -> None:
        number, write, rounds = message["chunk"], message["write"], message.get("round", 0)
        chunk = self._store.chunk(campaign, number)
        if chunk is None or chunk.data.get("state") in FINAL_CHUNK_STATES:
            return  # already final: a duplicate or a redelivery after the work was recorded
        request = CampaignRequest.from_json(row.data["request"])
        if row.data["status"] == CANCELLED:
            self._settle_open(campaign, request, number, None, "the campaign was cancelled", CANCELLED)
            return
        now = self._clock()
        due = _pace(row.data).slot(write)
        if due - now > EARLY_TOLERANCE_SECONDS:
            # The pace slowed since this chunk was queued: wait for its new slot.
            self._queue.send(message, due - now)
            return
        lease = chunk.data.get("lease")
        if lease and lease != message_id and chunk.data.get("leaseUntil", 0) > now:
            return  # another delivery of this chunk is working on it; its own message stays until it is done
        try:
            self._store.claim_chunk(
                campaign, number, chunk, {"state": "running", "lease": message_id, "leaseUntil": now + LEASE_SECONDS}
            )
        except Conflict:
            return
        targets = self._store.targets(campaign, number)
        outcome = self._act(campaign, request, number, targets, final_round=rounds + 1 >= MAX_ROUNDS)
        if outcome.open_targets:
            self._push_back(campaign, message, outcome, rounds)
        else:
            self._close_chunk(campaign, number, "done")
            if outcome.throttled == 0 and row.data["rate"] < row.data["targetRate"]:
                self._change(campaign, lambda d: _recovered(d, write + outcome.writes))

    def _act(
        self,
        campaign: str,
        request: CampaignRequest,
        number: int,
        targets: list[dict[str, Any]],
        *,
        final_round: bool,
    ) -> _Delivery:
        """Each action once on each target still open for it; rows written, then audited."""
        context = _context(request)
        open_targets = [t for t in targets if "outcome" not in t]
        results = {t["id"]: list(t.get("results", [])) for t in open_targets}
        deferred: dict[str, ActionResult] = {}
        throttled, writes, retry_after = 0, 0, 0.0
        events: list[dict[str, Any]] = []
        deadline = Deadline(self._settings.retry_budget_seconds)
        for index, action in enumerate(request.actions):
            due = [t for t in open_targets if len(results[t["id"]]) == index and t["id"] not in deferred]
            if not due:
                continue
            answers = self._graph.write_once(action, [t["id"] for t in due], deadline)
            writes += len(due)
            for target, result in zip(due, answers, strict=True):
                if result.status == 429:
                    throttled += 1
                    retry_after = max(retry_after, result.retry_after or 1.0)
                if result.outcome is Outcome.DEFERRED and not final_round:
                    deferred[target["id"]] = result
                    continue
                results[target["id"]].append(_record(action, result))
                if result.outcome is Outcome.NOT_FOUND:
                    unknown = ActionResult(Outcome.NOT_FOUND, detail=f"Graph has no such user ({action.value})")
                    for later in request.actions[index + 1 :]:
                        results[target["id"]].append(_record(later, unknown))
        changed = []
        for target in open_targets:
            mine = results[target["id"]]
            if len(mine) == len(target.get("results", [])):
                continue
            update = {"id": target["id"], "results": mine}
            verdict = None
            if len(mine) == len(request.actions):
                judged = judge(target["upn"], [_action_record(r) for r in mine], external=target["guest"])
                update["outcome"] = judged.outcome.value
                update["contained"] = judged.contained
                verdict = judged
            changed.append(update)
            for position in range(len(target.get("results", [])), len(mine)):
                last = position == len(request.actions) - 1 and verdict is not None
                events.append(
                    _target_event(
                        context,
                        target["upn"],
                        mine[position],
                        contained=verdict.contained if last and verdict else None,
                        why=None if not last or verdict is None or verdict.contained else verdict.detail,
                    )
                )
        if changed:
            self._store.put_targets(campaign, number, changed)
        for event in events:
            emit(event)
        still_open = [t["id"] for t in open_targets if t["id"] in deferred]
        return _Delivery(still_open, throttled, writes, retry_after, deferred)

    def _push_back(self, campaign: str, message: dict[str, Any], outcome: _Delivery, rounds: int) -> None:
        """What is still open goes on the queue again: after Retry-After, and slower, when Graph throttled."""
        number, write = message["chunk"], message["write"]
        now = self._clock()
        if outcome.throttled:
            wait = outcome.retry_after

            def slower(data: dict[str, Any]) -> dict[str, Any]:
                paced = _with_pace(data, _pace(data).throttled(write, now, wait))
                return {**paced, "throttled": data.get("throttled", 0) + outcome.throttled}

            data = self._change(campaign, slower)
            delay = max(wait, _pace(data).slot(write) - now) if data else wait
        else:
            waits = [r.retry_after for r in outcome.deferred.values() if r.retry_after]
            delay = max([min(60.0, 2.0 ** (rounds + 1)), *waits])
        chunk_row = self._store.chunk(campaign, number)
        throttled = (chunk_row.data.get("throttled", 0) if chunk_row else 0) + outcome.throttled
        self._store.update_chunk(campaign, number, {"state": "open", "lease": "", "throttled": throttled})
        self._queue.send({**message, "round": rounds + 1}, delay)

    def _close_chunk(self, campaign: str, number: int, state: str) -> None:
        tally = Counter(t.get("outcome", "pending") for t in self._store.targets(campaign, number))
        self._store.update_chunk(campaign, number, {"state": state, "lease": "", "tally": dict(tally)})

    def _settle_open(
        self,
        campaign: str,
        request: CampaignRequest,
        number: int,
        outcome: Outcome | None,
        why: str,
        state: str,
    ) -> None:
        """Every open target of chunk `number` gets `outcome` (None: cancelled, nothing sent) for each open action."""
        context = _context(request)
        changed, events = [], []
        for target in self._store.targets(campaign, number):
            if "outcome" in target:
                continue
            results = list(target.get("results", []))
            for action in request.actions[len(results) :]:
                if outcome is None:
                    events.append(audit_event(context, CANCELLED, action=action.value, user=target["upn"], detail=why))
                    results.append({"action": action.value, "outcome": CANCELLED, "detail": why})
                else:
                    result = ActionResult(outcome, detail=why)
                    results.append(_record(action, result))
                    events.append(_target_event(context, target["upn"], results[-1], contained=False, why=why))
            changed.append(
                {
                    "id": target["id"],
                    "results": results,
                    "outcome": outcome.value if outcome else CANCELLED,
                    "contained": False,
                }
            )
        if changed:
            self._store.put_targets(campaign, number, changed)
        for event in events:
            emit(event)
        self._close_chunk(campaign, number, state)

    # --- the end --------------------------------------------------------------------------------
    def _finish(self, campaign: str, row: Row) -> None:
        data = row.data
        if data.get("endedAt") is not None:
            return
        request = CampaignRequest.from_json(data["request"])
        chunks = self._store.chunks(campaign)
        now = self._clock()
        if data["status"] == CANCELLED:
            busy = False
            for chunk in chunks:
                number = chunk["number"]
                if chunk.get("state") in FINAL_CHUNK_STATES:
                    continue
                if chunk.get("state") == "running" and chunk.get("leaseUntil", 0) > now:
                    busy = True
                    continue
                self._settle_open(campaign, request, number, None, "the campaign was cancelled", CANCELLED)
            if busy:
                self._queue.send({"kind": "finish", "campaign": campaign}, 5)
                return
        elif not data.get("enumerated") or any(c.get("state") not in FINAL_CHUNK_STATES for c in chunks):
            remaining = sum(c.get("targets", 0) for c in chunks if c.get("state") not in FINAL_CHUNK_STATES)
            wait = remaining * len(request.actions) / max(data["rate"], 1e-6)
            self._queue.send({"kind": "finish", "campaign": campaign}, min(FINISH_CHECK_MAX_SECONDS, max(1.0, wait)))
            return
        ended = self._change(campaign, lambda d: None if d.get("endedAt") else _ended(d, now))
        if ended is None:
            return
        progress = self._progress(campaign, ended)
        context = _context(request)
        summary = ", ".join(f"{n} {k}" for k, n in progress["outcomes"].items() if n)
        emit(
            audit_event(
                context,
                "campaign_ended",
                action=CAMPAIGN_ACTION,
                user=None,
                detail=f"campaign {campaign} {ended['status']}: {summary or 'no targets'}"[:1024],
            )
        )
        self._comment(context, campaign, "end", _end_message(campaign, ended["status"], progress))

    # --- helpers --------------------------------------------------------------------------------
    def _progress(self, campaign: str, data: dict[str, Any]) -> dict[str, Any]:
        chunks = self._store.chunks(campaign)
        pages = self._store.pages(campaign)
        outcomes = dict.fromkeys(OUTCOME_KEYS, 0)
        queued = 0
        for chunk in chunks:
            if chunk.get("state") in FINAL_CHUNK_STATES:
                for key, count in chunk.get("tally", {}).items():
                    outcomes[key] = outcomes.get(key, 0) + count
            else:
                queued += chunk.get("targets", 0)
        outcomes["pending"] = queued
        found = Counts()
        for page in pages:
            found = Counts(
                found.listed + page["listed"],
                found.members + page["members"],
                found.guests + page["guests"],
                found.disabled + page["alreadyDisabled"],
                found.protected + page["protected"],
                found.over_limit + page["overLimit"],
                found.unreadable + page["unreadable"],
            )
        actions = len(data["request"]["actions"])
        rate = data["rate"]
        running = data["status"] == "running"
        return {
            "enumerationComplete": bool(data.get("enumerated")),
            "found": found.as_json(),
            "outcomes": outcomes,
            "throttledCalls": data.get("throttled", 0),
            "pace": {"writesPerSecond": round(rate, 3), "targetWritesPerSecond": round(data["targetRate"], 3)},
            "etaSeconds": math.ceil(queued * actions / rate) if running else 0,
            "failure": data.get("failure"),
        }

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

    def _row(self, campaign: str) -> Row:
        row = self._store.campaign(campaign) if is_object_id(campaign) else None
        if row is None:
            raise CampaignNotFound("no campaign has this id")
        return row

    def _require_on(self) -> None:
        if not self._settings.campaigns:
            raise CampaignsOff("campaigns are not enabled in this deployment (REVOKE_CAMPAIGNS)")

    def _change(
        self, campaign: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Apply `change` to the campaign row by optimistic concurrency; None if `change` declined."""
        for _ in range(20):
            row = self._row(campaign)
            data = change(dict(row.data))
            if data is None:
                return None
            try:
                self._store.replace_campaign(campaign, Row(data, row.etag))
            except Conflict:
                continue
            return data
        raise RetryLater("the campaign row kept changing under this update")

    def _comment(self, context: RequestContext, campaign: str, phase: str, message: str) -> None:
        if self._comments is not None and context.incident_id is not None:
            self._comments.campaign_comment(context, campaign, phase, message)


@dataclass(frozen=True)
class _Delivery:
    open_targets: list[str]
    throttled: int
    writes: int
    retry_after: float
    deferred: dict[str, ActionResult]


def _pace(data: dict[str, Any]) -> Pace:
    return Pace(data.get("anchorTime", 0.0), data.get("anchorWrite", 0), data["rate"], data["targetRate"])


def _with_pace(data: dict[str, Any], pace: Pace) -> dict[str, Any]:
    return {**data, "anchorTime": pace.anchor_time, "anchorWrite": pace.anchor_write, "rate": pace.rate}


def _recovered(data: dict[str, Any], write: int) -> dict[str, Any] | None:
    """A little faster after a chunk without a 429; None (no write) when already at the target."""
    pace = _pace(data)
    faster = pace.recovered(write)
    return None if faster == pace else _with_pace(data, faster)


def _cancelled(data: dict[str, Any]) -> dict[str, Any] | None:
    if data["status"] not in ("previewed", "running"):
        return None
    return {**data, "status": CANCELLED, "cancelledAt": time.time()}


def _ended(data: dict[str, Any], now: float) -> dict[str, Any]:
    status = data["status"]
    if status == "running":
        status = "failed" if data.get("failure") else "completed"
    return {**data, "status": status, "endedAt": now}


def _record(action: ContainmentAction, result: ActionResult) -> dict[str, Any]:
    return {
        "action": action.value,
        "outcome": result.outcome.value,
        "status": result.status,
        "requestId": result.request_id,
        "detail": result.detail,
        "attempts": result.attempts,
    }


def _action_record(record: dict[str, Any]) -> ActionRecord:
    outcome = Outcome(record["outcome"]) if record["outcome"] != CANCELLED else Outcome.REFUSED
    return ActionRecord(record["action"], ActionResult(outcome, record.get("status"), detail=record.get("detail")))


def _target_event(
    context: RequestContext, user: str, record: dict[str, Any], *, contained: bool | None, why: str | None
) -> dict[str, Any]:
    return audit_event(
        context,
        record["outcome"],
        action=record["action"],
        user=user,
        graph_status=record.get("status"),
        graph_request_id=record.get("requestId"),
        attempts=record.get("attempts", 0),
        detail=record.get("detail") or why,
        contained=contained,
    )


def _context(request: CampaignRequest) -> RequestContext:
    return RequestContext(
        TRIGGER,
        request.correlation_id,
        None,
        request.incident_id,
        request.reason,
        caller_app_id=request.caller_app_id,
        caller_object_id=request.caller_object_id,
    )


def _describe(request: CampaignRequest) -> str:
    scope = request.scope
    what = "all users" if scope.kind == "allUsers" else f"{scope.kind} {scope.id}"
    return f"{' and '.join(a.value for a in request.actions)} for {what}"


def _start_message(campaign: str, request: CampaignRequest, preview: dict[str, Any]) -> str:
    return (
        f"<p>Containment campaign <code>{campaign}</code> started: {_describe(request)}.</p>"
        f"<p>{preview['targets']} targets ({preview['members']} members, {preview['guests']} guests); "
        f"excluded: {preview['protected']} protected, {preview['alreadyDisabled']} already disabled. "
        f"Estimated duration: {preview['estimatedSeconds']} s.</p>"
    )


def _end_message(campaign: str, status: str, progress: dict[str, Any]) -> str:
    rows = "".join(f"<li>{key}: {count}</li>" for key, count in progress["outcomes"].items() if count)
    return (
        f"<p>Containment campaign <code>{campaign}</code> {status}. "
        f"Throttled calls: {progress['throttledCalls']}.</p><ul>{rows}</ul>"
    )


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
