"""Security properties: the HTTP function needs a key, secrets never leave, protected users never reach Graph."""

from __future__ import annotations

import json
import logging
import runpy
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import revoke.app.release_triggers
import revoke.app.triggers
from graphsim import Fault, GraphSimulator
from graphsim.harness import CapturedOut, LogCapture, app_settings, capture_logs, http_request, queue_message
from revoke.app.triggers import revoke_http, revoke_queue
from revoke.errors import RetryLater
from tests.conftest import ADELE, LEE, MEGAN, NESTOR, logged_text, sample_tenant, secrets_logged

FUNCTION_APP = Path(__file__).resolve().parent.parent / "function_app.py"


# --- the HTTP function is never anonymous --------------------------------------------------
def http_auth_levels(app: func.FunctionApp) -> dict[str, object]:
    levels = {}
    for function in app.get_functions():
        for binding in json.loads(function.get_function_json())["bindings"]:
            if binding["type"] == "httpTrigger":
                levels[function.get_function_name()] = binding.get("authLevel")
    return levels


def test_the_deployed_app_has_no_http_function_without_a_function_key() -> None:
    # A fresh run of the entry point: the host indexes its own app object once, as tests/test_registration does.
    app = runpy.run_path(str(FUNCTION_APP))["app"]

    campaign_routes = ("campaign_preview", "campaign_start", "campaign_status", "campaign_cancel")
    assert http_auth_levels(app) == {
        "revoke_http": "FUNCTION",
        "health": "FUNCTION",
        "release_http": "FUNCTION",
    } | dict.fromkeys(campaign_routes, "FUNCTION")


def test_the_http_trigger_needs_a_key_even_in_an_app_whose_default_is_anonymous() -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(revoke.app.triggers.blueprint)
    app.register_functions(revoke.app.release_triggers.blueprint)

    assert http_auth_levels(app) == {"revoke_http": "FUNCTION", "health": "FUNCTION", "release_http": "FUNCTION"}


# --- no secret leaves, whatever the outcome ------------------------------------------------
@dataclass(frozen=True)
class Step:
    outcome: str
    body: dict[str, Any] | bytes
    http_status: int
    queue: str  # complete | poison | retry
    fault: Fault | None = None


def every_outcome() -> list[Step]:
    """One request per outcome, in an order that has a token cached before the ones that send nothing."""
    adele = {"users": [ADELE[0]]}
    return [
        Step("revoked", adele, 200, "complete"),
        Step("revoked", adele, 200, "complete", Fault(status=401)),  # a fresh token after a 401
        Step("not_found", {"users": ["nobody@contoso.com"]}, 207, "complete"),
        Step("failed", adele, 502, "poison", Fault(status=403, times=None)),
        Step("deferred", adele, 503, "retry", Fault(status=503, times=None)),
        Step("rejected", b'{"users": [', 400, "poison"),
        Step("refused", {"users": [MEGAN[0]]}, 422, "complete"),
        Step("dry_run", {**adele, "dryRun": True}, 200, "complete"),
    ]


@dataclass
class Exposed:
    """Everything a caller, an operator or a log reader could see."""

    texts: list[str] = field(default_factory=list)

    def add(self, *texts: object) -> None:
        self.texts.extend(str(text) for text in texts)


def raw_body(step: Step) -> bytes:
    return step.body if isinstance(step.body, bytes) else json.dumps(step.body).encode()


def keyed_request(body: bytes, key: str) -> func.HttpRequest:
    """A request as the host passes it on: the function key still in its header and query string."""
    return func.HttpRequest(
        "POST",
        f"https://revoke.example.net/api/revoke?code={key}",
        body=body,
        params={"code": key},
        headers={"Content-Type": "application/json", "x-functions-key": key},
    )


def run_http(step: Step, key: str, exposed: Exposed) -> None:
    response = revoke_http(keyed_request(raw_body(step), key))
    assert response.status_code == step.http_status
    exposed.add(response.get_body().decode(), *response.headers.items())


def run_queue(step: Step, key: str, exposed: Exposed) -> None:
    poison = CapturedOut()
    try:
        revoke_queue(queue_message(raw_body(step)), poison)
    except RetryLater as retry:
        exposed.add(retry)
        disposition = "retry"
    else:
        disposition = "poison" if poison.value is not None else "complete"
    exposed.add(poison.value)
    assert disposition == step.queue


@pytest.mark.parametrize("settings", [{"REVOKE_PROTECTED_USERS": MEGAN[0], "REVOKE_RETRY_BUDGET_SECONDS": "1"}])
@pytest.mark.parametrize("run", [run_http, run_queue], ids=["http", "queue"])
def test_no_token_identity_header_or_function_key_appears_anywhere_across_every_outcome(
    app: GraphSimulator, logs: LogCapture, run: Any
) -> None:
    key = secrets.token_urlsafe(32)
    exposed = Exposed()

    for step in every_outcome():
        if step.fault is not None:
            app.inject(step.fault)
        audited_before = len(logs.audit_events())
        run(step, key, exposed)
        app.clear_faults()
        assert {e["outcome"] for e in logs.audit_events()[audited_before:]} == {step.outcome}

    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG  # azure-identity's and urllib3's own logs too
    assert len(app.issued_tokens) >= 2  # the check below has tokens to look for
    exposed.add(logged_text(logs.records), *(json.dumps(event) for event in logs.audit_events()))
    for secret in [key, app.identity_header, *app.issued_tokens]:
        assert not any(secret in text for text in exposed.texts)


def test_the_log_guard_finds_a_token_and_the_identity_header_in_a_message_or_a_traceback() -> None:
    """The suite-wide guard in conftest.py is only worth having if it can fail."""
    with GraphSimulator() as graph:
        token = graph.issue_token()
        try:
            raise RuntimeError(f"got {token}")
        except RuntimeError as error:
            exc_info = (RuntimeError, error, error.__traceback__)
        in_traceback = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, exc_info)
        in_message = logging.LogRecord("x", logging.DEBUG, __file__, 1, "header %s", (graph.identity_header,), None)
        clean = logging.LogRecord("x", logging.INFO, __file__, 1, "nothing to see", None, None)

        assert secrets_logged([clean], [graph]) == []
        assert secrets_logged([in_traceback], [graph]) == ["1 access token(s) a simulator issued"]
        assert secrets_logged([clean, in_message], [graph]) == ["a simulator's identity header"]


# --- the token goes only to the host the Graph endpoint names ------------------------------
@contextmanager
def recording_server(host: str) -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on `host` that answers 200 and keeps every request line and Authorization header."""
    received: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(f"{self.requestline} {self.headers.get('Authorization')}")
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def test_a_graph_endpoint_that_urllib3_reads_as_another_host_is_refused_and_no_token_leaves(
    app: GraphSimulator,
) -> None:
    """`http://127.0.0.2:P\\@127.0.0.1:Q` names 127.0.0.1 to urlsplit but 127.0.0.2 to urllib3, which connects."""
    simulator_port = app.url.rsplit(":", 1)[1]
    with recording_server("127.0.0.2") as (port, received):
        endpoint = f"http://127.0.0.2:{port}\\@127.0.0.1:{simulator_port}"
        with app_settings({"REVOKE_GRAPH_ENDPOINT": endpoint}):
            response = revoke_http(http_request({"users": [ADELE[0]]}))

    assert response.status_code == 500
    error = json.loads(response.get_body())["error"]
    assert error["code"] == "configuration_error"
    assert "REVOKE_GRAPH_ENDPOINT" in error["message"]
    assert received == []
    assert app.requests == []  # not even a token was fetched


# --- protected users never reach Graph ------------------------------------------------------
PROTECTED = (ADELE, MEGAN)
OTHERS = (LEE, NESTOR, ("nobody@contoso.com", "00000000-1111-4222-8333-444444444444"))


@st.composite
def any_case(draw: st.DrawFn, text: str) -> str:
    """`text` with each letter's case flipped at random: Entra compares both forms without case."""
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def payloads_naming(draw: st.DrawFn, people: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """A payload of any shape naming each of `people` by UPN, object id or Sentinel name and suffix, in any case."""

    def account(person: tuple[str, str]) -> dict[str, str]:
        upn, object_id = person
        name, suffix = upn.split("@")
        how = draw(st.sampled_from(["aadUserId", "userPrincipalName", "name+upnSuffix"]))
        if how == "name+upnSuffix":
            return {"Name": draw(any_case(name)), "UPNSuffix": draw(any_case(suffix))}
        return {how: draw(any_case(object_id if how == "aadUserId" else upn))}

    shape = draw(st.sampled_from(["direct", "alert", "alert_string", "incident", "entity", "graph"]))
    if shape == "direct":
        return {"users": [draw(any_case(draw(st.sampled_from(person)))) for person in people]}
    if shape == "entity":  # names one account: a protected one, so there is something to refuse
        return {"Entity": {"Type": "account", **account(next(p for p in people if p in PROTECTED))}}
    accounts = [account(person) for person in people]
    if shape in ("alert", "alert_string"):
        entities = [{"Type": "account", **fields} for fields in accounts]
        return {"Entities": json.dumps(entities) if shape == "alert_string" else entities}
    if shape == "incident":
        related = [{"kind": "Account", "properties": fields} for fields in accounts]
        return {"object": {"properties": {"relatedEntities": related}}}
    graph_names = {"aadUserId": "azureAdUserId", "Name": "accountName"}
    evidence = [
        {
            "@odata.type": "#microsoft.graph.security.userEvidence",
            "userAccount": {graph_names.get(k, k): v for k, v in fields.items()},
        }
        for fields in accounts
    ]
    return {"evidence": evidence}


people = st.lists(st.sampled_from(PROTECTED + OTHERS), min_size=1, max_size=4, unique=True).filter(
    lambda chosen: any(person in PROTECTED for person in chosen)
)


@pytest.fixture(scope="module")
def tenant() -> Iterator[GraphSimulator]:
    with sample_tenant() as simulator:
        yield simulator


@pytest.fixture
def protected_app(tenant: GraphSimulator, protected_list: str) -> Iterator[GraphSimulator]:
    """The app against the module's tenant, for one test's examples, with `protected_list` protected."""
    with app_settings({**tenant.environment(), "REVOKE_PROTECTED_USERS": protected_list}):
        yield tenant


def names_of(person: tuple[str, str]) -> set[str]:
    return {name.lower() for name in person}


def named_in(request: Any) -> set[str]:
    """The users a request names: its path's user, or the values of a look-up's $filter."""
    return {name.lower() for name in request.named_users}


protected_settings = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    # One app per test, not per example, on purpose: building it fetches a token and starts a thread pool.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("trigger", ["http", "queue"])
@pytest.mark.parametrize("protected_list", [f"{ADELE[0]}, {ADELE[1]}, {MEGAN[0]}, {MEGAN[1]}"], ids=["both names"])
@protected_settings
@given(chosen=people, data=st.data())
def test_a_user_protected_by_both_names_is_never_named_to_graph_in_any_shape_or_case(
    protected_app: GraphSimulator, trigger: str, chosen: list[tuple[str, str]], data: st.DataObject
) -> None:
    document = data.draw(payloads_naming(tuple(chosen)))
    protected_app.requests.clear()

    deliver(trigger, document)

    named = set().union(*(named_in(r) for r in protected_app.requests))
    for person in PROTECTED:
        assert not named & names_of(person)
        assert person[1] not in protected_app.revocations


@pytest.mark.parametrize("trigger", ["http", "queue"])
@pytest.mark.parametrize("protected_list", [f"{ADELE[0]}, {MEGAN[1].upper()}"], ids=["one name each"])
@protected_settings
@given(chosen=people, data=st.data())
def test_a_user_protected_by_one_name_is_never_revoked_when_named_by_the_other(
    protected_app: GraphSimulator, trigger: str, chosen: list[tuple[str, str]], data: st.DataObject
) -> None:
    """Graph may be asked who a target is (a GET), but is never asked to revoke a protected user."""
    document = data.draw(payloads_naming(tuple(chosen)))
    protected_app.requests.clear()

    deliver(trigger, document)

    revoked = set().union(*(named_in(r) for r in protected_app.requests if r.method == "POST"))
    for person in PROTECTED:
        assert not revoked & names_of(person)
        assert person[1] not in protected_app.revocations


def deliver(trigger: str, document: dict[str, Any]) -> None:
    """Send `document` through `trigger`; every protected user it names is refused, and nothing fails."""
    with capture_logs() as logs:
        if trigger == "http":
            response = revoke_http(http_request(document))
            assert response.status_code in (200, 207, 422)
        else:
            poison = CapturedOut()
            revoke_queue(queue_message(document), poison)
            assert poison.value is None
    outcomes = {e["outcome"] for e in logs.audit_events()}
    assert "refused" in outcomes
    assert outcomes <= {"refused", "revoked", "not_found"}
