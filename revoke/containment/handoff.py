"""What a containment leaves for a person to finish, one step per user: the incident tasks.

Three things this service cannot finish itself, each from what Graph answered:

- a user synced from Active Directory, disabled in Entra ID, whose Active Directory account was
  not disabled (REVOKE_ONPREM_ACTIONS off, or Defender for Identity could not): the next directory
  sync enables them again, so someone must disable the Active Directory account;
- a guest: this tenant can block the guest here, but their own account lives in their home tenant
  or identity provider, which only that tenant's administrators can disable;
- an account Graph refused to disable (an administrator's, which only a role at least as
  privileged may disable: https://learn.microsoft.com/graph/api/user-update, "Who can update
  sensitive attributes"), so someone with that role must do it.

Nothing here is sent: revoke.sentinel.incident_tasks writes the steps as Sentinel incident tasks.
A step is named by a fixed key, so the task's id (per incident, user and step) is the same on
every delivery of the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from revoke.actions import ActiveDirectoryAction, ContainmentAction
from revoke.containment.verdict import ActionRecord, Kind, TargetOutcome, TargetResult, record_of
from revoke.outcomes import Outcome, UserLookup

DISABLE_IN_ACTIVE_DIRECTORY = "disable-in-active-directory"
CONTAIN_IN_HOME_TENANT = "contain-in-home-tenant"
DISABLE_BY_HAND = "disable-by-hand"
# A target that was acted on: everything else (dry run, refused, not found) asks nothing of anyone.
_ACTED_ON = frozenset(
    {TargetOutcome.CONTAINED, TargetOutcome.NOT_CONTAINED, TargetOutcome.FAILED, TargetOutcome.DEFERRED}
)


@dataclass(frozen=True)
class Handoff:
    """One step a person must take for one user: `step` is its fixed key, `title` and `description` its text."""

    user: str
    step: str
    title: str
    description: str


def handoffs(
    results: Sequence[TargetResult], kinds: Sequence[Kind], lookups: Mapping[int, UserLookup]
) -> tuple[Handoff, ...]:
    """Each target's steps for a person, in the order the targets were named."""
    found: list[Handoff] = []
    for i, result in enumerate(results):
        if result.outcome not in _ACTED_ON:
            continue
        lookup = lookups.get(i)
        found += _active_directory(result, kinds[i], lookup)
        if kinds[i].external:
            found.append(_home_tenant(result.user))
        refused = record_of(result.actions, ContainmentAction.DISABLE_ACCOUNT, Outcome.FAILED)
        if refused is not None:
            found.append(_by_hand(result.user, refused))
    return tuple(found)


def _active_directory(result: TargetResult, kind: Kind, lookup: UserLookup | None) -> list[Handoff]:
    disabled = record_of(result.actions, ContainmentAction.DISABLE_ACCOUNT, Outcome.DISABLED)
    if disabled is None or kind.synced is False:
        return []
    ad_disabled = record_of(result.actions, ActiveDirectoryAction.DISABLE, Outcome.DISABLED)
    if ad_disabled is not None:
        return []
    if kind.synced is None:
        description = (
            f"{result.user} is disabled in Entra ID, but whether the account is synced from Active Directory "
            "could not be read. If it is, the next directory sync (every 30 minutes by default) enables it "
            "again: check it, and disable the account in Active Directory too."
        )
        return [
            Handoff(result.user, DISABLE_IN_ACTIVE_DIRECTORY, f"Check whether {result.user} is synced", description)
        ]
    account = _account_name(lookup)
    ad_attempt = next((r for r in result.actions if r.action == ActiveDirectoryAction.DISABLE), None)
    if ad_attempt is not None and ad_attempt.result.outcome is Outcome.DEFERRED:
        return []  # tried again with the request (a redelivery, a retry): a task now could soon be wrong
    why = (
        f"Defender for Identity did not disable it: {ad_attempt.result.detail or ad_attempt.result.outcome.value}."
        if ad_attempt is not None
        else "This deployment does not disable Active Directory accounts (REVOKE_ONPREM_ACTIONS is not set)."
    )
    description = (
        f"{result.user} is synced from Active Directory ({account}). It is disabled in Entra ID only until the "
        f"next directory sync (every 30 minutes by default). {why} Disable the account in Active Directory and "
        "reset its password."
    )
    return [Handoff(result.user, DISABLE_IN_ACTIVE_DIRECTORY, f"Disable {account} in Active Directory", description)]


def _home_tenant(user: str) -> Handoff:
    description = (
        f"{user} is an external (guest) user. Disabling or revoking here blocks them in this tenant only; their "
        "own account is in their home tenant or identity provider, where they can still sign in. Ask that "
        "tenant's administrators to disable the account and reset its credentials."
    )
    return Handoff(user, CONTAIN_IN_HOME_TENANT, f"Ask {user}'s home tenant to contain the account", description)


def _by_hand(user: str, refused: ActionRecord) -> Handoff:
    status = f" (HTTP {refused.result.status})" if refused.result.status else ""
    description = (
        f"Graph refused to disable {user}{status}: {refused.result.detail or 'no reason given'}. An administrator's "
        "account can be disabled only by a role at least as privileged (for example Privileged Authentication "
        "Administrator); disable it by hand, then revoke its sessions."
    )
    return Handoff(user, DISABLE_BY_HAND, f"Disable {user} by hand", description)


def _account_name(lookup: UserLookup | None) -> str:
    """The Active Directory account as the look-up named it: DOMAIN\\name and SID, or what there is of them."""
    if lookup is None:
        return "its Active Directory account"
    parts = [
        part for part in (lookup.on_premises_name, lookup.on_premises_sid and f"SID {lookup.on_premises_sid}") if part
    ]
    return ", ".join(parts) or "its Active Directory account"
