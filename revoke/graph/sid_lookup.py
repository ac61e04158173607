"""Finding the Entra user synced from an on-premises account, by its SID.

    GET /users?$filter=onPremisesSecurityIdentifier eq '{sid}'&$select=<the look-up's properties>

The user resource documents `eq` on onPremisesSecurityIdentifier without the advanced query
parameters (https://learn.microsoft.com/graph/aad-advanced-queries, the table of user properties),
and User.Read.All reads it. The answer is a collection: empty when no user was synced from that
account. Only an answer about the SID asked counts, and only one user: an item naming another SID
fails closed, as the look-ups' "answers what was asked" rule does (revoke.graph.answers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from revoke.deadline import Deadline
from revoke.errors import GraphError
from revoke.graph.answers import (
    ANOTHER_USER,
    LOOKUP_SELECT,
    at_most_one_about_the_sid,
    by_sid_filter,
    lookup_complete,
    user_lookup,
)
from revoke.graph.sending import CallSender
from revoke.graph.transport import GraphCall, GraphReply
from revoke.outcomes import UserLookup

SEVERAL_USERS = "Graph answers more than one user for this on-premises SID"


class SidDirectory:
    """On the GraphClient's sender: the same token, pool, deadline and retry loop."""

    def __init__(self, sender: CallSender) -> None:
        self._sender = sender

    def find_by_sid(self, sids: Sequence[str], deadline: Deadline) -> list[UserLookup]:
        """Each SID's user, in order: `missing` when no user was synced from it. Never raises for Graph failures."""
        calls = [_call(sid) for sid in sids]
        return [_lookup(reply) for reply in self._sender.send_all(calls, deadline)]


def _call(sid: str) -> GraphCall:
    return GraphCall("GET", f"/users?{by_sid_filter(sid)}&{LOOKUP_SELECT}", check=_about(sid))


def _about(sid: str) -> Callable[[GraphReply], GraphError | None]:
    def users_synced_from_the_sid(reply: GraphReply) -> GraphError | None:
        problem = at_most_one_about_the_sid(reply, sid, listing="users", another=ANOTHER_USER, several=SEVERAL_USERS)
        if problem is None and reply.body["value"]:
            return lookup_complete(GraphReply(200, reply.body["value"][0]))
        return problem

    return users_synced_from_the_sid


def _lookup(reply: GraphReply) -> UserLookup:
    if reply.succeeded:
        items = reply.body["value"]
        return user_lookup(items[0]) if items else UserLookup(missing=True)
    return UserLookup(error=reply.failure("SID look-up failed"))
