"""`python -m bench.cpu_split`: where the time of one large request goes on this machine.

For a request of `--targets` users (by UPN or object id) at `--rtt-ms` and `--parallel`, the
median over `--repeat` requests of its wall time, the CPU the function's process used for it
(every thread: the invocation's and the batch senders'), and the CPU the simulator's process
used answering it. On a machine whose cores the simulator shares, a request cannot end before
the function's own CPU is spent: when that CPU is larger than the round-trip bound, the bound
cannot be met whatever the batching. docs/PERFORMANCE.md, "Where the targets stand".
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

from bench.cold import CORE_PATH_ONLY, LOOPBACK_ONLY
from bench.run import _host_like_logging
from graphsim.harness import app_settings, http_request
from graphsim.process import SimulatorProcess

BATCH = 20


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU of process `pid`, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--named-by", choices=["upn", "object-id"], default="upn")
    parser.add_argument("--repeat", type=int, default=10)
    options = parser.parse_args()
    rounds = math.ceil(options.targets / BATCH / options.parallel)
    bound = rounds * options.rtt_ms / 1000
    with SimulatorProcess(latency=options.rtt_ms / 1000) as sim:
        users = sim.add_users(f"split{n:05}@contoso.com" for n in range(options.targets * (options.repeat + 1)))
        names = [user.user_principal_name if options.named_by == "upn" else user.object_id for user in users]
        settings = {
            **sim.environment(),
            **LOOPBACK_ONLY,
            **CORE_PATH_ONLY,
            "REVOKE_MAX_PARALLEL": str(options.parallel),
            "REVOKE_MAX_USERS": str(options.targets),
        }
        with app_settings(settings), _host_like_logging():
            from revoke.app.triggers import revoke_http

            revoke_http(http_request({"users": names[:1], "reason": "warm-up"}))
            walls, cpus, simulator_cpus = [], [], []
            for n in range(1, options.repeat + 1):
                batch = names[n * options.targets : (n + 1) * options.targets]
                simulator_before, cpu_before, started = (
                    process_cpu_seconds(sim.pid),
                    time.process_time(),
                    time.perf_counter(),
                )
                response = revoke_http(http_request({"users": batch, "reason": "cpu split"}))
                walls.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu_before)
                simulator_cpus.append(process_cpu_seconds(sim.pid) - simulator_before)
                if response.status_code != 200:
                    raise SystemExit(f"request {n} answered {response.status_code}")
    wall, cpu, simulator_cpu = (statistics.median(values) * 1000 for values in (walls, cpus, simulator_cpus))
    print(
        f"`python -m bench.cpu_split --targets {options.targets} --rtt-ms {options.rtt_ms:g} "
        f"--parallel {options.parallel} --named-by {options.named_by}` (median of {options.repeat}): "
        f"wall {wall:.0f} ms"
        + (f" ({wall / (bound * 1000):.2f}x the bound of {bound * 1000:.0f} ms)" if bound else "")
        + "; "
        f"function CPU {cpu:.0f} ms ({cpu / options.targets * 1000:.0f} us a target); simulator CPU {simulator_cpu:.0f} ms"
    )


if __name__ == "__main__":
    main()
