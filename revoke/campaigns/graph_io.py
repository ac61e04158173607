"""A campaign's Graph calls, on the product's own wire (`revoke.graph`): member pages, one attempt of
each write, and the state of users whose writes a stopped worker never recorded.

Member pages go through the usual retry loop (`CallSender`), within the invocation's budget.
Writes do not: a chunk sends each call once per delivery, and whatever is throttled or
transient goes back on the queue for later (`revoke.campaigns.chunks`), so a 429 slows the
whole campaign instead of putting one worker to sleep.

Each listed user comes with the properties the single-request look-up reads to tell where
they sign in and where they are mastered (`revoke.graph.answers.LOOKUP_PROPERTIES`), judged by the same functions
(`signs_in_elsewhere`, `mastered_where`): a campaign and a direct request call the same user external, or synced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from revoke.actions import ContainmentAction
from revoke.audit.collector import ContextPool
from revoke.campaigns.request import Scope
from revoke.deadline import Deadline
from revoke.errors import GraphError, PermanentGraphError, TransientGraphError
from revoke.graph.answers import (
    LOOKUP_PROPERTIES,
    action_result,
    disable_confirmed,
    lookup_complete,
    mastered_where,
    revocation_confirmed,
    signs_in_elsewhere,
)
from revoke.graph.sending import CallSender
from revoke.graph.tokens import TokenSource
from revoke.graph.transport import BATCH_LIMIT, GraphCall, GraphReply, GraphTransport
from revoke.identifiers import is_object_id
from revoke.outcomes import ActionResult, Outcome
from revoke.settings import Settings

PAGE_SIZE = 999  # Graph's largest $top for directory objects
# Both names, where the user signs in and where the account is mastered (the look-up's own list),
# and whether the account is enabled.
_SELECT = "$select=" + ",".join((*LOOKUP_PROPERTIES, "accountEnabled"))
# What a worker that died before recording may have changed (GET /users/{id}): the account's state,
# and the time Graph's revokeSignInSessions reset ("Any refresh tokens or sessions tokens issued
# before this time are invalid": user resource, learn.microsoft.com/graph/api/resources/user).
_DATE_TIME = re.compile(r"(?P<seconds>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?Z")
_STATE_SELECT = "?$select=id,userPrincipalName,accountEnabled,signInSessionsValidFromDateTime"
BATCHES_IN_FLIGHT = 4


@dataclass(frozen=True)
class Member:
    object_id: str
    user_principal_name: str
    external: bool | None  # signs in elsewhere (revoke.graph.answers.signs_in_elsewhere); None: cannot tell
    enabled: bool
    synced: bool | None = None  # from Active Directory (revoke.graph.answers.mastered_where); None: cannot tell


@dataclass(frozen=True)
class UserState:
    """What Graph shows of one user now; `error` when it did not say."""

    enabled: bool | None = None
    sessions_valid_from: float | None = None  # epoch seconds
    error: GraphError | None = None


@dataclass(frozen=True)
class MemberPage:
    members: tuple[Member, ...]
    next_link: str | None  # the path (after the API version) of the next page
    malformed: int = 0  # entries that were not a readable user


def first_page(scope: Scope) -> str:
    """The listing of the scope's users, relative to /v1.0.

    A directory role lists the users actively assigned it, tenant-wide (`directoryRoles/members`);
    PIM-eligible users are not members until they activate, and are not listed. That listing
    "supports the $select OData query parameter ... returns a default of 1,000 objects and doesn't
    support pagination using $top" (List members of a directory role,
    learn.microsoft.com/graph/api/directoryrole-list-members): it is asked without $top, and an
    @odata.nextLink, if Graph gives one, is followed as for any collection.
    """
    if scope.kind == "group":
        return f"/groups/{scope.id}/transitiveMembers/microsoft.graph.user?{_SELECT}&$top={PAGE_SIZE}"
    if scope.kind == "directoryRole":
        return f"/directoryRoles(roleTemplateId='{scope.id}')/members/microsoft.graph.user?{_SELECT}"
    return f"/users?{_SELECT}&$top={PAGE_SIZE}"


class CampaignGraph:
    """One per process: reads pages through the retry loop, sends writes once each."""

    def __init__(self, settings: Settings, transport: GraphTransport, tokens: TokenSource) -> None:
        self._settings = settings
        self._transport = transport
        self._tokens = tokens
        self._pool = ContextPool(max_workers=BATCHES_IN_FLIGHT, thread_name_prefix="campaign-batch")
        self._reader = CallSender(transport, tokens, self._pool, window=1)
        self._prefix = f"{settings.graph_endpoint}/v1.0"

    def page(self, path: str, deadline: Deadline) -> MemberPage:
        """One page of members; GraphError if Graph did not give one."""
        [reply] = self._reader.send_all([GraphCall("GET", path)], deadline)
        if not reply.succeeded:
            raise _error(reply, "the member listing failed")
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise TransientGraphError("Graph's member page is unreadable")
        members, malformed = [], 0
        for item in body["value"]:
            member = _member(item)
            if member is None:
                malformed += 1
            else:
                members.append(member)
        return MemberPage(tuple(members), self._next(body.get("@odata.nextLink")), malformed)

    def write_once(
        self, action: ContainmentAction, object_ids: Sequence[str], deadline: Deadline
    ) -> list[ActionResult]:
        """`action` on each user, one attempt each; results in order (429s come back deferred)."""
        calls, done = self._calls(action, object_ids)
        indexed = list(enumerate(calls))
        chunks = [indexed[i : i + BATCH_LIMIT] for i in range(0, len(indexed), BATCH_LIMIT)]
        replies: dict[int, GraphReply] = {}
        try:
            token = self._tokens.token(deadline)
        except GraphError as error:
            return [ActionResult(Outcome.DEFERRED, detail=error.detail) for _ in calls]
        for answer in self._pool.map(lambda chunk: self._send(chunk, token, deadline), chunks):
            replies.update(answer)
        if any(reply.status == 401 for reply in replies.values()):
            self._tokens.renew()  # the next delivery asks for a fresh token
        results = []
        for index, call in indexed:
            reply = replies[index]
            if reply.succeeded and (problem := call.check(reply)) is not None:
                reply.error = problem
            reply.attempts = 0 if reply.error is not None and not reply.error.reached_graph else 1
            results.append(action_result(reply, done))
        return results

    def states(self, object_ids: Sequence[str], deadline: Deadline) -> list[UserState]:
        """Each user's state as Graph shows it now, through the retry loop; never raises."""
        calls = [GraphCall("GET", f"/users/{oid}{_STATE_SELECT}", check=lookup_complete) for oid in object_ids]
        try:
            replies = self._reader.send_all(calls, deadline)
        except Exception:  # every user still gets an answer: that Graph did not say
            error = TransientGraphError("could not read the users' state from Graph")
            return [UserState(error=error) for _ in object_ids]
        return [_state(reply) for reply in replies]

    def _send(self, chunk: list[tuple[int, GraphCall]], token: str, deadline: Deadline) -> dict[int, GraphReply]:
        try:
            if len(chunk) == 1:
                return {chunk[0][0]: self._transport.send(chunk[0][1], token, deadline)}
            return self._transport.send_batch(chunk, token, deadline)
        except Exception as problem:  # every call gets one reply, whatever happened
            error = TransientGraphError(f"could not read Graph's batch answer: {type(problem).__name__}")
            return {index: GraphReply(None, error=error) for index, _ in chunk}

    def _calls(self, action: ContainmentAction, object_ids: Sequence[str]) -> tuple[list[GraphCall], Outcome]:
        if action is ContainmentAction.REVOKE_SESSIONS:
            revocation = self._settings.action
            name, version = revocation.value, revocation.api_version
            calls = [
                GraphCall("POST", f"/users/{oid}/{name}", check=revocation_confirmed, version=version)
                for oid in object_ids
            ]
            return calls, Outcome.REVOKED
        if action is ContainmentAction.DISABLE_ACCOUNT:
            body = {"accountEnabled": False}
            return [
                GraphCall("PATCH", f"/users/{oid}", body, disable_confirmed) for oid in object_ids
            ], Outcome.DISABLED
        raise ValueError(f"a campaign does not take {action.value}")

    def _next(self, link: Any) -> str | None:
        """The next page's path, only if the link points back at the configured Graph endpoint."""
        if link is None:
            return None
        if not isinstance(link, str) or not link.startswith(self._prefix + "/") or len(link) > 8192:
            raise PermanentGraphError("Graph's @odata.nextLink does not point at the configured Graph endpoint")
        return link[len(self._prefix) :]


def _member(item: Any) -> Member | None:
    if not isinstance(item, dict):
        return None
    object_id, upn = item.get("id"), item.get("userPrincipalName")
    if not (isinstance(object_id, str) and is_object_id(object_id) and isinstance(upn, str) and 0 < len(upn) <= 256):
        return None
    enabled = item.get("accountEnabled") is not False
    return Member(object_id.lower(), upn, signs_in_elsewhere(item), enabled, mastered_where(item)["synced"])


def _state(reply: GraphReply) -> UserState:
    if not reply.succeeded:
        return UserState(error=_error(reply, "the user's state could not be read"))
    body = reply.body
    enabled = body.get("accountEnabled")
    return UserState(
        enabled if isinstance(enabled, bool) else None, _epoch(body.get("signInSessionsValidFromDateTime"))
    )


def _epoch(value: Any) -> float | None:
    """An ISO 8601 date-time as Graph writes it (`2026-12-06T10:00:00Z`), in epoch seconds; None if unreadable."""
    if not isinstance(value, str):
        return None
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return None
    fraction = (match["fraction"] or "")[:6]  # Graph may write seven digits; Python reads six
    try:
        moment = datetime.fromisoformat(f"{match['seconds']}{'.' + fraction if fraction else ''}+00:00")
    except ValueError:
        return None
    return moment.timestamp()


def _error(reply: GraphReply, what: str) -> GraphError:
    if reply.error is not None:
        return reply.error
    kind = TransientGraphError if reply.transient else PermanentGraphError
    return kind(f"{what}: {reply.error_code or reply.status}", status=reply.status, retry_after=reply.retry_after)
