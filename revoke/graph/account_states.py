"""Reading a user's accountEnabled again, for the check after the next directory sync.

    GET /users/{id}?$select=id,userPrincipalName,accountEnabled

Only an answer about the user asked counts (the look-ups' rule, revoke.graph.answers), and only
one that says `accountEnabled` as true or false: anything else could not be read.
"""

from __future__ import annotations

from collections.abc import Sequence

from revoke.deadline import Deadline
from revoke.errors import GraphError, PermanentGraphError, Unconfirmed
from revoke.graph.answers import lookup_answers
from revoke.graph.sending import CallSender
from revoke.graph.transport import GraphCall, GraphReply
from revoke.identifiers import parse_user_identifier
from revoke.outcomes import AccountState

SELECT = "?$select=id,userPrincipalName,accountEnabled"


class AccountStateReader:
    def __init__(self, sender: CallSender) -> None:
        self._sender = sender

    def read(self, addresses: Sequence[str], deadline: Deadline) -> list[AccountState]:
        calls = [_call(address) for address in addresses]
        return [_state(reply) for reply in self._sender.send_all(calls, deadline)]


def _call(address: str) -> GraphCall:
    user = parse_user_identifier(address)
    about_user = lookup_answers(user)

    def says_whether_enabled(reply: GraphReply) -> GraphError | None:
        problem = about_user(reply)
        if problem is None and not isinstance(reply.body.get("accountEnabled"), bool):
            return Unconfirmed("Graph's answer does not say whether the account is enabled", status=200)
        return problem

    return GraphCall("GET", f"/users/{user.path_segment}{SELECT}", check=says_whether_enabled)


def _state(reply: GraphReply) -> AccountState:
    if reply.succeeded:
        return AccountState(enabled=reply.body["accountEnabled"])
    if reply.status == 404 and reply.error is None:
        return AccountState(error=PermanentGraphError("Graph has no such user any more", status=404))
    return AccountState(error=reply.failure("the account could not be read"))
