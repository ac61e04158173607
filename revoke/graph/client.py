"""Microsoft Graph for the containment core: take a containment action on users, look users up.

Built from three parts that can each be read and tested alone: the token
(`revoke.graph.tokens`), the wire (`revoke.graph.transport`) and the retry loop (`revoke.graph.sending`);
what each Graph answer means is in `revoke.graph.answers`, and look-ups (15 users a request, each
answer read for each user asked) in `revoke.graph.lookups`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import requests
from azure.core.credentials import TokenCredential

from revoke.actions import ContainmentAction
from revoke.audit.collector import ContextPool
from revoke.deadline import Deadline
from revoke.graph.answers import (
    action_result,
    compromise_confirmed,
    disable_confirmed,
    memberships,
    memberships_answer,
    revocation_confirmed,
)
from revoke.graph.lookups import look_up_all, plan_lookups
from revoke.graph.pacing import IDENTITY_PROTECTION
from revoke.graph.sending import CallSender
from revoke.graph.tokens import TokenSource
from revoke.graph.transport import GraphCall, GraphReply, GraphTransport, pooled_session
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, Memberships, Outcome, UserLookup
from revoke.settings import Settings

ResultCallback = Callable[[int, ActionResult], None]
LookupCallback = Callable[[int, UserLookup], None]
# Batch senders shared by the process: room for two invocations, each with its full
# REVOKE_MAX_PARALLEL of write batches and as many read batches beside them.
SENDERS_PER_WINDOW = 4
# Users named in one confirmCompromised call. The API takes a list; Microsoft documents no
# limit on its length, so a chunk is kept to a size a request body carries easily.
CONFIRM_CHUNK = 50
# Group and role ids in one checkMemberObjects call: "You can specify up to 20 objects"
# (Graph v1.0, directoryObject: checkMemberObjects).
MEMBERSHIP_CHUNK = 20


class GraphClient:
    """One per process: a pooled session, one token, and a bounded pool of batch senders."""

    def __init__(
        self,
        settings: Settings,
        credential: TokenCredential,
        session: requests.Session | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self._revocation = settings.action
        workers = settings.max_parallel * SENDERS_PER_WINDOW
        transport = GraphTransport(settings.graph_endpoint, session or pooled_session(workers))
        senders = ContextPool(max_workers=workers, thread_name_prefix="graph-batch")
        tokens = tokens or TokenSource(credential, settings.graph_scope)
        self._sender = CallSender(transport, tokens, senders, window=settings.max_parallel)

    @property
    def tokens(self) -> TokenSource:
        """The process's Graph token, for whoever else needs one (the readiness check)."""
        return self._sender.tokens

    @property
    def sender(self) -> CallSender:
        """The process's batch senders, for Graph calls of other services on the same token and pool
        (Defender for Identity: revoke.graph.defender_identity)."""
        return self._sender

    def perform(
        self,
        action: ContainmentAction,
        users: Sequence[UserIdentifier],
        deadline: Deadline,
        on_result: ResultCallback | None = None,
        *,
        look_up: Sequence[UserIdentifier] = (),
        on_lookup: LookupCallback | None = None,
    ) -> list[ActionResult]:
        """Take `action` on every user; results in the order given. Never raises for Graph failures.

        `on_result(i, result)` is called, on this thread, as soon as user `i`'s result is
        final, so the caller can audit it while other batches are still in flight.
        The users in `look_up` are looked up alongside, in the same round trips, each
        look-up handed to `on_lookup(j, lookup)` as it is final: a look-up that only
        serves the verdict never delays the containment.
        confirmCompromised takes object ids only: look a UPN up first.
        """
        calls, meaning = self._calls(action, users)
        lookups = plan_lookups(look_up)  # up to 15 users a request (revoke.graph.lookups)
        results: dict[int, ActionResult] = {}

        def settled(index: int, reply: GraphReply) -> None:
            if index >= len(calls):
                if on_lookup is not None:
                    for position, lookup in sorted(lookups[index - len(calls)].answers(reply).items()):
                        on_lookup(position, lookup)
                return
            for position in meaning[index]:
                results[position] = _one_of(action_result(reply, _DONE[action]), len(meaning[index]))
                if on_result is not None:
                    on_result(position, results[position])

        self._sender.send_all([*calls, *(lookup.call for lookup in lookups)], deadline, settled)
        return [results[position] for position in range(len(users))]

    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]:
        """Each user's object id, UPN and kind: to recognise a protected or external user, and to
        name a user by object id where Graph needs one. Only an answer about the user asked counts."""
        return look_up_all(self._sender, users, deadline)

    def check_memberships(
        self, users: Sequence[UserIdentifier], ids: Sequence[str], deadline: Deadline
    ) -> list[Memberships]:
        """Which of the group and directory role `ids` each user is a member of, transitively
        (`POST /users/{id}/checkMemberObjects`, up to MEMBERSHIP_CHUNK ids a call, batched).

        Role ids may be role template ids, as the API documents. A user's answer is an error
        when any of its calls failed, so a user is never taken as unprotected on half an answer.
        """
        chunks = [list(ids[start : start + MEMBERSHIP_CHUNK]) for start in range(0, len(ids), MEMBERSHIP_CHUNK)]
        calls = [
            GraphCall(
                "POST", f"/users/{user.path_segment}/checkMemberObjects", {"ids": chunk}, memberships_answer(chunk)
            )
            for user in users
            for chunk in chunks
        ]
        replies = self._sender.send_all(calls, deadline)
        answers = []
        for position in range(len(users)):
            parts = [memberships(reply) for reply in replies[position * len(chunks) : (position + 1) * len(chunks)]]
            failed = next((part for part in parts if part.error is not None or part.missing), None)
            answers.append(failed or Memberships(frozenset().union(*(part.member_of for part in parts))))
        return answers

    def _calls(
        self, action: ContainmentAction, users: Sequence[UserIdentifier]
    ) -> tuple[list[GraphCall], list[list[int]]]:
        """The calls for `action`, and for each call the positions in `users` its answer is for."""
        one_each = [[position] for position in range(len(users))]
        if action is ContainmentAction.REVOKE_SESSIONS:
            name, version = self._revocation.value, self._revocation.api_version
            calls = [
                GraphCall("POST", f"/users/{user.path_segment}/{name}", check=revocation_confirmed, version=version)
                for user in users
            ]
            return calls, one_each
        if action is ContainmentAction.DISABLE_ACCOUNT:
            disable = {"accountEnabled": False}
            calls = [GraphCall("PATCH", f"/users/{user.path_segment}", disable, disable_confirmed) for user in users]
            return calls, one_each
        if any(user.kind != "object_id" for user in users):
            raise ValueError("confirmCompromised takes object ids only")
        # One call confirms many users; Identity Protection's limit is per request, not per user.
        path = "/identityProtection/riskyUsers/confirmCompromised"
        chunks = [list(range(i, min(i + CONFIRM_CHUNK, len(users)))) for i in range(0, len(users), CONFIRM_CHUNK)]
        calls = [
            GraphCall(
                "POST",
                path,
                {"userIds": [users[position].value for position in chunk]},
                compromise_confirmed,
                pacer=IDENTITY_PROTECTION,
            )
            for chunk in chunks
        ]
        return calls, chunks


_DONE = {
    ContainmentAction.REVOKE_SESSIONS: Outcome.REVOKED,
    ContainmentAction.DISABLE_ACCOUNT: Outcome.DISABLED,
    ContainmentAction.CONFIRM_COMPROMISED: Outcome.CONFIRMED,
}
CHUNK_NOT_FOUND = "Graph refused the call for a user it does not know; which one of this call's users it did not say"


def _one_of(result: ActionResult, sharing: int) -> ActionResult:
    """A call's result for one of the `sharing` users it named: a 404 for several says not which one."""
    if sharing > 1 and result.outcome is Outcome.NOT_FOUND:
        return replace(result, outcome=Outcome.FAILED, detail=CHUNK_NOT_FOUND)
    return result
