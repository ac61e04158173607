"""A release action's Graph app roles are granted exactly when REVOKE_RELEASE_ACTIONS lists it
(none by default), alongside those of the containment actions, each role once."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest
from bicep_values import Evaluator
from test_security import look_up_roles

from revoke.actions import ContainmentAction, ReleaseAction
from revoke.settings import SettingNames, Settings

RELEASE_SETS = [frozenset(chosen) for n in range(len(ReleaseAction) + 1) for chosen in combinations(ReleaseAction, n)]
CONTAINMENT_SETS = [frozenset(), frozenset({ContainmentAction.REVOKE_SESSIONS}), frozenset(ContainmentAction)]


def granted(
    templates: dict[str, dict[str, Any]], actions: list[str], release: list[str] | None, read: bool = False
) -> list[str]:
    parameters: dict[str, Any] = {
        "principalId": "11111111-2222-3333-4444-555555555555",
        "actions": actions,
        "grantActionPermissions": True,
        "grantReadPermission": read,
    }
    if release is not None:
        parameters["releaseActions"] = release
    values = Evaluator(templates["app/graph-permissions.bicep"], parameters)
    return [grant["role"] for grant in values.variable("wantedGrants")]


@pytest.mark.parametrize("read", [False, True])
@pytest.mark.parametrize("release", RELEASE_SETS, ids=lambda s: ",".join(sorted(a.value for a in s)) or "none")
@pytest.mark.parametrize("contain", CONTAINMENT_SETS, ids=lambda s: ",".join(sorted(a.value for a in s)) or "none")
def test_release_roles_are_granted_exactly_when_listed(
    templates: dict[str, dict[str, Any]],
    contain: frozenset[ContainmentAction],
    release: frozenset[ReleaseAction],
    read: bool,
) -> None:
    roles = granted(templates, [a.value.lower() for a in contain], [a.value.lower() for a in release], read)
    assert len(roles) == len(set(roles))
    wanted = {role for action in contain for role in action.app_roles}
    wanted |= {role for action in release for role in action.app_roles}
    wanted |= look_up_roles(contain, wanted) if read else set()
    assert set(roles) == wanted


def test_no_release_roles_by_default(templates: dict[str, dict[str, Any]]) -> None:
    assert granted(templates, [], None) == []
    assert Settings().release_actions == ()
    main = templates["main.bicep"]
    assert main["parameters"]["revokeReleaseActions"]["default"] == ""
    assert main["variables"]["revokeAppSettings"]["value"][SettingNames.RELEASE_ACTIONS] == "revokeReleaseActions"
    assert main["modules"]["graphPermissions"]["config"]["params"]["releaseActions"] == "enabledReleaseActions"
