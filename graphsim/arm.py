"""Azure Resource Manager in the simulator: the Microsoft Sentinel incident comments and incident
tasks the app PUTs, on a port of its own, with ARM's token checks and error bodies.

Incident tasks (IncidentTasks_CreateOrUpdate, stable since 2024-03-01):

    PUT {incident}/tasks/{taskId}?api-version=2024-03-01
    {"properties": {"title": "...", "description": "...", "status": "New"}}   -> 201 created, 200 updated

as the REST API's example shows it (azure-rest-api-specs, Microsoft.SecurityInsights/stable/2024-03-01/
examples/incidents/tasks/IncidentTasks_CreateOrUpdate.json); `title` and `status` (New or Completed)
are required. An incident holds at most 40 tasks (Microsoft Sentinel service limits, "Number of
tasks": https://learn.microsoft.com/azure/sentinel/sentinel-service-limits); the 41st is refused,
with a status and error code that are the simulator's own choice (undocumented).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from graphsim.wire import Answer, Exchange, RecordedRequest, graph_error

if TYPE_CHECKING:
    from graphsim.server import GraphSimulator

# ARM is served on a port of its own, so its origin (`arm_url`), which the app takes as
# REVOKE_ARM_ENDPOINT, and with it the audience of the tokens the app asks for it, differ
# from Graph's (`url`).
ARM_RESOURCE = "https://management.azure.com"
# The audiences ARM accepts besides the simulator's own `arm_url`.
ARM_AUDIENCES = frozenset(
    {ARM_RESOURCE, ARM_RESOURCE + "/", "https://management.core.windows.net", "https://management.core.windows.net/"}
)
# Stable SecurityInsights versions that serve IncidentComments_CreateOrUpdate.
ARM_COMMENT_API_VERSIONS = frozenset(
    {"2023-02-01", "2023-11-01", "2024-03-01", "2024-09-01", "2025-03-01", "2025-06-01", "2025-09-01"}
)
# Stable SecurityInsights versions that serve IncidentTasks_CreateOrUpdate (none before 2024-03-01).
ARM_TASK_API_VERSIONS = frozenset({"2024-03-01", "2024-09-01", "2025-03-01", "2025-06-01", "2025-09-01"})
MAX_COMMENT_CHARACTERS = 30_000  # Microsoft Sentinel service limits: characters per comment
MAX_TASKS_PER_INCIDENT = 40  # Microsoft Sentinel service limits: tasks per incident
TASK_STATUSES = frozenset({"New", "Completed"})
ARM_PATH = re.compile(r"^(/subscriptions(?:/.*)?)$", re.IGNORECASE)
_COMMENT_PATH = re.compile(
    r"^(/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.OperationalInsights/workspaces/[^/]+"
    r"/providers/Microsoft\.SecurityInsights/incidents/[^/]+)/comments/([^/]+)$",
    re.IGNORECASE,
)

_TASK_PATH = re.compile(
    r"^(/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.OperationalInsights/workspaces/[^/]+"
    r"/providers/Microsoft\.SecurityInsights/incidents/[^/]+)/tasks/([^/]+)$",
    re.IGNORECASE,
)

# Answers one request to a resource: (method, the path's match, query string, body).
_Serve = Callable[[str, re.Match[str], str, bytes], Answer]


class Arm:
    """The ARM side of one simulator: what it received, and every comment PUT on an incident."""

    def __init__(self, simulator: GraphSimulator) -> None:
        self._sim = simulator
        # (incident id lower-cased, comment id lower-cased) -> every message PUT there.
        self.comments: dict[tuple[str, str], list[str]] = {}
        # (incident id lower-cased, task id lower-cased) -> the properties of every PUT there.
        self.tasks: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.requests: list[RecordedRequest] = []
        # The resources served, by their path under /subscriptions; any other is 404.
        self._resources: list[tuple[re.Pattern[str], _Serve]] = [
            (_COMMENT_PATH, self._put_comment),
            (_TASK_PATH, self._put_task),
        ]
        self._lock = threading.Lock()

    def is_arm_token(self, token: str) -> bool:
        """Issued here for Azure Resource Manager (audience `arm_url` or one of ARM's own)."""
        audience = self._sim.identity_endpoint.audience(token)
        return audience is not None and (audience in ARM_AUDIENCES or audience == self._sim.arm_url)

    def serve(self, exchange: Exchange, path: str, body: bytes) -> None:
        """One ARM request, on ARM's port or (to be refused as ARM refuses it) on Graph's."""
        token = exchange.bearer()
        issued, for_arm = self._sim.identity_endpoint.is_valid(token), self.is_arm_token(token)
        with self._lock:
            self.requests.append(RecordedRequest(exchange.command, exchange.path, None, issued and for_arm, body))
        if exchange.open_with(self._sim.faults.take_arm(path), identity=False):
            return
        if not issued:
            exchange.answer(graph_error(401, "InvalidAuthenticationToken", "The access token is invalid."))
        elif not for_arm:
            message = "The access token has been obtained for wrong audience or resource."
            exchange.answer(graph_error(401, "InvalidAuthenticationTokenAudience", message))
        else:
            exchange.answer(self.perform(exchange.command, path, urlsplit(exchange.path).query, body))

    def perform(self, method: str, path: str, query: str, body: bytes) -> Answer:
        """Carry out one authorized ARM request."""
        route = ARM_PATH.match(path)
        for pattern, serve in self._resources:
            if route is not None and (match := pattern.match(route.group(1))):
                return serve(method, match, query, body)
        return graph_error(404, "NotFound", f"no such resource: {path}")

    def _put_comment(self, method: str, comment: re.Match[str], query: str, body: bytes) -> Answer:
        if (refused := _refused_put(method, query, ARM_COMMENT_API_VERSIONS)) is not None:
            return refused
        message = _comment_message(body)
        if message is None:
            return graph_error(400, "BadRequest", 'The body must be {"properties": {"message": string}}.')
        if len(message) > MAX_COMMENT_CHARACTERS:
            return graph_error(
                400, "BadRequest", f"Comment length should not exceed {MAX_COMMENT_CHARACTERS} characters"
            )
        incident, comment_id = comment.group(1), comment.group(2)
        key = (incident.lower(), comment_id.lower())
        with self._lock:
            created = key not in self.comments
            self.comments.setdefault(key, []).append(message)
        now = _now()
        author = {
            "objectId": self._sim.identity_endpoint.identity_object_id,
            "name": "graphsim",
            "userPrincipalName": None,
        }
        properties = {"message": message, "createdTimeUtc": now, "lastModifiedTimeUtc": now, "author": author}
        return _written(
            created, f"{incident}/comments/{comment_id}", "Microsoft.SecurityInsights/Incidents/Comments", properties
        )

    def _put_task(self, method: str, task: re.Match[str], query: str, body: bytes) -> Answer:
        if (refused := _refused_put(method, query, ARM_TASK_API_VERSIONS)) is not None:
            return refused
        properties = _task_properties(body)
        if properties is None:
            message = 'The body must be {"properties": {"title": string, "status": "New" or "Completed", ...}}.'
            return graph_error(400, "BadRequest", message)
        incident, task_id = task.group(1), task.group(2)
        key = (incident.lower(), task_id.lower())
        with self._lock:
            created = key not in self.tasks
            held = sum(1 for known, _ in self.tasks if known == key[0])
            if created and held >= MAX_TASKS_PER_INCIDENT:  # 400 BadRequest: the simulator's own choice (undocumented)
                return graph_error(400, "BadRequest", f"An incident can have at most {MAX_TASKS_PER_INCIDENT} tasks.")
            self.tasks.setdefault(key, []).append(properties)
        now = _now()
        author = {"objectId": self._sim.identity_endpoint.identity_object_id, "name": "graphsim"}
        written = {
            **properties,
            "createdTimeUtc": now,
            "lastModifiedTimeUtc": now,
            "createdBy": author,
            "lastModifiedBy": author,
        }
        return _written(created, f"{incident}/tasks/{task_id}", "Microsoft.SecurityInsights/incidents/tasks", written)


def _refused_put(method: str, query: str, versions: frozenset[str]) -> Answer | None:
    """Only a PUT, at an api-version the resource serves, is taken."""
    if method != "PUT":
        return graph_error(405, "MethodNotAllowed", f"{method} is not served here")
    return _refused_api_version(query, versions)


def _written(created: bool, resource_id: str, resource_type: str, properties: dict[str, Any]) -> Answer:
    """The resource a PUT wrote, as ARM answers it: 201 when it made it, 200 when it replaced it."""
    resource = {
        "id": resource_id,
        "name": resource_id.rsplit("/", 1)[1],
        "type": resource_type,
        "etag": f'"{uuid.uuid4()}"',
        "properties": properties,
    }
    return Answer(201 if created else 200, resource)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _task_properties(body: bytes) -> dict[str, Any] | None:
    """A task PUT body's title, description and status, or None if the body is not a task."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    properties = document.get("properties") if isinstance(document, dict) else None
    if not isinstance(properties, dict):
        return None
    title, status, description = properties.get("title"), properties.get("status"), properties.get("description")
    if not isinstance(title, str) or not title or status not in TASK_STATUSES:
        return None
    if description is not None and not isinstance(description, str):
        return None
    return {"title": title, "description": description, "status": status}


def _refused_api_version(query: str, served: frozenset[str]) -> Answer | None:
    """ARM's 400 for a missing, repeated or unserved api-version; None if it is one of `served`."""
    versions = parse_qs(query).get("api-version")
    if not versions:
        return graph_error(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
    if versions != [versions[0]] or versions[0] not in served:
        return graph_error(400, "NoRegisteredProviderFound", f"No registered api-version {versions[0]!r}.")
    return None


def _comment_message(body: bytes) -> str | None:
    """`properties.message` of a comment PUT body, or None if the body is not one."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    properties = document.get("properties") if isinstance(document, dict) else None
    message = properties.get("message") if isinstance(properties, dict) else None
    return message if isinstance(message, str) else None
