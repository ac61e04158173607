"""Reads a request body into the accounts to contain, whatever shape it arrived in.

One parser serves every trigger. The shapes it recognises:

* a direct request: ``{"users": [...], "reason", "incidentId", "alertId", "correlationId", "dryRun"}``
* a Microsoft Sentinel alert (Logic Apps alert trigger or a ``SecurityAlert`` row): ``Entities``
* a Microsoft Sentinel incident trigger body: ``object.properties.relatedEntities``
* a Microsoft Sentinel entity trigger body: ``Entity`` and ``IncidentArmID``
* a Microsoft Graph security alert (alerts_v2): ``evidence`` with ``userEvidence`` items

Field names are matched case-insensitively, because Sentinel spells the same field
differently in each of its forms.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from revoke.actions import ContainmentAction, parse_actions
from revoke.errors import (
    InvalidField,
    MalformedPayload,
    NoResolvableAccount,
    PayloadTooLarge,
    ReasonRequired,
    TooManyAccounts,
    UnknownField,
)
from revoke.identifiers import UserIdentifier, parse_user_identifier
from revoke.intake.accounts import account_fields, account_identifier, describe, field_named, walk
from revoke.settings import MAX_ACCOUNTS
from revoke.untrusted import bounded, printable, quoted

MAX_NESTING_DEPTH = 64
MAX_TEXT_LENGTH = 512
# A reason is kept to what the audit event's `reason` holds; longer is cut with a visible ellipsis.
MAX_REASON_LENGTH = 512
# A skipped account's label and reason come from the payload: printable, and short enough
# for the audit event's `user` (256) and for five of them in one error message.
MAX_LABEL_LENGTH = 128
MAX_SKIP_REASON_LENGTH = 256
_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# A string runs to its closing quote or, unterminated, to the end of the text: every quote
# starts a match that cannot fail, so the scan stays linear on hostile input.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# Base64 as queue senders write it: MIME wraps lines (CRLF or LF), URL-safe drops padding.
_LINE_BREAK = re.compile(rb"\r?\n")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_BASE64_URL_SAFE = re.compile(rb"[A-Za-z0-9_-]+={0,2}")
_UTF8_BOM = b"\xef\xbb\xbf"
# Every field a direct request may hold: it is written by a person or a playbook, so a field
# outside this list is a mistake (dry_run for dryRun) and is refused, never ignored.
DIRECT_FIELDS = ("users", "user", "actions", "dryRun", "reason", "incidentId", "alertId", "correlationId")


@dataclass(frozen=True)
class SkippedEntity:
    """An account entity that names no user Graph can act on, and why it was passed over.

    Build it with `skipped_entity`, which makes both texts safe to show and log.
    """

    entity: str
    reason: str


def skipped_entity(label: str, reason: str) -> SkippedEntity:
    """Both texts may hold whatever an attacker wrote into a log: bounded and printable."""
    return SkippedEntity(
        bounded(printable(label), MAX_LABEL_LENGTH), bounded(printable(reason), MAX_SKIP_REASON_LENGTH)
    )


@dataclass(frozen=True)
class RevocationRequest:
    """What a payload asks for: the users to contain and the context to audit."""

    targets: tuple[UserIdentifier, ...]
    skipped: tuple[SkippedEntity, ...] = ()
    reason: str | None = None
    alert_id: str | None = None
    incident_id: str | None = None
    dry_run: bool = False
    shape: str = "direct"
    actions: tuple[ContainmentAction, ...] = ()  # asked for by name; empty: all the deployment allows


@dataclass
class _Found:
    """Accounts found so far; refuses to look at more than MAX_ACCOUNTS of them."""

    targets: dict[str, UserIdentifier] = field(default_factory=dict)
    skipped: dict[SkippedEntity, None] = field(default_factory=dict)  # a set that keeps order
    examined: int = 0

    def examine(self) -> None:
        self.examined += 1
        if self.examined > MAX_ACCOUNTS:
            raise TooManyAccounts(f"the payload names more than {MAX_ACCOUNTS} accounts; split it")

    def add(self, user: UserIdentifier) -> None:
        self.targets.setdefault(user.key, user)

    def skip(self, entity: SkippedEntity) -> None:
        self.skipped.setdefault(entity, None)

    def request(
        self, shape: str, *, reason: str | None, alert_id: str | None = None, incident_id: str | None = None
    ) -> RevocationRequest:
        return RevocationRequest(
            tuple(self.targets.values()), tuple(self.skipped), reason, alert_id, incident_id, shape=shape
        )


def load_document(body: bytes, max_bytes: int) -> dict[str, Any]:
    """Decode a body into a JSON object, refusing what is too big or too deep first."""
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"the body is {len(body)} bytes; the limit is {max_bytes}")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedPayload("the body is not UTF-8 text") from None
    _check_nesting(text)
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as problem:
        # ValueError beyond JSONDecodeError: an integer longer than Python converts (4300 digits).
        raise MalformedPayload(f"the body is not valid JSON: {problem.__class__.__name__}") from None
    if not isinstance(document, dict):
        raise MalformedPayload(f"the body must be a JSON object, not {type(document).__name__}")
    return document


def decode_queue_body(body: bytes) -> bytes:
    """A queue message is JSON text; base64 of a JSON object is read too, in the forms senders
    write it: the standard or URL-safe alphabet, padded or not, on one line or in MIME lines
    (CRLF or LF), and with or without a UTF-8 BOM before the JSON. Anything else comes back
    as it arrived, so it is refused as not JSON and poisoned unchanged.
    """
    stripped = body.strip()
    if stripped[:1] in (b"{", b"["):
        return body
    compact = _LINE_BREAK.sub(b"", stripped)
    if _BASE64.fullmatch(compact):
        alphabet = None
    elif _BASE64_URL_SAFE.fullmatch(compact):
        alphabet = b"-_"
    else:
        return body
    try:
        decoded = base64.b64decode(compact + b"=" * (-len(compact) % 4), altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        return body
    return decoded if decoded.removeprefix(_UTF8_BOM).lstrip()[:1] == b"{" else body


def correlation_id_in(document: Mapping[str, Any]) -> str | None:
    """The caller's correlation id, when it gives a usable one."""
    value = field_named(document, "correlationId")
    if value is None:
        return None
    if not isinstance(value, str) or not _CORRELATION_ID.fullmatch(value):
        raise InvalidField("correlationId must be 1-128 letters, digits or . _ : -")
    return value


def parse_request(document: Mapping[str, Any], *, require_reason: bool = False) -> RevocationRequest:
    """Find every account the payload names; raise RequestRejected if it names none."""
    request = read_request(document, require_reason=require_reason)
    require_targets(request)
    return request


def read_request(document: Mapping[str, Any], *, require_reason: bool = False) -> RevocationRequest:
    """Find every account the payload names, those it skips included; it may name no target.

    In an alert, incident or entity an account that names no valid user is skipped with its
    reason and the others are still contained: account names there come from logs an
    attacker can write. A direct request is refused whole for one invalid user, and, with
    `require_reason` (REVOKE_REQUIRE_REASON), when it says no reason; an alert, incident or
    entity gives its own kind, id and name as its reason.
    """
    if field_named(document, "users") is not None or field_named(document, "user") is not None:
        request = _direct_request(document, require_reason)
    elif isinstance(field_named(document, "evidence"), list):
        request = _graph_security_alert(document)
    elif isinstance(field_named(document, "object"), dict):
        request = _sentinel_incident(document)
    elif field_named(document, "entity") is not None:
        request = _sentinel_entity(document)
    elif field_named(document, "entities") is not None:
        request = _sentinel_alert(document)
    else:
        raise InvalidField(
            "unrecognised payload: expected 'users', a Sentinel alert ('Entities'), incident ('object'), "
            "entity ('Entity') or a Graph security alert ('evidence')"
        )
    return request


def require_targets(request: RevocationRequest) -> None:
    """Raise NoResolvableAccount, saying why, when the request names no user to act on."""
    if not request.targets:
        # Bounded: the message becomes the audit event's detail, which holds at most 1024 characters.
        reasons = bounded("; ".join(f"{s.entity}: {s.reason}" for s in request.skipped[:5]), MAX_TEXT_LENGTH)
        raise NoResolvableAccount(
            "the payload names no account with an Entra object id, UPN or on-premises SID"
            + (f" ({reasons})" if reasons else "")
        )


def _direct_request(document: Mapping[str, Any], require_reason: bool) -> RevocationRequest:
    refuse_unknown_fields(document, DIRECT_FIELDS, "a direct request")
    users = field_named(document, "users")
    single = field_named(document, "user")
    listed: list[Any] = []
    if users is not None:
        if not isinstance(users, list):
            raise InvalidField("users must be a list of object ids or UPNs")
        listed.extend(users)
    if single is not None:
        listed.append(single)
    found = _Found()
    for raw in listed:
        found.examine()
        found.add(parse_user_identifier(raw))
    dry_run = field_named(document, "dryRun")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise InvalidField("dryRun must be true or false")
    return RevocationRequest(
        targets=tuple(found.targets.values()),
        reason=read_reason(
            field_named(document, "reason"), required=require_reason, asked="these accounts should be contained"
        ),
        alert_id=_text(document, "alertId"),
        incident_id=_text(document, "incidentId"),
        dry_run=bool(dry_run),
        shape="direct",
        actions=_actions(field_named(document, "actions")),
    )


def read_reason(value: Any, *, required: bool, asked: str) -> str | None:
    """The reason a person gave, made printable and cut to MAX_REASON_LENGTH; ReasonRequired when it is
    missing or blank and `required` (REVOKE_REQUIRE_REASON). `asked` says what the reason is for."""
    if value is not None and not isinstance(value, str):
        raise InvalidField("reason must be a string")
    reason = value.strip() if value is not None else ""
    if not reason:
        if required:
            raise ReasonRequired(
                f"reason is required (REVOKE_REQUIRE_REASON): say why {asked} "
                f"(its first {MAX_REASON_LENGTH} characters are kept)"
            )
        return None
    return bounded(printable(reason), MAX_REASON_LENGTH)


def refuse_unknown_fields(document: Mapping[str, Any], fields: Sequence[str], what: str) -> None:
    """UnknownField naming the first field `document` has that `fields` does not define (any letter
    case), with the one it was likely meant as; `what` names the request in the message."""
    defined = {name.lower(): name for name in fields}
    for key in document:
        if isinstance(key, str) and key.lower() in defined:
            continue
        name = str(key)
        hint = _near_miss(name, defined)
        suggestion = f" (did you mean {hint!r}?)" if hint else ""
        raise UnknownField(f"unknown field {quoted(name)}{suggestion}; {what} takes only {', '.join(fields)}")


def _near_miss(name: str, defined: Mapping[str, str]) -> str | None:
    """The defined field `name` most likely meant: the same letters in another spelling (dry_run,
    DRY-RUN), or a close misspelling (action)."""
    squeezed = "".join(c for c in name.lower() if c.isalnum())
    if squeezed in defined:
        return defined[squeezed]
    import difflib  # only a refused field needs it: not imported by a cold start

    close = difflib.get_close_matches(squeezed[:64], list(defined), n=1, cutoff=0.75)
    return defined[close[0]] if close else None


def _actions(value: Any) -> tuple[ContainmentAction, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(name, str) for name in value):
        raise InvalidField("actions must be a non-empty list of action names")
    return parse_actions(value)


def _sentinel_alert(document: Mapping[str, Any]) -> RevocationRequest:
    found = _accounts_in(_entities_value(field_named(document, "entities")))
    name = _text(document, "alertName") or _text(document, "displayName") or _text(document, "alertDisplayName")
    alert_id = _text(document, "systemAlertId")
    return found.request(
        "sentinel_alert",
        reason=alert_reason("Sentinel alert", alert_id, name),
        alert_id=alert_id,
        incident_id=_text(document, "incidentArmId"),
    )


def _sentinel_incident(document: Mapping[str, Any]) -> RevocationRequest:
    incident = field_named(document, "object")
    properties = field_named(incident, "properties")
    properties = properties if isinstance(properties, dict) else {}
    found = _accounts_in(field_named(properties, "relatedEntities"))
    number = _text(properties, "incidentNumber")
    reason = alert_reason("Sentinel incident", number, _text(properties, "title"))
    return found.request("sentinel_incident", reason=reason, incident_id=_text(incident, "id") or number)


def _sentinel_entity(document: Mapping[str, Any]) -> RevocationRequest:
    found = _accounts_in(field_named(document, "entity"))
    incident_id = _text(document, "incidentArmId")
    # The entity trigger names no alert: its incident is what the analyst ran the playbook from.
    return found.request(
        "sentinel_entity",
        reason=alert_reason("Sentinel entity trigger on incident", incident_id, None),
        incident_id=incident_id,
    )


def _graph_security_alert(document: Mapping[str, Any]) -> RevocationRequest:
    found = _accounts_in(field_named(document, "evidence"))
    alert_id = _text(document, "id")
    return found.request(
        "graph_security_alert",
        reason=alert_reason("Microsoft Graph security alert", alert_id, _text(document, "title")),
        alert_id=alert_id,
        incident_id=_text(document, "incidentId"),
    )


def alert_reason(kind: str, identifier: str | None, name: str | None) -> str:
    """The reason an alert, incident or entity gives for itself: its kind, id and name
    ("Sentinel incident 4711: Token theft"), printable and bounded; never empty."""
    label = f"{kind} {identifier}" if identifier else kind
    if name:
        text = f"{label}: {name}"
    else:
        text = label if identifier else f"{kind} (the payload gives no name or id)"
    return bounded(printable(text), MAX_REASON_LENGTH)


def _entities_value(value: Any) -> Any:
    # The SecurityAlert table and the alert trigger carry Entities as a JSON string.
    if isinstance(value, str):
        _check_nesting(value)
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            raise InvalidField("Entities is a string that is not valid JSON") from None
    return value


def _accounts_in(entities: Any) -> _Found:
    found = _Found()
    for entity in walk(entities):
        fields = account_fields(entity)
        if fields is None:
            continue
        found.examine()
        user = account_identifier(fields)
        if isinstance(user, UserIdentifier):
            found.add(user)
        else:
            found.skip(skipped_entity(describe(fields), user))
    return found


def _text(mapping: Any, name: str) -> str | None:
    value = field_named(mapping, name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidField(f"{name} must be a string")
    return bounded(str(value), MAX_TEXT_LENGTH)


def _check_nesting(text: str) -> None:
    """Refuse JSON nested deeper than MAX_NESTING_DEPTH before the parser recurses into it.

    Strings are cut out first (a bracket in one is text), then the running depth over the
    brackets left is summed in C: a body of a million brackets costs no Python loop."""
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    if brackets and max(accumulate(map(_DEPTH_STEP.__getitem__, brackets))) > MAX_NESTING_DEPTH:
        raise MalformedPayload(f"the JSON is nested deeper than {MAX_NESTING_DEPTH} levels")
