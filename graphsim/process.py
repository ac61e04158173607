"""The simulator in a process of its own, for the benchmark.

Microsoft Graph's work does not run on the caller's CPU; a simulator in the measured
process would. `SimulatorProcess` runs the same `GraphSimulator` in a child process and
offers the parts of its interface the benchmark uses, over a pipe.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterable
from multiprocessing.connection import Connection
from typing import Any

from graphsim.server import GraphSimulator
from graphsim.users import SimulatedUser
from graphsim.wire import RecordedRequest


class SimulatorProcess:
    def __init__(self, *, latency: float = 0.0) -> None:
        context = multiprocessing.get_context("spawn")  # no inherited threads or locks
        self._connection, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_end, latency), name="graphsim", daemon=True)
        self._lock = threading.Lock()
        self.url = ""
        self.identity_header = ""

    def __enter__(self) -> SimulatorProcess:
        self._process.start()
        self.url, self.identity_header = self._connection.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._call("stop")
        finally:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()

    @property
    def pid(self) -> int:
        """The simulator's process, for reading the CPU it used (bench.cpu_split)."""
        assert self._process.pid is not None, "the simulator is not running"
        return self._process.pid

    def environment(self) -> dict[str, str]:
        return dict(self._call("environment"))

    def ingestion_environment(self) -> dict[str, str]:
        return dict(self._call("ingestion_environment"))

    def add_user(self, user_principal_name: str, object_id: str | None = None) -> SimulatedUser:
        user: SimulatedUser = self._call("add_user", user_principal_name, object_id)
        return user

    def add_users(self, names: Iterable[str]) -> list[SimulatedUser]:
        return list(self._call("add_users", list(names)))

    def request_token(self) -> str:
        return str(self._call("request_token"))

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._call("get", "requests"))

    @property
    def token_requests(self) -> int:
        return int(self._call("get", "token_requests"))

    @property
    def latency(self) -> float:
        return float(self._call("get", "latency"))

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._call("set", "latency", seconds)

    def _call(self, operation: str, *args: Any) -> Any:
        with self._lock:
            self._connection.send((operation, args))
            ok, value = self._connection.recv()
        if not ok:
            raise RuntimeError(f"simulator process: {value}")
        return value


def _serve(connection: Connection, latency: float) -> None:
    with GraphSimulator(latency=latency) as simulator:
        connection.send((simulator.url, simulator.identity_header))
        while True:
            operation, args = connection.recv()
            try:
                if operation == "stop":
                    connection.send((True, None))
                    return
                if operation == "get":
                    value = getattr(simulator, args[0])
                    value = list(value) if isinstance(value, list) else value
                elif operation == "set":
                    setattr(simulator, args[0], args[1])
                    value = None
                else:
                    value = getattr(simulator, operation)(*args)
            except Exception as problem:  # report to the caller rather than die silently
                connection.send((False, f"{type(problem).__name__}: {problem}"))
            else:
                connection.send((True, value))
