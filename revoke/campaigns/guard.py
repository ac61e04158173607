"""The break-glass guard for a campaign's users, asked at the preview and again before every chunk.

It is the single-request path's guard (`revoke.containment.protection.ProtectedUsers`), not a
copy: whatever that guard comes to check, campaigns check too. A campaign names its users by
object id and knows each one's UPN from Graph's own listing, so when the guard would look a
user up to learn their other name, the listing answers; anything else the guard asks goes to
Graph (`ListedNames`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from revoke.containment.protection import Directory, ProtectedUsers
from revoke.deadline import Deadline
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, UserLookup
from revoke.settings import Settings


class ListedNames:
    """A directory whose look-ups of users the campaign listed are answered from the listing."""

    def __init__(self, directory: Directory, names: Mapping[str, str]) -> None:
        self._directory = directory
        self._names = names  # lower-case object id -> UPN, as Graph listed them

    def lookup_all(self, users: Sequence[UserIdentifier], deadline: Deadline) -> list[UserLookup]:
        unknown = [user for user in users if user.key not in self._names]
        asked = iter(self._directory.lookup_all(unknown, deadline) if unknown else [])
        return [
            UserLookup(object_id=user.key, user_principal_name=self._names[user.key])
            if user.key in self._names
            else next(asked)
            for user in users
        ]

    def __getattr__(self, name: str) -> Any:
        # Whatever else the guard asks of a directory (group or role membership) is Graph's to answer.
        return getattr(self._directory, name)


class Guard:
    """Which of a campaign's users must not be acted on now, and why (the reason each gets as its result)."""

    def __init__(self, settings: Settings, directory: Directory) -> None:
        self._protection = ProtectedUsers.of(settings)  # by name, group and role, as every path
        self._directory = directory

    def refused(self, users: Sequence[tuple[str, str]], deadline: Deadline) -> dict[str, ActionResult]:
        """By object id, the users of `users` ((object id, UPN) pairs) the guard decides on, with its result.

        A result that is not final (`deferred`: the guard could not check) keeps the user out of
        this delivery only; any other keeps them out of the campaign.
        """
        if not users:
            return {}
        targets = [UserIdentifier(object_id, "object_id") for object_id, _ in users]
        directory = ListedNames(self._directory, dict(users))
        decided, _ = self._protection.check(targets, directory, deadline)
        return {users[i][0]: result for i, result in decided.items()}
