"""The comment on the Microsoft Sentinel incident: which incidents may get one, what it says, how it is sent.

The incident id comes from the payload, so whoever sends the payload chooses it; account
names come from alerts, so whoever raises the alert chooses them. Both are treated as
hostile: ids with example cases and generated ones (hypothesis, fixed seed), the HTML by
parsing what was rendered.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revoke.incidents import comment_id, incident_in_workspace, is_incident_id

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
