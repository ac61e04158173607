"""The Sentinel bridge's queue message: small enough for a large incident, and read like the full one.

The bridge (infra/app/sentinel-bridge.workflow.json) used to put the whole incident trigger body on
the request queue, and a queue message holds at most 64 KiB: an incident with many alerts and
entities failed to queue. It now sends the incident id, number and title and the Account entities,
in the trigger's own shape. This test runs the workflow's own expressions (a small evaluator for
the Workflow Definition Language functions the bridge uses; any other function or action type
fails the test) on a large, realistic incident and on the sample, and checks that the function
finds the same accounts in the message as in the full body.

`python -m tests.test_sentinel_bridge_message` prints the sizes that docs/DEPLOY.md quotes.
"""

from __future__ import annotations

import base64
import json
import random
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from revoke.errors import NoResolvableAccount
from revoke.intake.payloads import RevocationRequest, decode_queue_body, load_document, parse_request

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "infra" / "app" / "sentinel-bridge.workflow.json"
SAMPLE_INCIDENT = ROOT / "samples" / "sentinel-incident.json"
QUEUE_MESSAGE_LIMIT = 64 * 1024  # Put Message: the message text may be up to 64 KiB
MAX_BODY_BYTES = 16 * 1024 * 1024  # the largest REVOKE_MAX_BODY_BYTES allows; size is not under test here


# --- A Workflow Definition Language evaluator, for the functions and actions the bridge uses ---------


class WorkflowError(Exception):
    """The workflow uses something this evaluator does not model, or an expression fails."""


@dataclass
class Run:
    """One run of the workflow: the trigger body, finished actions' results, the Query item in hand."""

    trigger_body: Any
    results: dict[str, Any] = field(default_factory=dict)
    item: Any = None


def _string(value: Any) -> str:
    # string(): text as is, objects and arrays as compact JSON, null as empty text.
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _to_lower(value: Any) -> str:
    if not isinstance(value, str):
        raise WorkflowError(f"toLower() of {type(value).__name__}")
    return value.lower()


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "triggerBody": lambda run: run.trigger_body,
    "item": lambda run: run.item,
    "body": lambda run, name: run.results[name],
    "outputs": lambda run, name: run.results[name],
    "equals": lambda run, a, b: a == b,
    "toLower": lambda run, value: _to_lower(value),
    "string": lambda run, value: _string(value),
    "coalesce": lambda run, *values: next((v for v in values if v is not None), None),
    "json": lambda run, text: json.loads(text),
    "base64": lambda run, text: base64.b64encode(_string(text).encode("utf-8")).decode("ascii"),
}

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+)|(?P<name>[A-Za-z_]\w*)|(?P<punct>\?\[|[()\[\],.]))"
)


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match:
            raise WorkflowError(f"cannot read {text[position:]!r}")
        kind = match.lastgroup or ""
        yield kind, match.group(kind)
        position = match.end()


class _Expression:
    """Parses and evaluates one expression such as `coalesce(triggerBody()?['a'], json('[]'))`."""

    def __init__(self, text: str, run: Run) -> None:
        self.tokens = list(_tokens(text))
        self.position = 0
        self.run = run

    def evaluate(self) -> Any:
        value = self._value()
        if self.position != len(self.tokens):
            raise WorkflowError(f"unexpected {self.tokens[self.position][1]!r}")
        return value

    def _next(self) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _value(self) -> Any:
        kind, text = self._next()
        if kind == "string":
            value: Any = text[1:-1].replace("''", "'")
        elif kind == "number":
            value = int(text)
        elif kind == "name" and text in ("null", "true", "false"):
            value = {"null": None, "true": True, "false": False}[text]
        elif kind == "name" and self._peek() == "(":
            value = self._call(text)
        else:
            raise WorkflowError(f"unexpected {text!r}")
        while self._peek() in ("[", "?["):
            optional = self._next()[1] == "?["
            key = self._value()
            if self._next()[1] != "]":
                raise WorkflowError("expected ]")
            value = self._index(value, key, optional)
        return value

    def _call(self, name: str) -> Any:
        if name not in FUNCTIONS:
            raise WorkflowError(f"the bridge uses {name}(), which this test does not model")
        self._next()  # (
        arguments = []
        while self._peek() != ")":
            arguments.append(self._value())
            if self._peek() == ",":
                self._next()
        self._next()  # )
        return FUNCTIONS[name](self.run, *arguments)

    @staticmethod
    def _index(value: Any, key: Any, optional: bool) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, dict):
            if key in value:
                return value[key]
            if optional:
                return None
            raise WorkflowError(f"no property {key!r}")
        if isinstance(value, list) and isinstance(key, int):
            return value[key]
        raise WorkflowError(f"cannot index {type(value).__name__} with {key!r}")


_INTERPOLATION = re.compile(r"@\{(.*?)\}")


def evaluate(value: Any, run: Run) -> Any:
    """A workflow value: `@expr` keeps the expression's type, `@{expr}` inside text interpolates."""
    if isinstance(value, dict):
        return {key: evaluate(item, run) for key, item in value.items()}
    if isinstance(value, list):
        return [evaluate(item, run) for item in value]
    if not isinstance(value, str):
        return value
    if value.startswith("@@"):
        return value[1:]
    if value.startswith("@") and not value.startswith("@{"):
        return _Expression(value[1:], run).evaluate()
    return _INTERPOLATION.sub(lambda match: _string(_Expression(match.group(1), run).evaluate()), value)


def _run_order(actions: dict[str, Any]) -> list[str]:
    done: list[str] = []
    while len(done) < len(actions):
        ready = [n for n, a in actions.items() if n not in done and set(a.get("runAfter", {})) <= set(done)]
        if not ready:
            raise WorkflowError("the actions' runAfter form a cycle")
        done.extend(sorted(ready))
    return done


def run_bridge(trigger_body: Any, workflow: dict[str, Any] | None = None) -> str:
    """The message text the bridge puts on the request queue for this incident trigger body."""
    definition = workflow or json.loads(WORKFLOW.read_text())
    run = Run(trigger_body)
    message = None
    for name in _run_order(definition["actions"]):
        action = definition["actions"][name]
        inputs = action["inputs"]
        if action["type"] == "Query":
            rows = evaluate(inputs["from"], run)
            kept = []
            for row in rows:
                run.item = row
                if evaluate(inputs["where"], run) is True:
                    kept.append(row)
            run.item = None
            run.results[name] = kept
        elif action["type"] == "Compose":
            run.results[name] = evaluate(inputs, run)
        elif action["type"] == "Http":
            body = evaluate(inputs["body"], run)
            match = re.fullmatch(r"<QueueMessage><MessageText>(.*)</MessageText></QueueMessage>", body, re.DOTALL)
            if not match:
                raise WorkflowError("the queue call's body is not a Put Message body")
            message = match.group(1)
        else:
            raise WorkflowError(f"the bridge uses a {action['type']} action, which this test does not model")
    if message is None:
        raise WorkflowError("the bridge puts nothing on the queue")
    return message


def previous_bridge_message(trigger_body: Any) -> str:
    """What the bridge sent before: `base64(string(triggerBody()))`, the whole incident."""
    return base64.b64encode(_string(trigger_body).encode("utf-8")).decode("ascii")


def read_as_the_function_does(message: str) -> RevocationRequest:
    """The queue trigger's path (host.json messageEncoding none): decode, load, parse."""
    return parse_request(load_document(decode_queue_body(message.encode("ascii")), MAX_BODY_BYTES))


# --- A large, realistic incident ----------------------------------------------------------------

WORKSPACE = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/soc-rg/providers/"
    "Microsoft.OperationalInsights/workspaces/soc-workspace"
)
TENANT = "22222222-3333-4444-5555-666666666666"
KINDS = (
    "Host",
    "Ip",
    "Url",
    "File",
    "FileHash",
    "Process",
    "MailMessage",
    "Mailbox",
    "CloudApplication",
    "AzureResource",
)


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _entity(rng: random.Random, kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    name = _guid(rng)
    return {
        "id": f"{WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/{name}",
        "name": name,
        "type": "Microsoft.SecurityInsights/Entities",
        "kind": kind,
        "properties": properties,
    }


def _account(rng: random.Random, n: int) -> dict[str, Any]:
    user = f"user{n:03d}.{rng.choice(['vance', 'smith', 'okafor', 'tanaka', 'garcia'])}"
    if n % 15 == 14:  # an on-premises account: no Entra object id, no UPN suffix
        properties = {"accountName": user, "ntDomain": "CORP", "sid": f"S-1-5-21-{rng.getrandbits(30)}-{1000 + n}"}
    elif n % 15 == 13:  # a UPN but no object id
        properties = {"accountName": user, "upnSuffix": "contoso.com"}
    else:
        properties = {"accountName": user, "upnSuffix": "contoso.com", "aadTenantId": TENANT, "aadUserId": _guid(rng)}
    properties |= {
        "displayName": user.replace(".", " ").title(),
        "isDomainJoined": "ntDomain" in properties,
        "additionalData": {"Sources": "AAD", "IsDeleted": "false", "IsEnabled": "true", "UserType": "Member"},
        "friendlyName": user,
    }
    return _entity(rng, "Account", properties)


def _other(rng: random.Random, kind: str, n: int) -> dict[str, Any]:
    host = f"wks-{n:04d}.corp.contoso.com"
    properties: dict[str, Any] = {
        "Host": {
            "hostName": host.split(".")[0],
            "dnsDomain": "corp.contoso.com",
            "osFamily": "Windows",
            "osVersion": "10",
        },
        "Ip": {
            "address": f"203.0.{n % 256}.{rng.randrange(256)}",
            "location": {"countryCode": "NL", "countryName": "Netherlands", "city": "Amsterdam", "asn": 1136},
        },
        "Url": {
            "url": f"https://login.example-phish{n}.com/common/oauth2/authorize?client_id={_guid(rng)}&state={_guid(rng)}"
        },
        "File": {"fileName": f"invoice_{n}.docm", "directory": f"C:\\Users\\user{n}\\Downloads"},
        "FileHash": {"algorithm": "SHA256", "hashValue": f"{rng.getrandbits(256):064x}"},
        "Process": {
            "processId": str(rng.randrange(1000, 65000)),
            "commandLine": f"powershell.exe -NoProfile -EncodedCommand {base64.b64encode(rng.randbytes(90)).decode()}",
            "creationTimeUtc": "2026-08-20T09:14:07.123Z",
        },
        "MailMessage": {
            "recipient": f"user{n}@contoso.com",
            "sender": f"billing@example-phish{n}.com",
            "subject": f"Overdue invoice {n} - action required",
            "internetMessageId": f"<{_guid(rng)}@mail.example-phish{n}.com>",
            "deliveryAction": "Delivered",
        },
        "Mailbox": {"mailboxPrimaryAddress": f"user{n}@contoso.com", "displayName": f"User {n}"},
        "CloudApplication": {"appId": rng.randrange(10000, 99999), "appDisplayName": "Office 365 Exchange Online"},
        "AzureResource": {
            "resourceId": f"/subscriptions/{_guid(rng)}/resourceGroups/rg-{n}/providers/Microsoft.Compute/virtualMachines/vm-{n}"
        },
    }[kind]
    properties["friendlyName"] = next(iter(properties.values())) if kind != "Ip" else properties["address"]
    return _entity(rng, kind, properties)


def _alert(rng: random.Random, n: int) -> dict[str, Any]:
    alert_id = _guid(rng)
    return {
        "id": f"{WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/{alert_id}",
        "name": alert_id,
        "type": "Microsoft.SecurityInsights/Entities",
        "kind": "SecurityAlert",
        "properties": {
            "alertDisplayName": f"Sign-in from an anonymous IP address followed by a token replay ({n})",
            "description": (
                "A sign-in from an anonymizing proxy was followed within minutes by use of the same session token "
                "from a different autonomous system. This often means the token was stolen by an adversary-in-the-"
                "middle phishing kit and replayed."
            ),
            "severity": "High",
            "status": "New",
            "confidenceLevel": "Unknown",
            "vendorName": "Microsoft",
            "productName": "Azure Sentinel",
            "productComponentName": "Scheduled Alerts",
            "alertType": f"{_guid(rng)}_{_guid(rng)}",
            "providerAlertId": _guid(rng),
            "systemAlertId": alert_id,
            "startTimeUtc": "2026-08-20T09:10:00Z",
            "endTimeUtc": "2026-08-20T09:15:00Z",
            "timeGenerated": "2026-08-20T09:16:02.517Z",
            "tactics": ["InitialAccess", "CredentialAccess"],
            "techniques": ["T1078", "T1550"],
            "additionalData": {
                "Query Period": "05:00:00",
                "Trigger Operator": "GreaterThan",
                "Trigger Threshold": "0",
                "Search Query Results Overall Count": str(rng.randrange(1, 40)),
                "Analytic Rule Ids": json.dumps([_guid(rng)]),
                "Analytic Rule Name": "Token replay after anonymous sign-in",
                "ProcessedBySentinel": "True",
            },
            "friendlyName": f"Token replay ({n})",
        },
    }


def large_incident(*, alerts: int = 150, entities: int = 300, accounts: int = 30, seed: int = 4711) -> dict[str, Any]:
    """An incident trigger body: `alerts` alerts, `entities` related entities of which `accounts` are accounts."""
    rng = random.Random(seed)
    related = [_account(rng, n) for n in range(accounts)]
    related += [_other(rng, KINDS[n % len(KINDS)], n) for n in range(entities - accounts)]
    rng.shuffle(related)
    incident_id = _guid(rng)
    return {
        "eventUniqueId": _guid(rng),
        "objectSchemaType": "Incident",
        "objectEventType": "Create",
        "workspaceInfo": {
            "SubscriptionId": "11111111-2222-3333-4444-555555555555",
            "ResourceGroupName": "soc-rg",
            "WorkspaceName": "soc-workspace",
        },
        "workspaceId": _guid(rng),
        "object": {
            "id": f"{WORKSPACE}/providers/Microsoft.SecurityInsights/Incidents/{incident_id}",
            "name": incident_id,
            "type": "Microsoft.SecurityInsights/Incidents",
            "etag": f'"{_guid(rng)}"',
            "properties": {
                "title": "Token theft: sign-ins from an anonymous IP after MFA",
                "description": "Multiple accounts signed in through an anonymizing proxy, then replayed their tokens.",
                "severity": "High",
                "status": "New",
                "incidentNumber": 4711,
                "incidentUrl": f"https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident{WORKSPACE}/providers/Microsoft.SecurityInsights/Incidents/{incident_id}",
                "owner": {"objectId": None, "email": None, "assignedTo": None, "userPrincipalName": None},
                "labels": [],
                "firstActivityTimeUtc": "2026-08-20T09:10:00Z",
                "lastActivityTimeUtc": "2026-08-20T09:15:00Z",
                "createdTimeUtc": "2026-08-20T09:16:30Z",
                "providerName": "Azure Sentinel",
                "providerIncidentId": "4711",
                "additionalData": {
                    "alertsCount": alerts,
                    "bookmarksCount": 0,
                    "commentsCount": 0,
                    "alertProductNames": ["Azure Sentinel"],
                    "tactics": ["InitialAccess", "CredentialAccess"],
                    "techniques": ["T1078", "T1550"],
                },
                "relatedAnalyticRuleIds": [f"{WORKSPACE}/providers/Microsoft.SecurityInsights/alertRules/{_guid(rng)}"],
                "alerts": [_alert(rng, n) for n in range(alerts)],
                "bookmarks": [],
                "comments": [],
                "relatedEntities": related,
            },
        },
    }


# --- Tests ---------------------------------------------------------------------------------------


def test_a_large_incident_fits_a_queue_message_once_reduced() -> None:
    incident = large_incident()
    assert len(previous_bridge_message(incident)) > QUEUE_MESSAGE_LIMIT  # what used to fail at the queue step
    assert len(run_bridge(incident)) <= QUEUE_MESSAGE_LIMIT


def test_the_function_finds_the_same_request_in_the_reduced_and_the_full_incident() -> None:
    incident = large_incident()
    reduced = read_as_the_function_does(run_bridge(incident))
    full = read_as_the_function_does(previous_bridge_message(incident))
    assert reduced == full
    assert len(reduced.targets) == 30  # 28 name an Entra user, 2 on-premises accounts their SID
    assert len(reduced.skipped) == 0
    assert reduced.shape == "sentinel_incident"
    assert reduced.incident_id == incident["object"]["id"]
    assert reduced.reason == "Sentinel incident 4711: Token theft: sign-ins from an anonymous IP after MFA"


def test_the_message_is_the_incident_trigger_shape_with_account_entities_only() -> None:
    incident = large_incident()
    document = json.loads(base64.b64decode(run_bridge(incident)))
    properties = incident["object"]["properties"]
    assert document == {
        "object": {
            "id": incident["object"]["id"],
            "properties": {
                "incidentNumber": properties["incidentNumber"],
                "title": properties["title"],
                "relatedEntities": [e for e in properties["relatedEntities"] if e["kind"] == "Account"],
            },
        }
    }


def test_the_sample_incident_reads_the_same_through_the_bridge() -> None:
    incident = json.loads(SAMPLE_INCIDENT.read_text())
    assert read_as_the_function_does(run_bridge(incident)) == read_as_the_function_does(
        previous_bridge_message(incident)
    )


def test_the_account_filter_ignores_the_case_of_kind() -> None:
    incident = json.loads(SAMPLE_INCIDENT.read_text())
    for entity in incident["object"]["properties"]["relatedEntities"]:
        entity["kind"] = entity["kind"].lower()
    assert read_as_the_function_does(run_bridge(incident)).targets


def test_an_incident_without_entities_still_reaches_the_function_which_refuses_it() -> None:
    incident = json.loads(SAMPLE_INCIDENT.read_text())
    del incident["object"]["properties"]["relatedEntities"]
    message = run_bridge(incident)
    assert json.loads(base64.b64decode(message))["object"]["properties"]["relatedEntities"] == []
    with pytest.raises(NoResolvableAccount):
        read_as_the_function_does(message)


def test_the_evaluator_refuses_what_it_does_not_model() -> None:
    workflow = json.loads(WORKFLOW.read_text())
    workflow["actions"]["Account_entities"]["inputs"]["where"] = "@startsWith(item()?['kind'], 'Acc')"
    with pytest.raises(WorkflowError, match="startsWith"):
        run_bridge(large_incident(), workflow)


def test_the_previous_bridge_fails_the_size_test() -> None:
    """The check has teeth: the workflow as it was (the whole trigger body) does not fit."""
    workflow = json.loads(WORKFLOW.read_text())
    http = workflow["actions"]["Put_incident_on_request_queue"]
    workflow["actions"] = {"Put_incident_on_request_queue": {**http, "runAfter": {}}}
    http["inputs"]["body"] = "<QueueMessage><MessageText>@{base64(string(triggerBody()))}</MessageText></QueueMessage>"
    assert len(run_bridge(large_incident(), workflow)) > QUEUE_MESSAGE_LIMIT


def most_accounts_that_fit() -> int:
    """How many Account entities like these one message carries before it passes 64 KiB."""
    low, high = 1, 1000
    while low < high:
        middle = (low + high + 1) // 2
        fits = len(run_bridge(large_incident(accounts=middle, entities=max(300, middle)))) <= QUEUE_MESSAGE_LIMIT
        low, high = (middle, high) if fits else (low, middle - 1)
    return low


def test_the_documented_capacity_holds() -> None:
    assert 60 <= most_accounts_that_fit() < 100  # docs/DEPLOY.md quotes the exact figure


if __name__ == "__main__":
    incident = large_incident()
    full_json = len(_string(incident).encode("utf-8"))
    reduced = run_bridge(incident)
    print(f"incident: 150 alerts, 300 related entities, 30 of them accounts; JSON {full_json} bytes")
    print(f"previous message (whole incident, base64): {len(previous_bridge_message(incident))} bytes")
    print(f"reduced message (id, number, title, accounts; base64): {len(reduced)} bytes")
    print(f"queue message limit: {QUEUE_MESSAGE_LIMIT} bytes")
    print(f"accounts like these that fit one message: {most_accounts_that_fit()}")
