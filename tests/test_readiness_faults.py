"""The readiness check (GET /api/health, `python -m revoke check`) against a hostile identity
endpoint and deployments that cannot contain: it never crashes, and never says ready when
the service cannot contain; it reuses the service's own credential and token.
"""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from graphsim import GraphSimulator
from graphsim.faults import huge_claims, jwt_with_claims, nested_claims, token_answer
from graphsim.harness import http_request
from revoke.app.cli import EXIT_NOT_ALL_CONTAINED, main
from revoke.app.triggers import health_http, revoke_http
from tests.conftest import ADELE, body_of

UNREADABLE = [
    pytest.param(jwt_with_claims(nested_claims(50_000)), id="claims nested 50,000 deep"),
    pytest.param(jwt_with_claims(huge_claims(3)), id="claims 3 MB long"),
]


def health() -> func.HttpResponse:
    return health_http(func.HttpRequest("GET", "/api/health", body=b""))


def checks(response: func.HttpResponse) -> dict[str, tuple[bool, str | None]]:
    return {check["name"]: (check["ok"], check["detail"]) for check in body_of(response)["checks"]}


@pytest.mark.parametrize("token", UNREADABLE)
def test_an_unreadable_token_is_not_ready_with_a_clear_detail_never_a_500(app: GraphSimulator, token: str) -> None:
    app.inject(token_answer(token))

    response = health()

    assert response.status_code == 503
    ok, detail = checks(response)["graphPermissions"]
    assert not ok and "could not be read" in str(detail)


@pytest.mark.parametrize("token", UNREADABLE)
def test_the_cli_check_never_prints_a_traceback_for_an_unreadable_token(
    app: GraphSimulator, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app.inject(token_answer(token))

    assert main(["check", "--json"]) == EXIT_NOT_ALL_CONTAINED

    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert json.loads(out)["status"] == "not_ready"


@pytest.mark.parametrize("settings", [{"REVOKE_ACTION": "invalidateAllRefreshTokens"}])
def test_the_delegated_only_action_with_an_app_only_token_is_not_ready(app: GraphSimulator) -> None:
    """The simulator's managed identity token carries `roles` and no `scp`, as Entra ID issues it."""
    response = health()

    assert response.status_code == 503
    ok, detail = checks(response)["revokeAction"]
    assert not ok and "REVOKE_ACTION" in str(detail)


@pytest.mark.parametrize("settings", [{"REVOKE_DRY_RUN": "true"}])
def test_a_deployment_left_in_dry_run_says_so_and_is_not_ready(app: GraphSimulator) -> None:
    response = health()

    assert response.status_code == 503
    ok, detail = checks(response)["dryRun"]
    assert not ok and "REVOKE_DRY_RUN" in str(detail)


def test_health_checks_reuse_the_services_credential_and_token(app: GraphSimulator) -> None:
    """One token for the invocation and every probe after it: no new credential, no new fetch."""
    assert revoke_http(http_request({"users": [ADELE[0]]})).status_code == 200
    for _ in range(3):
        assert health().status_code == 200

    assert app.token_requests == 1
