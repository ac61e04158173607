"""The look-up reads where a user is mastered: onPremisesSyncEnabled and the Active Directory
account's SID, sAMAccountName and domain, in the same request as the rest, and only what Graph said.
"""

from __future__ import annotations

from typing import Any

import pytest

from graphsim import GraphSimulator
from revoke.app.runtime import managed_identity_credential
from revoke.deadline import Deadline
from revoke.graph.answers import user_lookup
from revoke.graph.client import GraphClient
from revoke.identifiers import UserIdentifier, is_sid
from revoke.settings import Settings
from tests.conftest import ADELE

USER = {"id": ADELE[1], "userPrincipalName": ADELE[0]}
SID = "S-1-5-21-1004336348-1177238915-682003330-512"


def lookup_of(body: dict[str, Any]) -> Any:
    return user_lookup(body)


@pytest.mark.parametrize(
    ("sync", "synced"),
    [(True, True), (None, False), (False, False), ("true", None), (1, None)],
)
def test_only_on_premises_sync_enabled_true_reads_as_synced(sync: Any, synced: bool | None) -> None:
    assert lookup_of({**USER, "onPremisesSyncEnabled": sync}).synced is synced


def test_an_answer_without_on_premises_sync_enabled_cannot_tell() -> None:
    lookup = lookup_of(USER)

    assert lookup.synced is None
    assert (lookup.on_premises_sid, lookup.on_premises_name) == (None, None)


def test_the_active_directory_account_is_read_when_graph_gives_it() -> None:
    lookup = lookup_of(
        {
            **USER,
            "onPremisesSyncEnabled": True,
            "onPremisesSecurityIdentifier": SID.lower(),  # SIDs compare without regard to case
            "onPremisesSamAccountName": "adelev",
            "onPremisesDomainName": "corp.contoso.com",
        }
    )

    assert (lookup.synced, lookup.on_premises_sid, lookup.on_premises_name) == (
        True, SID, "corp.contoso.com\\adelev",
    )  # fmt: skip


@pytest.mark.parametrize(
    "sid",
    [
        "S-1-5-21-1-2-3-x",
        "S-1-5",
        "S-1-5-21-4294967296",
        "S-2-5-21-1",
        "S-1-5-21-1-2-3-4\n",
        21,
        None,
        "S-1-" + "1-" * 20,
    ],
)
def test_a_sid_that_is_not_well_formed_is_left_out(sid: Any) -> None:
    lookup = lookup_of({**USER, "onPremisesSyncEnabled": True, "onPremisesSecurityIdentifier": sid})

    assert (lookup.synced, lookup.on_premises_sid) == (True, None)


def test_sid_shapes() -> None:
    assert is_sid(SID) and is_sid("S-1-5-18") and is_sid("S-1-5-21-4294967295-1-2-3")
    assert not is_sid("s-1-5-18") and not is_sid("S-1-5-21-4294967296") and not is_sid("S-1-5-")


def test_one_look_up_asks_for_the_on_premises_properties_beside_the_others(app: GraphSimulator) -> None:
    graph = app
    synced = graph.add_user("pradeep.gupta@contoso.com", synced=True)
    settings = Settings.from_environment()
    client = GraphClient(settings, managed_identity_credential(settings))

    [cloud, on_premises] = client.lookup_all(
        [UserIdentifier(ADELE[1], "object_id"), UserIdentifier(synced.object_id, "object_id")], Deadline(5)
    )

    assert [r.method for r in graph.graph_requests() if not r.in_batch] == ["GET"]  # one look-up of the two
    assert (cloud.synced, cloud.external, cloud.on_premises_sid) == (False, False, None)
    assert (on_premises.synced, on_premises.on_premises_sid) == (True, synced.on_premises_sid)
    assert on_premises.on_premises_name == "corp.contoso.com\\pradeep.gupta"
