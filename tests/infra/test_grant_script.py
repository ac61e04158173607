"""infra/scripts/grant-graph-permissions.sh against a recording stand-in for `az`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from itertools import combinations
from pathlib import Path

import pytest
from conftest import INFRA
from test_security import GRAPH_APP_ROLES, KIND_ROLE, USER_READ_BASIC_ALL, USER_REVOKE_SESSIONS_ALL, look_up_roles

from revoke.actions import ContainmentAction
from revoke.campaigns.request import SCOPE_APP_ROLES
from revoke.settings import Settings

SCRIPT = INFRA / "scripts" / "grant-graph-permissions.sh"
PRINCIPAL = "11111111-2222-3333-4444-555555555555"
GRAPH_SP = "99999999-8888-7777-6666-555555555555"
USER_READ_ALL = GRAPH_APP_ROLES["User.Read.All"]

# Answers Graph reads like the real service and records every call, one JSON array a line.
FAKE_AZ = r"""#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
url = args[args.index("--url") + 1]
method = args[args.index("--method") + 1]
if method == "GET" and "servicePrincipals(appId=" in url:
    print(os.environ["GRAPH_SP"])
elif method == "GET" and url.endswith("/appRoleAssignments"):
    print("\n".join(os.environ.get("EXISTING", "").split()))
"""


@pytest.fixture
def fake_az(tmp_path: Path) -> dict[str, str]:
    az = tmp_path / "az"
    az.write_text(FAKE_AZ)
    az.chmod(az.stat().st_mode | stat.S_IEXEC)
    environ = {name: value for name, value in os.environ.items() if name != "REVOKE_ACTIONS"}
    return {
        **environ,
        "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
        "AZ_LOG": str(tmp_path / "calls.log"),
        "GRAPH_SP": GRAPH_SP,
    }


def _run(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    completed = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False)
    log = Path(env["AZ_LOG"])
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return completed, calls


def _posted_roles(calls: list[list[str]]) -> list[str]:
    posts = [call for call in calls if call[call.index("--method") + 1] == "POST"]
    for call in posts:
        assert call[call.index("--url") + 1].endswith(f"/servicePrincipals/{PRINCIPAL}/appRoleAssignments")
    return [json.loads(call[call.index("--body") + 1])["appRoleId"] for call in posts]


def test_grants_revoke_and_the_full_read_to_the_principal_by_default(fake_az: dict[str, str]) -> None:
    """revokeSignInSessions alone (the default) must tell external users apart: User.Read.All, not User.ReadBasic.All."""
    completed, calls = _run(fake_az, PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    assert Settings().actions == (ContainmentAction.REVOKE_SESSIONS,)
    assert GRAPH_APP_ROLES[KIND_ROLE] == USER_READ_ALL
    assert _posted_roles(calls) == [USER_REVOKE_SESSIONS_ALL, USER_READ_ALL]
    assert USER_READ_BASIC_ALL not in _posted_roles(calls)
    first_post = next(call for call in calls if "--body" in call)
    body = json.loads(first_post[first_post.index("--body") + 1])
    assert body == {"principalId": PRINCIPAL, "resourceId": GRAPH_SP, "appRoleId": USER_REVOKE_SESSIONS_ALL}


def test_without_read_grants_only_revoke(fake_az: dict[str, str]) -> None:
    completed, calls = _run(fake_az, "--no-read", PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    assert _posted_roles(calls) == [USER_REVOKE_SESSIONS_ALL]


def test_existing_grants_are_not_posted_again(fake_az: dict[str, str]) -> None:
    env = {**fake_az, "EXISTING": f"{USER_REVOKE_SESSIONS_ALL} {USER_READ_ALL}"}
    completed, calls = _run(env, PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    assert _posted_roles(calls) == []
    assert "already granted" in completed.stdout


def test_refuses_a_principal_that_is_not_an_object_id(fake_az: dict[str, str]) -> None:
    completed, calls = _run(fake_az, "func-revoke-abc")
    assert completed.returncode != 0
    assert calls == []


ACTION_SETS = [
    frozenset(chosen) for n in range(1, len(ContainmentAction) + 1) for chosen in combinations(ContainmentAction, n)
]


def _role_ids(actions: frozenset[ContainmentAction], read: bool, campaigns: bool = False) -> set[str]:
    roles = {role for action in actions for role in action.app_roles}
    if campaigns:
        roles |= {role for scope_roles in SCOPE_APP_ROLES.values() for role in scope_roles}
    roles |= look_up_roles(actions, roles) if read else set()
    return {GRAPH_APP_ROLES[role] for role in roles}


@pytest.mark.parametrize("actions", ACTION_SETS, ids=lambda actions: ",".join(sorted(a.value for a in actions)))
@pytest.mark.parametrize("read", [True, False])
def test_grants_the_roles_of_the_listed_actions_as_the_template_does(
    fake_az: dict[str, str], actions: frozenset[ContainmentAction], read: bool
) -> None:
    """The same roles as app/graph-permissions.bicep for the same REVOKE_ACTIONS (test_permissions_follow_settings)."""
    listed = ",".join(action.value for action in actions)
    completed, calls = _run(fake_az, "--actions", listed, *([] if read else ["--no-read"]), PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    posted = _posted_roles(calls)
    assert len(posted) == len(set(posted))
    assert set(posted) == _role_ids(actions, read)


@pytest.mark.parametrize("listed", ["disableAccount", "revokeSignInSessions,disableAccount"])
def test_with_disable_account_the_basic_read_is_not_granted_beside_the_full_one(
    fake_az: dict[str, str], listed: str
) -> None:
    completed, calls = _run(fake_az, "--actions", listed, PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    posted = _posted_roles(calls)
    assert posted.count(USER_READ_ALL) == 1
    assert USER_READ_BASIC_ALL not in posted


def test_without_revocation_or_a_full_read_the_look_ups_get_the_basic_read(fake_az: dict[str, str]) -> None:
    completed, calls = _run(fake_az, "--actions", "confirmCompromised", PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    assert _posted_roles(calls) == [GRAPH_APP_ROLES["IdentityRiskyUser.ReadWrite.All"], USER_READ_BASIC_ALL]


def test_reads_the_list_as_the_function_does(fake_az: dict[str, str]) -> None:
    completed, calls = _run(fake_az, "--no-read", "--actions", " DisableAccount, ,revokesigninsessions ", PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    assert set(_posted_roles(calls)) == _role_ids(
        frozenset({ContainmentAction.DISABLE_ACCOUNT, ContainmentAction.REVOKE_SESSIONS}), read=False
    )


def test_without_actions_takes_revoke_actions_from_the_environment(fake_az: dict[str, str]) -> None:
    completed, calls = _run({**fake_az, "REVOKE_ACTIONS": "confirmCompromised"}, "--no-read", PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    assert _posted_roles(calls) == [GRAPH_APP_ROLES["IdentityRiskyUser.ReadWrite.All"]]


@pytest.mark.parametrize("actions", ["disableAcount", "revokeSignInSessions,deleteUser", " , "])
def test_refuses_an_action_the_function_would_refuse(fake_az: dict[str, str], actions: str) -> None:
    completed, calls = _run(fake_az, "--actions", actions, PRINCIPAL)
    assert completed.returncode == 2
    assert calls == []


@pytest.mark.parametrize(
    ("release", "roles"),
    [
        ("enableAccount", {"User.EnableDisableAccount.All", "User.Read.All"}),
        ("dismissRisk", {"IdentityRiskyUser.ReadWrite.All"}),
        ("none", set()),
    ],
)
def test_grants_the_roles_of_the_listed_release_actions(fake_az: dict[str, str], release: str, roles: set[str]) -> None:
    completed, calls = _run(
        fake_az, "--no-read", "--actions", "revokeSignInSessions", "--release-actions", release, PRINCIPAL
    )
    assert completed.returncode == 0, completed.stderr
    assert set(_posted_roles(calls)) == {GRAPH_APP_ROLES[r] for r in roles | {"User.RevokeSessions.All"}}


def test_refuses_an_unknown_release_action(fake_az: dict[str, str]) -> None:
    completed, calls = _run(fake_az, "--release-actions", "deleteUser", PRINCIPAL)
    assert completed.returncode == 2
    assert calls == []


@pytest.mark.parametrize("how", ["flag", "environment"])
@pytest.mark.parametrize("read", [True, False])
@pytest.mark.parametrize(
    "actions",
    [
        frozenset({ContainmentAction.REVOKE_SESSIONS, ContainmentAction.DISABLE_ACCOUNT}),
        frozenset({ContainmentAction.REVOKE_SESSIONS}),
        frozenset({ContainmentAction.CONFIRM_COMPROMISED}),
    ],
    ids=lambda actions: ",".join(sorted(a.value for a in actions)),
)
def test_campaigns_add_the_listing_roles_once(
    fake_az: dict[str, str], how: str, read: bool, actions: frozenset[ContainmentAction]
) -> None:
    """The same read roles app/graph-permissions.bicep grants when campaigns are on; User.Read.All once,
    and never User.ReadBasic.All beside it."""
    env = {**fake_az, "REVOKE_CAMPAIGNS": "true"} if how == "environment" else fake_az
    flags = ["--campaigns"] if how == "flag" else []
    listed = ",".join(sorted(action.value for action in actions))
    completed, calls = _run(env, *([] if read else ["--no-read"]), "--actions", listed, *flags, PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    posted = _posted_roles(calls)
    assert len(posted) == len(set(posted))
    assert set(posted) == _role_ids(actions, read, campaigns=True)
    assert USER_READ_BASIC_ALL not in posted


GROUP = "0f0e0d0c-0b0a-4908-8706-050403020100"
GROUP_MEMBER_READ_ALL = GRAPH_APP_ROLES["GroupMember.Read.All"]


@pytest.mark.parametrize("actions", ACTION_SETS, ids=lambda actions: ",".join(sorted(a.value for a in actions)))
@pytest.mark.parametrize("how", ["--protected-groups", "--protected-roles", "environment"])
def test_protection_by_membership_makes_memberships_readable_as_the_template_does(
    fake_az: dict[str, str], actions: frozenset[ContainmentAction], how: str
) -> None:
    """GroupMember.Read.All beside User.ReadBasic.All, unless User.Read.All is granted (test_permissions_follow_settings)."""
    listed = ",".join(action.value for action in actions)
    if how == "environment":
        completed, calls = _run({**fake_az, "REVOKE_PROTECTED_GROUPS": f" {GROUP} "}, "--actions", listed, PRINCIPAL)
    else:
        completed, calls = _run(fake_az, "--actions", listed, how, GROUP, PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    posted = set(_posted_roles(calls))
    without = _role_ids(actions, True)
    extra = set() if USER_READ_ALL in without else {GROUP_MEMBER_READ_ALL}
    assert posted == without | extra


def test_an_empty_protection_list_grants_nothing_more(fake_az: dict[str, str]) -> None:
    completed, calls = _run(fake_az, "--actions", "confirmCompromised", "--protected-groups", " , ", PRINCIPAL)
    assert completed.returncode == 0, completed.stderr
    assert GROUP_MEMBER_READ_ALL not in _posted_roles(calls)
    completed, calls = _run(
        fake_az, "--actions", "confirmCompromised", "--protected-roles", GROUP, "--no-read", PRINCIPAL
    )
    assert GROUP_MEMBER_READ_ALL not in _posted_roles(calls)


DEFENDER_FOR_IDENTITY = [
    GRAPH_APP_ROLES["SecurityIdentitiesAccount.Read.All"],
    GRAPH_APP_ROLES["SecurityIdentitiesActions.ReadWrite.All"],
]


@pytest.mark.parametrize("onprem", ["disableAccount", " disableaccount , forcePasswordReset "])
def test_onprem_actions_add_both_defender_for_identity_roles_once(fake_az: dict[str, str], onprem: str) -> None:
    completed, calls = _run(fake_az, "--onprem-actions", onprem, "--no-read", PRINCIPAL)

    assert completed.returncode == 0, completed.stderr
    assert _posted_roles(calls) == [USER_REVOKE_SESSIONS_ALL, *DEFENDER_FOR_IDENTITY]


def test_onprem_actions_come_from_the_environment_too_and_none_by_default(fake_az: dict[str, str]) -> None:
    _, none = _run(fake_az, "--no-read", PRINCIPAL)
    assert not set(DEFENDER_FOR_IDENTITY) & set(_posted_roles(none))
    Path(fake_az["AZ_LOG"]).unlink()

    completed, calls = _run({**fake_az, "REVOKE_ONPREM_ACTIONS": "disableAccount"}, "--no-read", PRINCIPAL)
    assert completed.returncode == 0
    assert _posted_roles(calls)[-2:] == DEFENDER_FOR_IDENTITY


def test_refuses_an_unknown_onprem_action(fake_az: dict[str, str]) -> None:
    completed, calls = _run(fake_az, "--onprem-actions", "lockAccount", PRINCIPAL)

    assert completed.returncode == 2 and "unknown on-premises action" in completed.stderr
    assert _posted_roles(calls) == []
