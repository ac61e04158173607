"""Identity Protection's risky users: confirming a user compromised, and dismissing a user's risk
(the simulator's side of a release); enabling the account again is graphsim.users'.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from graphsim.wire import Answer, Route, graph_error

if TYPE_CHECKING:
    from graphsim.users import SimulatedUser, Users

_CONFIRM_PATH = re.compile(r"^/(v1\.0|beta)/identityProtection/riskyUsers/confirmCompromised$")
_DISMISS_PATH = re.compile(r"^/(v1\.0|beta)/identityProtection/riskyUsers/dismiss$")
MAX_DISMISS_IDS = 60  # riskyUsers/dismiss takes at most 60 ids, as Graph documents


class IdentityProtection:
    """`POST /identityProtection/riskyUsers/confirmCompromised` and `.../dismiss`, `{"userIds": [...]}`."""

    def __init__(self, users: Users) -> None:
        self._users = users
        self.licensed_for_risk = True  # Entra ID P2: without it confirmCompromised is refused
        # Identity Protection: 1 request per second per tenant for all apps; its 429 has no Retry-After.
        self.interval = 1.0
        self.throttled = 0  # confirmCompromised requests answered 429
        self._last_request = -1e9
        self.confirmed_compromised: Counter[str] = Counter()  # object id -> confirmations recorded
        self.risk_dismissed: Counter[str] = Counter()  # object id -> dismissals recorded
        self.dismiss_calls: list[float] = []  # monotonic time of each riskyUsers/dismiss call performed
        self._lock = threading.Lock()

    def used_by_another_app(self) -> None:
        """Another app of the tenant just used Identity Protection's turn: the next second is taken."""
        with self._lock:
            self._last_request = time.monotonic()

    def routes(self) -> list[Route]:
        return [
            Route("POST", _CONFIRM_PATH, self._confirm_compromised),
            Route("POST", _DISMISS_PATH, self._dismiss),
        ]

    def _confirm_compromised(self, match: re.Match[str], body: Any, query: str) -> Answer:
        ids = body.get("userIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return graph_error(400, "BadRequest", "userIds must be a list of object ids")
        if not self.licensed_for_risk:
            return graph_error(403, "Forbidden", "Your tenant is not licensed for this feature.")
        with self._lock:
            now = time.monotonic()
            too_soon = now - self._last_request < self.interval
            if too_soon:
                self.throttled += 1
            else:
                self._last_request = now
        if too_soon:
            message = "Too many requests: Identity Protection allows 1 request per second per tenant."
            return graph_error(429, "TooManyRequests", message)
        users = self._find_all(ids)
        if users is None:
            return graph_error(404, "Request_ResourceNotFound", "a user id does not exist")
        with self._lock:
            for user in users:
                self.confirmed_compromised[user.object_id] += 1
        return Answer(204)

    def _dismiss(self, match: re.Match[str], body: Any, query: str) -> Answer:
        ids = body.get("userIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return graph_error(400, "BadRequest", "userIds must be a list of object ids")
        if len(ids) > MAX_DISMISS_IDS:
            return graph_error(400, "BadRequest", "at most 60 users per call")
        if not self.licensed_for_risk:
            return graph_error(403, "Forbidden", "Your tenant is not licensed for this feature.")
        users = self._find_all(ids)
        if users is None:
            return graph_error(404, "Request_ResourceNotFound", "a user id does not exist")
        with self._lock:
            self.dismiss_calls.append(time.monotonic())
            for user in users:
                self.risk_dismissed[user.object_id] += 1
        return Answer(204)

    def _find_all(self, ids: list[str]) -> list[SimulatedUser] | None:
        """The users `ids` name by object id (a UPN does not do), or None if one is not found."""
        users = [self._users.find(i) for i in ids]
        found = [user for user, i in zip(users, ids, strict=True) if user and user.object_id.lower() == i.lower()]
        return found if len(found) == len(ids) else None
