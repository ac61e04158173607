"""The simulated directory: groups (nested), directory roles, paged listings, membership checks, and Graph's write quota.

Its routes join the simulator's (`GraphSimulator.perform`), and its write quota is asked first:

    GET /v1.0/users?$select=...&$top=N                                   every user
    GET /v1.0/users?$filter=id in ('...',...)&$select=...                the users a look-up names
    GET /v1.0/users?$filter=onPremisesSecurityIdentifier eq '{sid}'&$select=...
                                                                         the user synced from that account
    GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user?...     users in the group, at any depth
    GET /v1.0/directoryRoles(roleTemplateId='{id}')/members/microsoft.graph.user?$select=...
                                                                         users actively assigned the role
    POST /v1.0/users/{id | userPrincipalName}/checkMemberObjects        which of up to 20 ids the user is in

checkMemberObjects, as "directoryObject: checkMemberObjects" (Graph v1.0 reference,
https://learn.microsoft.com/graph/api/directoryobject-checkmemberobjects) documents it: the body
is `{"ids": [...]}`, "object IDs of the groups, administrative units, directory roles, or
roleTemplate IDs of directory roles, in which to check membership. You can specify up to 20
objects"; the answer is 200 `{"value": [...]}`, the ids asked for that the user is a member of
(the page's example answers with a role template id as it was asked); "This method is
transitive". A user is a member of a group nested at any depth, and of a directory role while
the role is assigned to them actively or to a role-assignable group they are in ("Only users and
role-enabled groups can be members of directory roles", directoryObject: getMemberObjects); a
PIM-eligible assignment is no membership. More than 20 ids, or an id that is no GUID, is a 400
(the 400 for an id that is no GUID is the simulator's own choice (undocumented)); an unknown user
a 404.

Each listing answers at most `min($top, page_size)` users and an `@odata.nextLink` carrying
an opaque `$skiptoken` (and the rest of the query) while more remain; without `$top`, Graph's
default page of 100 (learn.microsoft.com/graph/api/user-list: "The default and maximum page
sizes are 100 and 999 user objects"). A filtered listing answers the properties `$select`
names, as a GET of one user does; which users a filter names is graphsim.users' ("Paging
Microsoft Graph data in your app", learn.microsoft.com/graph/paging). A directory role's members
are listed without `$top`: the page "supports the $select OData query parameter ... returns a default of 1,000 objects and
doesn't support pagination using $top" (learn.microsoft.com/graph/api/directoryrole-list-members),
so a `$top` there is refused (the 400 is the simulator's own choice (undocumented): the page does
not say what Graph answers a `$top`), and a page holds at most 1,000 (`page_size` when smaller).

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
from urllib.parse import parse_qs, quote, unquote

from graphsim.users import FilterRefused, not_found, parse_user_filter, selected_names, sid_in_filter, synced_from
from graphsim.wire import Answer, Route, graph_error, unsupported

if TYPE_CHECKING:
    from graphsim.server import GraphSimulator
    from graphsim.users import SimulatedUser

GRAPH_MAX_TOP = 999
GRAPH_DEFAULT_TOP = 100
ROLE_MEMBERS_PAGE = 1000  # directoryRole members: "returns a default of 1,000 objects"
_GROUP_MEMBERS = re.compile(r"^/v1\.0/groups/([^/]+)/transitiveMembers/microsoft\.graph\.user$")
_ROLE_MEMBERS = re.compile(r"^/v1\.0/directoryRoles\(roleTemplateId='([^']+)'\)/members/microsoft\.graph\.user$")
_ALL_USERS = re.compile(r"^/v1\.0/users$")
_CHECK_MEMBER_OBJECTS = re.compile(r"^/(v1\.0|beta)/users/([^/]+)/checkMemberObjects$")
CHECK_MEMBER_OBJECTS_LIMIT = 20
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_WRITE = re.compile(
    r"^/(v1\.0|beta)/(users/[^/]+/(revokeSignInSessions|invalidateAllRefreshTokens)"
    r"|identityProtection/riskyUsers/confirmCompromised)$"
)
_USER = re.compile(r"^/(v1\.0|beta)/users/[^/]+$")
# An OData string literal doubles a quote inside it.
_LITERAL = "$,'()@"  # left as they are in a next link's query, as Graph leaves them


@dataclass
class SimulatedGroup:
    object_id: str
    members: list[str] = field(default_factory=list)  # user object ids
    groups: list[str] = field(default_factory=list)  # nested group object ids
    role_assignable: bool = False  # isAssignableToRole: only such a group can hold a directory role


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
        self.role_groups: dict[str, list[str]] = {}  # role template id -> role-assignable groups actively assigned
        self.role_object_ids: dict[str, str] = {}  # role template id -> the activated role's own object id
        self.membership_checks = 0  # checkMemberObjects requests answered
        self.page_size = GRAPH_MAX_TOP
        self.quota: WriteQuota | None = None
        self.list_requests = 0

    # --- building the tenant ----------------------------------------------------------
    def add_group(
        self,
        members: Sequence[SimulatedUser] = (),
        groups: Sequence[SimulatedGroup] = (),
        *,
        role_assignable: bool = False,
    ) -> SimulatedGroup:
        group = SimulatedGroup(
            str(uuid.uuid4()), [u.object_id for u in members], [g.object_id for g in groups], role_assignable
        )
        self.groups[group.object_id] = group
        return group

    def assign_role(self, template_id: str, users: Sequence[SimulatedUser], *, eligible: bool = False) -> None:
        target = self.eligible if eligible else self.roles
        target.setdefault(template_id.lower(), []).extend(u.object_id for u in users)
        self.role_object_id(template_id)

    def assign_role_to_group(self, template_id: str, group: SimulatedGroup) -> None:
        """An active assignment of the role to a role-assignable group: its members hold the role."""
        if not group.role_assignable:
            raise ValueError("only a role-assignable group (isAssignableToRole) can be assigned a directory role")
        self.role_groups.setdefault(template_id.lower(), []).append(group.object_id)
        self.role_object_id(template_id)

    def role_object_id(self, template_id: str) -> str:
        """The object id of the role activated from `template_id` (another GUID than the template's)."""
        return self.role_object_ids.setdefault(template_id.lower(), str(uuid.uuid4()))

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
        message = "Too many requests (graphsim write quota)"
        return graph_error(429, "TooManyRequests", message, {"Retry-After": str(max(1, math.ceil(wait)))})

    def routes(self) -> list[Route]:
        """The listings: every user, a group's members at any depth, a role's active members."""
        return [
            Route("GET", _ALL_USERS, self._all_users),
            Route("GET", _GROUP_MEMBERS, self._group_members),
            Route("GET", _ROLE_MEMBERS, self._role_members),
            Route("POST", _CHECK_MEMBER_OBJECTS, self._check_member_objects),
        ]

    def _all_users(self, match: re.Match[str], body: Any, query: str) -> Answer:
        filters = parse_qs(query).get("$filter")
        if filters is None:
            return self._page(match.string, self._sim.user_ids(), query)
        if (sid := sid_in_filter(filters[0])) is not None:
            return self._synced_from(sid, query)
        try:
            name, values = parse_user_filter(filters[0])
        except FilterRefused as refused:
            return graph_error(400, refused.code, str(refused))
        users = self._sim.users.matching(name, values)
        return self._page(match.string, [user.object_id for user in users], query)

    def _synced_from(self, sid: str, query_string: str) -> Answer:
        """`$filter=onPremisesSecurityIdentifier eq '<sid>'`: the users synced from that account.

        The user resource documents `eq` on onPremisesSecurityIdentifier without the advanced
        query parameters (https://learn.microsoft.com/graph/aad-advanced-queries, the property
        table); the answer is a collection, empty when no user was synced from that account.
        Any filter other than this one and `id`/`userPrincipalName` `eq`/`in` is refused as Graph
        refuses a filter clause it does not support (graphsim.users.parse_user_filter).
        """
        users = self._sim.users
        names = selected_names(query_string)
        return Answer(200, {"value": [users.select(user, names) for user in synced_from(sid, users.every_user())]})

    def _group_members(self, match: re.Match[str], body: Any, query: str) -> Answer:
        ids = self._transitive(unquote(match.group(1)).lower())
        if ids is None:  # a group this directory does not hold
            return unsupported("GET", match.string)
        return self._page(match.string, ids, query)

    def _role_members(self, match: re.Match[str], body: Any, query: str) -> Answer:
        if "$top" in parse_qs(query):
            # The simulator's own choice (undocumented): the page says only that the list "doesn't
            # support pagination using $top", not what Graph answers a $top.
            message = "$top is not supported on the members of a directory role"
            return graph_error(400, "Request_UnsupportedQuery", message)
        ids = list(dict.fromkeys(self.roles.get(unquote(match.group(1)).lower(), [])))
        return self._page(match.string, ids, query, default_top=ROLE_MEMBERS_PAGE)

    def _check_member_objects(self, match: re.Match[str], body: Any, query: str) -> Answer:
        user = self._sim.find_user(unquote(match.group(2)))
        if user is None:
            return not_found(match.group(2))
        ids = body.get("ids") if isinstance(body, dict) else None
        # The 400 for an id that is no GUID is the simulator's own choice (undocumented).
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and _GUID.fullmatch(i) for i in ids):
            return graph_error(400, "Request_BadRequest", "ids must be a non-empty list of object ids")
        if len(ids) > CHECK_MEMBER_OBJECTS_LIMIT:
            return graph_error(400, "Request_BadRequest", f"at most {CHECK_MEMBER_OBJECTS_LIMIT} ids may be checked")
        self.membership_checks += 1
        member_of = self.member_objects(user.object_id)
        return Answer(200, {"value": [i for i in ids if i.lower() in member_of]})

    def member_objects(self, user_id: str) -> set[str]:
        """Every group (at any depth) and directory role (template id and object id) the user is a member of."""
        groups = {group_id for group_id in self.groups if user_id in (self._transitive(group_id) or [])}
        found = set(groups)
        for template_id in {*self.roles, *self.role_groups}:
            holders = set(self.roles.get(template_id, []))
            if user_id in holders or groups & set(self.role_groups.get(template_id, [])):
                found.update({template_id, self.role_object_id(template_id)})
        return found

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

    def _page(
        self,
        path: str,
        ids: list[str],
        query_string: str,
        default_top: int = GRAPH_DEFAULT_TOP,
    ) -> Answer:
        query = parse_qs(query_string)
        self.list_requests += 1
        top = int((query.get("$top") or [str(default_top)])[0])
        if "$top" in query and not 1 <= top <= GRAPH_MAX_TOP:
            return graph_error(400, "BadRequest", f"$top must be 1..{GRAPH_MAX_TOP}")
        start = 0
        if skiptoken := query.get("$skiptoken"):
            start = json.loads(base64.urlsafe_b64decode(skiptoken[0].encode()))["start"]
        size = min(top, self.page_size)
        page = ids[start : start + size]
        users = self._sim.users
        names = selected_names(query_string)
        body: dict[str, Any] = {"value": [users.select(self._listed(i), names) for i in page]}
        if start + size < len(ids):
            token = base64.urlsafe_b64encode(json.dumps({"start": start + size}).encode()).decode()
            kept = [(name, values[0]) for name, values in query.items() if name != "$skiptoken"]
            again = "&".join(f"{name}={quote(value, safe=_LITERAL)}" for name, value in kept)
            body["@odata.nextLink"] = f"{self._sim.url}{path}?{again}&$skiptoken={token}"
        return Answer(200, body)

    def _listed(self, object_id: str) -> SimulatedUser:
        user = self._sim.find_user(object_id)
        assert user is not None, "a listed member must be a user"
        return user


def _is_write(method: str, path: str) -> bool:
    return (method == "POST" and bool(_WRITE.match(path))) or (method == "PATCH" and bool(_USER.match(path)))
