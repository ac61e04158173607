"""The audit queries in docs/kql: each one is there, says what it answers, and reads fields the events have.

KQL cannot run here; these checks hold each query to the audit event as the service writes it.
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

KQL = Path(__file__).resolve().parent.parent / "docs" / "kql"
AUDIT_FILTER = """message startswith '{"schema":"revoke.audit/'"""
# Fields each query must read, and words it must hold, for the question it answers.
QUERIES = {
    "incident-history.kql": (
        {"time", "incidentId", "correlationId", "action", "outcome", "user", "contained", "detail", "graphStatus"},
        ["order by eventTime asc"],
    ),
    "deferred-and-failed.kql": ({"time", "action", "outcome"}, ['"deferred"', '"failed"', "bin(eventTime, binSize)"]),
    "refused-protected-users.kql": (
        {"time", "outcome", "detail", "user", "correlationId"},
        ['"refused"', "REVOKE_PROTECTED_USERS"],
    ),
    "reverted-after-sync.kql": (
        {"time", "action", "outcome", "user", "detail", "correlationId"},
        ['"verifyContainment"', '"reverted"', '"disableActiveDirectoryAccount"'],
    ),
}
EVENT_FIELDS = set(json.loads(SCHEMA_PATH.read_text())["properties"]) | {
    "contained"
}  # contained: on a target's last event
FIELD_REFERENCE = re.compile(r"\be\.([A-Za-z_]\w*)|\be\['([A-Za-z_]\w*)'\]")


def fields_read(query: str) -> set[str]:
    return {dotted or bracketed for dotted, bracketed in FIELD_REFERENCE.findall(query)}


@pytest.mark.parametrize("name", QUERIES)
def test_each_query_says_what_it_answers_and_reads_only_audit_events(name: str) -> None:
    query = (KQL / name).read_text()
    header = "\n".join(line for line in query.splitlines() if line.startswith("//"))

    assert query.startswith("// Answers:")
    assert "// Parameters:" in header
    for parameter in re.findall(r"^let (\w+) =", query, flags=re.MULTILINE):
        assert re.search(rf"^//\s+{parameter}\s", header, flags=re.MULTILINE), f"{parameter} is not described"
    assert re.search(r"^traces$", query, flags=re.MULTILINE)
    assert AUDIT_FILTER in query
    assert "parse_json(message)" in query


@pytest.mark.parametrize("name", QUERIES)
def test_each_query_reads_the_fields_its_question_needs_and_no_field_the_events_lack(name: str) -> None:
    query = (KQL / name).read_text()
    needed, words = QUERIES[name]

    assert fields_read(query) <= EVENT_FIELDS
    assert needed <= fields_read(query)
    for word in words:
        assert word in query


def test_the_readme_lists_every_query() -> None:
    readme = (KQL / "README.md").read_text()
    listed = set(re.findall(r"\]\(([\w-]+\.kql)\)", readme))
    assert listed == {path.name for path in KQL.glob("*.kql")} == set(QUERIES)


def test_the_queries_filter_matches_every_audit_event_line(logs: LogCapture) -> None:
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

    prefix = AUDIT_FILTER.split("'")[1]
    lines = [record.getMessage() for record in logs.records if record.name == "revoke.audit"]
    assert len(lines) == 2
    assert all(line.startswith(prefix) for line in lines)
