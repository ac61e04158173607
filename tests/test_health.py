"""GET /api/health and `python -m revoke check`: is the deployment ready to contain?

They ask for a token the way an invocation does and read the app roles in it, so a missing
permission is named before the first incident needs it; they never return the token.
"""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from graphsim import Fault, GraphSimulator
from revoke.app.cli import EXIT_NOT_ALL_CONTAINED, EXIT_OK, main
from revoke.app.readiness import BUDGET_OFF_WARNING, KEY_AUTH_WARNING, permissions_in
from revoke.app.triggers import health_http
from tests.conftest import body_of

WORKSPACE = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/soc-rg/providers/Microsoft.OperationalInsights/workspaces/soc-workspace"


def health() -> func.HttpResponse:
    return health_http(func.HttpRequest("GET", "/api/health", body=b""))


def checks(response: func.HttpResponse) -> dict[str, bool]:
    return {check["name"]: check["ok"] for check in body_of(response)["checks"]}


def test_ready_when_the_token_carries_every_role_the_actions_need(app: GraphSimulator) -> None:
    response = health()

    assert response.status_code == 200
    body = body_of(response)
    assert body["status"] == "ready"
    assert checks(response) == {"settings": True, "graphToken": True, "graphPermissions": True}
    assert body["roles"] == ["User.Read.All", "User.RevokeSessions.All"]
    # The suite runs as a function-key caller without a budget (tests/conftest.py), which health warns about.
    assert (body["missingRoles"], body["warnings"]) == ([], [KEY_AUTH_WARNING, BUDGET_OFF_WARNING])


def test_a_missing_role_is_named_and_not_ready(app: GraphSimulator) -> None:
    app.app_roles = ["User.ReadBasic.All"]

    response = health()

    assert response.status_code == 503
    # Revocation alone must learn who is external: userType and identities need User.Read.All.
    assert body_of(response)["missingRoles"] == ["User.Read.All", "User.RevokeSessions.All"]
    assert checks(response)["graphPermissions"] is False


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": "revokeSignInSessions,disableAccount,confirmCompromised"}])
def test_each_enabled_action_needs_its_own_roles(app: GraphSimulator) -> None:
    response = health()

    assert response.status_code == 503
    body = body_of(response)
    assert body["actions"] == ["disableAccount", "revokeSignInSessions", "confirmCompromised"]
    assert body["missingRoles"] == ["IdentityRiskyUser.ReadWrite.All", "User.EnableDisableAccount.All"]


@pytest.mark.parametrize(
    "settings", [{"REVOKE_RELEASE_ACTIONS": "enableAccount,dismissRisk", "REVOKE_CONTAINMENT_RECORDS": "true"}]
)
def test_each_enabled_release_action_needs_its_own_roles(app: GraphSimulator) -> None:
    app.app_roles = ["User.RevokeSessions.All"]  # without the read role, which enableAccount needs too
    response = health()

    assert response.status_code == 503
    assert body_of(response)["missingRoles"] == [
        "IdentityRiskyUser.ReadWrite.All",
        "User.EnableDisableAccount.All",
        "User.Read.All",
    ]


def test_a_broader_role_than_needed_is_a_warning(app: GraphSimulator) -> None:
    app.app_roles = [*app.app_roles, "Directory.ReadWrite.All", "User.ReadWrite.All"]

    response = health()

    assert response.status_code == 200
    warnings = body_of(response)["warnings"][2:]  # after the suite's own two (tests/conftest.py)
    assert [w.split()[0] for w in warnings] == ["Directory.ReadWrite.All", "User.ReadWrite.All"]


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": "revokeSignInSessions,disableAccount"}])
def test_a_broader_role_that_includes_a_needed_one_is_ready_with_the_broad_role_warning(app: GraphSimulator) -> None:
    """User.ReadWrite.All serves User.Read.All and User.EnableDisableAccount.All (Graph's Update user
    and Get user pages list it as higher privileged): not missing, only broader than needed."""
    app.app_roles = ["User.RevokeSessions.All", "User.ReadWrite.All"]

    response = health()

    assert response.status_code == 200
    body = body_of(response)
    assert (body["status"], body["missingRoles"]) == ("ready", [])
    assert body["warnings"][2:] == ["User.ReadWrite.All is broader than this deployment needs; remove it"]


@pytest.mark.parametrize(
    ("held", "missing"),
    [
        (["User.RevokeSessions.All", "Directory.Read.All"], []),  # Directory.Read.All reads users' full profiles
        (["User.RevokeSessions.All", "User.ReadBasic.All"], ["User.Read.All"]),  # narrower never serves broader
        (["User.ReadWrite.All"], ["User.RevokeSessions.All"]),  # revokeSignInSessions: no higher application role
    ],
)
def test_only_inclusions_microsoft_documents_count(app: GraphSimulator, held: list[str], missing: list[str]) -> None:
    app.app_roles = held

    assert body_of(health())["missingRoles"] == missing


def test_no_token_is_not_ready(app: GraphSimulator) -> None:
    app.inject(Fault(status=500, identity=True, times=None))

    response = health()

    assert response.status_code == 503
    assert checks(response) == {"settings": True, "graphToken": False}


@pytest.mark.parametrize("settings", [{"REVOKE_PROTECTED_USERS": "breakglass@contoso.com,not a user"}])
def test_invalid_settings_are_not_ready_and_the_value_is_not_shown(app: GraphSimulator) -> None:
    response = health()

    assert response.status_code == 503
    assert checks(response) == {"settings": False}
    assert "breakglass" not in response.get_body().decode()


def test_comments_on_need_an_arm_token(app: GraphSimulator) -> None:
    from graphsim.harness import app_settings

    with app_settings({"REVOKE_SENTINEL_WORKSPACE": WORKSPACE, "REVOKE_ARM_ENDPOINT": app.arm_url}):
        response = health()

    assert response.status_code == 200
    assert checks(response)["armToken"] is True


def test_the_answer_holds_no_token_and_no_claim_but_the_roles(app: GraphSimulator) -> None:
    text = health().get_body().decode()

    assert app.issued_tokens
    assert all(token not in text for token in app.issued_tokens)
    assert app.identity_object_id not in text
    assert set(json.loads(text)) == {"status", "checks", "actions", "roles", "missingRoles", "warnings"}


def test_roles_are_read_from_the_roles_claim_or_a_delegated_tokens_scopes() -> None:
    def jwt(claims: object) -> str:
        import base64

        encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"eyJhbGciOiJub25lIn0.{encoded}.sig"

    assert permissions_in(jwt({"roles": ["A", 1, "B"]})) == {"A", "B"}
    assert permissions_in(jwt({"scp": "User.Read User.RevokeSessions.All"})) == {"User.Read", "User.RevokeSessions.All"}
    assert permissions_in("not-a-jwt") == frozenset()
    assert permissions_in(jwt(["roles"])) == frozenset()


def test_the_cli_check_exits_0_when_ready_and_1_when_not(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["status"] == "ready"

    app.app_roles = []
    assert main(["check"]) == EXIT_NOT_ALL_CONTAINED


ONPREM = {"REVOKE_ACTIONS": "revokeSignInSessions,disableAccount", "REVOKE_ONPREM_ACTIONS": "disableAccount"}
DEFENDER_FOR_IDENTITY = ["SecurityIdentitiesAccount.Read.All", "SecurityIdentitiesActions.ReadWrite.All"]


@pytest.mark.parametrize("settings", [ONPREM])
@pytest.mark.parametrize(
    "held", [[], ["SecurityIdentitiesAccount.Read.All"], ["SecurityIdentitiesActions.ReadWrite.All"]]
)
def test_the_active_directory_actions_need_both_defender_for_identity_roles_each_named(
    app: GraphSimulator, capsys: pytest.CaptureFixture[str], held: list[str]
) -> None:
    app.app_roles = ["User.RevokeSessions.All", "User.EnableDisableAccount.All", "User.Read.All", *held]

    response = health()

    assert response.status_code == 503
    missing = [role for role in DEFENDER_FOR_IDENTITY if role not in held]
    assert body_of(response)["missingRoles"] == missing
    assert main(["check"]) == EXIT_NOT_ALL_CONTAINED
    assert f"missing {', '.join(missing)}" in capsys.readouterr().out


@pytest.mark.parametrize("settings", [ONPREM])
def test_ready_for_active_directory_actions_with_both_roles(app: GraphSimulator) -> None:
    app.app_roles = [
        "User.RevokeSessions.All",
        "User.EnableDisableAccount.All",
        "User.Read.All",
        *DEFENDER_FOR_IDENTITY,
    ]

    assert health().status_code == 200


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": "revokeSignInSessions,disableAccount"}])
def test_without_the_setting_no_defender_for_identity_role_is_needed(app: GraphSimulator) -> None:
    app.app_roles = ["User.RevokeSessions.All", "User.EnableDisableAccount.All", "User.Read.All"]

    assert health().status_code == 200
