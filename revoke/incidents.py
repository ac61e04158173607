"""Microsoft Sentinel incident ARM ids: accepted only inside the one workspace the service comments in.

An incident id reaches us in a payload, so whoever sends the payload chooses it. Before a
comment is written, the id must be a Sentinel incident of exactly the configured workspace:

    /subscriptions/{guid}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/
        workspaces/{ws}/providers/Microsoft.SecurityInsights/incidents/{name}

ARM compares each segment without regard to case, and so do we; but only ASCII letters,
digits and `- _ . ( )` are allowed, so no percent-encoding, query, fragment, whitespace,
backslash, empty segment, `.`/`..` segment, or Unicode case-folding trick can make two
ids compare equal here and mean different resources to ARM.
"""

from __future__ import annotations

import json
import re
import uuid

from revoke.identifiers import GUID

MAX_INCIDENT_ID_LENGTH = 512  # the audit event's limit for incidentId; real ids are under 300
_ALLOWED = re.compile(r"[A-Za-z0-9._()/-]+")
# Resource group: 1-90 of letters, digits, '_', '-', '.', '(', ')', not ending in '.'
# (ARM also allows Unicode letters; a workspace in such a group gets no comments).
_RESOURCE_GROUP = re.compile(r"[A-Za-z0-9_.()-]{0,89}[A-Za-z0-9_()-]")
# Workspace name, as the SecurityInsights API spec constrains it (maxLength 90).
_WORKSPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{1,88}[A-Za-z0-9]")
# Incident name: Sentinel names incidents with GUIDs; allow the same safe alphabet ARM ids use.
_INCIDENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")

_WORKSPACE_SHAPE = (
    "subscriptions",
    GUID,
    "resourceGroups",
    _RESOURCE_GROUP,
    "providers",
    "Microsoft.OperationalInsights",
    "workspaces",
    _WORKSPACE,
)
_INCIDENT_TAIL = ("providers", "Microsoft.SecurityInsights", "incidents", _INCIDENT_NAME)
_Shape = tuple[str | re.Pattern[str], ...]

# Fixed forever: changing it would give every redelivered request a second comment (or task).
_COMMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://schemas.revoke.example/incident-comment")
_TASK_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://schemas.revoke.example/incident-task")


def incident_in_workspace(incident_id: str, workspace_id: str | None) -> str | None:
    """The incident's normalised ARM id if it names an incident of `workspace_id`, else None.

    None also when `workspace_id` is None (comments are off) or not a workspace ARM id.
    The normalised id spells the fixed segments as ARM documents them and the subscription,
    resource group, workspace and incident name in lower case, so every spelling of one
    incident gives one id.
    """
    if workspace_id is None:
        return None
    workspace = _segments(workspace_id, _WORKSPACE_SHAPE)
    incident = _segments(incident_id, _WORKSPACE_SHAPE + _INCIDENT_TAIL)
    if workspace is None or incident is None:
        return None
    if incident[: len(workspace)] != workspace:
        return None
    return _join(incident, _WORKSPACE_SHAPE + _INCIDENT_TAIL)


def is_workspace_id(text: str) -> bool:
    """Whether `text` is a Log Analytics workspace ARM id."""
    return _segments(text, _WORKSPACE_SHAPE) is not None


def is_incident_id(text: str) -> bool:
    """Whether `text` is a normalised Sentinel incident ARM id (any workspace)."""
    shape = _WORKSPACE_SHAPE + _INCIDENT_TAIL
    segments = _segments(text, shape)
    return segments is not None and _join(segments, shape) == text


def comment_id(correlation_id: str, incident_id: str) -> str:
    """The id of this request's comment on this incident: the same every time the request is delivered."""
    key = json.dumps([correlation_id, incident_id.lower()], ensure_ascii=True)
    return str(uuid.uuid5(_COMMENT_NAMESPACE, key))


def task_id(incident_id: str, user: str, step: str) -> str:
    """The id of the task asking a person to take `step` for `user` on this incident: the same for
    every request and every delivery, so a retry or a second request updates it instead of adding one."""
    key = json.dumps([incident_id.lower(), user.lower(), step], ensure_ascii=True)
    return str(uuid.uuid5(_TASK_NAMESPACE, key))


def _segments(text: str, shape: _Shape) -> tuple[str, ...] | None:
    """The lower-cased segments of `text` if it has exactly `shape`, else None."""
    if not isinstance(text, str) or len(text) > MAX_INCIDENT_ID_LENGTH or not _ALLOWED.fullmatch(text):
        return None
    if not text.startswith("/") or ".." in text:
        return None
    segments = text[1:].split("/")
    if len(segments) != len(shape):
        return None  # also catches a trailing '/' (an empty last segment) and '//'
    for segment, expected in zip(segments, shape, strict=True):
        if isinstance(expected, str):
            if segment.lower() != expected.lower():
                return None
        elif not expected.fullmatch(segment):
            return None
    # The alphabet is ASCII, so lower() folds exactly A-Z and nothing else.
    return tuple(segment.lower() for segment in segments)


def _join(segments: tuple[str, ...], shape: _Shape) -> str:
    return "".join(
        "/" + (expected if isinstance(expected, str) else segment)
        for segment, expected in zip(segments, shape, strict=True)
    )
