"""The functions the host indexes: names, route, auth level, queue bindings."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import azure.functions as func
import pytest

import function_app
import revoke.app.triggers


def bindings_of(app: func.FunctionApp) -> dict[str, list[dict[str, object]]]:
    return {f.get_function_name(): json.loads(f.get_function_json())["bindings"] for f in app.get_functions()}


# The host indexes an app once; get_functions() refuses a second pass over the same app.
INDEXED = {f.get_function_name(): f for f in function_app.app.get_functions()}
# As the host reads them: function.json documents.
BINDINGS = {name: json.loads(f.get_function_json())["bindings"] for name, f in INDEXED.items()}


def test_the_app_registers_exactly_the_http_queue_health_release_campaign_and_verify_functions() -> None:
    assert sorted(BINDINGS) == [
        "campaign_cancel",
        "campaign_poison",
        "campaign_preview",
        "campaign_queue",
        "campaign_start",
        "campaign_status",
        "health",
        "release_http",
        "revoke_http",
        "revoke_queue",
        "revoke_verify",
    ]


def test_the_verify_function_reads_the_verify_queue() -> None:
    """The check after the next directory sync (revoke.app.verify_triggers)."""
    [trigger] = [b for b in BINDINGS["revoke_verify"] if b["type"] == "queueTrigger"]
    assert (trigger["queueName"], trigger["connection"]) == ("revoke-verify", "AzureWebJobsStorage")


def test_indexing_the_app_imports_no_storage_client() -> None:
    """The verify trigger builds its queue client and Graph wire on its first message, not at import."""
    probe = "import sys, function_app\nprint(sorted(m for m in sys.modules if m.startswith('azure.storage')))\n"
    root = Path(__file__).resolve().parent.parent
    finished = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=False)

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"


def test_campaign_routes_need_a_function_key() -> None:
    routes = {}
    for name in ("campaign_preview", "campaign_start", "campaign_status", "campaign_cancel"):
        trigger = next(b for b in BINDINGS[name] if b["type"] == "httpTrigger")
        assert trigger["authLevel"] == "FUNCTION"
        routes[name] = (trigger["route"], trigger["methods"])
    assert routes == {
        "campaign_preview": ("campaigns", ["POST"]),
        "campaign_start": ("campaigns/{campaignId}/start", ["POST"]),
        "campaign_status": ("campaigns/{campaignId}", ["GET"]),
        "campaign_cancel": ("campaigns/{campaignId}/cancel", ["POST"]),
    }


def test_campaign_queue_functions_read_the_campaign_queue_and_its_poison_queue() -> None:
    queues = {
        name: next(b for b in BINDINGS[name] if b["type"] == "queueTrigger")
        for name in ("campaign_queue", "campaign_poison")
    }
    assert queues["campaign_queue"]["queueName"] == "revoke-campaigns"
    assert queues["campaign_poison"]["queueName"] == "revoke-campaigns-poison"
    assert {q["connection"] for q in queues.values()} == {"AzureWebJobsStorage"}


def test_release_is_post_api_release_and_needs_a_function_key() -> None:
    trigger = next(b for b in BINDINGS["release_http"] if b["type"] == "httpTrigger")
    assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == ("release", ["POST"], "FUNCTION")


def test_http_function_is_post_api_revoke_and_needs_a_function_key() -> None:
    trigger = next(b for b in BINDINGS["revoke_http"] if b["type"] == "httpTrigger")
    assert trigger["route"] == "revoke"
    assert trigger["methods"] == ["POST"]
    assert trigger["authLevel"] == "FUNCTION"


def test_health_is_get_api_health_and_needs_a_function_key() -> None:
    trigger = next(b for b in BINDINGS["health"] if b["type"] == "httpTrigger")
    assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == ("health", ["GET"], "FUNCTION")


def test_no_function_is_anonymous() -> None:
    for function in INDEXED.values():
        rendered = json.loads(function.get_function_json())
        assert "anonymous" not in json.dumps(rendered).lower()


def test_queue_function_reads_the_request_queue_and_writes_the_poison_queue() -> None:
    bindings = {b["type"]: b for b in BINDINGS["revoke_queue"]}
    assert bindings["queueTrigger"]["queueName"] == "revoke-requests"
    assert bindings["queueTrigger"]["connection"] == "AzureWebJobsStorage"
    assert bindings["queue"]["direction"] == "OUT"
    assert bindings["queue"]["queueName"] == "revoke-requests-poison"


def test_queue_name_comes_from_the_app_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOKE_QUEUE_NAME", "contain-users")
    try:
        triggers = importlib.reload(revoke.app.triggers)
        app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
        app.register_functions(triggers.blueprint)
        bindings = {b["type"]: b for b in bindings_of(app)["revoke_queue"]}
        assert bindings["queueTrigger"]["queueName"] == "contain-users"
        assert bindings["queue"]["queueName"] == "contain-users-poison"
    finally:
        monkeypatch.delenv("REVOKE_QUEUE_NAME")
        importlib.reload(revoke.app.triggers)


def test_importing_the_app_opens_no_connection() -> None:
    """Cold start: indexing the functions must not touch the network."""
    probe = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise SystemExit('network I/O during import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "import function_app\n"
        "print(len(function_app.app.get_functions()))\n"
    )
    root = Path(__file__).resolve().parent.parent
    finished = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=False)

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "11"
