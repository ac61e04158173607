"""The tenant's users and what Graph does to one: look it up (GET), disable or enable it (PATCH),
revoke its sessions (revokeSignInSessions, beta invalidateAllRefreshTokens); and, for a user synced
from on-premises Active Directory, its Active Directory account and the directory sync that copies
that account's state over the cloud's.

Graph accepts `accountEnabled` on a synced user: the error "Unable to update the specified
properties for on-premises mastered Directory Sync objects" is documented for other attributes,
not this one, and "Revoke user access in an emergency in Microsoft Entra ID"
(https://learn.microsoft.com/entra/identity/users/users-revoke-access, "Revoke access for a user
in the hybrid environment"), for "a hybrid environment with on-premises Active Directory
synchronized with Microsoft Entra ID", has the admin "Disable the user in Microsoft Entra ID"
(`Update-MgUser -AccountEnabled:$false`, a PATCH of the user) besides disabling it in Active
Directory. The change holds only until the next directory sync: Entra Connect synchronizes
`accountEnabled` from Active Directory (its row in "Microsoft Entra Connect Sync: Attributes
synchronized to Microsoft Entra ID", "Defines if an account is enabled":
https://learn.microsoft.com/entra/identity/hybrid/connect/reference-connect-sync-attributes-synchronized),
so the next sync puts the on-premises value back. No Microsoft page found says that last step in
so many words; the Azure-Sentinel playbook Block-OnPremADUser does ("any changes, such as
disabling a user in the cloud (Azure AD), are overridden by the setting defined in the on-prem AD
during the next sync": https://github.com/Azure/Azure-Sentinel/tree/master/Playbooks/Block-OnPremADUser).
Microsoft Entra Connect runs that sync every 30 minutes by default ("By default every 30 minutes a
synchronization cycle is run":
https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler);
here it runs when a test calls `directory_sync()` (or POSTs DIRECTORY_SYNC_PATH).

Which users a look-up by `$filter` names (`id` or `userPrincipalName`, `eq` or `in`), served as a listing by
graphsim.directory.

The filter, as Microsoft Graph documents it:
- `id` and `userPrincipalName` support `$filter` with `eq` and `in` by default, without the
  ConsistencyLevel header of advanced queries (learn.microsoft.com/graph/api/resources/user,
  "Properties"; learn.microsoft.com/graph/aad-advanced-queries: "The `in` operator is supported
  by default whenever `eq` operator is supported by default").
- `in` takes at most 15 values by default (learn.microsoft.com/graph/known-issues, "Some
  limitations apply to query parameters": "the request is limited to 15 expressions in the
  filter clause by default"). Graph's error for more is not documented: this simulator answers
  400 Request_UnsupportedQuery.
- A value is a single-quoted string literal; a quote inside it doubles
  (learn.microsoft.com/graph/query-parameters, "Escaping single quotes").
- Directory strings compare without regard to case, and each user matches a filter once,
  however many of its values name them.

A revocation resets the user's `signInSessionsValidFromDateTime` to the time of the call
("by resetting the signInSessionsValidFromDateTime user property to the current date-time":
learn.microsoft.com/graph/api/user-revokesigninsessions); a GET shows it, and `accountEnabled`,
when `$select` names them (learn.microsoft.com/graph/api/resources/user).
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from graphsim.wire import Answer, Route, graph_error

if TYPE_CHECKING:
    from graphsim.server import GraphSimulator

_ACTION_PATH = re.compile(r"^/(v1\.0|beta)/users/([^/]+)/(revokeSignInSessions|invalidateAllRefreshTokens)$")
USER_PATH = re.compile(r"^/(v1\.0|beta)/users/([^/]+)$")
# Not a Graph path: the simulator's control for one Entra Connect sync cycle (graphsim.server).
DIRECTORY_SYNC_PATH = "/graphsim/directorySync"
ON_PREMISES_DOMAIN = "corp.contoso.com"
USERS_PATH = re.compile(r"^/(v1\.0|beta)/users$")
MAX_IN_VALUES = 15  # Graph: "limited to 15 expressions in the filter clause by default"
FILTERABLE = {"id": "object_id", "userPrincipalName": "user_principal_name"}
_FILTER = re.compile(r"\s*(id|userPrincipalName)\s+(eq|in)\s+(.*?)\s*", re.DOTALL)
_SID_FILTER = re.compile(r"onPremisesSecurityIdentifier eq '((?:[^']|'')*)'")
DEFAULT_PROPERTIES = ("id", "userPrincipalName")  # what this simulator answers without $select


def sid_in_filter(text: str) -> str | None:
    """The SID `onPremisesSecurityIdentifier eq '<sid>'` names (a doubled quote undone, lower-cased);
    None for any other filter."""
    wanted = _SID_FILTER.fullmatch(text)
    return None if wanted is None else wanted.group(1).replace("''", "'").lower()


def synced_from(sid: str, users: Iterable[SimulatedUser]) -> list[SimulatedUser]:
    """The users synced from the Active Directory account `sid` (lower-cased) names."""
    return [user for user in users if (user.on_premises_sid or "").lower() == sid]


def selected_names(query: str) -> Sequence[str]:
    """The properties a query's `$select` names; without one, the default set."""
    selected = parse_qs(query).get("$select")
    return selected[0].split(",") if selected else DEFAULT_PROPERTIES


class FilterRefused(ValueError):
    """A `$filter` Graph answers 400 for; the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_user_filter(text: str) -> tuple[str, list[str]]:
    """The property and the values of `id|userPrincipalName eq 'v'` or `... in ('v1','v2',...)`."""
    match = _FILTER.fullmatch(text)
    if match is None:
        raise FilterRefused("BadRequest", "Invalid filter clause")
    name, operator, operand = match.groups()
    if operator == "eq":
        value, rest = _literal(operand, 0)
        if operand[rest:].strip():
            raise FilterRefused("BadRequest", "Invalid filter clause")
        return name, [value]
    if not (operand.startswith("(") and operand.endswith(")")):
        raise FilterRefused("BadRequest", "Invalid filter clause")
    values: list[str] = []
    inner, position = operand[1:-1], 0
    while True:
        value, position = _literal(inner, position)
        values.append(value)
        position = _skip_spaces(inner, position)
        if position == len(inner):
            break
        if inner[position] != ",":
            raise FilterRefused("BadRequest", "Invalid filter clause")
        position += 1
    if len(values) > MAX_IN_VALUES:
        message = f"Too many values in the 'in' operator: {len(values)}. Max allowed: {MAX_IN_VALUES}."
        raise FilterRefused("Request_UnsupportedQuery", message)
    return name, values


def _literal(text: str, position: int) -> tuple[str, int]:
    """The string literal starting at `position` (spaces skipped), and the position after it."""
    position = _skip_spaces(text, position)
    if position >= len(text) or text[position] != "'":
        raise FilterRefused("BadRequest", "Invalid filter clause")
    parts: list[str] = []
    position += 1
    while (quote_at := text.find("'", position)) >= 0:
        parts.append(text[position:quote_at])
        if text[quote_at + 1 : quote_at + 2] != "'":
            return "'".join(parts), quote_at + 1
        position = quote_at + 2  # a quote inside the value, doubled
    raise FilterRefused("BadRequest", "Invalid filter clause")


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


@dataclass(frozen=True)
class SimulatedUser:
    object_id: str
    user_principal_name: str
    synced: bool = False  # mastered in on-premises Active Directory, kept in step by directory sync
    # Where the user signs in, as Graph's user resource says it (see the kinds in graphsim.faults).
    user_type: str = "Member"
    external_user_state: str | None = None
    creation_type: str | None = None
    identities: tuple[tuple[str, str], ...] = ()  # (signInType, issuer); empty: this tenant's own
    # A synced user's Active Directory account, as Entra Connect copies it onto the user resource.
    on_premises_sid: str | None = None
    sam_account_name: str | None = None
    domain_name: str | None = None

    def properties(self) -> dict[str, Any]:
        """The user resource's properties this simulator knows, by their Graph names.

        The user resource documents onPremisesSyncEnabled as `true` for a user synced from an
        on-premises directory and `null` for one never synced, and the onPremises* names as
        populated only for synced users (https://learn.microsoft.com/graph/api/resources/user).
        """
        identities = self.identities or (("userPrincipalName", "contoso.onmicrosoft.com"),)
        return {
            "id": self.object_id,
            "userPrincipalName": self.user_principal_name,
            "onPremisesSyncEnabled": True if self.synced else None,
            "onPremisesSecurityIdentifier": self.on_premises_sid,
            "onPremisesSamAccountName": self.sam_account_name,
            "onPremisesDomainName": self.domain_name,
            "userType": self.user_type,
            "externalUserState": self.external_user_state,
            "creationType": self.creation_type,
            "identities": [
                {
                    "signInType": kind,
                    "issuer": issuer,
                    "issuerAssignedId": None if kind == "federated" else self.user_principal_name,
                }
                for kind, issuer in identities
            ],
        }


def new_sid(rng: random.Random) -> str:
    """A domain account's security identifier: S-1-5-21, three sub-authorities naming the domain, a RID."""
    return f"S-1-5-21-{rng.getrandbits(32)}-{rng.getrandbits(32)}-{rng.getrandbits(32)}-{rng.randint(1100, 99999)}"


def user_segment(path: str) -> str | None:
    """The decoded user segment of a /users/{id} path (an action on the user included), else None."""
    match = _ACTION_PATH.match(path) or USER_PATH.match(path)
    return unquote(match.group(2)) if match else None


def filter_values(path: str, query: str) -> tuple[str, ...]:
    """The values a look-up's `$filter` on /users names (none for another request, or a filter Graph refuses)."""
    filters = parse_qs(query).get("$filter") if USERS_PATH.match(path) else None
    try:
        return tuple(parse_user_filter(filters[0])[1]) if filters else ()
    except FilterRefused:
        return ()


class Users:
    """The users of the simulated tenant, found by object id or UPN, and what was done to them."""

    def __init__(self, simulator: GraphSimulator, *, respond_no_content: bool = False) -> None:
        self._sim = simulator
        self.respond_no_content = respond_no_content  # a revocation answers 204 instead of 200 {"value": true}
        self.revocations: Counter[str] = Counter()  # object id -> revocations performed
        self.disabled: set[str] = set()  # object ids of accounts Graph disabled
        self.enabled: Counter[str] = Counter()  # object id -> times Graph enabled the account again
        # A synced user's Active Directory account: disabled on premises (the directory sync copies
        # this over the cloud's accountEnabled), and password resets forced at next sign-in.
        self.active_directory_disabled: set[str] = set()  # object ids
        self.password_resets: Counter[str] = Counter()  # object id -> resets forced
        self.directory_syncs = 0
        self.sessions_valid_from: dict[str, str] = {}  # object id -> signInSessionsValidFromDateTime
        self._by_key: dict[str, SimulatedUser] = {}  # lower-cased object id and UPN -> the user
        self._sids = random.Random(22)
        self._lock = threading.Lock()

    def add(self, user_principal_name: str, object_id: str | None, *, synced: bool, **kind: Any) -> SimulatedUser:
        if "#ext#" in user_principal_name.lower() and not kind:
            kind = {
                "user_type": "Guest",
                "external_user_state": "Accepted",
                "creation_type": "Invitation",
                "identities": (("federated", "ExternalAzureAD"),),
            }
        user = SimulatedUser(object_id or str(uuid.uuid4()), user_principal_name, synced, **kind)
        if synced and user.on_premises_sid is None:
            with self._lock:
                sid = new_sid(self._sids)
            local = user_principal_name.split("@")[0][:20]  # sAMAccountName holds at most 20 characters
            user = replace(user, on_premises_sid=sid, sam_account_name=local, domain_name=ON_PREMISES_DOMAIN)
        with self._lock:
            self._by_key[user.object_id.lower()] = user
            self._by_key[user_principal_name.lower()] = user
        return user

    def ids(self) -> list[str]:
        with self._lock:
            return list(dict.fromkeys(user.object_id for user in self._by_key.values()))

    def find(self, key: str) -> SimulatedUser | None:
        with self._lock:
            return self._by_key.get(key.lower())

    def every_user(self) -> list[SimulatedUser]:
        with self._lock:
            return list({user.object_id: user for user in self._by_key.values()}.values())

    def active_directory_enabled(self, user: SimulatedUser) -> bool:
        with self._lock:
            return user.object_id not in self.active_directory_disabled

    def act_on_premises(self, user: SimulatedUser, action: str) -> None:
        """What Defender for Identity does to the user's Active Directory account: disable, enable, forcePasswordReset."""
        with self._lock:
            if action == "disable":
                self.active_directory_disabled.add(user.object_id)
            elif action == "enable":
                self.active_directory_disabled.discard(user.object_id)
            elif action == "forcePasswordReset":
                self.password_resets[user.object_id] += 1

    def directory_sync(self) -> dict[str, list[str]]:
        """One Entra Connect sync cycle: each synced user's accountEnabled becomes its Active Directory
        account's. The object ids whose cloud value changed, by what it became."""
        changed: dict[str, list[str]] = {"enabled": [], "disabled": []}
        with self._lock:
            self.directory_syncs += 1
            for user in {user.object_id: user for user in self._by_key.values()}.values():
                if not user.synced:
                    continue
                on_premises_disabled = user.object_id in self.active_directory_disabled
                if on_premises_disabled and user.object_id not in self.disabled:
                    self.disabled.add(user.object_id)
                    changed["disabled"].append(user.object_id)
                elif not on_premises_disabled and user.object_id in self.disabled:
                    self.disabled.discard(user.object_id)
                    changed["enabled"].append(user.object_id)
        return changed

    def matching(self, name: str, values: list[str]) -> list[SimulatedUser]:
        """The users whose property `name` (`id` or `userPrincipalName`) is one of `values`, each once."""
        attribute = FILTERABLE[name]
        found: dict[str, SimulatedUser] = {}
        with self._lock:  # by the index, not a scan: a benchmark's tenant holds thousands of users
            for value in values:
                user = self._by_key.get(value.lower())
                if user is not None and getattr(user, attribute).lower() == value.lower():
                    found.setdefault(user.object_id, user)
        return list(found.values())

    def selected(self, user: SimulatedUser, query: str) -> dict[str, Any]:
        """As Graph: the properties `$select` names (null where unset); without it, the default set."""
        return self.select(user, selected_names(query))

    def select(self, user: SimulatedUser, names: Sequence[str]) -> dict[str, Any]:
        """The properties `names` of `user` (null where unset)."""
        properties = self.properties_of(user)
        return {name: properties.get(name) for name in names}

    def properties_of(self, user: SimulatedUser) -> dict[str, Any]:
        """Every property of `user` the simulator knows, its state included (enabled, sessions valid from)."""
        with self._lock:
            return {
                **user.properties(),
                "accountEnabled": user.object_id not in self.disabled,
                "signInSessionsValidFromDateTime": self.sessions_valid_from.get(user.object_id),
            }

    def routes(self) -> list[Route]:
        return [
            Route("POST", _ACTION_PATH, self._revoke),
            Route("GET", USER_PATH, self._get),
            Route("PATCH", USER_PATH, self._update),
        ]

    def _revoke(self, match: re.Match[str], body: Any, query: str) -> Answer:
        version, segment, action = match.groups()
        if action == "invalidateAllRefreshTokens" and version != "beta":
            return graph_error(400, "BadRequest", "Resource not found for the segment.")
        user = self.find(unquote(segment))
        if user is None:
            return not_found(segment)
        with self._lock:
            self.revocations[user.object_id] += 1
            self.sessions_valid_from[user.object_id] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.respond_no_content:
            return Answer(204)
        return Answer(200, {"@odata.context": f"{self._sim.url}/{version}/$metadata#Edm.Boolean", "value": True})

    def _get(self, match: re.Match[str], body: Any, query: str) -> Answer:
        segment = match.group(2)
        user = self.find(unquote(segment))
        if user is None:
            return not_found(segment)
        return Answer(200, self.selected(user, query))

    def _update(self, match: re.Match[str], body: Any, query: str) -> Answer:
        segment = match.group(2)
        if isinstance(body, dict) and body.get("accountEnabled") is True and len(body) == 1:
            return self._enable(segment)
        if not isinstance(body, dict) or body.get("accountEnabled") is not False or len(body) != 1:
            return graph_error(400, "BadRequest", "only accountEnabled is simulated")
        user = self.find(unquote(segment))
        if user is None:
            return not_found(segment)
        # A synced user's too: accepted, and undone by the next directory_sync() unless the
        # Active Directory account is disabled as well (this module's docstring).
        with self._lock:
            self.disabled.add(user.object_id)
        return Answer(204)

    def _enable(self, segment: str) -> Answer:
        """`PATCH /users/{id}` `{"accountEnabled": true}`: the account of a released user signs in again."""
        user = self.find(unquote(segment))
        if user is None:
            return not_found(segment)
        with self._lock:
            self.disabled.discard(user.object_id)
            self.enabled[user.object_id] += 1
        return Answer(204)


def not_found(segment: str) -> Answer:
    """Graph's 404 for a user segment (percent-encoded as it came) that names no user."""
    return graph_error(404, "Request_ResourceNotFound", f"Resource '{unquote(segment)}' does not exist.")
