"""The comment on the Microsoft Sentinel incident: which incidents may get one, what it says, how it is sent.

The incident id comes from the payload, so whoever sends the payload chooses it; account
names come from alerts, so whoever raises the alert chooses them. Both are treated as
hostile: ids with example cases and generated ones (hypothesis, fixed seed), the HTML by
parsing what was rendered.
"""

from __future__ import annotations

import re
import string
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revoke.comment_text import MAX_COMMENT_CHARACTERS, CommentSummary, CommentTarget, render_comment
from revoke.incidents import comment_id, incident_in_workspace, is_incident_id
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
        assert accepted == incident.lower().replace("resourcegroups", "resourceGroups").replace(
            "/providers/microsoft.operationalinsights/", "/providers/Microsoft.OperationalInsights/"
        ).replace("/providers/microsoft.securityinsights/", "/providers/Microsoft.SecurityInsights/")


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
