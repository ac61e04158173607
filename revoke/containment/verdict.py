"""The verdict for one user: is the identity contained, and if not, why and what would do it.

Revoking sessions ends a member's refresh tokens and browser sessions; it does not reach an
external (B2B guest) user's sessions in their home tenant, so a guest is contained only by
disabling the account in this tenant. Confirming the compromise records a risk signal and
contains nobody by itself. A user is `contained` only when every action asked for was
confirmed by Graph and one of them contains this kind of user.

A user synced from Active Directory gets accountEnabled back from there at the next directory
sync (every 30 minutes by default), so disabling them in Entra ID holds only until then: such a
user is contained by a disable only when their Active Directory account was disabled too
(REVOKE_ONPREM_ACTIONS). Revocation alone, when it is all that was asked, contains a synced
member as it does any member: it changes nothing the sync puts back. When whether the user is
synced cannot be read, a disable contains no one (docs/CONTAINED.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from revoke.actions import ActiveDirectoryAction, ContainmentAction
from revoke.graph.answers import EXTERNAL_MARKER
from revoke.outcomes import ActionResult, Outcome, UserLookup

EXTERNAL_NOT_CONTAINED = (
    "external (guest) user: revocation does not reach a guest; disable the account in this tenant "
    "(disableAccount) to contain them"
)
# What "contained" means for a member whose sessions were revoked and account left enabled
# (docs/CONTAINED.md has Microsoft's sources).
REVOCATION_ALONE = (
    "sessions revoked: refresh tokens and session cookies no longer work, but access tokens already issued "
    "stay valid until they expire (60-90 minutes; services using continuous access evaluation react within "
    "minutes); revocation does not change a stolen password, so disable the account too (disableAccount)"
)
KIND_UNKNOWN = "could not tell whether the user is external, and revoking sessions does not contain an external user"
NOTHING_CONTAINING = "no action that contains the user was asked for (confirmCompromised alone does not)"
# A synced user disabled in Entra ID only (the Entra Connect sync schedule:
# https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler).
DISABLED_UNTIL_SYNC = (
    "synced from Active Directory: the account is disabled in Entra ID only until the next directory sync "
    "(every 30 minutes by default), which enables it again; it must be disabled in Active Directory"
)
ONPREM_OFF_HINT = "REVOKE_ONPREM_ACTIONS=disableAccount has Defender for Identity do it"
SYNC_UNKNOWN = (
    "could not read whether the account is synced from Active Directory, and a directory sync enables a "
    "synced account again: the disable is not known to hold"
)
# When several actions did not succeed, the one a responder must act on first.
_PRESSING = (Outcome.DEFERRED, Outcome.FAILED, Outcome.REFUSED, Outcome.NOT_FOUND)
_URGENCY = {outcome: rank for rank, outcome in enumerate(_PRESSING)}


class TargetOutcome(StrEnum):
    CONTAINED = "contained"
    NOT_CONTAINED = "not_contained"  # every action succeeded, but none of them contains this kind of user
    DRY_RUN = "dry_run"
    REFUSED = "refused"
    NOT_FOUND = "not_found"
    DEFERRED = "deferred"
    FAILED = "failed"
    RELEASED = "released"  # a release: Graph confirmed every release action asked for


@dataclass(frozen=True)
class ActionRecord:
    """One action's result for one target; `action` names the Graph action used."""

    action: str
    result: ActionResult

    def as_json(self) -> dict[str, Any]:
        result = self.result
        return {
            "action": self.action,
            "outcome": str(result.outcome),
            "graphStatus": result.status,
            "detail": result.detail,
        }


@dataclass(frozen=True)
class TargetResult:
    user: str
    outcome: TargetOutcome
    actions: tuple[ActionRecord, ...]
    detail: str | None = None

    @property
    def contained(self) -> bool:
        return self.outcome is TargetOutcome.CONTAINED

    @property
    def retry_after(self) -> float | None:
        waits = [r.result.retry_after for r in self.actions if r.result.outcome is Outcome.DEFERRED]
        return max((w for w in waits if w is not None), default=None)

    @property
    def graph_status(self) -> int | None:
        """The Graph status of the action that decided the outcome (the last one, when all succeeded)."""
        return self._deciding.result.status if self.actions else None

    @property
    def _deciding(self) -> ActionRecord:
        return most_pressing(self.actions) or self.actions[-1]

    def as_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "outcome": str(self.outcome),
            "contained": self.contained,
            "graphStatus": self.graph_status,
            "detail": self.detail,
            "actions": [record.as_json() for record in self.actions],
        }


def is_external(name: str) -> bool:
    """Whether the name alone shows a B2B guest (#EXT#); the rest is learned from Graph (revoke.graph.answers)."""
    return EXTERNAL_MARKER in name.lower()


def most_pressing(records: Sequence[ActionRecord]) -> ActionRecord | None:
    """The first record of the most pressing outcome among those that did not succeed (_PRESSING); None: none."""
    deciding: ActionRecord | None = None
    for record in records:
        urgency = _URGENCY.get(record.result.outcome)
        if urgency is not None and (deciding is None or urgency < _URGENCY[deciding.result.outcome]):
            deciding = record
    return deciding


def unfinished(user: str, records: Sequence[ActionRecord]) -> TargetResult | None:
    """The result when nothing was sent (dry run) or an action did not succeed (the most pressing
    outcome, with that action's detail); None when every action succeeded and the verdict is the caller's."""
    outcomes = [record.result.outcome for record in records]
    if outcomes and all(outcome is Outcome.DRY_RUN for outcome in outcomes):
        return TargetResult(user, TargetOutcome.DRY_RUN, tuple(records), "dry run: nothing sent to Graph")
    deciding = most_pressing(records)
    if deciding is not None:
        detail = f"{deciding.action}: {deciding.result.detail}" if deciding.result.detail else deciding.action
        return TargetResult(user, TargetOutcome(deciding.result.outcome.value), tuple(records), detail)
    return None


@dataclass(frozen=True)
class Kind:
    """What the verdict must know of a target beyond its actions' results: whether another tenant
    or identity provider signs them in, and whether they are synced from Active Directory (None:
    it could not be told)."""

    external: bool | None = False
    synced: bool | None = False


def kind_of(lookup: UserLookup | None, *, external: bool | None) -> Kind:
    """A target's Kind from its look-up (None: not looked up, or no clean answer)."""
    synced = lookup.synced if lookup is not None and lookup.answered else None
    return Kind(external, synced)


def onprem_hint(onprem_actions: bool) -> str | None:
    """For a synced user disabled in Entra ID only, the setting that would disable them in Active
    Directory too; None when the request takes Active Directory actions."""
    return None if onprem_actions else ONPREM_OFF_HINT


def judge(
    user: str,
    records: Sequence[ActionRecord],
    *,
    external: bool | None,
    withheld: str | None = None,
    synced: bool | None = False,
    onprem_hint: str | None = None,
) -> TargetResult:
    """The target's result once every action asked for has its own; `external`, `synced` None: unknown.

    `withheld` says why an action that would contain a guest was not asked for (the caller
    may not take it); a guest left not contained carries it in its detail. `synced` matters
    only when the account was disabled: see the module docstring.
    """
    unsettled = unfinished(user, records)
    if unsettled is not None:
        return unsettled
    outcomes = [record.result.outcome for record in records]
    if _disabled_in_entra_only(records) and synced is not False:
        detail = SYNC_UNKNOWN if synced is None else DISABLED_UNTIL_SYNC
        detail = f"{detail} ({onprem_hint})" if synced and onprem_hint else detail
        return TargetResult(user, TargetOutcome.NOT_CONTAINED, tuple(records), detail)
    containing = {Outcome.REVOKED, Outcome.DISABLED} if external is False else {Outcome.DISABLED}
    if containing & set(outcomes):
        alone = Outcome.DISABLED not in outcomes
        return TargetResult(user, TargetOutcome.CONTAINED, tuple(records), REVOCATION_ALONE if alone else None)
    if Outcome.REVOKED in outcomes:
        detail = EXTERNAL_NOT_CONTAINED if external else KIND_UNKNOWN
        detail = f"{detail} ({withheld})" if withheld else detail
    else:
        detail = NOTHING_CONTAINING
    return TargetResult(user, TargetOutcome.NOT_CONTAINED, tuple(records), detail)


def record_of(records: Sequence[ActionRecord], action: str, outcome: Outcome) -> ActionRecord | None:
    """The record of `action` with `outcome`, if the target has one."""
    return next((r for r in records if r.action == action and r.result.outcome is outcome), None)


def _disabled_in_entra_only(records: Sequence[ActionRecord]) -> bool:
    """Entra ID confirmed the disable, and Defender for Identity did not disable the Active Directory account."""
    disabled = record_of(records, ContainmentAction.DISABLE_ACCOUNT, Outcome.DISABLED)
    return disabled is not None and record_of(records, ActiveDirectoryAction.DISABLE, Outcome.DISABLED) is None
