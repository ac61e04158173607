"""An invocation's audit events are all collected, wherever they are emitted, and only its own."""

from __future__ import annotations

import ast
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from graphsim.harness import LogCapture
from revoke.audit.collector import ContextPool, collecting
from revoke.audit.events import RequestContext, audit_event, emit
from revoke.outcomes import Outcome

PACKAGE = Path(__file__).resolve().parent.parent / "revoke"
# Threads under revoke/ that are not pools and emit no audit event, and why.
OWN_THREADS = {
    "revoke/graph/watchdog.py": "cuts off reads at their deadline; emits nothing",
    "revoke/audit/ingestion.py": "sends the events already collected; emits nothing",
}


def event(user: str, correlation: str = "c-1") -> dict[str, object]:
    return audit_event(RequestContext("http", correlation), Outcome.REVOKED, action="revokeSignInSessions", user=user)


def test_every_event_emitted_inside_is_collected_in_order_and_none_outside(logs: LogCapture) -> None:
    emit(event("before@contoso.com"))
    with collecting() as collector:
        emit(event("a@contoso.com"))
        emit(event("b@contoso.com"))
    emit(event("after@contoso.com"))

    assert [e["user"] for e in collector.close()] == ["a@contoso.com", "b@contoso.com"]
    assert len(logs.audit_events()) == 4  # the log keeps every one, as before


def test_events_emitted_on_a_context_pool_are_the_submitters_and_on_a_plain_pool_they_escape() -> None:
    with ContextPool(max_workers=2) as pool, ThreadPoolExecutor(max_workers=2) as plain, collecting() as collector:
        pool.submit(emit, event("pooled@contoso.com")).result()
        list(pool.map(lambda user: emit(event(user)), ["mapped-1@contoso.com", "mapped-2@contoso.com"]))
        plain.submit(emit, event("escaped@contoso.com")).result()

    users = [e["user"] for e in collector.close()]
    assert users == ["pooled@contoso.com", "mapped-1@contoso.com", "mapped-2@contoso.com"]


def test_concurrent_invocations_keep_their_own_events_on_a_shared_pool() -> None:
    pool = ContextPool(max_workers=4)
    collected: dict[str, list[object]] = {}
    ready = threading.Barrier(2)

    def invocation(name: str) -> None:
        with collecting() as collector:
            ready.wait()
            for i in range(20):
                pool.submit(emit, event(f"{name}-{i}@contoso.com", name)).result()
        collected[name] = [e["correlationId"] for e in collector.close()]

    threads = [threading.Thread(target=invocation, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pool.shutdown()

    assert collected == {"one": ["one"] * 20, "two": ["two"] * 20}


def test_an_event_after_its_invocations_events_were_taken_is_logged_only(logs: LogCapture) -> None:
    with collecting() as collector:
        taken = collector.close()
        emit(event("late@contoso.com"))

    assert taken == [] and collector.close() == []
    assert any("after its invocation's events were sent" in r.getMessage() for r in logs.records)
    assert [e["user"] for e in logs.audit_events()] == ["late@contoso.com"]


def test_the_collector_keeps_a_copy_of_each_event() -> None:
    original = event("a@contoso.com")
    with collecting() as collector:
        emit(original)
    original["user"] = "changed@contoso.com"
    assert collector.close()[0]["user"] == "a@contoso.com"


def test_no_module_under_revoke_makes_a_pool_or_thread_that_would_lose_an_invocations_events() -> None:
    """A plain ThreadPoolExecutor's tasks run outside the submitter's context: an event emitted
    there would never reach the workspace table. Every pool is a ContextPool."""
    pools, threads = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), relative)):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name == "ThreadPoolExecutor":
                    pools.append(relative)
                if name == "Thread":
                    threads.append(relative)
    assert pools == []
    assert set(threads) <= set(OWN_THREADS), "a new thread: carry the context (contextvars) or add it here with why"
