"""Accounts an alert names by their on-premises SID: resolved to the Entra user synced from them.

A Sentinel account entity's `Sid` or Graph alert evidence's `userSid`, without an Entra object id
or UPN, is looked up with `$filter=onPremisesSecurityIdentifier eq '<sid>'`; a SID no user was
synced from is `not_found` naming the SID, and the rest of the request goes on; a malformed SID
is skipped with the reason, and nothing is looked up for it; `DOMAIN\\name` alone is never guessed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from graphsim import Fault, GraphSimulator
from graphsim.harness import LogCapture, app_settings, http_request
from revoke.app.triggers import revoke_http
from revoke.containment.resolution import no_user_synced_from
from tests.conftest import ADELE, body_of
from tests.test_actions import DISABLE, REVOKE, TRIGGERS, by_user, contain, expected, sent

BOTH = {"REVOKE_ACTIONS": f"{REVOKE},{DISABLE}"}
NOBODY = "S-1-5-21-1004336348-1177238915-682003330-9999"


def alert(*entities: dict[str, Any]) -> dict[str, Any]:
    return {"SystemAlertId": "a-7", "AlertName": "Pass-the-ticket", "Entities": list(entities)}


def on_premises_entity(sid: str, name: str = "pradeep", domain: str = "CORP") -> dict[str, Any]:
    return {"Type": "account", "Name": name, "NTDomain": domain, "Sid": sid}


def sid_lookups(graph: GraphSimulator) -> list[str]:
    listed = [unquote(path) for method, path, _ in sent(graph) if method == "GET" and path.startswith("/v1.0/users?")]
    return [path for path in listed if "onPremisesSecurityIdentifier eq" in path]  # not the look-ups by name


@pytest.mark.parametrize("settings", [{**BOTH, "REVOKE_ONPREM_ACTIONS": "disableAccount"}])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_sentinel_account_named_by_sid_is_resolved_and_contained_as_named(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)
    assert synced.on_premises_sid is not None

    run = contain(
        trigger, alert(on_premises_entity(synced.on_premises_sid), {"Type": "account", "AadUserId": ADELE[1]})
    )

    assert run.answer == expected(trigger, http=200, queue="complete")
    [lookup] = sid_lookups(app)
    assert lookup.startswith(f"/v1.0/users?$filter=onPremisesSecurityIdentifier eq '{synced.on_premises_sid}'&$select=")
    # Named as the alert named it; acted on as the user Graph resolved it to, Active Directory included.
    assert by_user(logs)[synced.on_premises_sid] == [
        (DISABLE, "disabled", None),
        ("disableActiveDirectoryAccount", "disabled", None),
        (REVOKE, "revoked", True),
    ]
    assert app.disabled == {synced.object_id, ADELE[1]} and app.revocations.keys() == {synced.object_id, ADELE[1]}
    # The resolving look-up is the target's look-up: no second one by object id.
    assert not any(path.startswith(f"/v1.0/users/{synced.object_id}?") for _, path, _ in sent(app))


@pytest.mark.parametrize("settings", [BOTH])
def test_graph_alert_evidence_with_a_user_sid_is_resolved(app: GraphSimulator, logs: LogCapture) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)
    evidence = {
        "@odata.type": "#microsoft.graph.security.userEvidence",
        "userAccount": {"accountName": "pradeep.gupta", "domainName": "CORP", "userSid": synced.on_premises_sid},
    }

    response = revoke_http(http_request({"id": "g-1", "title": "Kerberoasting", "evidence": [evidence]}))

    assert response.status_code == 207  # synced, disabled in Entra ID alone: not contained
    [result] = body_of(response)["results"]
    assert (result["user"], result["outcome"]) == (synced.on_premises_sid, "not_contained")
    assert synced.object_id in app.disabled


@pytest.mark.parametrize("settings", [BOTH])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_sid_no_user_is_synced_from_is_not_found_naming_it_and_the_rest_goes_on(
    app: GraphSimulator, logs: LogCapture, trigger: str
) -> None:
    run = contain(trigger, alert(on_premises_entity(NOBODY), {"Type": "account", "AadUserId": ADELE[1]}))

    assert run.answer == expected(trigger, http=207, queue="complete")
    assert by_user(logs)[NOBODY] == [(DISABLE, "not_found", None), (REVOKE, "not_found", False)]
    detail = no_user_synced_from(NOBODY).detail
    assert detail is not None and NOBODY in detail
    assert {e["detail"] for e in logs.audit_events() if e["user"] == NOBODY} == {detail}
    assert by_user(logs)[ADELE[1]][-1] == (REVOKE, "revoked", True)
    if trigger == "http":
        assert run.body["results"][0] == {
            "user": NOBODY, "outcome": "not_found", "contained": False, "graphStatus": 200,
            "detail": f"{DISABLE}: {detail}",
            "actions": [
                {"action": DISABLE, "outcome": "not_found", "graphStatus": 200, "detail": detail},
                {"action": REVOKE, "outcome": "not_found", "graphStatus": 200, "detail": detail},
            ],
        }  # fmt: skip


@pytest.mark.parametrize("settings", [BOTH])
@pytest.mark.parametrize("sid", ["S-1-5-21-x", "S-1-5-21-4294967296", "1-5-21-1", "S-1"])
def test_a_malformed_sid_is_refused_with_the_reason_and_nothing_is_looked_up(
    app: GraphSimulator, logs: LogCapture, sid: str
) -> None:
    response = revoke_http(http_request(alert(on_premises_entity(sid))))

    assert response.status_code == 422
    error = body_of(response)["error"]
    assert error["code"] == "no_resolvable_account" and "is not a security identifier" in error["message"]
    assert app.requests == []
    assert [(e["outcome"], e["user"]) for e in logs.audit_events()] == [
        ("skipped", "CORP\\pradeep"),
        ("rejected", None),
    ]


@pytest.mark.parametrize("settings", [BOTH])
def test_domain_and_name_alone_are_never_guessed(app: GraphSimulator, logs: LogCapture) -> None:
    app.add_user("pradeep.gupta@contoso.com", synced=True)  # CORP\pradeep would match exactly one user

    response = revoke_http(http_request(alert({"Type": "account", "Name": "pradeep.gupta", "NTDomain": "CORP"})))

    assert response.status_code == 422
    assert app.requests == []


@pytest.mark.parametrize("settings", [BOTH])
def test_an_answer_about_another_sid_is_never_acted_on(app: GraphSimulator, logs: LogCapture) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)
    other = app.add_user("raul.razo@contoso.com", synced=True)
    wrong = {"value": [{**other.properties(), "accountEnabled": True}]}
    app.inject(Fault(status=200, body=wrong, method="GET", match=lambda path: path == "/v1.0/users", times=None))

    response = revoke_http(http_request(alert(on_premises_entity(str(synced.on_premises_sid)))))

    assert response.status_code == 502
    assert app.disabled == set() and app.revocations == {}
    assert "names another user" in body_of(response)["results"][0]["detail"]


@pytest.mark.parametrize("settings", [{**BOTH, "REVOKE_PROTECTED_USERS": "pradeep.gupta@contoso.com"}])
def test_a_protected_user_named_by_sid_is_refused(app: GraphSimulator, logs: LogCapture) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)

    response = revoke_http(http_request(alert(on_premises_entity(str(synced.on_premises_sid)))))

    assert response.status_code == 422
    assert body_of(response)["error"]["code"] == "refused_by_policy"
    assert {m for m, _, _ in sent(app)} == {"GET"}  # look-ups (the SID's, the protected-user check's), no action


@pytest.mark.parametrize("settings", [{**BOTH, "REVOKE_DRY_RUN": "true"}])
def test_a_dry_run_resolves_no_sid(app: GraphSimulator, logs: LogCapture) -> None:
    synced = app.add_user("pradeep.gupta@contoso.com", synced=True)

    response = revoke_http(http_request(alert(on_premises_entity(str(synced.on_premises_sid)))))

    assert response.status_code == 200
    assert app.requests == []
    assert body_of(response)["results"][0]["outcome"] == "dry_run"


@pytest.mark.parametrize("settings", [BOTH])
@pytest.mark.parametrize("dry_run", [False, True], ids=["for real", "dry run"])
def test_a_sid_left_unresolved_is_never_asked_about_by_the_protection_by_group(
    app: GraphSimulator, logs: LogCapture, dry_run: bool
) -> None:
    """A SID no user was synced from (or any SID in a dry run, which resolves none) is no user to
    check memberships for: the rest of the request is checked and contained, not refused with it."""
    admins = app.directory.add_group([app.add_user("break.glass@contoso.com")])
    protection = {"REVOKE_PROTECTED_GROUPS": admins.object_id, "REVOKE_DRY_RUN": str(dry_run).lower()}

    with app_settings(protection):
        response = revoke_http(
            http_request(alert(on_premises_entity(NOBODY), {"Type": "account", "AadUserId": ADELE[1]}))
        )

    results = {result["user"]: result["outcome"] for result in body_of(response)["results"]}
    assert results == {NOBODY: "dry_run" if dry_run else "not_found", ADELE[1]: "dry_run" if dry_run else "contained"}
    asked = [unquote(path) for method, path, _ in sent(app) if path.endswith("/checkMemberObjects")]
    assert asked == [f"/v1.0/users/{ADELE[1]}/checkMemberObjects"]
