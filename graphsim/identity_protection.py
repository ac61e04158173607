"""Identity Protection in the simulator: dismissing a user's risk, the simulator's side of a release.

`POST /identityProtection/riskyUsers/dismiss` `{"userIds": [...]}` (at most 60 ids, as Graph
documents), hooked into `GraphSimulator.perform`; enabling the account again is graphsim.users'.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from graphsim.wire import Answer

if TYPE_CHECKING:
    from graphsim.server import GraphSimulator

MAX_DISMISS_IDS = 60


def dismiss_risk(simulator: GraphSimulator, body: Any) -> Answer:
    ids = body.get("userIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return Answer(400, {"error": {"code": "BadRequest", "message": "userIds must be a list of object ids"}})
    if len(ids) > MAX_DISMISS_IDS:
        return Answer(400, {"error": {"code": "BadRequest", "message": "at most 60 users per call"}})
    if not simulator.licensed_for_risk:
        return Answer(403, {"error": {"code": "Forbidden", "message": "Your tenant is not licensed for this feature."}})
    users = [simulator.find_user(i) for i in ids]
    if any(user is None or user.object_id.lower() != i.lower() for user, i in zip(users, ids, strict=True)):
        return Answer(404, {"error": {"code": "Request_ResourceNotFound", "message": "a user id does not exist"}})
    with simulator._lock:
        simulator.dismiss_calls.append(time.monotonic())
        for user in users:
            assert user is not None
            simulator.risk_dismissed[user.object_id] += 1
    return Answer(204)
