"""Programs the benchmark runs in fresh processes: `python -m bench.child cold|bare|bulk`.

Imports happen inside the functions on purpose: importing is what a cold start costs.
Each program prints one JSON line; `done` is `time.monotonic()`, a clock every process
on the machine shares, so the parent can time from its spawn to the child's finish line.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any

USER_VARIABLE = "BENCH_USER"  # cold: the one user to revoke
PREFIX_VARIABLE = "BENCH_USER_PREFIX"  # bulk: users are {prefix}{n}@contoso.com
COUNT_VARIABLE = "BENCH_USER_COUNT"


def bulk_user_names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n}@contoso.com" for n in range(count)]


def _call_http_trigger(document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    import azure.functions as func

    import function_app  # noqa: F401 - what the host imports first
    from revoke.app.triggers import revoke_http

    request = func.HttpRequest(
        "POST", "/api/revoke", body=json.dumps(document).encode(), headers={"Content-Type": "application/json"}
    )
    response = revoke_http(request)
    return response.status_code, json.loads(response.get_body())


def cold() -> dict[str, Any]:
    """From a fresh interpreter to the first completed revocation."""
    status, _body = _call_http_trigger({"user": os.environ[USER_VARIABLE], "reason": "benchmark"})
    return {"done": time.monotonic(), "status": status}


def bare() -> dict[str, Any]:
    """The floor: a fresh interpreter that only imports the three runtime dependencies."""
    import azure.functions
    import azure.identity  # noqa: F401 - imported to be timed
    import requests  # noqa: F401 - imported to be timed

    return {"done": time.monotonic()}


def peak_rss_kib() -> int:
    """This process's own high-water RSS. Not ru_maxrss: on Linux that survives exec, so a
    child reports at least the RSS its parent had when it forked."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def bulk() -> dict[str, Any]:
    """One HTTP request naming every bulk user; the process's peak RSS before and after it."""
    import azure.functions
    import azure.identity  # noqa: F401 - loaded before the baseline reading

    import function_app  # noqa: F401

    before = peak_rss_kib()
    names = bulk_user_names(os.environ[PREFIX_VARIABLE], int(os.environ[COUNT_VARIABLE]))
    status, body = _call_http_trigger({"users": names, "reason": "benchmark"})
    revoked = sum(1 for result in body.get("results", []) if result["outcome"] == "contained")
    peak = peak_rss_kib()
    return {"status": status, "revoked": revoked, "rss_after_imports_kib": before, "rss_peak_kib": peak}


PROGRAMS = {"cold": cold, "bare": bare, "bulk": bulk}

if __name__ == "__main__":
    print(json.dumps(PROGRAMS[sys.argv[1]]()))
