"""REVOKE_CALLER_AUTH=entra: only callers with a valid Entra ID token for this API, only the actions their app roles grant.

Real RS256 tokens signed with real RSA keys by a loopback Entra authority (graphsim.authority),
validated by the function with PyJWT through the HTTP trigger, as the host calls it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

from graphsim import GraphSimulator
from graphsim.authority import EntraAuthority, new_signing_key
from graphsim.harness import LogCapture, app_settings, health_request, http_request, queue_message
from revoke.app.triggers import health_http, revoke_http, revoke_queue
from revoke.deadline import Deadline
from revoke.errors import CallerNotPermitted, InvalidCallerToken
from revoke.policy import keys
from revoke.policy.callers import (
    ALL_ROLES,
    ROLE_CAMPAIGN,
    ROLE_CONFIRM_COMPROMISED,
    ROLE_DISABLE,
    ROLE_RELEASE,
    ROLE_REVOKE,
    identify_caller,
)
from revoke.settings import Settings
from tests.conftest import ADELE, GUEST, MEGAN, body_of

ALL_ACTIONS = "revokeSignInSessions,disableAccount,confirmCompromised"
APP_ID = "6a1f9a3e-5b0c-4a8e-9d2f-3c4b5a697e80"
APP_OBJECT_ID = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9"


@pytest.fixture
def authority() -> Iterator[EntraAuthority]:
    with EntraAuthority() as running:
        yield running


@pytest.fixture
def settings(authority: EntraAuthority) -> dict[str, str]:
    return {**authority.environment(), "REVOKE_ACTIONS": ALL_ACTIONS}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Seconds added to the key cache's clock: a test moves time on without waiting."""
    offset = [0.0]
    monotonic = time.monotonic
    monkeypatch.setattr(keys, "_now", lambda: monotonic() + offset[0])
    return offset


def call(body: dict[str, Any], token: str | None = None, **headers: str) -> func.HttpResponse:
    return revoke_http(http_request(body, token=token, headers=headers or None))


def assert_never_shown(authority: EntraAuthority, logs: LogCapture, *responses: func.HttpResponse) -> None:
    """No token the authority minted appears in any log record, audit event or answer."""
    haystack = "\n".join([logs.text(), *(r.get_body().decode() for r in responses), *map(str, logs.audit_events())])
    for token in authority.issued_tokens:
        assert token not in haystack
        signature = token.split(".")[2]
        assert not signature or signature not in haystack  # not even the signature


# --- who asked is audited -------------------------------------------------------------------


def test_a_caller_with_the_revoke_role_revokes_and_every_event_names_it(
    app: GraphSimulator, authority: EntraAuthority, logs: LogCapture
) -> None:
    token = authority.mint([ROLE_REVOKE], app_id=APP_ID, object_id=APP_OBJECT_ID)

    response = call({"users": [ADELE[0], MEGAN[1]]}, token)

    assert response.status_code == 200
    assert dict(app.revocations) == {ADELE[1]: 1, MEGAN[1]: 1}
    assert app.disabled == set() and not app.confirmed_compromised
    events = logs.audit_events()
    assert [(e["outcome"], e["callerAppId"], e["callerObjectId"]) for e in events] == [
        ("revoked", APP_ID, APP_OBJECT_ID),
        ("revoked", APP_ID, APP_OBJECT_ID),
    ]
    assert_never_shown(authority, logs, response)


def test_the_queue_path_names_no_caller_and_needs_no_token(
    app: GraphSimulator, authority: EntraAuthority, logs: LogCapture
) -> None:
    from graphsim.harness import CapturedOut

    revoke_queue(queue_message({"users": [ADELE[0]], "actions": ["revokeSignInSessions"]}), CapturedOut())

    assert dict(app.revocations) == {ADELE[1]: 1}
    assert [(e["callerAppId"], e["callerObjectId"]) for e in logs.audit_events()] == [(None, None)]


# --- 401: no valid token, nothing read, nothing sent -------------------------------------------


def _other_tenant(a: EntraAuthority) -> str:
    return a.mint([ROLE_REVOKE], tenant_id=str(uuid.uuid4()))


REFUSALS: dict[str, tuple[Any, str]] = {
    "no token": (lambda a: None, "missing_token"),
    "another scheme": (lambda a: ("Basic", "dXNlcjpwYXNz"), "malformed_token"),
    "not a JWT": (lambda a: "not-a-token", "malformed_token"),
    "expired beyond the leeway": (lambda a: a.mint([ROLE_REVOKE], lifetime=-90), "expired"),
    "not yet valid beyond the leeway": (lambda a: a.mint([ROLE_REVOKE], not_before=300), "not_yet_valid"),
    "another signing key under a published kid": (
        lambda a: a.mint([ROLE_REVOKE], key=new_signing_key(), kid=a.current_key.kid),
        "bad_signature",
    ),
    "another signing key": (lambda a: a.mint([ROLE_REVOKE], key=new_signing_key()), "unknown_key"),
    "another tenant": (_other_tenant, "wrong_issuer"),
    "another tenant under this issuer": (
        lambda a: a.mint([ROLE_REVOKE], tenant_id=str(uuid.uuid4()), issuer=a.issuer),
        "wrong_tenant",
    ),
    "another audience": (lambda a: a.mint([ROLE_REVOKE], audience="api://someone-else"), "wrong_audience"),
    "Microsoft Graph's audience": (
        lambda a: a.mint([ROLE_REVOKE], audience="https://graph.microsoft.com"),
        "wrong_audience",
    ),
    "alg none": (lambda a: a.mint_unsigned([ROLE_REVOKE]), "alg_not_allowed"),
    "HS256 keyed with the public key": (lambda a: a.mint_hs256([ROLE_REVOKE]), "alg_not_allowed"),
    "no oid": (lambda a: a.mint([ROLE_REVOKE], drop=("oid",)), "missing_claim"),
    "no tid": (lambda a: a.mint([ROLE_REVOKE], drop=("tid",)), "missing_claim"),
    "no exp": (lambda a: a.mint([ROLE_REVOKE], drop=("exp",)), "missing_claim"),
    "no calling app": (lambda a: a.mint([ROLE_REVOKE], drop=("azp",)), "missing_claim"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_request_without_a_valid_token_is_401_audited_and_reaches_no_graph_path(
    case: str, app: GraphSimulator, authority: EntraAuthority, logs: LogCapture
) -> None:
    make, reason = REFUSALS[case]
    credential = make(authority)
    if isinstance(credential, tuple):
        response = call({"users": [ADELE[0]]}, None, Authorization=" ".join(credential))
    else:
        response = call({"users": [ADELE[0]]}, credential)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Bearer error="invalid_token", error_description="{reason}"'
    error = body_of(response)["error"]
    assert (error["code"], error["message"].split(":")[0]) == ("invalid_token", reason)
    assert app.graph_requests() == [] and app.token_requests == 0
    [event] = logs.audit_events()
    assert (event["outcome"], event["user"], event["callerAppId"]) == ("rejected", None, None)
    assert event["detail"].startswith(f"invalid_token: {reason}:")
    assert_never_shown(authority, logs, response)


def test_the_body_of_an_unauthenticated_request_is_never_read(
    app: GraphSimulator, authority: EntraAuthority, logs: LogCapture
) -> None:
    response = call({"users": [ADELE[0]], "correlationId": "attacker-chosen"})

    assert response.status_code == 401
    assert body_of(response)["correlationId"] != "attacker-chosen"
    assert logs.audit_events()[0]["correlationId"] != "attacker-chosen"


def test_expiry_and_not_before_have_sixty_seconds_of_leeway(app: GraphSimulator, authority: EntraAuthority) -> None:
    assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE], lifetime=-30)).status_code == 200
    assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE], not_before=30)).status_code == 200


def test_either_configured_audience_is_accepted(app: GraphSimulator, authority: EntraAuthority) -> None:
    assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE], audience=authority.api_uri)).status_code == 200


@pytest.mark.parametrize("settings", [{"REVOKE_CALLER_AUTH": "entra", "REVOKE_AUTH_TENANT_ID": ""}])
def test_entra_without_a_tenant_refuses_every_caller(app: GraphSimulator) -> None:
    response = call({"users": [ADELE[0]]}, "a.b.c")

    assert response.status_code == 500
    assert "REVOKE_AUTH_TENANT_ID" in body_of(response)["error"]["message"]
    assert app.graph_requests() == []


# --- the keys: cached, refreshed at once after the first load, then at most once per 5 minutes ------------------------------


def test_a_flood_of_made_up_kids_costs_the_first_load_and_one_refresh(
    app: GraphSimulator, authority: EntraAuthority, clock: list[float]
) -> None:
    forged = new_signing_key()
    for _ in range(25):
        response = call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE], key=forged, kid=uuid.uuid4().hex))
        assert response.status_code == 401
    assert (authority.configuration_fetches, authority.key_fetches) == (1, 1)  # moments after the load: no refresh
    clock[0] += 120  # the first unknown kid after the first load refreshes at once; the rest wait 5 minutes
    for _ in range(25):
        assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE], kid=uuid.uuid4().hex)).status_code == 401
    clock[0] += 120  # still inside the 5 minutes since that refresh
    for _ in range(25):
        assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE], kid=uuid.uuid4().hex)).status_code == 401

    assert (authority.configuration_fetches, authority.key_fetches) == (2, 2)
    assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE])).status_code == 200
    assert authority.key_fetches == 2  # the published key was cached by the first load
    assert app.graph_requests() != []


def test_a_key_published_a_minute_after_the_first_load_is_accepted_at_once(
    app: GraphSimulator, authority: EntraAuthority, clock: list[float], logs: LogCapture
) -> None:
    assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE])).status_code == 200
    authority.rotate()
    clock[0] += 60  # the tenant published a new key a minute after the first load

    assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE])).status_code == 200
    assert authority.key_fetches == 2


def test_after_the_first_refresh_a_key_rotation_is_picked_up_at_most_every_five_minutes(
    app: GraphSimulator, authority: EntraAuthority, clock: list[float], logs: LogCapture
) -> None:
    assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE])).status_code == 200
    authority.rotate()
    clock[0] += 60
    assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE])).status_code == 200  # the refresh at once
    authority.rotate()
    clock[0] += 60  # another new key, and the last refresh was a minute ago: the cache does not ask again yet
    early = call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE]))
    assert body_of(early)["error"]["message"].startswith("unknown_key")
    assert authority.key_fetches == 2

    clock[0] += keys.REFRESH_INTERVAL_SECONDS
    assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE])).status_code == 200
    assert call({"users": [MEGAN[0]]}, authority.mint([ROLE_REVOKE])).status_code == 200
    assert authority.key_fetches == 3
    assert_never_shown(authority, logs, early)


def test_withdrawn_keys_stop_working_once_the_cache_is_a_day_old(
    app: GraphSimulator, authority: EntraAuthority, clock: list[float]
) -> None:
    old = authority.current_key
    assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE])).status_code == 200
    authority.rotate()
    clock[0] += keys.MAX_KEY_AGE_SECONDS + 1

    response = call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE], key=old))

    assert body_of(response)["error"]["message"].startswith("unknown_key")
    assert authority.key_fetches == 2


# --- a misbehaving authority: the fetch fails, the caller gets 401, never in --------------------


@pytest.mark.parametrize(
    ("misbehaviour", "where"),
    [
        ("stall", "configuration"),
        ("stall", "keys"),
        ("redirect", "configuration"),
        ("redirect", "keys"),
        ("malformed_json", "keys"),
        ("endless_body", "configuration"),
        ("endless_body", "keys"),
        ("foreign_jwks_uri", "configuration"),
        ("server_error", "keys"),
    ],
)
def test_a_key_fetch_that_fails_leaves_the_caller_out_within_the_deadline(
    misbehaviour: str, where: str, app: GraphSimulator, authority: EntraAuthority, clock: list[float]
) -> None:
    authority.misbehave, authority.misbehave_on = misbehaviour, where
    token = authority.mint([ROLE_REVOKE])

    started = time.monotonic()
    response = call({"users": [ADELE[0]]}, token)
    elapsed = time.monotonic() - started

    assert response.status_code == 401
    assert body_of(response)["error"]["message"].startswith("keys_unavailable")
    assert app.graph_requests() == []
    # The retry budget is 3 s (tests/conftest.py); the stall would hold the request for 30.
    assert elapsed < 15
    if misbehaviour == "foreign_jwks_uri":
        assert authority.key_fetches == 0  # the keys on the other host were never asked for

    authority.misbehave = None
    clock[0] += keys.FIRST_LOAD_RETRY_SECONDS
    assert call({"users": [ADELE[0]]}, token).status_code == 200


def test_after_a_failed_first_load_the_authority_is_not_asked_on_every_request(
    app: GraphSimulator, authority: EntraAuthority, clock: list[float]
) -> None:
    authority.misbehave, authority.misbehave_on = "server_error", "configuration"
    for _ in range(10):
        assert call({"users": [ADELE[0]]}, authority.mint([ROLE_REVOKE])).status_code == 401

    assert authority.configuration_fetches == 1


# --- 403: the role for each action ------------------------------------------------------------


def test_asking_for_an_action_without_its_role_is_403_naming_the_role(
    app: GraphSimulator, authority: EntraAuthority, logs: LogCapture
) -> None:
    token = authority.mint([ROLE_REVOKE], app_id=APP_ID, object_id=APP_OBJECT_ID)

    response = call({"users": [ADELE[0]], "actions": ["revokeSignInSessions", "disableAccount"]}, token)

    assert response.status_code == 403
    error = body_of(response)["error"]
    assert error["code"] == "caller_not_permitted"
    assert ROLE_DISABLE in error["message"] and ROLE_REVOKE not in error["message"]
    assert app.graph_requests() == []
    [event] = logs.audit_events()
    assert (event["outcome"], event["callerAppId"], event["callerObjectId"]) == ("rejected", APP_ID, APP_OBJECT_ID)
    assert event["detail"].startswith("caller_not_permitted:")
    assert_never_shown(authority, logs, response)


def test_a_caller_with_no_role_is_403_when_it_names_no_action(app: GraphSimulator, authority: EntraAuthority) -> None:
    response = call({"users": [ADELE[0]]}, authority.mint([]))

    assert response.status_code == 403
    assert ROLE_REVOKE in body_of(response)["error"]["message"]
    assert app.graph_requests() == []


def test_roles_of_other_apis_grant_nothing(app: GraphSimulator, authority: EntraAuthority) -> None:
    response = call({"users": [ADELE[0]]}, authority.mint(["User.ReadWrite.All", "containment.revoke"]))

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("roles", "taken"),
    [
        ([ROLE_REVOKE], ["revokeSignInSessions"]),
        ([ROLE_DISABLE], ["disableAccount"]),
        ([ROLE_REVOKE, ROLE_DISABLE], ["disableAccount", "revokeSignInSessions"]),
        ([ROLE_CONFIRM_COMPROMISED, ROLE_DISABLE], ["disableAccount", "confirmCompromised"]),
        (list(ALL_ROLES), ["disableAccount", "revokeSignInSessions", "confirmCompromised"]),
    ],
)
def test_naming_no_action_takes_every_allowed_action_the_caller_holds_a_role_for(
    roles: list[str], taken: list[str], app: GraphSimulator, authority: EntraAuthority
) -> None:
    app.licensed_for_risk = True

    response = call({"users": [ADELE[1]]}, authority.mint(roles))

    assert response.status_code in (200, 207)
    assert [a["action"] for a in body_of(response)["results"][0]["actions"]] == taken
    assert (ADELE[1] in app.revocations) == ("revokeSignInSessions" in taken)
    assert (ADELE[1] in app.disabled) == ("disableAccount" in taken)


@pytest.mark.parametrize("settings", [{"REVOKE_ACTIONS": "revokeSignInSessions"}])
def test_a_role_does_not_widen_what_the_deployment_allows(
    settings: dict[str, str], authority: EntraAuthority, app: GraphSimulator
) -> None:
    with app_settings(authority.environment()):
        response = call({"users": [ADELE[0]], "actions": ["disableAccount"]}, authority.mint(list(ALL_ROLES)))

    assert (response.status_code, body_of(response)["error"]["code"]) == (400, "action_not_allowed")
    assert app.graph_requests() == []


def test_a_guest_left_uncontained_because_the_caller_may_not_disable_says_so(
    app: GraphSimulator, authority: EntraAuthority
) -> None:
    response = call({"users": [GUEST[0]]}, authority.mint([ROLE_REVOKE]))

    [result] = body_of(response)["results"]
    assert result["outcome"] == "not_contained"
    assert ROLE_DISABLE in result["detail"] and "may not disable" in result["detail"]


# --- the check other routes reuse ---------------------------------------------------------------


def test_identify_caller_returns_one_typed_caller_and_require_names_a_missing_role(authority: EntraAuthority) -> None:
    settings = Settings.from_environment(authority.environment())
    token = authority.mint([ROLE_RELEASE], app_id=APP_ID, object_id=APP_OBJECT_ID)

    caller = identify_caller({"authorization": f"Bearer {token}"}, settings, Deadline(5))

    assert (caller.app_id, caller.object_id, caller.roles) == (APP_ID, APP_OBJECT_ID, frozenset({ROLE_RELEASE}))
    caller.require(ROLE_RELEASE)
    with pytest.raises(CallerNotPermitted) as refused:
        caller.require(ROLE_CAMPAIGN)
    assert refused.value.missing_roles == (ROLE_CAMPAIGN,)
    with pytest.raises(InvalidCallerToken) as invalid:
        identify_caller({}, settings, Deadline(5))
    assert invalid.value.reason == "missing_token"


@pytest.mark.parametrize("settings", [{"REVOKE_CALLER_AUTH": "key", "REVOKE_ACTIONS": ALL_ACTIONS}])
def test_key_mode_lets_the_function_key_holder_take_every_allowed_action_unnamed(
    app: GraphSimulator, logs: LogCapture
) -> None:
    response = call({"users": [ADELE[1]]})

    assert response.status_code in (200, 207)
    assert ADELE[1] in app.revocations and ADELE[1] in app.disabled
    assert {(e["callerAppId"], e["callerObjectId"]) for e in logs.audit_events()} == {(None, None)}


# --- GET /api/health ---------------------------------------------------------------------------


def test_health_needs_a_token_with_a_containment_role(app: GraphSimulator, authority: EntraAuthority) -> None:
    unauthenticated = health_http(health_request())
    roleless = health_http(health_request(token=authority.mint([])))
    allowed = health_http(health_request(token=authority.mint([ROLE_REVOKE])))

    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert roleless.status_code == 403
    assert allowed.status_code in (200, 503)
    checks = {check["name"]: check["ok"] for check in body_of(allowed)["checks"]}
    assert checks["callerAuth"] is True
    assert not any("REVOKE_CALLER_AUTH" in warning for warning in body_of(allowed)["warnings"])


@pytest.mark.parametrize("settings", [{"REVOKE_CALLER_AUTH": "entra", "REVOKE_AUTH_TENANT_ID": ""}])
def test_health_names_the_missing_caller_setting(app: GraphSimulator) -> None:
    response = health_http(health_request())

    assert response.status_code == 503
    [check] = [c for c in body_of(response)["checks"] if c["name"] == "callerAuth"]
    assert check["ok"] is False and "REVOKE_AUTH_TENANT_ID" in check["detail"]


def test_concurrent_requests_with_a_new_kid_share_one_fetch(
    app: GraphSimulator, authority: EntraAuthority, clock: list[float]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    tokens = [authority.mint([ROLE_REVOKE], kid=uuid.uuid4().hex) for _ in range(16)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda token: call({"users": [ADELE[0]]}, token).status_code, tokens))

    assert statuses == [401] * 16
    assert authority.key_fetches == 1


INCIDENT = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/soc-rg/providers/"
    "Microsoft.OperationalInsights/workspaces/soc-workspace/providers/Microsoft.SecurityInsights/"
    "incidents/9f1c2d3e-4b5a-4c6d-8e7f-a1b2c3d4e5f6"
)


def test_the_incident_comment_names_the_calling_app(graph: GraphSimulator, authority: EntraAuthority) -> None:
    workspace = INCIDENT.split("/providers/Microsoft.SecurityInsights/")[0]
    environment = {
        **graph.environment(),
        **authority.environment(),
        "REVOKE_SENTINEL_WORKSPACE": workspace,
        "REVOKE_ARM_ENDPOINT": graph.arm_url,
    }
    with app_settings(environment):
        response = call({"users": [ADELE[0]], "incidentId": INCIDENT}, authority.mint([ROLE_REVOKE], app_id=APP_ID))

    assert body_of(response)["incidentComment"]["status"] == "commented"
    [messages] = graph.comments.values()
    assert f"Requested by app <code>{APP_ID}</code>." in messages[-1]
