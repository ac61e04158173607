"""Looking users up, up to 15 in one request, and what Graph's answer says about each user asked.

A look-up is `GET /users?$filter=id in ('…','…')&$select=…` for users named by object id, and
`userPrincipalName in (…)` for users named by UPN, as Microsoft Graph documents it:
- `id` and `userPrincipalName` support `eq` and `in` by default, with no ConsistencyLevel
  header (learn.microsoft.com/graph/api/resources/user, "Properties";
  learn.microsoft.com/graph/aad-advanced-queries: "The `in` operator is supported by default
  whenever `eq` operator is supported by default").
- `in` takes at most 15 values (learn.microsoft.com/graph/known-issues, "Some limitations apply
  to query parameters": "limited to 15 expressions in the filter clause by default"), and an
  `eq` value at most 120 characters. A longer name is looked up alone, by its path
  (`GET /users/{upn}`), so that it can never make Graph refuse the names beside it.
- A quote inside a value doubles (learn.microsoft.com/graph/query-parameters, "Escaping single
  quotes"); the whole expression is percent-encoded, so a `#` or `+` in a UPN stays a character.
  UPNs come from alerts, so from attackers: nothing in one can end the literal.

Reading an answer, which is a collection:
- A user object counts for a name only if its `id` (object ids) or `userPrincipalName` (UPNs,
  without regard to case) is that name. An object no name asked for is ignored and logged,
  never used.
- Two objects for one name (the same user twice, two users claiming one UPN): that name is not
  answered cleanly and fails closed.
- A name no object answers is `missing` (Graph has no such user) only when the answer is complete
  (no `@odata.nextLink`) and clean (every object readable, asked for, and alone for its name).
  Otherwise the name is not answered: an error, never a verdict. A next link is never followed:
  15 users fit in Graph's default page of 100 (learn.microsoft.com/graph/api/user-list), so a
  paged answer is already wrong, and one that ignored the filter would page through the
  whole directory.
- An answer that is not a readable 200 collection is every name's answer: an error, never `missing`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from revoke.deadline import Deadline
from revoke.errors import GraphError, PermanentGraphError, Unconfirmed
from revoke.graph.answers import ANOTHER_USER, LOOKUP_SELECT, user_lookup
from revoke.graph.sending import CallSender
from revoke.graph.transport import GraphCall, GraphReply
from revoke.identifiers import UserIdentifier, is_object_id
from revoke.outcomes import UserLookup

logger = logging.getLogger(__name__)

IN_FILTER_LIMIT = 15  # values in one `in` (Graph's documented default limit)
EQ_VALUE_LIMIT = 120  # characters in one compared value (Graph's documented limit for `eq`)
FILTER_URL_LIMIT = 2048  # characters in one look-up's URL: long UPNs split into more requests
_FILTERED_BY = {"object_id": "id", "upn": "userPrincipalName"}
_KEPT = "'(),@"  # left as they are in the encoded filter; everything else is percent-encoded

UNREADABLE_USER = "the look-up answer lacks a user's id or userPrincipalName"
TWO_USERS = "Graph's look-up answer names more than one user for this name"
REPEATED = "Graph's look-up answer names one user twice, or two users for one name, so it cannot say this one is absent"
PAGED = "Graph's look-up answer was paged, and this user is not in the page it sent (next links are not followed)"


@dataclass(frozen=True)
class Lookup:
    """One look-up request and the users it asks about: `keys[i]` is the name of `positions[i]`."""

    call: GraphCall
    kind: Literal["object_id", "upn"]
    keys: tuple[str, ...]
    positions: tuple[tuple[int, ...], ...]  # for each key, where it stands in the users asked about
    by_path: bool = False  # GET /users/{name}: the answer is one user object, a 404 says "no such user"

    def answers(self, reply: GraphReply) -> dict[int, UserLookup]:
        """Each position's look-up, from this request's final reply."""
        by_key = self._read(reply)
        return {position: by_key[key] for key, at in zip(self.keys, self.positions, strict=True) for position in at}

    def _read(self, reply: GraphReply) -> dict[str, UserLookup]:
        if not reply.succeeded:
            if self.by_path and reply.status == 404 and reply.error is None:
                return dict.fromkeys(self.keys, UserLookup(missing=True))
            return dict.fromkeys(self.keys, UserLookup(error=reply.failure("look-up failed")))
        body = reply.body
        objects = [body] if self.by_path else body["value"]
        complete = self.by_path or "@odata.nextLink" not in body
        return _matched(self.kind, self.keys, objects, complete)


def plan_lookups(users: Sequence[UserIdentifier]) -> list[Lookup]:
    """The requests that look `users` up: by kind, at most IN_FILTER_LIMIT names and
    FILTER_URL_LIMIT characters each; a name too long to compare goes alone, by path."""
    positions: dict[str, list[int]] = {}
    named: dict[str, UserIdentifier] = {}
    for position, user in enumerate(users):
        if user.kind == "sid":  # resolved to its user first (revoke.graph.sid_lookup), never looked up so
            raise ValueError("a SID names no look-up: resolve it to its user first")
        positions.setdefault(user.key, []).append(position)
        named.setdefault(user.key, user)
    lookups: list[Lookup] = []
    for kind in dict.fromkeys(user.kind for user in named.values()):  # in the order the users were named
        assert kind != "sid"  # refused above
        group: list[tuple[UserIdentifier, str]] = []  # each user, and its name as a literal
        length = 0  # of the group's URL
        for user in (user for user in named.values() if user.kind == kind):
            if len(user.value) > EQ_VALUE_LIMIT:
                lookups.append(_by_path(user, tuple(positions[user.key])))
                continue
            literal = _literal(user)
            if group and (len(group) == IN_FILTER_LIMIT or length + len(literal) + 1 > FILTER_URL_LIMIT):
                lookups.append(_by_filter(group, positions))
                group = []
            if not group:
                length = len(_filter_path(kind, []))
            group.append((user, literal))
            length += len(literal) + 1  # and its comma
        if group:
            lookups.append(_by_filter(group, positions))
    return lookups


def look_up_all(sender: CallSender, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]:
    """Each user's look-up, in the order given; only an answer about the user asked counts."""
    lookups = plan_lookups(users)
    found: dict[int, UserLookup] = {}
    for lookup, reply in zip(lookups, sender.send_all([lookup.call for lookup in lookups], deadline), strict=True):
        found.update(lookup.answers(reply))
    return [found[position] for position in range(len(users))]


def collection_readable(reply: GraphReply) -> GraphError | None:
    """A look-up by filter counts only as a 200 holding a collection (`value`, a list)."""
    if reply.status != 200:
        return Unconfirmed(f"HTTP {reply.status} is not a look-up answer", status=reply.status)
    body = reply.body
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        return Unconfirmed("Graph's answer to the look-up is unreadable", status=200)
    return None


def user_readable(reply: GraphReply) -> GraphError | None:
    """A look-up by path counts only as a 200 holding one user object."""
    if reply.status != 200:
        return Unconfirmed(f"HTTP {reply.status} is not a look-up answer", status=reply.status)
    if not isinstance(reply.body, dict):
        return Unconfirmed("Graph's answer to the look-up is unreadable", status=200)
    return None


def _matched(
    kind: Literal["object_id", "upn"], keys: Sequence[str], objects: list[Any], complete: bool
) -> dict[str, UserLookup]:
    """Each name's look-up from the user objects of one answer (see the module's docstring)."""
    asked = set(keys)
    found: dict[str, list[dict[str, Any]]] = {}
    unreadable = not_asked = 0
    for user in objects:
        name = _name_of(user, kind)
        if name is None:
            unreadable += 1
        elif name not in asked:
            not_asked += 1
        else:
            found.setdefault(name, []).append(user)
    if not_asked:
        logger.warning("Graph's look-up answer held %d user(s) not asked for; ignored", not_asked)
    repeated = any(len(users) > 1 for users in found.values())
    absent = _absence(complete, unreadable, not_asked, repeated)
    lookups = {}
    for key in keys:
        users = found.get(key, [])
        if len(users) == 1:
            lookups[key] = user_lookup(users[0])
        elif users:
            lookups[key] = UserLookup(error=PermanentGraphError(TWO_USERS, status=200))
        else:
            lookups[key] = absent
    return lookups


def _absence(complete: bool, unreadable: int, not_asked: int, repeated: bool) -> UserLookup:
    """What it means that an answer holds no user for a name: no such user, only when it is whole and clean."""
    if unreadable:
        return UserLookup(error=PermanentGraphError(UNREADABLE_USER, status=200))
    if not_asked:
        return UserLookup(error=PermanentGraphError(ANOTHER_USER, status=200))
    if repeated:
        return UserLookup(error=PermanentGraphError(REPEATED, status=200))
    if not complete:
        return UserLookup(error=Unconfirmed(PAGED, status=200))
    return UserLookup(missing=True)


def _name_of(user: Any, kind: Literal["object_id", "upn"]) -> str | None:
    """The name a user object answers for (lower-cased), or None when it lacks either name."""
    if not isinstance(user, dict):
        return None
    object_id, upn = user.get("id"), user.get("userPrincipalName")
    if not (isinstance(object_id, str) and is_object_id(object_id) and isinstance(upn, str) and upn):
        return None
    return (object_id if kind == "object_id" else upn).lower()


def _by_filter(group: list[tuple[UserIdentifier, str]], positions: dict[str, list[int]]) -> Lookup:
    kind = group[0][0].kind
    assert kind != "sid"  # plan_lookups refuses a SID
    call = GraphCall("GET", _filter_path(kind, [literal for _, literal in group]), check=collection_readable)
    keys = tuple(user.key for user, _ in group)
    return Lookup(call, kind, keys, tuple(tuple(positions[key]) for key in keys))


def _by_path(user: UserIdentifier, positions: tuple[int, ...]) -> Lookup:
    assert user.kind != "sid"  # plan_lookups refuses a SID
    call = GraphCall("GET", f"/users/{user.path_segment}?{LOOKUP_SELECT}", check=user_readable)
    return Lookup(call, user.kind, (user.key,), (positions,), by_path=True)


def _filter_path(kind: Literal["object_id", "upn"], literals: list[str]) -> str:
    """`/users?$filter=<property> in ('a','b')&$select=…`, percent-encoded."""
    return f"/users?$filter={_FILTERED_BY[kind]}%20in%20({','.join(literals)})&{LOOKUP_SELECT}"


def _literal(user: UserIdentifier) -> str:
    """The user's name as an OData string literal, percent-encoded: a quote inside it doubles,
    so nothing in a name can end the literal early; a `#` or `+` stays a character."""
    if user.kind == "object_id" and is_object_id(user.value):
        return f"'{user.value}'"  # hex digits and hyphens: nothing to double or encode
    return quote("'" + user.value.replace("'", "''") + "'", safe=_KEPT)
