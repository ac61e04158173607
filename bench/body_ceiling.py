"""`python -m bench.body_ceiling`: what the largest bodies cost to read, to choose REVOKE_MAX_BODY_BYTES's ceiling.

Each case is a body built to be expensive for the parser at a given size: deep nesting
within the depth limit, huge arrays of objects, many escapes, long strings, a thousand
accounts (each leaving an audit event). Every measurement runs in a fresh process that
calls the HTTP trigger (`revoke_http`) with the body, the function's own code path from
`req.get_body()` to the response; nothing reaches Graph (dry run, and a client that fails if
called). It reports the CPU seconds of that call and the peak memory it added to the
process. The table on stdout is the one in docs/RELIABILITY.md; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
DEFAULT_SIZES_MIB = (1, 2, 4, 8, 16)


def _filled(head: bytes, unit: bytes, tail: bytes, size: int) -> bytes:
    """`head`, then `unit` repeated (comma-separated) as often as fits in `size` bytes, then `tail`."""
    count = max(1, (size - len(head) - len(tail) + 1) // (len(unit) + 1))
    return head + (unit + b",") * (count - 1) + unit + tail


def _keys(size: int, tail: bytes) -> bytes:
    """An object with as many distinct keys as fit in `size` bytes, then `tail`'s fields."""
    keys: list[bytes] = []
    used = 2 + len(tail)
    while used < size:
        key = b'"k%d":0' % len(keys)
        keys.append(key)
        used += len(key) + 1
    return b"{" + b",".join(keys[:-1]) + b"," + tail + b"}"


def _accounts(count: int, fields: Callable[[int], bytes]) -> bytes:
    return b",".join(b'{"Type":"account",' + fields(n) + b"}" for n in range(count))


# name -> body of about `size` bytes; each is a worst case for one part of the parser.
CASES: dict[str, Callable[[int], bytes]] = {
    "arrays nested 62 deep, repeated": lambda size: _filled(b'{"Entities":[', b"[" * 62 + b"]" * 62, b"]}", size),
    "objects with a Type field nested 31 deep around one array": lambda size: _filled(
        b'{"Entities":[' + b'{"Type":[' * 31, b"0", b"]}" * 31 + b"]}", size
    ),
    "empty objects": lambda size: _filled(b'{"Entities":[', b"{}", b"]}", size),
    "one-field objects": lambda size: _filled(b'{"Entities":[', b'{"Type":"ip"}', b"]}", size),
    "zeros": lambda size: _filled(b'{"Entities":[', b"0", b"]}", size),
    "1,000 on-premises accounts (skipped, audited), then empty objects": lambda size: _filled(
        b'{"Entities":[' + _accounts(1000, lambda n: b'"Name":"svc%d","NTDomain":"CORP"' % n) + b",",
        b"{}",
        b"]}",
        size,
    ),
    "1,000 accounts with invalid ids (skipped, audited), then empty objects": lambda size: _filled(
        b'{"Entities":[' + _accounts(1000, lambda n: b'"AadUserId":"%s%d"' % (b"x" * 200, n)) + b",",
        b"{}",
        b"]}",
        size,
    ),
    "1,000 valid accounts (refused, audited), then empty objects": lambda size: _filled(
        b'{"Entities":[' + _accounts(1000, lambda n: b'"AadUserId":"3f1d7c2a-9b8e-4d6f-a5c4-%012d"' % n) + b",",
        b"{}",
        b"]}",
        size,
    ),
    "Entities as a JSON string of objects": lambda size: _filled(
        b'{"Entities":"[', b'{\\"Type\\":\\"ip\\"}', b']"}', size
    ),
    "Entities as a JSON string of arrays nested 62 deep": lambda size: _filled(
        b'{"Entities":"[', b"[" * 62 + b"]" * 62, b']"}', size
    ),
    "short strings": lambda size: _filled(b'{"Entities":[', b'"a"', b"]}", size),
    "floats": lambda size: _filled(b'{"Entities":[', b"1e5", b"]}", size),
    "4,300-digit integers (the longest Python converts)": lambda size: _filled(
        b'{"Entities":[', b"9" * 4300, b"]}", size
    ),
    "distinct keys in the top-level object": lambda size: _keys(size, b'"Entities":[]'),
    "escaped quotes in the reason": lambda size: _filled(
        b'{"users":["nobody@contoso.com"],"reason":"', b'\\"', b'"}', size
    ),
    "\\u escapes in the reason": lambda size: _filled(
        b'{"users":["nobody@contoso.com"],"reason":"', b"\\u00e9", b'"}', size
    ),
    "brackets inside a string": lambda size: _filled(b'{"users":["nobody@contoso.com"],"reason":"', b"[", b'"}', size),
    "one user as long as the body": lambda size: _filled(b'{"users":["', b"a", b'@contoso.com"]}', size),
}


class NoGraph:
    """The revoker of a dry run: the benchmark measures reading the body, never Graph."""

    def perform(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a dry run called Graph")

    def lookup_all(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a dry run called Graph")

    def check_memberships(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a dry run called Graph")


def rss_kib(field: str) -> int:
    """`VmRSS` (now) or `VmHWM` (the high-water mark) of this process, from Linux's /proc."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def reset_peak_rss() -> None:
    """Start the high-water mark from the current RSS, so building the body does not count."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def measure_one(case: str, size: int) -> dict[str, Any]:
    """In this (fresh) process: one call of the HTTP trigger with the case's body."""
    from unittest import mock

    import azure.functions as func

    import function_app  # noqa: F401 - what the host imports first
    from revoke.app import runtime
    from revoke.app.triggers import revoke_http
    from revoke.containment.core import Containment
    from revoke.settings import CallerAuth, Settings

    # Audit events and warnings are formatted and written, as the worker does, to nowhere.
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # Settings refuses a limit above the ceiling being chosen, so the measured one is set here.
    # A function-key caller without a budget: the body itself is what is measured, not a 401 before it.
    settings = Settings(
        max_body_bytes=max(size, Settings().max_body_bytes),
        dry_run=True,
        caller_auth=CallerAuth.KEY,
        action_budget=None,
    )
    service = Containment(settings, NoGraph())
    body = CASES[case](size)
    request = func.HttpRequest("POST", "/api/revoke", body=body, headers={"Content-Type": "application/json"})
    reset_peak_rss()
    before = rss_kib("VmRSS")
    with mock.patch.object(runtime, "service", lambda: service):
        cpu, wall = time.process_time(), time.perf_counter()
        response = revoke_http(request)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "bytes": len(body),
        "status": response.status_code,
        "cpu_s": cpu,
        "wall_s": wall,
        "added_peak_mib": max(0, rss_kib("VmHWM") - before) / 1024,
    }


def run_child(case: str, size: int) -> dict[str, Any]:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.body_ceiling", "--child", case, str(size)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(finished.stdout.splitlines()[-1])
    return result


def table(sizes: Sequence[int], repeat: int) -> list[str]:
    header = "| body | " + " | ".join(f"{size / MIB:g} MiB" for size in sizes) + " |"
    lines = [header, "|---|" + "---:|" * len(sizes)]
    worst = dict.fromkeys(sizes, 0.0)
    for case in CASES:
        cells = []
        for size in sizes:
            runs = [run_child(case, size) for _ in range(repeat)]
            cpu = statistics.median(run["cpu_s"] for run in runs)
            peak = max(run["added_peak_mib"] for run in runs)
            worst[size] = max(worst[size], cpu)
            cells.append(f"{cpu:.2f} s, {peak:.0f} MB ({runs[0]['status']})")
            print(f"{case} @ {size / MIB:g} MiB: {cells[-1]}", file=sys.stderr)
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    lines.append("| **worst CPU** | " + " | ".join(f"**{worst[size]:.2f} s**" for size in sizes) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.body_ceiling", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES_MIB)), help="body sizes in MiB")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per cell (median CPU, largest peak)")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "BYTES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        case, size = args.child
        print(json.dumps(measure_one(case, int(size))))
        return 0
    sizes = [int(float(mib) * MIB) for mib in args.sizes.split(",")]
    print(
        f"CPU seconds of one HTTP trigger call, median of {args.repeat} fresh processes; peak memory it added; (status)"
    )
    print()
    for line in table(sizes, args.repeat):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
