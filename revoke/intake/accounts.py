"""Account entities in a payload: finding every one, and the user each names, or why it names none.

Sentinel alerts and incidents carry accounts as entities (`Type: account`, `kind: Account`),
Graph security alerts as `userEvidence`; their fields are read case-insensitively, because
Sentinel spells the same field differently in each of its forms. Account names come from logs
an attacker can write, so an account that names no valid user is skipped with its reason.

An account with no Entra object id or UPN but an on-premises SID (Sentinel's `Sid`, Graph
evidence's `userSid`) names the user synced from that Active Directory account: Graph finds it
by `onPremisesSecurityIdentifier` (revoke.containment.resolution). A SID that is not well formed
is skipped, and nothing is looked up for it. `DOMAIN\\name` alone is never resolved: a name
means a different user in each domain, and the entity does not say which domain Graph knows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from revoke.errors import InvalidIdentifier
from revoke.identifiers import NIL_OBJECT_ID, UserIdentifier, is_object_id, parse_sid, parse_user_identifier
from revoke.untrusted import quoted

_GRAPH_USER_EVIDENCE = "#microsoft.graph.security.userevidence"
# Alert entities say "Type": "account"; incident entities say "kind": "Account" (their
# "type" is the ARM type); Graph evidence says "@odata.type".
_KIND_FIELDS = frozenset({"type", "kind", "@odata.type"})


def walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object inside `value` in document order, iteratively so depth cannot
    exhaust the stack. It visits every value of the payload, so it does as little per value
    as it can: json.loads makes only exact dicts and lists, and empty ones add nothing."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            yield item
            if item:
                push(reversed(item.values()))
        elif kind is list and item:
            push(reversed(item))


def account_fields(entity: dict[str, Any]) -> dict[str, Any] | None:
    """The fields of an account entity in any of the shapes, or None if it is not one."""
    kinds = _kinds(entity) if entity else None
    if not kinds:
        return None
    if _GRAPH_USER_EVIDENCE in kinds:
        account = field_named(entity, "userAccount")
        return dict(account) if isinstance(account, dict) else {}
    if "account" not in kinds:
        return None
    # Incident entities keep their fields under "properties" (their top-level "name" is
    # the ARM resource name, not the account's); alert entities keep them at the top.
    properties = field_named(entity, "properties")
    return dict(properties) if isinstance(properties, dict) else entity


def _kinds(entity: dict[str, Any]) -> set[str]:
    """What an entity says it is, lowercased, read as `field_named` reads each of _KIND_FIELDS.

    Called for every object in the payload, so it passes over the keys once, and lowers
    only strings: a kind field holding a large value must not cost its size each time.
    """
    found: dict[str, Any] = {}
    for key, value in entity.items():
        if isinstance(key, str):
            lowered = key.lower()
            if lowered in _KIND_FIELDS and (lowered not in found or key == lowered):
                found[lowered] = value
    return {value.lower() for value in found.values() if isinstance(value, str)}


def account_identifier(fields: Mapping[str, Any]) -> UserIdentifier | str:
    """The user an account entity names, or why it names none Graph can act on.

    The object id is preferred, unless it is the nil GUID: then the UPN names the user, and
    without a UPN the on-premises SID. A malformed object id skips the account rather than
    falling back to its UPN, because an entity whose id is garbage is not one Sentinel or
    Defender wrote; so does a malformed SID.
    """
    object_id = field_named(fields, "aadUserId") or field_named(fields, "azureAdUserId")
    placeholder = object_id == NIL_OBJECT_ID
    if object_id and not placeholder:
        if isinstance(object_id, str) and is_object_id(object_id):
            return parse_user_identifier(object_id)
        return f"the Entra object id {quoted(str(object_id))} is not a GUID"
    upn = field_named(fields, "userPrincipalName")
    if not upn:
        name = field_named(fields, "name") or field_named(fields, "accountName")
        suffix = field_named(fields, "upnSuffix")
        if isinstance(name, str) and isinstance(suffix, str) and name.strip() and suffix.strip():
            upn = f"{name}@{suffix}"
    if upn:
        try:
            return parse_user_identifier(upn)
        except InvalidIdentifier as problem:
            return f"not a valid UPN: {problem.message}"
    sid = field_named(fields, "sid") or field_named(fields, "userSid")
    if sid:
        try:
            return parse_sid(sid)
        except InvalidIdentifier as problem:
            return problem.message
    if placeholder:
        return "the Entra object id is the nil GUID, a placeholder, and there is no UPN"
    return _why_unresolvable(fields)


def _why_unresolvable(fields: Mapping[str, Any]) -> str:
    if field_named(fields, "upnSuffix") or field_named(fields, "name") or field_named(fields, "accountName"):
        if field_named(fields, "ntDomain"):
            return "on-premises account: no Entra object id, UPN suffix or SID"
        return "incomplete UPN: name or UPN suffix missing, and no Entra object id"
    return "no Entra object id, UPN, or account name"


def describe(fields: Mapping[str, Any]) -> str:
    """A label a responder can recognise the account by (made safe by `skipped_entity`)."""
    name = _first_text(fields, "name", "accountName", "displayName")
    domain = _first_text(fields, "ntDomain")
    if name is not None and domain is not None:
        return f"{domain}\\{name}"
    return (
        name
        or _first_text(fields, "userPrincipalName", "aadUserId", "azureAdUserId", "sid", "userSid", "$id")
        or "account"
    )


def _first_text(fields: Mapping[str, Any], *names: str) -> str | None:
    """The first of the fields `names` that holds a non-empty string."""
    for name in names:
        value = field_named(fields, name)
        if isinstance(value, str) and value:
            return value
    return None


def field_named(mapping: Any, name: str) -> Any:
    """Look a field up by name, ignoring case."""
    if not isinstance(mapping, (dict, Mapping)):  # dict first: the ABC check is slow, and JSON gives dicts
        return None
    if name in mapping:
        return mapping[name]
    wanted = name.lower()
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return None
