"""What the benchmark measures in fresh interpreters (`bench.child`): a cold start to the first
containment against the bare imports, the import times of `function_app`, and peak RSS.

The project's bytecode is compiled first (`compileall`, into the gitignored `__pycache__`), so
the figures do not depend on whether the shell that runs `make bench` sets
PYTHONDONTWRITEBYTECODE: the dependencies' bytecode comes from their installation, and the
project's is read from the same kind of cache.
"""

from __future__ import annotations

import compileall
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.child import COUNT_VARIABLE, PREFIX_VARIABLE, USER_VARIABLE
from graphsim.process import SimulatorProcess
from revoke.settings import SettingNames

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK_ONLY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
# The containment path alone: the caller check, the budget and the containment records are measured
# by bench.policy_cost; the check after the next sync is a queue message sent after the answer's work.
CORE_PATH_ONLY = {
    SettingNames.CALLER_AUTH: "key",
    SettingNames.ACTION_BUDGET: "off",
    SettingNames.CONTAINMENT_RECORDS: "false",
    SettingNames.VERIFY_AFTER_SECONDS: "off",
}
PROJECT_SOURCES = ("function_app.py", "revoke", "bench")


def compile_project() -> None:
    """The project's bytecode, written once, as the dependencies' was when they were installed."""
    for source in PROJECT_SOURCES:
        path = ROOT / source
        if path.is_dir():
            compileall.compile_dir(path, quiet=2)
        else:
            compileall.compile_file(path, quiet=2)


@dataclass(frozen=True)
class Spawned:
    """One fresh interpreter: seconds from its spawn to its finish line, and the CPU seconds it used."""

    wall: float
    cpu: float


def cold_and_bare(sim: SimulatorProcess, user: str, repeat: int, budget: float) -> tuple[list[Spawned], list[Spawned]]:
    """Fresh interpreters to the first containment (`cold`), and to the three bare imports (`bare`)."""
    compile_project()
    env = child_environment(sim, {USER_VARIABLE: user})
    cold: list[Spawned] = []
    bare: list[Spawned] = []
    started = time.perf_counter()
    while len(cold) < repeat and (not cold or time.perf_counter() - started < budget):
        # Interleaved, first one then the other first, so drift and order effects hit both alike.
        for program in ("bare", "cold") if len(cold) % 2 == 0 else ("cold", "bare"):
            (bare if program == "bare" else cold).append(spawned(program, env))
    return cold, bare


def import_times() -> dict[str, tuple[int, int]]:
    """Module -> (self µs, cumulative µs), from one `python -X importtime -c "import function_app"`."""
    compile_project()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import function_app"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    times: dict[str, tuple[int, int]] = {}
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            times.setdefault(fields[2].strip(), (int(fields[0]), int(fields[1])))
    return times


def is_project(module: str) -> bool:
    return module in {"function_app", "revoke"} or module.startswith("revoke.")


def peak_rss(sim: SimulatorProcess, prefix: str, count: int) -> dict[str, Any]:
    """The `count`-target request in a fresh process: its peak RSS and that after imports (KiB)."""
    compile_project()
    env = child_environment(sim, {PREFIX_VARIABLE: prefix, COUNT_VARIABLE: str(count)})
    return run_child("bulk", env)


def child_environment(sim: SimulatorProcess, extra: dict[str, str]) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, **sim.environment(), **LOOPBACK_ONLY, **CORE_PATH_ONLY, "PYTHONPATH": path, **extra}


def run_child(program: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.child", program], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.child {program} failed:\n{done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def spawned(program: str, env: dict[str, str]) -> Spawned:
    """Its CPU is what the reaped child used (RUSAGE_CHILDREN), which a loaded machine's run queue
    does not stretch as it stretches the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    report = run_child(program, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if report.get("status", 200) != 200:
        raise RuntimeError(f"bench.child {program}: the HTTP trigger answered {report['status']}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Spawned(float(report["done"]) - started, cpu)
