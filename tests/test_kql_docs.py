"""The audit queries in docs/kql: each one is there, says what it answers, reads the audit table and no
column it lacks, and the workbook shows the same text.

KQL cannot run here; these checks hold each query to the table as infra/app/audit-columns.json declares
it (the audit event's fields, plus TimeGenerated) and to the outcomes and actions the event schema allows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from graphsim.harness import LogCapture
from revoke.audit.events import SCHEMA_PATH, RequestContext, audit_event, emit
from revoke.outcomes import CommentResult, Outcome
from revoke.sentinel.incident_comment import comment_audit_event

ROOT = Path(__file__).resolve().parent.parent
KQL = ROOT / "docs" / "kql"
TABLE = "ContainmentAudit_CL"
COLUMNS = {column["name"] for column in json.loads((ROOT / "infra" / "app" / "audit-columns.json").read_text())} | {
    "TimeGenerated"
}
SCHEMA = json.loads(SCHEMA_PATH.read_text())
OUTCOMES = set(SCHEMA["properties"]["outcome"]["enum"])
ACTIONS = {action for action in SCHEMA["properties"]["action"]["enum"] if action is not None}
# Outcomes a query reads before the event schema has them: `reverted`, a contained account found enabled
# again (the hybrid containment's verification). Drop a name here once the schema lists it.
WORKBOOK = json.loads((ROOT / "infra" / "app" / "audit-workbook.json").read_text())
# The workbook's panels, by the question the issue asks of it.
WORKBOOK_PANELS = {
    "containments-over-time.kql": "containments over time by verdict",
    "who-asked.kql": "who asked, by caller",
    "not-contained.kql": "users not contained, and why",
    "re-enabled-after-containment.kql": "users re-enabled after containment",
    "refused-protected-users.kql": "refused protected users",
    "releases.kql": "releases",
    "campaigns.kql": "campaigns",
    "deferred-and-failed.kql": "deferred and failed actions over time",
}
# Fields each query must read, and words it must hold, for the question it answers.
QUERIES = {
    "incident-history.kql": (
        {"TimeGenerated", "incidentId", "correlationId", "action", "outcome", "user", "contained", "detail", "graphStatus"},
        ["order by TimeGenerated asc"],
    ),
    "deferred-and-failed.kql": ({"TimeGenerated", "action", "outcome"}, ['"deferred"', '"failed"', "bin(TimeGenerated, binSize)"]),
    "refused-protected-users.kql": (
        {"TimeGenerated", "outcome", "detail", "user", "correlationId", "callerAppId", "callerUpn"},
        ['"refused"', "REVOKE_PROTECTED_USERS"],
    ),
    "containments-over-time.kql": ({"TimeGenerated", "contained"}, ["bin(TimeGenerated, binSize)", "render timechart"]),
    "who-asked.kql": ({"callerUpn", "callerAppId", "callerObjectId", "trigger", "correlationId"}, ['"queue"']),
    "not-contained.kql": ({"user", "contained", "detail", "outcome"}, ["arg_max(TimeGenerated", "contained == false"]),
    "re-enabled-after-containment.kql": ({"user", "contained", "outcome"}, ['"enabled"', '"reverted"', "join kind=inner"]),
    "releases.kql": ({"user", "action", "outcome", "reason", "callerAppId"}, ['"enableAccount"', '"dismissRisk"']),
    "reverted-after-sync.kql": (
        {"TimeGenerated", "action", "outcome", "user", "detail", "correlationId"},
        ['"verifyContainment"', '"reverted"', '"disableActiveDirectoryAccount"'],
    ),
    "campaigns.kql": ({"trigger", "outcome", "correlationId", "detail"}, ['"campaign"', '"campaign_started"', '"campaign_ended"']),
}  # fmt: skip

# The KQL the queries use beside columns: operators, functions, keywords, chart kinds, join kinds.
KQL_WORDS = {
    "let", "where", "extend", "project", "summarize", "by", "order", "asc", "desc", "render", "timechart", "join",
    "kind", "inner", "on", "and", "or", "in", "true", "false", "contains", "endswith", "ago", "bin", "count",
    "countif", "dcount", "dcountif", "iff", "case", "isnotempty", "isnotnull", "strcat", "tolower", "min", "max",
    "minif", "maxif", "arg_max", "take_anyif", "todatetime",
}  # fmt: skip
_COMMENT = re.compile(r"//[^\n]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_WORD = re.compile(r"\b[A-Za-z_]\w*\b")
_ASSIGNED = re.compile(r"\b([A-Za-z_]\w*)\s*=(?!=)")


def code_of(query: str) -> str:
    """The query without comments and string literals."""
    return _STRING.sub('""', _COMMENT.sub("", query))


def names_read(query: str) -> set[str]:
    """Every name the query uses that is neither KQL nor defined by the query itself (let, an alias)."""
    code = code_of(query)
    defined = set(_ASSIGNED.findall(code))
    return set(_WORD.findall(code)) - KQL_WORDS - defined - {TABLE}


def literals(query: str) -> set[str]:
    return {match.group(0)[1:-1] for match in _STRING.finditer(_COMMENT.sub("", query))}


@pytest.mark.parametrize("name", QUERIES)
def test_each_query_says_what_it_answers_and_reads_the_audit_table(name: str) -> None:
    query = (KQL / name).read_text()
    header = "\n".join(line for line in query.splitlines() if line.startswith("//"))

    assert query.startswith("// Answers:")
    assert "// Parameters:" in header and f"// Source: the {TABLE} table" in header
    # A let that holds a value is a parameter; one that holds a query of the table is not.
    for parameter in re.findall(rf"^let (\w+) = (?!{TABLE})", query, flags=re.MULTILINE):
        assert re.search(rf"^//\s+{parameter}\s", header, flags=re.MULTILINE), f"{parameter} is not described"
    assert re.search(rf"^{TABLE}$", query, flags=re.MULTILINE)
    assert "traces" not in code_of(query)


@pytest.mark.parametrize("name", QUERIES)
def test_each_query_reads_the_columns_its_question_needs_and_none_the_table_lacks(name: str) -> None:
    query = (KQL / name).read_text()
    needed, words = QUERIES[name]

    assert names_read(query) <= COLUMNS, f"neither a column nor KQL this test knows: {names_read(query) - COLUMNS}"
    assert needed <= names_read(query)
    for word in words:
        assert word in query


@pytest.mark.parametrize("name", QUERIES)
def test_each_outcome_and_action_a_query_names_is_one_the_events_have(name: str) -> None:
    named = literals((KQL / name).read_text())
    compared = {
        match.group(2) for match in re.finditer(r'\b(outcome|action)\b\s*(?:==|!=)\s*"(\w+)"', (KQL / name).read_text())
    }
    in_lists = {
        value
        for match in re.finditer(r"\b(?:outcome|action) in \(([^)]*)\)", (KQL / name).read_text())
        for value in re.findall(r'"(\w+)"', match.group(1))
    }
    assert compared | in_lists <= OUTCOMES | ACTIONS
    assert compared | in_lists <= named


def test_the_checks_find_a_column_the_table_lacks() -> None:
    assert names_read('ContainmentAudit_CL | where callerName == "x" | project TimeGenerated, user') == {
        "callerName",
        "TimeGenerated",
        "user",
    }
    assert names_read("let lookback = 1d; ContainmentAudit_CL | extend v = iff(contained, 1, 0) | project v") == {
        "contained"
    }


def test_the_readme_lists_every_query() -> None:
    readme = (KQL / "README.md").read_text()
    listed = set(re.findall(r"\]\(([\w-]+\.kql)\)", readme))
    assert listed == {path.name for path in KQL.glob("*.kql")} == set(QUERIES)


def test_the_workbooks_queries_are_the_same_text_as_the_files() -> None:
    panels = {item["name"]: item["content"] for item in WORKBOOK["items"] if item["type"] == 3}
    assert {f"{name}.kql" for name in panels} == set(WORKBOOK_PANELS)
    for name, content in panels.items():
        assert content["query"] == (KQL / f"{name}.kql").read_text()
        assert content["queryType"] == 0 and content["resourceType"] == "microsoft.operationalinsights/workspaces"
        charted = "render timechart" in content["query"]
        assert content["visualization"] == ("timechart" if charted else "table")


def test_an_emitted_event_has_exactly_the_tables_columns(logs: LogCapture) -> None:
    context = RequestContext("http", "soc-1234")
    emit(
        audit_event(
            context,
            Outcome.REVOKED,
            action="revokeSignInSessions",
            user="adele.vance@contoso.com",
            attempts=1,
            graph_status=200,
            contained=True,
        )
    )
    emit(comment_audit_event(context, CommentResult("commented", 201, None, 1)))

    events = logs.audit_events()
    assert len(events) == 2
    for event in events:
        assert set(event) <= COLUMNS - {"TimeGenerated"}
        assert set(event) == COLUMNS - {"TimeGenerated", "callerUpn"}  # callerUpn: the CLI's alone
