"""Accounts an alert names by their on-premises SID, resolved to their Entra users before anything is done.

A target named by SID (revoke.intake.accounts) keeps its SID as its name in the answer, the
audit trail and the comment, which is how the alert named it; every call for it goes to the user
Graph says was synced from that account. A SID no user was synced from is `not_found`, naming
the SID, and the rest of the request goes on. The look-up that resolved it is the target's
look-up: whether it is external or synced, and the Active Directory account to act on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from revoke.containment.protection import lookup_failure
from revoke.deadline import Deadline
from revoke.errors import TransientGraphError
from revoke.identifiers import UserIdentifier
from revoke.outcomes import ActionResult, Outcome, UserLookup

logger = logging.getLogger(__name__)


class SidUsers(Protocol):
    """revoke.graph.sid_lookup.SidDirectory"""

    def find_by_sid(self, sids: Sequence[str], deadline: Deadline) -> list[UserLookup]: ...


@dataclass
class Resolution:
    """`addresses[i]` is whom Graph is asked about for target i; `decided`, targets settled already."""

    addresses: list[UserIdentifier]
    decided: dict[int, ActionResult] = field(default_factory=dict)
    lookups: dict[int, UserLookup] = field(default_factory=dict)


def no_user_synced_from(sid: str) -> ActionResult:
    return ActionResult(Outcome.NOT_FOUND, 200, detail=f"no user in Entra ID is synced from the on-premises SID {sid}")


def resolve(targets: Sequence[UserIdentifier], directory: SidUsers | None, deadline: Deadline) -> Resolution:
    """Each SID target's user; the others are addressed as named. Never raises."""
    resolution = Resolution(list(targets))
    named_by_sid = [i for i, target in enumerate(targets) if target.kind == "sid"]
    if not named_by_sid:
        return resolution
    if directory is None:
        unresolvable = ActionResult(Outcome.FAILED, detail="this deployment cannot resolve on-premises SIDs")
        resolution.decided.update(dict.fromkeys(named_by_sid, unresolvable))
        return resolution
    try:
        found = directory.find_by_sid([targets[i].value for i in named_by_sid], deadline)
    except Exception:
        logger.exception("Unexpected failure while resolving on-premises SIDs")
        found = [UserLookup(error=TransientGraphError("unexpected internal error"))] * len(named_by_sid)
    for i, lookup in zip(named_by_sid, found, strict=True):
        failure = lookup_failure(lookup, f"could not resolve the on-premises SID {targets[i].value}")
        if lookup.missing:
            resolution.decided[i] = no_user_synced_from(targets[i].value)
        elif failure is not None:
            resolution.decided[i] = failure  # fail closed: a SID we cannot resolve names no one to act on
        else:
            resolution.addresses[i] = UserIdentifier(str(lookup.object_id), "object_id")
            resolution.lookups[i] = lookup
    return resolution
