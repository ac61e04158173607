"""Microsoft Defender for Identity's identity accounts in Graph v1.0: list (with `$filter` on the
on-premises SID), get, and invokeAction on the Active Directory account of a synced user.

    GET  /v1.0/security/identities/identityAccounts?$filter=onPremisesSecurityIdentifier eq '{sid}'
    GET  /v1.0/security/identities/identityAccounts/{id}
    POST /v1.0/security/identities/identityAccounts/{id}/invokeAction
         {"accountId": "...", "action": "disable", "identityProvider": "activeDirectory"}

What each page documents, and what is modelled here:

- identityAccounts resource (https://learn.microsoft.com/graph/api/resources/security-identityaccounts):
  `id`, `displayName`, `domain`, `onPremisesSecurityIdentifier`, `cloudSecurityIdentifier`,
  `isEnabled`, and `accounts`, one per identity provider (security-account: `identifier`,
  `identityProvider`, `actions`).
- List (https://learn.microsoft.com/graph/api/security-identitycontainer-list-identityaccounts):
  supports `$filter` and `$select`; its example 2 filters on onPremisesSecurityIdentifier.
  Needs SecurityIdentitiesAccount.Read.All. Global service only.
- Get (https://learn.microsoft.com/graph/api/security-identityaccounts-get).
- invokeAction (https://learn.microsoft.com/graph/api/security-identityaccounts-invokeaction):
  `disable` and `enable` for `activeDirectory` (and okta), `forcePasswordReset` for
  `activeDirectory` only; answers 200 with an invokeActionResult (`accountId`, `action`,
  `identityProvider`, `correlationId`: https://learn.microsoft.com/graph/api/resources/security-invokeactionresult).
  Needs SecurityIdentitiesActions.ReadWrite.All.

The pages disagree on the answer's shape: the resource pages name the provider
`identityProvider` (`activeDirectory`) and describe a bare entity, while every example wraps a
single result in `"value"` and names the provider `provider` (`ActiveDirectory` in the list and
get examples, `activeDirectory` in invokeAction's). `documented_examples` (the default) answers as
the examples do; off, as the resource pages describe. A client must read both.

Defender for Identity observes an account only through its sensor on the domain controllers:
with `sensor_deployed` off (or for a user in `unobserved`) the list answers no account.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from graphsim.users import sid_in_filter, synced_from
from graphsim.wire import Answer, Route, graph_error

if TYPE_CHECKING:
    from graphsim.users import SimulatedUser, Users

_ACCOUNTS = re.compile(r"^/v1\.0/security/identities/identityAccounts$")
_ACCOUNT = re.compile(r"^/v1\.0/security/identities/identityAccounts/([^/]+)$")
_INVOKE = re.compile(r"^/v1\.0/security/identities/identityAccounts/([^/]+)/invokeAction$")
# Which action each identity provider supports (invokeAction's table).
_SUPPORTED = {
    ("disable", "activeDirectory"),
    ("enable", "activeDirectory"),
    ("forcePasswordReset", "activeDirectory"),
    ("disable", "okta"),
    ("enable", "okta"),
    ("revokeAllSessions", "okta"),
}
_ACTIONS = {"disable", "enable", "forcePasswordReset", "revokeAllSessions", "requireUserToSignInAgain"}
_PROVIDERS = {"entraID", "activeDirectory", "okta"}
# Fixed, so an identity account's ids are the same on every run for the same user.
_NAMESPACE = uuid.UUID("6a1f6d0e-0b4c-4f4e-9a51-3f2e1d0c9b8a")


class DefenderIdentity:
    """The identity accounts Defender for Identity observes: one per synced user of `users`."""

    def __init__(self, users: Users) -> None:
        self._users = users
        self.sensor_deployed = True
        self.unobserved: set[str] = set()  # object ids of synced users the sensor has not seen
        self.documented_examples = True  # answer as the documented examples do (the module docstring)

    def routes(self) -> list[Route]:
        return [
            Route("GET", _ACCOUNTS, self._list),
            Route("GET", _ACCOUNT, self._get),
            Route("POST", _INVOKE, self._invoke),
        ]

    # --- the accounts -------------------------------------------------------------------
    @staticmethod
    def account_id(user: SimulatedUser) -> str:
        """The identity account's id (Defender for Identity's own, not the user's object id)."""
        return str(uuid.uuid5(_NAMESPACE, f"identity/{user.object_id}"))

    @staticmethod
    def active_directory_id(user: SimulatedUser) -> str:
        """The identifier of the identity's Active Directory account, which invokeAction takes as accountId."""
        return str(uuid.uuid5(_NAMESPACE, f"activeDirectory/{user.object_id}"))

    def _observed(self) -> list[SimulatedUser]:
        if not self.sensor_deployed:
            return []
        return [user for user in self._users.every_user() if user.synced and user.object_id not in self.unobserved]

    def _resource(self, user: SimulatedUser) -> dict[str, Any]:
        enabled = self._users.active_directory_enabled(user)
        key = "provider" if self.documented_examples else "identityProvider"
        ad_name = "ActiveDirectory" if self.documented_examples else "activeDirectory"
        entra_name = "EntraID" if self.documented_examples else "entraID"
        ad_actions = ["disable", "forcePasswordReset"] if enabled else ["enable"]
        return {
            "id": self.account_id(user),
            "displayName": user.sam_account_name,
            "domain": user.domain_name,
            "onPremisesSecurityIdentifier": user.on_premises_sid,
            "cloudSecurityIdentifier": None,
            "isEnabled": enabled,
            "accounts": [
                {key: ad_name, "identifier": self.active_directory_id(user), "actions": ad_actions},
                {key: entra_name, "identifier": user.object_id, "actions": []},
            ],
        }

    def _by_id(self, segment: str) -> SimulatedUser | None:
        wanted = unquote(segment).lower()
        return next((user for user in self._observed() if self.account_id(user) == wanted), None)

    # --- answering ----------------------------------------------------------------------
    def _list(self, match: re.Match[str], body: Any, query: str) -> Answer:
        accounts = self._observed()
        if filters := parse_qs(query).get("$filter"):
            sid = sid_in_filter(filters[0])
            if sid is None:  # the simulator's own choice (undocumented): the list page names no refusal
                return graph_error(400, "BadRequest", "Invalid filter clause.")
            accounts = synced_from(sid, accounts)
        return Answer(200, {"value": [self._resource(user) for user in accounts]})

    def _get(self, match: re.Match[str], body: Any, query: str) -> Answer:
        user = self._by_id(match.group(1))
        if user is None:
            return graph_error(404, "NotFound", "The identity account was not found.")
        resource = self._resource(user)
        return Answer(200, {"value": resource} if self.documented_examples else resource)

    def _invoke(self, match: re.Match[str], body: Any, query: str) -> Answer:
        user = self._by_id(match.group(1))
        if user is None:
            return graph_error(404, "NotFound", "The identity account was not found.")
        if not isinstance(body, dict) or set(body) != {"accountId", "action", "identityProvider"}:
            return graph_error(400, "BadRequest", "accountId, action and identityProvider are required.")
        account, action, provider = body["accountId"], body["action"], body["identityProvider"]
        if action not in _ACTIONS or provider not in _PROVIDERS or (action, provider) not in _SUPPORTED:
            return graph_error(400, "BadRequest", f"The action {action!r} is not supported for {provider!r}.")
        if provider != "activeDirectory" or not isinstance(account, str):
            return graph_error(400, "BadRequest", "Only Active Directory accounts are simulated.")
        if account.lower() != self.active_directory_id(user):
            return graph_error(400, "BadRequest", "accountId is not an account of this identity.")
        self._users.act_on_premises(user, action)
        result = {
            "accountId": account,
            "action": action,
            ("provider" if self.documented_examples else "identityProvider"): provider,
            "correlationId": str(uuid.uuid4()),
        }
        return Answer(200, {"value": result} if self.documented_examples else result)
