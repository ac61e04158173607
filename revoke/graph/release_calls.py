"""Microsoft Graph for a release: enable accounts again, dismiss users' risk; look-ups and
membership checks go through the containment's own client (`GraphClient`), so a release reads
users exactly as a containment does, the "answers what was asked" rule included.

`PATCH /users/{id}` `{"accountEnabled": true}` goes per user, batched like every other
call. `POST /identityProtection/riskyUsers/dismiss` takes up to 60 object ids in one call
and Identity Protection allows about one such call per second, so ids are sent in groups,
one group per turn of the shared `Pacer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import requests
from azure.core.credentials import TokenCredential

from revoke.deadline import Deadline
from revoke.errors import GraphError, Unconfirmed
from revoke.graph.answers import account_enabled_confirmed, action_result
from revoke.graph.client import GraphClient
from revoke.graph.pacing import IDENTITY_PROTECTION, Pacer
from revoke.graph.sending import CallSender
from revoke.graph.transport import GraphCall, GraphReply
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, Memberships, Outcome, UserLookup
from revoke.settings import Settings

ResultCallback = Callable[[int, ActionResult], None]
DISMISS_LIMIT = 60  # Graph: "The maximum count of users to dismiss in one call is 60."
DISMISS_PATH = "/identityProtection/riskyUsers/dismiss"


def enable_confirmed(reply: GraphReply) -> GraphError | None:
    return account_enabled_confirmed(reply, enabled=True)


def dismissal_confirmed(reply: GraphReply) -> GraphError | None:
    """`riskyUsers/dismiss` answers 204 No Content."""
    if reply.status == 204 or (reply.status == 200 and reply.body is None):
        return None
    return Unconfirmed(f"HTTP {reply.status} does not confirm the risk was dismissed", status=reply.status)


class ReleaseGraph:
    """One per process, on the containment's GraphClient: its token, session and batch senders."""

    def __init__(
        self,
        settings: Settings,
        credential: TokenCredential,
        session: requests.Session | None = None,
        pacer: Pacer = IDENTITY_PROTECTION,
        directory: GraphClient | None = None,
    ) -> None:
        self._directory = directory or GraphClient(settings, credential, session=session)
        self._sender = self._directory.sender
        self._pacer = pacer

    @property
    def sender(self) -> CallSender:
        """For Defender for Identity's calls (a synced user's Active Directory enable), on the same token."""
        return self._sender

    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]:
        """Each user's look-up, as a containment's (GraphClient.lookup_all): only an answer about the user asked counts."""
        return self._directory.lookup_all(users, deadline)

    def check_memberships(
        self, users: Sequence[UserIdentifier], ids: Sequence[str], deadline: Deadline
    ) -> list[Memberships]:
        return self._directory.check_memberships(users, ids, deadline)

    def enable(self, users: Sequence[UserIdentifier], deadline: Deadline, on_result: ResultCallback) -> None:
        """Enable each account; `on_result(i, result)` as each is final. Never raises for Graph failures."""
        enable = {"accountEnabled": True}
        calls = [GraphCall("PATCH", f"/users/{user.path_segment}", enable, enable_confirmed) for user in users]
        self._sender.send_all(calls, deadline, lambda i, reply: on_result(i, action_result(reply, Outcome.ENABLED)))

    def dismiss(self, object_ids: Sequence[str], deadline: Deadline, on_result: ResultCallback) -> None:
        """Dismiss each user's risk, up to DISMISS_LIMIT ids per call, each call in its turn of the
        process's Identity Protection pacer (a 429 holds every later turn, confirmations' too)."""
        starts = range(0, len(object_ids), DISMISS_LIMIT)
        groups = [list(object_ids[start : start + DISMISS_LIMIT]) for start in starts]
        calls = [
            GraphCall("POST", DISMISS_PATH, {"userIds": group}, dismissal_confirmed, pacer=self._pacer)
            for group in groups
        ]

        def settle(call: int, reply: GraphReply) -> None:
            result = action_result(reply, Outcome.DISMISSED)
            for offset in range(len(groups[call])):
                on_result(starts[call] + offset, result)

        self._sender.send_all(calls, deadline, settle)
