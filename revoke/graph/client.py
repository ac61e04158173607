"""Microsoft Graph for the containment core: take a containment action on users, look users up.

Built from three parts that can each be read and tested alone: the token
(`revoke.graph.tokens`), the wire (`revoke.graph.transport`) and the retry loop (`revoke.graph.sending`);
what each Graph answer means is in `revoke.graph.answers`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import requests
from azure.core.credentials import TokenCredential

from revoke.actions import ContainmentAction
from revoke.deadline import Deadline
from revoke.graph.answers import (
    action_result,
    compromise_confirmed,
    disable_confirmed,
    lookup_complete,
    revocation_confirmed,
    user_lookup,
)
from revoke.graph.sending import CallSender
from revoke.graph.tokens import TokenSource
from revoke.graph.transport import GraphCall, GraphReply, GraphTransport, pooled_session
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, Outcome, UserLookup
from revoke.settings import Settings

ResultCallback = Callable[[int, ActionResult], None]
# Batch senders shared by the process: room for two invocations at their full REVOKE_MAX_PARALLEL.
SENDERS_PER_WINDOW = 2


class GraphClient:
    """One per process: a pooled session, one token, and a bounded pool of batch senders."""

    def __init__(
        self, settings: Settings, credential: TokenCredential, session: requests.Session | None = None
    ) -> None:
        self._revocation = settings.action
        workers = settings.max_parallel * SENDERS_PER_WINDOW
        transport = GraphTransport(settings.graph_endpoint, session or pooled_session(workers))
        senders = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="graph-batch")
        tokens = TokenSource(credential, settings.graph_scope)
        self._sender = CallSender(transport, tokens, senders, window=settings.max_parallel)

    def perform(
        self,
        action: ContainmentAction,
        users: Sequence[UserIdentifier],
        deadline: Deadline,
        on_result: ResultCallback | None = None,
    ) -> list[ActionResult]:
        """Take `action` on every user; results in the order given. Never raises for Graph failures.

        `on_result(i, result)` is called, on this thread, as soon as user `i`'s result is
        final, so the caller can audit it while other batches are still in flight.
        confirmCompromised takes object ids only: look a UPN up first.
        """
        calls, done = self._calls(action, users)
        results: dict[int, ActionResult] = {}

        def settled(index: int, reply: GraphReply) -> None:
            results[index] = action_result(reply, done)
            if on_result is not None:
                on_result(index, results[index])

        self._sender.send_all(calls, deadline, settled)
        return [results[index] for index in range(len(calls))]

    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]:
        """Each user's object id and UPN: to recognise a protected or external user, and to
        name a user by object id where Graph needs one."""
        select = "?$select=id,userPrincipalName"
        calls = [GraphCall("GET", f"/users/{user.path_segment}{select}", check=lookup_complete) for user in users]
        return [user_lookup(reply) for reply in self._sender.send_all(calls, deadline)]

    def _calls(self, action: ContainmentAction, users: Sequence[UserIdentifier]) -> tuple[list[GraphCall], Outcome]:
        if action is ContainmentAction.REVOKE_SESSIONS:
            name, version = self._revocation.value, self._revocation.api_version
            calls = [
                GraphCall("POST", f"/users/{user.path_segment}/{name}", check=revocation_confirmed, version=version)
                for user in users
            ]
            return calls, Outcome.REVOKED
        if action is ContainmentAction.DISABLE_ACCOUNT:
            disable = {"accountEnabled": False}
            calls = [GraphCall("PATCH", f"/users/{user.path_segment}", disable, disable_confirmed) for user in users]
            return calls, Outcome.DISABLED
        if any(user.kind != "object_id" for user in users):
            raise ValueError("confirmCompromised takes object ids only")
        path = "/identityProtection/riskyUsers/confirmCompromised"
        calls = [GraphCall("POST", path, {"userIds": [user.value]}, compromise_confirmed) for user in users]
        return calls, Outcome.CONFIRMED
