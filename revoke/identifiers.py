"""Validated user identifiers: an Entra object id (GUID) or a user principal name; and, from an
alert's account entity, the on-premises security identifier (SID) of a user synced from Active
Directory, which Graph resolves to its Entra user (revoke.containment.resolution)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from revoke.errors import InvalidIdentifier
from revoke.untrusted import quoted

MAX_IDENTIFIER_LENGTH = 256
# A GUID of zeros names no user: Microsoft's sample alerts put it where an object id goes.
NIL_OBJECT_ID = "00000000-0000-0000-0000-000000000000"
# Entra ID allows these in the part before "@"; guests look like bob_fabrikam.com#EXT#.
UPN_LOCAL_CHARACTERS = frozenset(string.ascii_letters + string.digits + "'.-_!#^~+")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# A security identifier as Windows writes it: S-1, the identifier authority, 1-15 sub-authorities
# (https://learn.microsoft.com/windows-server/identity/ad-ds/manage/understand-security-identifiers).
_SID = re.compile(r"S-1-(\d{1,15})((?:-\d{1,10}){1,15})")
MAX_IDENTIFIER_AUTHORITY = 2**48 - 1
MAX_SUB_AUTHORITY = 2**32 - 1


@dataclass(frozen=True)
class UserIdentifier:
    """One user Graph can address: `value` as given, `key` for comparing."""

    value: str
    kind: Literal["object_id", "upn", "sid"]

    @property
    def key(self) -> str:
        # Object ids and UPNs are both case-insensitive in Entra ID.
        return self.value.lower()

    @property
    def path_segment(self) -> str:
        """Exactly one URL path segment: '#' becomes %23 and nothing can add a '/'."""
        if self.kind == "sid":
            raise ValueError("a SID names no Graph path: resolve it to its user first")
        if self.kind == "object_id" and is_object_id(self.value):
            return self.value  # hex digits and hyphens: nothing to encode
        return quote(self.value, safe="@")


def parse_user_identifier(raw: object) -> UserIdentifier:
    """Return the identifier `raw` names, or raise InvalidIdentifier saying why not."""
    if not isinstance(raw, str):
        raise InvalidIdentifier(f"a user must be a string, not {type(raw).__name__}")
    # The error messages quote the value; the common, valid case never builds that quote.
    if len(raw) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifier(f"user {quoted(raw)} is longer than {MAX_IDENTIFIER_LENGTH} characters")
    if raw == NIL_OBJECT_ID:
        raise InvalidIdentifier(f"user {quoted(raw)} is the nil GUID, a placeholder that names no user")
    if is_object_id(raw):
        return UserIdentifier(raw.lower(), "object_id")
    if raw.count("@") != 1:
        raise InvalidIdentifier(f"user {quoted(raw)} is neither an object id (GUID) nor a UPN with one '@'")
    local, domain = raw.split("@")
    if not local or not domain:
        raise InvalidIdentifier(f"user {quoted(raw)} is an incomplete UPN")
    if not UPN_LOCAL_CHARACTERS.issuperset(local):
        bad = "".join(sorted({c for c in local if c not in UPN_LOCAL_CHARACTERS}))
        raise InvalidIdentifier(f"user {quoted(raw)} has characters a UPN cannot hold: {quoted(bad)}")
    if local.startswith(".") or local.endswith("."):
        raise InvalidIdentifier(f"user {quoted(raw)} has a UPN that starts or ends with '.'")
    if not _is_dns_name(domain):
        raise InvalidIdentifier(f"user {quoted(raw)} has a domain that is not a DNS name")
    return UserIdentifier(raw, "upn")


def parse_sid(raw: object) -> UserIdentifier:
    """The SID `raw` holds (its `S-1-` prefix in any case), or InvalidIdentifier saying why not."""
    if not isinstance(raw, str):
        raise InvalidIdentifier(f"an on-premises SID must be a string, not {type(raw).__name__}")
    sid = raw.strip().upper()
    if len(sid) > MAX_IDENTIFIER_LENGTH or not is_sid(sid):
        raise InvalidIdentifier(f"the on-premises SID {quoted(raw)} is not a security identifier (S-1-5-21-...)")
    return UserIdentifier(sid, "sid")


def is_object_id(text: str) -> bool:
    return GUID.fullmatch(text) is not None


def is_sid(text: str) -> bool:
    """Whether `text` is a well-formed security identifier (S-1-5-21-...), each part in its range."""
    match = _SID.fullmatch(text)
    if match is None:
        return False
    sub_authorities = match.group(2).split("-")[1:]
    return int(match.group(1)) <= MAX_IDENTIFIER_AUTHORITY and all(
        int(part) <= MAX_SUB_AUTHORITY for part in sub_authorities
    )


def _is_dns_name(domain: str) -> bool:
    labels = domain.split(".")
    return (
        len(domain) <= 253
        and len(labels) >= 2
        and all(_DNS_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )
