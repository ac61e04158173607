"""The comment on the Microsoft Sentinel incident: which incidents may get one, what it says, how it is sent.

The incident id comes from the payload, so whoever sends the payload chooses it; account
names come from alerts, so whoever raises the alert chooses them. Both are treated as
hostile: ids with example cases and generated ones (hypothesis, fixed seed), the HTML by
parsing what was rendered.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import string
import time
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser

import jsonschema
import pytest
import requests
from azure.identity import ManagedIdentityCredential
from hypothesis import given, settings
from hypothesis import strategies as st

from graphsim import Fault, GraphSimulator
from graphsim.harness import LogCapture, app_settings
from graphsim.identity_endpoint import GRAPH_RESOURCE
from revoke.audit.events import AUDIT_LOGGER_NAME, SCHEMA_PATH, RequestContext, audit_event, emit
from revoke.deadline import Deadline
from revoke.graph.transport import pooled_session
from revoke.incidents import comment_id, incident_in_workspace, is_incident_id
from revoke.outcomes import Outcome
from revoke.sentinel.comment_text import MAX_COMMENT_CHARACTERS, CommentSummary, CommentTarget, render_comment
from revoke.sentinel.incident_comment import (
    CommentResult,
    IncidentCommenter,
    comment_audit_event,
    skipped,
)
from revoke.untrusted import printable

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
WORKSPACE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/soc-rg/providers/Microsoft.OperationalInsights/workspaces/soc-workspace"
INCIDENT_NAME = "9f1c2d3e-4b5a-4c6d-8e7f-a1b2c3d4e5f6"
# As the Sentinel incident trigger sends it (samples/sentinel-incident.json): "Incidents".
INCIDENT = f"{WORKSPACE}/providers/Microsoft.SecurityInsights/Incidents/{INCIDENT_NAME}"
NORMALISED = f"{WORKSPACE}/providers/Microsoft.SecurityInsights/incidents/{INCIDENT_NAME}"

# Written from ARM's rules, not from revoke/incidents.py: the only shape a normalised id may have.
REFERENCE_ID = re.compile(
    r"/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"/resourceGroups/[a-z0-9_.()-]{1,90}"
    r"/providers/Microsoft\.OperationalInsights/workspaces/[a-z0-9][a-z0-9-]{1,88}[a-z0-9]"
    r"/providers/Microsoft\.SecurityInsights/incidents/[a-z0-9][a-z0-9_-]{0,127}"
)


def hypothesis_settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None)


# --- which incident ids are accepted ---------------------------------------------------
def test_an_incident_of_the_workspace_is_accepted_and_normalised() -> None:
    assert incident_in_workspace(INCIDENT, WORKSPACE) == NORMALISED
    assert is_incident_id(NORMALISED)


@pytest.mark.parametrize(
    "spelling",
    [
        INCIDENT.upper(),
        INCIDENT.lower(),
        INCIDENT.replace("resourceGroups", "resourcegroups").replace("Microsoft.", "microsoft."),
        INCIDENT.replace(INCIDENT_NAME, INCIDENT_NAME.upper()).replace("soc-rg", "SOC-RG"),
    ],
)
def test_every_spelling_of_one_incident_gives_the_same_id(spelling: str) -> None:
    """ARM compares segments without regard to case; so does the check, and one id comes out."""
    assert incident_in_workspace(spelling, WORKSPACE) == NORMALISED
    assert incident_in_workspace(INCIDENT, WORKSPACE.upper()) == NORMALISED


def test_comments_are_off_without_a_workspace() -> None:
    assert incident_in_workspace(INCIDENT, None) is None


OTHER_SUBSCRIPTION = "99999999-2222-3333-4444-555555555555"
REFUSED = {
    "another workspace": INCIDENT.replace("workspaces/soc-workspace", "workspaces/soc-workspace2"),
    "another resource group": INCIDENT.replace("soc-rg", "other-rg"),
    "another subscription": INCIDENT.replace(SUBSCRIPTION, OTHER_SUBSCRIPTION),
    "another provider's resource": INCIDENT.replace("Microsoft.SecurityInsights/Incidents", "Microsoft.Compute/Incidents"),
    "an analytics rule, not an incident": INCIDENT.replace("Incidents", "alertRules"),
    "the workspace itself": WORKSPACE,
    "no incident name": INCIDENT.removesuffix(INCIDENT_NAME),
    "a trailing slash": INCIDENT + "/",
    "a doubled slash": INCIDENT.replace("/providers/Microsoft.SecurityInsights", "//providers/Microsoft.SecurityInsights"),
    "no leading slash": INCIDENT[1:],
    "an absolute URL": "https://management.azure.com" + INCIDENT,
    "a comment under the incident": INCIDENT + "/comments/x",
    "an extra segment": INCIDENT + "/x",
    "a .. incident name": INCIDENT.replace(INCIDENT_NAME, ".."),
    "a . incident name": INCIDENT.replace(INCIDENT_NAME, "."),
    "traversal to another workspace": f"{INCIDENT}/../../../../workspaces/other/providers/Microsoft.SecurityInsights/incidents/x",
    "traversal out of another workspace": INCIDENT.replace("workspaces/soc-workspace", "workspaces/other/../soc-workspace"),
    "a .. resource group": INCIDENT.replace("soc-rg", ".."),
    "a query": INCIDENT + "?api-version=2024-09-01",
    "a fragment": INCIDENT + "#x",
    "a percent-encoded slash": INCIDENT.replace(INCIDENT_NAME, "a%2Fb"),
    "percent-encoded dots": INCIDENT.replace(INCIDENT_NAME, "%2e%2e"),
    "a backslash": INCIDENT.replace("/providers/Microsoft.SecurityInsights", "\\providers/Microsoft.SecurityInsights"),
    "a space": INCIDENT.replace(INCIDENT_NAME, INCIDENT_NAME + " "),
    "a trailing newline": INCIDENT + "\n",
    "a tab": INCIDENT.replace("/Incidents", "/\tIncidents"),
    "a NUL": INCIDENT + "\x00",
    "a semicolon parameter": INCIDENT + ";x=1",
    "a dot in the incident name": INCIDENT.replace(INCIDENT_NAME, "a.b"),
    "a subscription that is not a GUID": INCIDENT.replace(SUBSCRIPTION, "sub"),
    "a workspace name ending in '-'": INCIDENT.replace("soc-workspace", "soc-"),
    "a resource group ending in '.'": INCIDENT.replace("soc-rg", "soc-rg."),
    "Kelvin sign K, lower-cases to k": INCIDENT.replace("soc-workspace", "soc-wor\u212aspace"),
    "long s, upper-cases to S": INCIDENT.replace("/subscriptions/", "/\u017fubscriptions/"),
    "dotted capital I": INCIDENT.replace("Incidents", "\u0130ncidents"),
    "a fullwidth slash": INCIDENT.replace("/Incidents/", "/Incidents\uff0f"),
    "a right-to-left override": INCIDENT.replace(INCIDENT_NAME, "\u202e" + INCIDENT_NAME),
    "an over-long incident name": INCIDENT.replace(INCIDENT_NAME, "a" * 129),
    "empty": "",
    "only a slash": "/",
}  # fmt: skip


@pytest.mark.parametrize("incident_id", REFUSED.values(), ids=REFUSED.keys())
def test_a_malformed_or_foreign_incident_id_is_refused(incident_id: str) -> None:
    assert incident_in_workspace(incident_id, WORKSPACE) is None
    assert not is_incident_id(incident_id)


@pytest.mark.parametrize(
    "workspace",
    [
        WORKSPACE + "/",
        WORKSPACE + "/providers/Microsoft.SecurityInsights",
        WORKSPACE.replace("Microsoft.OperationalInsights", "Microsoft.Storage"),
        WORKSPACE.replace("/soc-workspace", "/../soc-workspace"),
        "",
    ],
)
def test_a_malformed_workspace_setting_turns_comments_off(workspace: str) -> None:
    assert incident_in_workspace(INCIDENT, workspace) is None


@pytest.mark.parametrize("value", [None, 42, b"/subscriptions/", ["x"]])
def test_an_incident_id_of_another_type_is_refused(value: object) -> None:
    assert incident_in_workspace(value, WORKSPACE) is None  # type: ignore[arg-type]


# --- generated ids ---------------------------------------------------------------------
HOSTILE_SEGMENTS = ["", ".", "..", "%2e%2e", "%2F", " ", "\t", "\n", "?", "#", "\\", "\x00", "\u212a", "\u017f", "/"]
VALID_SEGMENTS = [*WORKSPACE.split("/")[1:], "providers", "Microsoft.SecurityInsights", "incidents", INCIDENT_NAME]
segment = st.sampled_from(VALID_SEGMENTS + HOSTILE_SEGMENTS) | st.text(max_size=12)
near_ids = st.lists(segment, max_size=14).map(lambda parts: "/" + "/".join(parts)) | st.text(max_size=300)


@hypothesis_settings(3000)
@given(incident_id=near_ids)
def test_whatever_is_accepted_is_an_incident_of_the_workspace_in_one_strict_shape(incident_id: str) -> None:
    accepted = incident_in_workspace(incident_id, WORKSPACE)
    if accepted is not None:
        assert REFERENCE_ID.fullmatch(accepted)
        assert accepted.lower().startswith(WORKSPACE.lower() + "/")
        assert accepted.lower() == incident_id.lower()  # normalising changes case, nothing else
        assert incident_in_workspace(accepted, WORKSPACE) == accepted


@hypothesis_settings(500)
@given(flips=st.lists(st.booleans(), min_size=len(INCIDENT), max_size=len(INCIDENT)))
def test_any_case_of_any_character_names_the_same_incident(flips: list[bool]) -> None:
    spelled = "".join(c.swapcase() if flip else c for c, flip in zip(INCIDENT, flips, strict=True))
    assert incident_in_workspace(spelled, WORKSPACE) == NORMALISED


@hypothesis_settings(1000)
@given(position=st.integers(0, len(WORKSPACE) - 1), character=st.characters())
def test_any_character_inserted_into_the_workspace_part_is_refused(position: int, character: str) -> None:
    changed = INCIDENT[:position] + character + INCIDENT[position:]
    assert incident_in_workspace(changed, WORKSPACE) is None


NAME_CHARACTERS = set(string.ascii_letters + string.digits + "-_")


@hypothesis_settings(1000)
@given(
    position=st.integers(len(WORKSPACE), len(INCIDENT)),
    character=st.characters().filter(lambda c: c not in NAME_CHARACTERS),
)
def test_any_character_outside_a_name_inserted_into_the_incident_part_is_refused(position: int, character: str) -> None:
    changed = INCIDENT[:position] + character + INCIDENT[position:]
    assert incident_in_workspace(changed, WORKSPACE) is None


guids = st.uuids().map(str)
group_names = st.text(string.ascii_letters + string.digits + "_-.()", min_size=1, max_size=90).filter(
    lambda name: not name.endswith(".") and ".." not in name
)
workspace_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{1,20}[A-Za-z0-9]", fullmatch=True)
incident_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", fullmatch=True)


def workspace_id(subscription: str, group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.OperationalInsights/workspaces/{name}"
    )


@hypothesis_settings(1000)
@given(
    configured=st.tuples(guids, group_names, workspace_names),
    other=st.tuples(guids, group_names, workspace_names),
    same=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    name=incident_names,
    upper=st.booleans(),
)
def test_a_well_formed_incident_is_accepted_exactly_when_its_workspace_is_the_configured_one(
    configured: tuple[str, str, str],
    other: tuple[str, str, str],
    same: tuple[bool, bool, bool],
    name: str,
    upper: bool,
) -> None:
    parts = tuple(mine if keep else theirs for mine, theirs, keep in zip(configured, other, same, strict=True))
    incident = f"{workspace_id(*parts)}/providers/Microsoft.SecurityInsights/incidents/{name}"
    if upper:
        incident = incident.upper()
    expected_match = all(a.lower() == b.lower() for a, b in zip(parts, configured, strict=True))

    accepted = incident_in_workspace(incident, workspace_id(*configured))

    assert (accepted is not None) == expected_match
    if accepted is not None:
        subscription, group, workspace = (part.lower() for part in parts)
        assert accepted == (
            f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.OperationalInsights"
            f"/workspaces/{workspace}/providers/Microsoft.SecurityInsights/incidents/{name.lower()}"
        )


# --- the comment id --------------------------------------------------------------------
def test_the_comment_id_is_the_same_for_every_delivery_of_one_request() -> None:
    first = comment_id("soc-1234", NORMALISED)
    assert first == comment_id("soc-1234", NORMALISED.upper())
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)
    assert first != comment_id("soc-1235", NORMALISED)
    assert first != comment_id("soc-1234", NORMALISED.replace(INCIDENT_NAME, "x"))
    # No two (correlation id, incident) pairs share a key, whatever characters they hold.
    assert comment_id("a|b", "c") != comment_id("a", "b|c")
    assert comment_id('a","b', "c") != comment_id("a", 'b","c')


# --- what the comment says ---------------------------------------------------------------
ALLOWED_TAGS = {"p", "b", "br", "code", "ul", "li"}
VOID_TAGS = {"br"}
HOSTILE_TEXTS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "&lt;b&gt;not bold&lt;/b&gt; &amp;",
    "</li></ul><a href=javascript:alert(1)>click</a>",
    "<!-- x --><![CDATA[y]]>",
    "\x00\x07\x1b[31mred\r\n<p>\u202eevil\u200b\u2028",
]


class Markup(HTMLParser):
    """Every tag, attribute and text run in rendered HTML, and whether the tags nest properly."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.texts: list[str] = []
        self.open: list[str] = []
        self.balanced = True
        self.other: list[str] = []
        self.feed(document)
        self.close()
        self.balanced = self.balanced and not self.open

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.balanced = False

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    def handle_comment(self, data: str) -> None:
        self.other.append(data)

    def handle_decl(self, decl: str) -> None:
        self.other.append(decl)

    def unknown_decl(self, data: str) -> None:
        self.other.append(data)

    def handle_pi(self, data: str) -> None:
        self.other.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)


def assert_inert(document: str) -> Markup:
    """Only our own tags, no attributes, nothing but tags and text, properly nested, every character printable."""
    markup = Markup(document)
    assert set(markup.tags) <= ALLOWED_TAGS
    assert markup.attributes == []
    assert markup.other == []
    assert markup.balanced
    assert all(c.isprintable() for c in document)
    return markup


def summary(**changes: object) -> CommentSummary:
    base = CommentSummary(
        correlation_id="soc-1234",
        dry_run=False,
        targets=(
            CommentTarget(
                "adele.vance@contoso.com",
                True,
                "revoked",
                (("revokeSignInSessions", "revoked", None), ("disableAccount", "disabled", None)),
            ),
            CommentTarget(
                "megan.bowen@contoso.com",
                False,
                "deferred",
                (("revokeSignInSessions", "revoked", None), ("disableAccount", "deferred", "ServiceUnavailable")),
            ),
        ),
        skipped=(("CORP\\svc-backup", "on-premises account: no Entra object id or UPN suffix"),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_comment_shows_each_user_each_action_and_whether_the_user_is_contained() -> None:
    rendered = render_comment(summary())

    text = assert_inert(rendered).text
    assert "1 of 2 account(s) contained, 1 skipped" in text
    assert "Correlation id: soc-1234" in text
    assert "adele.vance@contoso.com: contained (outcome: revoked)" in text
    assert "revokeSignInSessions: revoked" in text
    assert "disableAccount: disabled" in text
    assert "megan.bowen@contoso.com: not contained (outcome: deferred)" in text
    assert "disableAccount: deferred (ServiceUnavailable)" in text
    assert "CORP\\svc-backup: on-premises account: no Entra object id or UPN suffix" in text
    assert "dry run" not in text


def test_a_dry_run_says_nothing_was_changed() -> None:
    assert "(dry run: nothing was changed)" in render_comment(summary(dry_run=True))


@pytest.mark.parametrize("hostile", HOSTILE_TEXTS)
def test_no_summary_text_can_add_markup(hostile: str) -> None:
    rendered = render_comment(
        summary(
            correlation_id=hostile,
            targets=(CommentTarget(hostile, False, hostile, ((hostile, hostile, hostile),)),),
            skipped=((hostile, hostile),),
        )
    )

    text = assert_inert(rendered).text
    # The text reads back as the attacker wrote it, control characters spelled out.
    assert printable(hostile) in text
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered
    assert '"' not in rendered and "'" not in rendered  # quotes escaped too: no attribute can be opened
    assert "\x00" not in rendered and "\u202e" not in rendered


@hypothesis_settings(500)
@given(texts=st.lists(st.text(max_size=300), min_size=7, max_size=7), contained=st.booleans(), dry_run=st.booleans())
def test_any_text_renders_as_inert_markup(texts: list[str], contained: bool, dry_run: bool) -> None:
    user, outcome, action, action_outcome, detail, account, reason = texts
    rendered = render_comment(
        CommentSummary(
            correlation_id=user,
            dry_run=dry_run,
            targets=(CommentTarget(user, contained, outcome, ((action, action_outcome, detail),)),),
            skipped=((account, reason),),
        )
    )

    text = assert_inert(rendered).text
    assert printable(user)[:200] in text


def entries(rendered: str) -> tuple[int, int]:
    """(entries shown, entries the note says it left out): each target and skipped account is one `<li><b>`."""
    omitted = re.search(r"(\d+) more entries are not shown", Markup(rendered).text)
    return rendered.count("<li><b>"), int(omitted.group(1)) if omitted else 0


def test_a_comment_over_sentinels_limit_loses_its_last_entries_not_its_markup() -> None:
    worst = '"' * 300  # each character becomes six: &quot;
    targets = tuple(
        CommentTarget(f"{i}{worst}", False, "failed", (("revokeSignInSessions", "failed", worst),)) for i in range(25)
    )
    skipped = tuple((f"{i}{worst}", worst) for i in range(1000))

    rendered = render_comment(CommentSummary("soc-1234", False, targets, skipped))

    assert len(rendered) <= MAX_COMMENT_CHARACTERS == 30_000
    text = assert_inert(rendered).text
    shown, omitted = entries(rendered)
    assert shown + omitted == len(targets) + len(skipped)
    assert 0 < shown < len(targets)  # targets first, in order
    assert text.startswith("Account containment: 0 of 25 account(s) contained, 1000 skipped.")
    assert "correlation id soc-1234 list every one" in text


def test_a_comment_that_fits_is_not_cut() -> None:
    rendered = render_comment(summary())
    assert render_comment(summary(), limit=len(rendered)) == rendered
    assert entries(rendered) == (3, 0)

    cut = render_comment(summary(), limit=len(rendered) - 1)

    assert len(cut) <= len(rendered) - 1
    assert_inert(cut)
    shown, omitted = entries(cut)
    assert shown + omitted == 3 and omitted > 0


# --- sending it: the real ManagedIdentityCredential and requests against graphsim ---------
def on_comment(path: str) -> bool:
    return "/comments/" in path


@pytest.fixture
def arm() -> Iterator[GraphSimulator]:
    """A simulator whose identity endpoint the process's managed identity uses."""
    with GraphSimulator() as simulator, app_settings(simulator.environment()):
        yield simulator


def managed_identity() -> ManagedIdentityCredential:
    # Reads IDENTITY_ENDPOINT / IDENTITY_HEADER now, as the Functions host sets them.
    return ManagedIdentityCredential(retry_total=1, retry_backoff_factor=0.2, connection_timeout=1, read_timeout=1)


def commenter_for(simulator: GraphSimulator, endpoint: str | None = None) -> IncidentCommenter:
    return IncidentCommenter(endpoint or simulator.arm_url, managed_identity(), pooled_session(4))


@pytest.fixture
def commenter(arm: GraphSimulator) -> IncidentCommenter:
    return commenter_for(arm)


COMMENT = comment_id("soc-1234", NORMALISED)
KEY = (NORMALISED.lower(), COMMENT)


def test_a_comment_is_created_once_with_the_documented_request(
    arm: GraphSimulator, commenter: IncidentCommenter
) -> None:
    message = render_comment(summary())

    result = commenter.post(NORMALISED, COMMENT, message, Deadline(5))

    assert (result.status, result.http_status, result.attempts, result.detail) == ("commented", 201, 1, None)
    assert arm.comments == {KEY: [message]}
    [request] = arm.arm_requests
    assert request.method == "PUT"
    assert request.path == f"{NORMALISED}/comments/{COMMENT}?api-version=2024-09-01"
    assert json.loads(request.body) == {"properties": {"message": message}}
    assert request.authorized
    assert arm.graph_requests() == []  # identity only: nothing went to Graph


def test_the_same_comment_id_twice_updates_the_one_comment(arm: GraphSimulator, commenter: IncidentCommenter) -> None:
    """A redelivered queue message gets the same comment id, so the analyst sees one comment, not two."""
    first = commenter.post(NORMALISED, COMMENT, "<p>first</p>", Deadline(5))
    again = commenter.post(NORMALISED, comment_id("soc-1234", INCIDENT), "<p>again</p>", Deadline(5))

    assert (first.status, first.http_status) == ("commented", 201)
    assert (again.status, again.http_status) == ("commented", 200)
    assert arm.comments == {KEY: ["<p>first</p>", "<p>again</p>"]}


def test_another_request_adds_its_own_comment(arm: GraphSimulator, commenter: IncidentCommenter) -> None:
    commenter.post(NORMALISED, COMMENT, "<p>one</p>", Deadline(5))
    commenter.post(NORMALISED, comment_id("soc-5678", NORMALISED), "<p>two</p>", Deadline(5))

    assert len(arm.comments) == 2


@pytest.mark.parametrize(
    "fault",
    [Fault(status=503, match=on_comment), Fault(status=429, headers={"Retry-After": "1"}, match=on_comment),
     Fault(drop=True, match=on_comment), Fault(status=401, match=on_comment)],
    ids=["503 once", "429 once", "dropped once", "401 once: a fresh token"],
)  # fmt: skip
def test_a_transient_failure_is_retried_and_the_comment_written(
    arm: GraphSimulator, commenter: IncidentCommenter, fault: Fault
) -> None:
    arm.inject_arm(fault)

    result = commenter.post(NORMALISED, COMMENT, "<p>x</p>", Deadline(5))

    assert (result.status, result.attempts) == ("commented", 2)
    assert len(arm.arm_requests) == 2
    assert arm.comments == {KEY: ["<p>x</p>"]}


def test_arm_unavailable_throughout_defers_within_the_deadline(
    arm: GraphSimulator, commenter: IncidentCommenter
) -> None:
    arm.inject_arm(Fault(status=503, match=on_comment, times=None))
    started = time.monotonic()

    result = commenter.post(NORMALISED, COMMENT, "<p>x</p>", Deadline(3))

    assert time.monotonic() - started < 3
    assert (result.status, result.http_status, result.detail) == ("deferred", 503, "ServiceUnavailable")
    assert result.attempts == len(arm.arm_requests) >= 2
    assert arm.comments == {}


def test_a_stalled_arm_defers_within_the_deadline(arm: GraphSimulator, commenter: IncidentCommenter) -> None:
    arm.inject_arm(Fault(delay=4.0, match=on_comment, times=None))
    started = time.monotonic()

    result = commenter.post(NORMALISED, COMMENT, "<p>x</p>", Deadline(2))

    assert time.monotonic() - started < 3
    assert result.status == "deferred"
    assert result.detail == "Azure Resource Manager did not answer (timed out, or the connection dropped)"


def test_forbidden_fails_at_once(arm: GraphSimulator, commenter: IncidentCommenter) -> None:
    denied = {"error": {"code": "AuthorizationFailed", "message": "no Microsoft Sentinel Responder role"}}
    arm.inject_arm(Fault(status=403, body=denied, match=on_comment, times=None))

    result = commenter.post(NORMALISED, COMMENT, "<p>x</p>", Deadline(5))

    assert (result.status, result.http_status, result.attempts, result.detail) == (
        "failed", 403, 1, "AuthorizationFailed"
    )  # fmt: skip
    assert arm.comments == {}


def test_a_redirect_fails_and_nothing_reaches_its_location(arm: GraphSimulator, commenter: IncidentCommenter) -> None:
    with GraphSimulator() as elsewhere:
        location = f"{elsewhere.arm_url}{NORMALISED}/comments/{COMMENT}?api-version=2024-09-01"
        arm.inject_arm(Fault(status=302, headers={"Location": location}, match=on_comment, times=None))

        result = commenter.post(NORMALISED, COMMENT, "<p>x</p>", Deadline(5))

        assert (result.status, result.http_status, result.attempts) == ("failed", 302, 1)
        assert result.detail == "HTTP 302: redirect not followed"
        assert elsewhere.requests == [] and elsewhere.arm_requests == []
    assert arm.comments == {}


@pytest.mark.parametrize("answer", ["[]", "not json", ""], ids=["a JSON array", "not JSON", "empty"])
def test_a_success_status_without_the_comment_resource_is_never_counted(
    arm: GraphSimulator, commenter: IncidentCommenter, answer: str
) -> None:
    arm.inject_arm(Fault(status=200, raw_body=answer, match=on_comment, times=None))

    result = commenter.post(NORMALISED, COMMENT, "<p>x</p>", Deadline(2))

    assert result.status == "deferred"
    assert result.attempts >= 2  # the PUT is safe to repeat: same comment id


def test_no_token_from_the_managed_identity_defers_and_sends_nothing(
    arm: GraphSimulator, commenter: IncidentCommenter
) -> None:
    arm.inject(Fault(status=500, identity=True, times=None))

    result = commenter.post(NORMALISED, COMMENT, "<p>x</p>", Deadline(2))

    assert (result.status, result.attempts) == ("deferred", 0)
    assert result.detail is not None and result.detail.startswith("no token from the managed identity")
    assert arm.arm_requests == []


def test_arm_unreachable_defers(arm: GraphSimulator) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{placeholder.getsockname()[1]}"
    result = commenter_for(arm, closed).post(NORMALISED, COMMENT, "<p>x</p>", Deadline(2))

    assert (result.status, result.attempts, result.detail) == (
        "deferred", 0, "could not connect to Azure Resource Manager"
    )  # fmt: skip


def test_a_graph_token_is_refused_by_arm(arm: GraphSimulator) -> None:
    """The commenter pointed at Graph's endpoint gets a token for Graph's audience: ARM answers 401."""
    result = commenter_for(arm, arm.url).post(NORMALISED, COMMENT, "<p>x</p>", Deadline(5))

    assert (result.status, result.http_status, result.detail) == (
        "failed", 401, "InvalidAuthenticationTokenAudience"
    )  # fmt: skip
    assert result.attempts == 2  # one fresh token, as for Graph
    assert arm.comments == {}
    for resource in (GRAPH_RESOURCE, arm.url):
        answer = requests.put(
            f"{arm.arm_url}{NORMALISED}/comments/{COMMENT}?api-version=2024-09-01",
            json={"properties": {"message": "x"}},
            headers={"Authorization": f"Bearer {arm.request_token(resource)}"},
            timeout=5,
        )
        assert answer.status_code == 401
    assert arm.comments == {}


def test_graph_refuses_a_token_for_arm(arm: GraphSimulator) -> None:
    adele = arm.add_user("adele.vance@contoso.com")
    url = f"{arm.url}/v1.0/users/{adele.object_id}/revokeSignInSessions"

    for_arm = requests.post(url, headers={"Authorization": f"Bearer {arm.request_token(arm.arm_url)}"}, timeout=5)
    for_graph = requests.post(url, headers={"Authorization": f"Bearer {arm.request_token(arm.url)}"}, timeout=5)

    assert (for_arm.status_code, for_graph.status_code) == (401, 200)
    assert arm.revocations == {adele.object_id: 1}


@pytest.mark.parametrize(
    ("incident_id", "comment"),
    [(INCIDENT, COMMENT), (NORMALISED + "/../x", COMMENT), (NORMALISED, COMMENT.upper()), (NORMALISED, "../x")],
    ids=["not normalised", "traversal", "comment id upper case", "comment id not a GUID"],
)
def test_an_id_that_was_not_checked_is_never_sent(
    arm: GraphSimulator, commenter: IncidentCommenter, incident_id: str, comment: str
) -> None:
    result = commenter.post(incident_id, comment, "<p>x</p>", Deadline(5))

    assert result.status == "skipped"
    assert arm.arm_requests == [] and arm.token_requests == 0


def test_a_message_over_the_limit_is_not_sent(arm: GraphSimulator, commenter: IncidentCommenter) -> None:
    result = commenter.post(NORMALISED, COMMENT, "x" * (MAX_COMMENT_CHARACTERS + 1), Deadline(5))

    assert (result.status, result.attempts) == ("failed", 0)
    assert arm.arm_requests == []


def test_the_longest_rendered_comment_is_accepted(arm: GraphSimulator, commenter: IncidentCommenter) -> None:
    """graphsim refuses a message over 30,000 characters, as Sentinel does; the rendered one fits."""
    hostile = HOSTILE_TEXTS[0] * 40
    targets = tuple(CommentTarget(f"{i}{hostile}", False, "failed", ((hostile, hostile, hostile),)) for i in range(25))
    message = render_comment(CommentSummary(hostile, True, targets, tuple((hostile, hostile) for _ in range(1000))))

    assert commenter.post(NORMALISED, COMMENT, message, Deadline(5)).status == "commented"
    assert arm.comments == {KEY: [message]}


def test_a_stable_api_version_is_required() -> None:
    with pytest.raises(ValueError, match="api-version"):
        IncidentCommenter("https://management.azure.com", managed_identity(), pooled_session(1), "2024-09-01&x=1")


# --- the comment's audit event ---------------------------------------------------------
COMMENT_EVENT_VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
CONTEXT = RequestContext("queue", "soc-1234", None, INCIDENT, "Sentinel incident 4711: Token theft")


def test_the_comment_event_has_every_key_of_an_audit_event(arm: GraphSimulator, commenter: IncidentCommenter) -> None:
    result = commenter.post(NORMALISED, COMMENT, "<p>x</p>", Deadline(5))

    event = comment_audit_event(CONTEXT, result)

    assert event.keys() == audit_event(CONTEXT, Outcome.REVOKED, action="revokeSignInSessions", user=None).keys()
    assert {k: event[k] for k in ("schema", "outcome", "action", "user", "trigger", "correlationId", "incidentId")} == {
        "schema": "revoke.audit/4",
        "outcome": "commented",
        "action": "incidentComment",
        "user": None,
        "trigger": "queue",
        "correlationId": "soc-1234",
        "incidentId": INCIDENT,
    }
    assert (event["graphStatus"], event["attempts"], event["detail"]) == (201, 1, None)
    assert event["graphRequestId"] and event["durationMs"] >= 0
    COMMENT_EVENT_VALIDATOR.validate(event)


@pytest.mark.parametrize(
    ("result", "level"),
    [
        (CommentResult("commented", 201, None, 1), logging.INFO),
        (skipped("comments are off: no Sentinel workspace is configured"), logging.WARNING),
        (CommentResult("deferred", 503, "ServiceUnavailable", 4), logging.WARNING),
        (CommentResult("failed", 403, "x" * 5000, 1), logging.WARNING),
    ],
    ids=["commented", "skipped", "deferred", "failed"],
)
def test_the_comment_event_is_one_line_of_json_on_the_audit_logger(
    result: CommentResult, level: int, logs: LogCapture
) -> None:
    emit(comment_audit_event(CONTEXT, result))

    [record] = [r for r in logs.records if r.name == AUDIT_LOGGER_NAME]
    assert record.levelno == level
    assert "\n" not in record.getMessage()
    assert record.getMessage().startswith('{"schema":"revoke.audit/')
    [event] = logs.audit_events()
    assert event["outcome"] == result.status
    COMMENT_EVENT_VALIDATOR.validate(event)
