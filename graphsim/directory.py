"""The simulated directory behind a campaign: groups (nested), directory roles, paged listings, and Graph's write quota.

Its routes join the simulator's (`GraphSimulator.perform`), and its write quota is asked first:

    GET /v1.0/users?$select=...&$top=N                                   every user
    GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user?...     users in the group, at any depth
    GET /v1.0/directoryRoles(roleTemplateId='{id}')/members/microsoft.graph.user?$select=...
                                                                         users actively assigned the role

Each listing answers at most `min($top, page_size)` users and an `@odata.nextLink` carrying
an opaque `$skiptoken` while more remain ("Paging Microsoft Graph data in your app",
learn.microsoft.com/graph/paging). A directory role's members are listed without `$top`: the
page "supports the $select OData query parameter ... returns a default of 1,000 objects and
doesn't support pagination using $top" (learn.microsoft.com/graph/api/directoryrole-list-members),
so a `$top` there is refused, and a page holds at most 1,000 (`page_size` when smaller).

Each user carries the properties `$select` names, as the user resource gives them (many,
`accountEnabled` and where the user signs in among them, are "Returned only on $select":
learn.microsoft.com/graph/api/resources/user); without `$select`, its `id` and
`userPrincipalName` (the rest of Graph's default set is not simulated).

The identity write quota: every write (revocation, disable, confirmCompromised), each
request inside a `$batch` on its own, is admitted while fewer than `limit` writes were
admitted in the last `window` seconds (a sliding window); past that it answers 429 with
`Retry-After`, the seconds until the oldest admitted write leaves the window. Graph's
documented per-app limit is 3,000 writes per 150 s; tests and the benchmark scale it down.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from graphsim.wire import Answer, Route, unsupported

if TYPE_CHECKING:
    from graphsim.server import GraphSimulator
    from graphsim.users import SimulatedUser

GRAPH_MAX_TOP = 999
ROLE_MEMBERS_PAGE = 1000  # directoryRole members: "returns a default of 1,000 objects"
_GROUP_MEMBERS = re.compile(r"^/v1\.0/groups/([^/]+)/transitiveMembers/microsoft\.graph\.user$")
_ROLE_MEMBERS = re.compile(r"^/v1\.0/directoryRoles\(roleTemplateId='([^']+)'\)/members/microsoft\.graph\.user$")
_ALL_USERS = re.compile(r"^/v1\.0/users$")
_WRITE = re.compile(
    r"^/(v1\.0|beta)/(users/[^/]+/(revokeSignInSessions|invalidateAllRefreshTokens)"
    r"|identityProtection/riskyUsers/confirmCompromised)$"
)
_USER = re.compile(r"^/(v1\.0|beta)/users/[^/]+$")


@dataclass
class SimulatedGroup:
    object_id: str
    members: list[str] = field(default_factory=list)  # user object ids
    groups: list[str] = field(default_factory=list)  # nested group object ids


class WriteQuota:
    """At most `limit` writes admitted in any `window` seconds; the rest answered 429."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.admitted = 0
        self.throttled = 0
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> float | None:
        """None if the write may go ahead; else the seconds to wait (Retry-After)."""
        with self._lock:
            now = time.monotonic()
            while self._times and self._times[0] <= now - self.window:
                self._times.popleft()
            if len(self._times) < self.limit:
                self._times.append(now)
                self.admitted += 1
                return None
            self.throttled += 1
            return self._times[0] + self.window - now


class Directory:
    """The groups and roles of one simulator, and its write quota (off until `set_write_quota`)."""

    def __init__(self, simulator: GraphSimulator) -> None:
        self._sim = simulator
        self.groups: dict[str, SimulatedGroup] = {}
        self.roles: dict[str, list[str]] = {}  # role template id -> user object ids actively assigned
        self.eligible: dict[str, list[str]] = {}  # PIM-eligible: never listed as members
        self.page_size = GRAPH_MAX_TOP
        self.quota: WriteQuota | None = None
        self.list_requests = 0

    # --- building the tenant ----------------------------------------------------------
    def add_group(self, members: Sequence[SimulatedUser] = (), groups: Sequence[SimulatedGroup] = ()) -> SimulatedGroup:
        group = SimulatedGroup(str(uuid.uuid4()), [u.object_id for u in members], [g.object_id for g in groups])
        self.groups[group.object_id] = group
        return group

    def assign_role(self, template_id: str, users: Sequence[SimulatedUser], *, eligible: bool = False) -> None:
        target = self.eligible if eligible else self.roles
        target.setdefault(template_id.lower(), []).extend(u.object_id for u in users)

    def set_write_quota(self, limit: int, window: float) -> WriteQuota:
        self.quota = WriteQuota(limit, window)
        return self.quota

    # --- answering ----------------------------------------------------------------------
    def admit(self, method: str, path: str) -> Answer | None:
        """A 429 for a write over quota; None for anything else."""
        if self.quota is None or not _is_write(method, path):
            return None
        wait = self.quota.admit()
        if wait is None:
            return None
        body = {"error": {"code": "TooManyRequests", "message": "Too many requests (graphsim write quota)"}}
        return Answer(429, body, {"Retry-After": str(max(1, math.ceil(wait)))})

    def routes(self) -> list[Route]:
        """The listings: every user, a group's members at any depth, a role's active members."""
        return [
            Route("GET", _ALL_USERS, self._all_users),
            Route("GET", _GROUP_MEMBERS, self._group_members),
            Route("GET", _ROLE_MEMBERS, self._role_members),
        ]

    def _all_users(self, match: re.Match[str], body: Any, query: str) -> Answer:
        return self._page(match.string, self._sim.user_ids(), query)

    def _group_members(self, match: re.Match[str], body: Any, query: str) -> Answer:
        ids = self._transitive(unquote(match.group(1)).lower())
        if ids is None:  # a group this directory does not hold
            return unsupported("GET", match.string)
        return self._page(match.string, ids, query)

    def _role_members(self, match: re.Match[str], body: Any, query: str) -> Answer:
        if "$top" in parse_qs(query):
            message = "$top is not supported on the members of a directory role"
            return Answer(400, {"error": {"code": "Request_UnsupportedQuery", "message": message}})
        ids = list(dict.fromkeys(self.roles.get(unquote(match.group(1)).lower(), [])))
        return self._page(match.string, ids, query, default_top=ROLE_MEMBERS_PAGE)

    def _transitive(self, group_id: str) -> list[str] | None:
        if group_id not in self.groups:
            return None
        seen_groups: set[str] = set()
        users: dict[str, None] = {}
        pending = [group_id]
        while pending:  # nested groups, cycles included, each visited once
            current = pending.pop()
            if current in seen_groups or current not in self.groups:
                continue
            seen_groups.add(current)
            users.update(dict.fromkeys(self.groups[current].members))
            pending.extend(self.groups[current].groups)
        return list(users)

    def _page(self, path: str, ids: list[str], query_string: str, default_top: int = GRAPH_MAX_TOP) -> Answer:
        query = parse_qs(query_string)
        self.list_requests += 1
        top = int((query.get("$top") or [str(default_top)])[0])
        if not 1 <= top <= default_top:
            return Answer(400, {"error": {"code": "BadRequest", "message": f"$top must be 1..{default_top}"}})
        start = 0
        if skiptoken := query.get("$skiptoken"):
            start = json.loads(base64.urlsafe_b64decode(skiptoken[0].encode()))["start"]
        size = min(top, self.page_size)
        page = ids[start : start + size]
        selected = (query.get("$select") or [""])[0]
        body: dict[str, Any] = {"value": [self._user_json(i, selected) for i in page]}
        if start + size < len(ids):
            token = base64.urlsafe_b64encode(json.dumps({"start": start + size}).encode()).decode()
            kept = [f"$select={selected}"] if selected else []
            kept += [f"$top={top}"] if "$top" in query else []
            body["@odata.nextLink"] = f"{self._sim.url}{path}?{'&'.join([*kept, f'$skiptoken={token}'])}"
        return Answer(200, body)

    def _user_json(self, object_id: str, selected: str) -> dict[str, Any]:
        user = self._sim.find_user(object_id)
        assert user is not None, "a listed member must be a user"
        properties = self._sim.users.properties_of(user)
        names = selected.split(",") if selected else ["id", "userPrincipalName"]
        return {name: properties.get(name) for name in names}


def _is_write(method: str, path: str) -> bool:
    return (method == "POST" and bool(_WRITE.match(path))) or (method == "PATCH" and bool(_USER.match(path)))
