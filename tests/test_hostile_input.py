"""Hostile input through both triggers: whatever arrives, only a well-formed user the payload names reaches Graph.

Generated cases (hypothesis, fixed seed, no example database) run against one simulator
whose directory is empty, so every valid user comes back not_found. Each case checks:

* the trigger answers: HTTP with a known status and a JSON body, the queue by completing
  or poisoning (never raising, never an unhandled exception);
* a refused request gets a 4xx error body, or on the queue a `rejected` audit event and
  the message copied unchanged to the poison binding, and sends Graph nothing;
* every audit event fits the schema, and no log line carries a line break from the payload;
* every request Graph receives names, in one clean path segment (or, for a look-up, in the
  quoted values of its `$filter`), a user that passes the strict reference check below and
  that the payload itself names.

`pytest -q` prints how many cases ran ("hostile-input cases: N").
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphsim import GraphSimulator, RecordedRequest
from graphsim.harness import CapturedOut, LogCapture, app_settings, capture_logs, http_request, queue_message
from revoke.app.triggers import revoke_http, revoke_queue
from revoke.audit.events import AUDIT_LOGGER_NAME
from tests.conftest import AUDIT_VALIDATOR

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
TRIGGERS = ("http", "queue")
MAX_BODY_BYTES = 1024 * 1024  # the default REVOKE_MAX_BODY_BYTES
MAX_BODY_BYTES_CEILING = 2 * 1024 * 1024  # the most REVOKE_MAX_BODY_BYTES may be
HTTP_STATUSES = {200, 207, 400, 413, 422}  # with Graph healthy and every user unknown

# --- the reference check, written from Entra's rules, not from revoke/identifiers.py ----
GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
UPN_LOCAL = re.compile(r"[A-Za-z0-9'_!#^~+-](?:[A-Za-z0-9'._!#^~+-]*[A-Za-z0-9'_!#^~+-])?")
DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# What a percent-encoded segment may hold: unreserved characters, '@', and %XX escapes.
ENCODED_SEGMENT = re.compile(r"(?:[A-Za-z0-9@._~-]|%[0-9A-F]{2})+")
GRAPH_USER_PATH = re.compile(r"/(?:v1\.0|beta)/users/([^/]+)(?:/revokeSignInSessions|/invalidateAllRefreshTokens)?")
BATCH_PATH = re.compile(r"/(?:v1\.0|beta)/\$batch")
SELECT_QUERY = re.compile(r"\$select=[A-Za-z,]+")
# The one look-up that is not by a user's name: the user synced from an on-premises SID an alert gives.
SID_LOOKUP = re.compile(r"\$filter=onPremisesSecurityIdentifier%20eq%20'(S-1-[0-9]+(?:-[0-9]+)+)'&\$select=[A-Za-z,]+")


def is_reference_sid(sid: str) -> bool:
    """A security identifier as Windows writes it: S-1, an authority under 2^48, 1-15 sub-authorities under 2^32."""
    parts = sid.split("-")
    return (
        parts[:2] == ["S", "1"]
        and 4 <= len(parts) <= 18
        and all(part.isdigit() and len(part) <= 15 for part in parts[2:])
        and int(parts[2]) < 2**48
        and all(int(part) < 2**32 for part in parts[3:])
    )


# A look-up by filter: one property, up to 15 quoted values (a quote inside one doubled), the select.
USERS_PATH = re.compile(r"/(?:v1\.0|beta)/users")
LITERAL = r"'(?:[A-Za-z0-9@._~-]|%[0-9A-F]{2}|'')*'"
FILTER_QUERY = re.compile(rf"\$filter=(id|userPrincipalName)%20in%20\(({LITERAL}(?:,{LITERAL})*)\)&\$select=[A-Za-z,]+")
IN_FILTER_LIMIT = 15  # Graph's documented limit on the values of one `in`


def is_reference_identifier(user: str) -> bool:
    """An Entra object id, or a UPN: documented local-part characters, one '@', a DNS domain."""
    if GUID.fullmatch(user):
        return True
    local, at, domain = user.partition("@")
    labels = domain.split(".")
    return (
        at == "@"
        and len(user) <= 256
        and UPN_LOCAL.fullmatch(local) is not None
        and len(domain) <= 253
        and len(labels) >= 2
        and all(DNS_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def texts_naming_users(raw: bytes) -> list[str]:
    """The payload as text, as base64-decoded text, and every string inside it (JSON strings parsed again)."""
    texts = [raw.decode("utf-8", errors="replace")]
    # Base64 in either alphabet, wrapped in lines or not, padded or not; a BOM before the JSON.
    compact = re.sub(rb"\s", b"", raw)
    for alphabet in (None, b"-_"):
        with contextlib.suppress(ValueError):
            decoded = base64.b64decode(compact + b"=" * (-len(compact) % 4), altchars=alphabet)
            texts.append(decoded.decode("utf-8-sig", errors="replace"))
    pending = list(texts)
    while pending:
        try:
            value = json.loads(pending.pop())
        except (ValueError, RecursionError):
            continue
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                texts.extend(key for key in item if isinstance(key, str))
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str):
                texts.append(item)
                if item.lstrip()[:1] in ("[", "{"):
                    pending.append(item)
    return [text.lower() for text in texts]


def is_named_in(user: str, texts: list[str]) -> bool:
    """`user` appears in the payload, or as the name and UPN suffix a Sentinel account entity gives apart."""
    wanted = user.lower()
    if any(wanted in text for text in texts):
        return True
    name, _, suffix = wanted.rpartition("@")
    return any(name in text for text in texts) and any(suffix in text for text in texts)


def check_what_graph_received(raw: bytes, received: list[RecordedRequest]) -> list[str]:
    """Every Graph path is one clean user segment naming a valid user from the payload; returns the
    users acted on (the look-ups that learn each one's kind are checked alike, not counted twice)."""
    texts = texts_naming_users(raw)
    users = []
    for request in received:
        if request.path.startswith("/msi/token"):
            continue
        if BATCH_PATH.fullmatch(request.path) and not request.in_batch:
            continue  # the envelope; its sub-requests are recorded and checked one by one
        wire = request.path
        assert all(0x21 <= ord(c) <= 0x7E for c in wire), f"whitespace, control or non-ASCII in {wire!a}"
        assert "#" not in wire and "\\" not in wire, wire
        path, _, query = wire.partition("?")
        looked_up = SID_LOOKUP.fullmatch(query) if path == "/v1.0/users" and request.method == "GET" else None
        if looked_up is not None:
            sid = looked_up.group(1)
            assert is_reference_sid(sid), f"Graph was asked about an invalid SID: {sid!a}"
            assert is_named_in(sid, texts), f"Graph was asked about a SID the payload does not name: {sid!a}"
            continue
        if USERS_PATH.fullmatch(path):
            check_lookup_by_filter(request, query, texts)
            continue
        assert query == "" or SELECT_QUERY.fullmatch(query), wire
        match = GRAPH_USER_PATH.fullmatch(path)
        assert match is not None, f"not a single-user Graph path: {wire!a}"
        assert path.count("/users/") == 1
        assert "/.." not in path and "../" not in path and "/./" not in path
        assert ENCODED_SEGMENT.fullmatch(match.group(1)), wire
        user = unquote(match.group(1))
        if request.user_segment is not None:
            assert request.user_segment == user
        assert is_reference_identifier(user), f"Graph received an invalid user: {user!a}"
        assert is_named_in(user, texts), f"Graph received a user the payload does not name: {user!a}"
        if request.method != "GET":
            users.append(user)
    return users


def check_lookup_by_filter(request: RecordedRequest, query: str, texts: list[str]) -> None:
    """A look-up by $filter names at most 15 users, each in a literal nothing in it can end early,
    each a valid user the payload names, of the kind the filtered property holds."""
    assert request.method == "GET", request.path
    found = FILTER_QUERY.fullmatch(query)
    assert found is not None, f"not a look-up by filter: {request.path!a}"
    values = [unquote(literal[1:-1]).replace("''", "'") for literal in re.findall(LITERAL, found.group(2))]
    assert 1 <= len(values) <= IN_FILTER_LIMIT
    assert tuple(values) == request.filter_values  # the simulator read the same values from it
    for user in values:
        assert (GUID.fullmatch(user) is not None) == (found.group(1) == "id"), request.path
        assert is_reference_identifier(user), f"Graph received an invalid user: {user!a}"
        assert is_named_in(user, texts), f"Graph received a user the payload does not name: {user!a}"


# --- one delivery through a trigger, with everything a case checks ----------------------
@dataclass
class Delivery:
    trigger: str
    status: int | None  # HTTP only
    body: dict[str, Any] | None  # HTTP only
    poisoned: str | None  # queue only
    events: list[dict[str, Any]]
    graph_users: list[str]
    seconds: float  # the trigger call alone, without this module's checks

    @property
    def rejected(self) -> bool:
        """Refused whole: one `rejected` event, after one `skipped` event per account it could not use."""
        return [e["outcome"] for e in self.events if e["outcome"] != "skipped"] == ["rejected"]


CASES: Counter[str] = Counter()  # generated cases run, per property


@pytest.fixture(scope="module", autouse=True)
def publish_case_count(hostile_input_cases: Counter[str]) -> Iterator[None]:
    yield
    hostile_input_cases.update(CASES)


@pytest.fixture(scope="module")
def graph_sim() -> Iterator[GraphSimulator]:
    """One simulator for the module, its directory empty; the app pointed at it."""
    with GraphSimulator() as simulator, app_settings(simulator.environment()):
        yield simulator


def deliver(graph: GraphSimulator, trigger: str, raw: bytes, property_name: str) -> Delivery:
    CASES[property_name] += 1
    graph.requests.clear()
    with capture_logs() as logs:
        started = time.perf_counter()
        if trigger == "http":
            response = revoke_http(http_request(raw))
            seconds = time.perf_counter() - started
            status, body, poisoned = response.status_code, check_http_reply(response), None
        else:
            poison = CapturedOut()
            revoke_queue(queue_message(raw), poison)
            seconds = time.perf_counter() - started
            status, body, poisoned = None, None, poison.value
    events = logs.audit_events()
    for event in events:
        AUDIT_VALIDATOR.validate(event)
    check_log_lines(logs)
    graph_users = check_what_graph_received(raw, graph.requests)
    delivery = Delivery(trigger, status, body, poisoned, events, graph_users, seconds)
    check_refusals(delivery, raw)
    return delivery


def check_http_reply(response: Any) -> dict[str, Any]:
    assert response.status_code in HTTP_STATUSES
    body = json.loads(response.get_body())
    assert isinstance(body, dict)
    assert response.headers["X-Correlation-Id"] == body["correlationId"]
    if response.status_code >= 400:
        assert set(body) == {"error", "correlationId"}
        assert set(body["error"]) == {"code", "message"}
        assert all(isinstance(v, str) and v for v in body["error"].values())
    else:
        assert {r["outcome"] for r in body["results"]} <= {"not_found", "dry_run"}
    return body


def check_log_lines(logs: LogCapture) -> None:
    """The payload cannot forge log lines: no message of ours carries a line break or other control character."""
    for record in logs.records:
        # Audit lines are JSON, escaped by construction; other libraries log only what we send, already encoded.
        if record.name.startswith("revoke.") and record.name != AUDIT_LOGGER_NAME:
            message = record.getMessage()
            assert not any(ord(c) < 0x20 or c in "\x7f\u2028\u2029\x85" for c in message), f"{message!a}"


def check_refusals(delivery: Delivery, raw: bytes) -> None:
    """A refused request sends Graph nothing and is answered as refused; an accepted one is not."""
    if delivery.trigger == "http":
        assert delivery.status is not None
        if delivery.status >= 400:
            assert delivery.graph_users == []
        if delivery.status in (400, 413):
            assert delivery.rejected
        if delivery.rejected:
            assert delivery.status in (400, 413, 422)
    elif delivery.rejected:
        assert delivery.poisoned == raw.decode("utf-8", errors="replace")
        assert delivery.graph_users == []
    else:
        assert {e["outcome"] for e in delivery.events} <= {"not_found", "dry_run", "refused", "skipped"}
        over_limit = any(e["outcome"] == "refused" for e in delivery.events)
        assert delivery.poisoned == (raw.decode("utf-8", errors="replace") if over_limit else None)


def encoded(document: Any) -> bytes:
    return json.dumps(document).encode()


# --- strategies -----------------------------------------------------------------------
# Pieces that have broken URL builders, path checks and parsers before.
HOSTILE_PIECES = [
    "../", "..", "./", "/", "\\", "?", "#", "&", "=", ";", "%", "%2F", "%2f", "%5C", "%2E%2E", "%00", "%40", "%23",
    " ", "\t", "\r\n", "\n", "\x00", "\x1b[31m", "\x7f", "@", "@@", "users/", "/users/", "$batch", "?$select=id",
    "#EXT#", ".", "-", "_", "'", "+", "~", "!", "^", "*", "(", ")", ",", ":", '"', "<", ">", "{", "}", "[", "]",
    "é", "\u202e", "\u200b", "\ufeff", "\u2028", "\uff03", "\uff0f", "\u212a", "\u0130", "ß", "\ud800", "😀",
    "adele.vance", "contoso.com", "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69", "a" * 64, "b" * 300,
]  # fmt: skip
# Any one of these makes an identifier invalid, whatever surrounds it.
FORBIDDEN = '/\\?&=;% \t\r\n\x00\x1b\x7f*(),:"<>{}[]é\u202e\u200b\ufeff\u2028\uff03\uff0f\u212a\u0130ß\ud800😀'

hostile_text = st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=6).map("".join)
guids = st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper())
# Drawn from alphabets rather than regexes: much cheaper per case, and the edges are fixed up by hand.
upn_locals = st.text(alphabet=string.ascii_letters + string.digits + "'._!#^~+-", min_size=1, max_size=14).map(
    lambda local: local.strip(".") or "x"
)
dns_labels = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=8).map(
    lambda label: label.strip("-") or "x"
)
dns_names = st.lists(dns_labels, min_size=1, max_size=3).map(lambda labels: ".".join([*labels, "com"]))
upns = st.builds("{}@{}".format, upn_locals, dns_names)
valid_users = guids | upns


@st.composite
def spoiled_users(draw: st.DrawFn) -> str:
    """A valid user with a forbidden character spliced in: always invalid."""
    user = draw(valid_users)
    where = draw(st.integers(0, len(user)))
    return user[:where] + draw(st.sampled_from(FORBIDDEN)) + user[where:]


invalid_users = spoiled_users() | hostile_text.filter(lambda text: any(c in FORBIDDEN for c in text))
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
any_user = st.one_of(valid_users, invalid_users, hostile_text, json_scalars, st.lists(valid_users, max_size=2))

SHAPE_KEYS = [
    "users", "user", "reason", "dryRun", "correlationId", "Entities", "entities", "SystemAlertId", "AlertName",
    "object", "properties", "relatedEntities", "incidentNumber", "title", "kind", "Entity", "IncidentArmID", "evidence",
    "@odata.type", "userAccount", "Type", "type", "AadUserId", "aadUserId", "azureAdUserId", "UserPrincipalName",
    "userPrincipalName", "Name", "name", "accountName", "UPNSuffix", "upnSuffix", "NTDomain", "Sid", "$id", "$ref",
]  # fmt: skip
SHAPE_VALUES = ["account", "Account", "#microsoft.graph.security.userEvidence", "ip", "host"]
json_values = st.recursive(
    json_scalars | any_user | st.sampled_from(SHAPE_VALUES),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(SHAPE_KEYS) | st.text(max_size=6), inner, max_size=5),
    max_leaves=24,
)  # fmt: skip


def spelled(key: str) -> st.SearchStrategy[str]:
    """Sentinel spells one field differently in each of its forms; the parser ignores case."""
    return st.sampled_from([key, key.lower(), key.upper(), key[:1].lower() + key[1:]])


@st.composite
def account_fields(draw: st.DrawFn, users: st.SearchStrategy[Any], names: st.SearchStrategy[Any]) -> dict[str, Any]:
    """Some of an account entity's identifying fields, each maybe present, values from `users`/`names`."""
    fields: dict[str, Any] = {}
    for key, values in [
        ("AadUserId", users), ("UserPrincipalName", users), ("Name", names), ("UPNSuffix", names),
        ("NTDomain", names), ("Sid", st.just("S-1-5-21-1")), ("DisplayName", names),
    ]:  # fmt: skip
        if draw(st.booleans()):
            fields[draw(spelled(key))] = draw(values)
    return fields


@st.composite
def shaped_payloads(draw: st.DrawFn, users: st.SearchStrategy[Any], names: st.SearchStrategy[Any]) -> dict[str, Any]:
    """Any accepted payload shape, its user fields drawn from `users` and `names`."""
    shape = draw(st.sampled_from(["direct", "alert", "alert_string", "incident", "entity", "graph"]))
    if shape == "direct":
        document: dict[str, Any] = {draw(spelled("users")): draw(st.lists(users, max_size=4))}
        if draw(st.booleans()):
            document[draw(spelled("user"))] = draw(users)
        if draw(st.booleans()):
            document["reason"] = draw(hostile_text)
        if draw(st.booleans()):
            document["dryRun"] = draw(st.booleans() | json_scalars)
        return document
    accounts = draw(st.lists(account_fields(users, names), min_size=1, max_size=3))
    others = [{"Type": "ip", "Address": "192.0.2.1"}, {"Type": "host", "HostName": draw(hostile_text)}]
    if shape in ("alert", "alert_string"):
        entities = [{draw(spelled("Type")): "account", **fields} for fields in accounts] + others
        return {"SystemAlertId": "a-1", "Entities": json.dumps(entities) if shape == "alert_string" else entities}
    if shape == "incident":
        related = [{"kind": "Account", "name": "e1", "properties": fields} for fields in accounts]
        properties = {"incidentNumber": 7, "title": draw(hostile_text), "relatedEntities": related}
        return {"object": {"id": "incident-7", "properties": properties}}
    if shape == "entity":
        return {"Entity": {"Type": "account", **accounts[0]}, "IncidentArmID": "incident-7"}
    evidence = [{"@odata.type": "#microsoft.graph.security.userEvidence", "userAccount": a} for a in accounts]
    return {"id": "alert-1", "evidence": [*evidence, {"@odata.type": "#microsoft.graph.security.ipEvidence"}]}


@st.composite
def mangled(draw: st.DrawFn, documents: st.SearchStrategy[bytes]) -> bytes:
    """A payload with a few bytes inserted, deleted or replaced."""
    raw = bytearray(draw(documents))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(raw)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.sampled_from(b'"\\[]{},:@/%\x00\xff\xc3') | st.integers(0, 255))
        if edit == "insert":
            raw.insert(where, byte)
        elif where < len(raw):
            if edit == "delete":
                del raw[where]
            else:
                raw[where] = byte
    return bytes(raw)


SAMPLE_PAYLOADS = [path.read_bytes() for path in sorted(SAMPLES.glob("*.json"))]
sample_payloads = st.sampled_from(SAMPLE_PAYLOADS)
arbitrary_bodies = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=40).map(str.encode),
    mangled(sample_payloads),
    mangled(sample_payloads.map(base64.b64encode)),
    mangled(sample_payloads.map(base64.encodebytes)),  # MIME lines
    mangled(sample_payloads.map(base64.urlsafe_b64encode)),
    mangled(shaped_payloads(valid_users, upn_locals | dns_names).map(encoded)),
)


def hypothesis_settings(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        # The module's simulator is shared on purpose; the suite-wide log guard spans the whole test.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- the properties -------------------------------------------------------------------
@pytest.mark.parametrize("trigger", TRIGGERS)
@hypothesis_settings(1000)
@given(document=json_values)
def test_any_json_value_is_answered_and_sends_only_valid_named_users(
    graph_sim: GraphSimulator, trigger: str, document: Any
) -> None:
    deliver(graph_sim, trigger, encoded(document), "any JSON value")


@pytest.mark.parametrize("trigger", TRIGGERS)
@hypothesis_settings(1000)
@given(raw=arbitrary_bodies)
def test_any_bytes_are_answered_and_send_only_valid_named_users(
    graph_sim: GraphSimulator, trigger: str, raw: bytes
) -> None:
    deliver(graph_sim, trigger, raw, "any bytes")


@pytest.mark.parametrize("trigger", TRIGGERS)
@hypothesis_settings(1000)
@given(valid=st.lists(valid_users, max_size=3), invalid=invalid_users, where=st.integers(0, 3))
def test_one_invalid_user_refuses_the_whole_request_before_graph(
    graph_sim: GraphSimulator, trigger: str, valid: list[str], invalid: str, where: int
) -> None:
    users = [*valid[:where], invalid, *valid[where:]]
    raw = encoded({"users": users})

    delivery = deliver(graph_sim, trigger, raw, "an invalid user among valid ones")

    assert delivery.rejected
    assert graph_sim.requests == []
    if trigger == "http":
        assert (delivery.status, delivery.body and delivery.body["error"]["code"]) == (400, "invalid_identifier")


@pytest.mark.parametrize("trigger", TRIGGERS)
@hypothesis_settings(1200)
@given(document=shaped_payloads(any_user, hostile_text | upn_locals | dns_names | json_scalars))
def test_every_payload_shape_with_hostile_field_values_sends_only_valid_named_users(
    graph_sim: GraphSimulator, trigger: str, document: dict[str, Any]
) -> None:
    deliver(graph_sim, trigger, encoded(document), "payload shapes, hostile values")


@st.composite
def shapes_naming_valid_users(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """A payload of any shape whose accounts each name one valid user one way, and the users it names."""
    named: set[str] = set()

    def one_account() -> dict[str, Any]:
        how = draw(st.sampled_from(["AadUserId", "UserPrincipalName", "Name+UPNSuffix"]))
        if how == "Name+UPNSuffix":
            name, suffix = draw(upn_locals), draw(dns_names)
            named.add(f"{name}@{suffix}".lower())
            return {draw(spelled("Name")): name, draw(spelled("UPNSuffix")): suffix}
        user = draw(guids if how == "AadUserId" else upns)
        named.add(user.lower())
        return {draw(spelled(how)): user}

    shape = draw(st.sampled_from(["direct", "alert", "alert_string", "incident", "entity", "graph"]))
    if shape == "direct":
        users = draw(st.lists(valid_users, min_size=1, max_size=4))
        named.update(user.lower() for user in users)
        return {"users": users}, named
    accounts = [one_account() for _ in range(1 if shape == "entity" else draw(st.integers(1, 3)))]
    return payload_of_shape(shape, accounts), named


GRAPH_ACCOUNT_FIELDS = {"aaduserid": "azureAdUserId", "userprincipalname": "userPrincipalName", "name": "accountName"}


def payload_of_shape(shape: str, accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """A Sentinel alert (entities as a list or a JSON string), incident, entity or Graph alert naming `accounts`."""
    if shape in ("alert", "alert_string"):
        entities = [{"Type": "account", **fields} for fields in accounts]
        return {"Entities": json.dumps(entities) if shape == "alert_string" else entities}
    if shape == "incident":
        return {"object": {"properties": {"relatedEntities": [{"kind": "Account", "properties": f} for f in accounts]}}}
    if shape == "entity":
        return {"Entity": {"Type": "account", **accounts[0]}}
    evidence = [
        {
            "@odata.type": "#microsoft.graph.security.userEvidence",
            "userAccount": {GRAPH_ACCOUNT_FIELDS.get(key.lower(), key): value for key, value in fields.items()},
        }
        for fields in accounts
    ]
    return {"evidence": evidence}


@pytest.mark.parametrize("trigger", TRIGGERS)
@hypothesis_settings(900)
@given(case=shapes_naming_valid_users())
def test_every_payload_shape_sends_graph_exactly_the_users_it_names(
    graph_sim: GraphSimulator, trigger: str, case: tuple[dict[str, Any], set[str]]
) -> None:
    document, named = case

    delivery = deliver(graph_sim, trigger, encoded(document), "payload shapes, valid users")

    assert sorted(user.lower() for user in delivery.graph_users) == sorted(named)
    assert {e["outcome"] for e in delivery.events} == {"not_found"}
    if trigger == "http":
        assert delivery.status == 207


@st.composite
def alerts_with_one_invalid_account(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """An alert, incident or Graph alert naming valid users and one account whose identifier is invalid."""
    valid = draw(st.lists(valid_users, min_size=1, max_size=3))
    named = {user.lower() for user in valid}
    accounts = [{"AadUserId" if GUID.fullmatch(user) else "UserPrincipalName": user} for user in valid]
    invalid = draw(invalid_users)
    how = draw(st.sampled_from(["AadUserId", "UserPrincipalName", "Name"]))
    bad = {"Name": invalid, "UPNSuffix": draw(dns_names)} if how == "Name" else {draw(spelled(how)): invalid}
    accounts.insert(draw(st.integers(0, len(accounts))), bad)
    shape = draw(st.sampled_from(["alert", "alert_string", "incident", "graph"]))
    return payload_of_shape(shape, accounts), named


@pytest.mark.parametrize("trigger", TRIGGERS)
@hypothesis_settings(600)
@given(case=alerts_with_one_invalid_account())
def test_an_invalid_account_in_an_alert_is_skipped_and_the_valid_ones_still_reach_graph(
    graph_sim: GraphSimulator, trigger: str, case: tuple[dict[str, Any], set[str]]
) -> None:
    document, named = case

    delivery = deliver(graph_sim, trigger, encoded(document), "an invalid account among valid ones in an alert")

    assert sorted(user.lower() for user in delivery.graph_users) == sorted(named)
    assert sorted(e["outcome"] for e in delivery.events) == ["not_found"] * len(named) + ["skipped"]
    if trigger == "http":
        assert delivery.status == 207
        assert delivery.body is not None and len(delivery.body["skipped"]) == 1
    else:
        assert delivery.poisoned is None


# --- the extremes, once each ----------------------------------------------------------
TEN_MB = 10 * 1024 * 1024
EXTREMES = {
    "10,000 levels of [": (b"[" * 10_000, 400),
    "10,000 levels of {": (b'{"a":' * 10_000, 400),
    "10,000 levels inside users": (b'{"users":' + b"[" * 10_000, 400),
    "10,000 levels inside an Entities string": (encoded({"Entities": "[" * 10_000}), 400),
    "a 10 MB user": (encoded({"users": ["a" * TEN_MB + "@contoso.com"]}), 413),
    "a 10 MB string of NULs": (b"\x00" * TEN_MB, 413),
    "an integer of 5,000 digits": (b'{"users": [' + b"7" * 5000 + b"]}", 400),
    "an integer of 5,000 digits inside an Entities string": (encoded({"Entities": "[" + "7" * 5000 + "]"}), 400),
    "400,000 escaped quotes in an unterminated string": (b'{"reason": "' + b'\\"' * 400_000, 400),
    "400,000 quotes": (b'{"a": [' + b'"' * 400_000, 400),
    "a UTF-8 BOM then a user with a control character": (b"\xef\xbb\xbf" + encoded({"users": ["a\x1b@contoso.com"]}), 400),
    "emoji filling the identifier limit": (encoded({"users": ["😀" * 240 + "@contoso.com"]}), 400),
    "six unresolvable accounts with long names": (
        encoded({"Entities": [{"Type": "account", "Name": f"{i}" + "n" * 300} for i in range(6)]}),
        422,
    ),
}  # fmt: skip


@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("name", EXTREMES)
def test_extreme_bodies_are_refused_quickly(graph_sim: GraphSimulator, trigger: str, name: str) -> None:
    raw, status = EXTREMES[name]
    started = time.perf_counter()

    delivery = deliver(graph_sim, trigger, raw, "extremes")

    assert time.perf_counter() - started < 2.0
    assert delivery.rejected
    assert graph_sim.requests == []
    if trigger == "http":
        assert delivery.status == status


def test_a_body_as_large_as_the_largest_limit_is_read_and_its_user_refused(graph_sim: GraphSimulator) -> None:
    with app_settings({"REVOKE_MAX_BODY_BYTES": str(MAX_BODY_BYTES_CEILING)}):
        for trigger in TRIGGERS:
            user = "a" * (MAX_BODY_BYTES_CEILING - 100) + "@contoso.com"
            delivery = deliver(graph_sim, trigger, encoded({"users": [user]}), "extremes")

            assert delivery.rejected
            assert "longer than 256 characters" in delivery.events[0]["detail"]


def test_a_reason_filling_the_largest_limit_is_cut_to_fit_the_audit_event(graph_sim: GraphSimulator) -> None:
    with app_settings({"REVOKE_MAX_BODY_BYTES": str(MAX_BODY_BYTES_CEILING)}):
        for trigger in TRIGGERS:
            document = {"users": ["nobody@contoso.com"], "reason": "\r\n" + "r" * (MAX_BODY_BYTES_CEILING - 100)}

            delivery = deliver(graph_sim, trigger, encoded(document), "extremes")

            assert delivery.graph_users == ["nobody@contoso.com"]
            assert [len(event["reason"]) for event in delivery.events] == [512]


def filled(head: bytes, unit: bytes, tail: bytes, size: int) -> bytes:
    count = (size - len(head) - len(tail) + 1) // (len(unit) + 1)
    return head + (unit + b",") * (count - 1) + unit + tail


# The costliest bodies bench/body_ceiling.py found, as large as REVOKE_MAX_BODY_BYTES may be.
# How long they take is a figure of `make bench` (docs/PERFORMANCE.md), not of a test: a busy
# machine makes any wall-clock bound here fail by chance.
COSTLIEST: dict[str, Callable[[int], bytes]] = {
    "arrays nested 62 deep, repeated": lambda size: filled(b'{"Entities":[', b"[" * 62 + b"]" * 62, b"]}", size),
    "objects with a Type field nested 31 deep around one array": lambda size: filled(
        b'{"Entities":[' + b'{"Type":[' * 31, b"0", b"]}" * 31 + b"]}", size
    ),
}


@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("name", COSTLIEST)
def test_the_costliest_bodies_at_the_largest_limit_are_refused_without_reaching_graph(
    graph_sim: GraphSimulator, trigger: str, name: str
) -> None:
    raw = COSTLIEST[name](MAX_BODY_BYTES_CEILING)
    assert len(raw) <= MAX_BODY_BYTES_CEILING
    with app_settings({"REVOKE_MAX_BODY_BYTES": str(MAX_BODY_BYTES_CEILING)}):
        delivery = deliver(graph_sim, trigger, raw, "extremes")

    assert delivery.rejected
    assert graph_sim.requests == []


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_long_incident_number_and_title_are_cut_to_fit_the_audit_event(
    graph_sim: GraphSimulator, trigger: str
) -> None:
    account = {"kind": "Account", "properties": {"aadUserId": "0f0e0d0c-0b0a-4908-8706-050403020100"}}
    incident = {"incidentNumber": "9" * 600, "title": "t" * 600, "relatedEntities": [account]}

    delivery = deliver(graph_sim, trigger, encoded({"object": {"properties": incident}}), "extremes")

    assert [(event["outcome"], len(event["reason"])) for event in delivery.events] == [("not_found", 512)]


def test_an_account_name_cannot_forge_a_log_line_or_an_error_message(graph_sim: GraphSimulator) -> None:
    entities = [{"Type": "account", "Name": "svc\r\nWARNING forged\u2028line\u202e"}]
    entities.append({"Type": "account", "AadUserId": "0f0e0d0c-0b0a-4908-8706-050403020100"})
    alone = encoded({"Entities": entities[:1]})
    beside_a_user = encoded({"Entities": entities})

    refused = deliver(graph_sim, "http", alone, "extremes")
    with capture_logs() as logs:
        deliver(graph_sim, "queue", beside_a_user, "extremes")

    assert refused.body is not None
    assert "svc\\r\\nWARNING forged\\u2028line\\u202e" in refused.body["error"]["message"]
    [skipped] = [r.getMessage() for r in logs.records if r.name != AUDIT_LOGGER_NAME and "skipped" in r.getMessage()]
    assert skipped.endswith(
        "skipped svc\\r\\nWARNING forged\\u2028line\\u202e: incomplete UPN: name or UPN suffix missing, and no Entra object id"
    )


def test_enough_cases_ran_to_publish() -> None:
    """The published count: at least 10,000 generated cases when the whole module runs."""
    if len(CASES) < 7:
        pytest.skip("only part of the module ran")
    assert sum(CASES.values()) >= 10_000
