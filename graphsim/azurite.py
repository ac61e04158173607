"""Azurite, Microsoft's Storage emulator, on free loopback ports: the real Table and Queue service.

Tests, the demo and the benchmark start it from the project's own `node_modules` (pinned in
package.json and package-lock.json, installed by `make`), in memory and without telemetry,
and stop it when done. `connection_string` is what the function reads from
`AzureWebJobsStorage`, as the Functions host sets it for local development.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
AZURITE = ROOT / "node_modules" / ".bin" / "azurite"
# Azurite's well-known development account (documented by Microsoft; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STARTUP_SECONDS = 60


class AzuriteMissing(RuntimeError):
    """node_modules has no Azurite: run `make` (npm ci) first."""


class Azurite:
    """One Azurite process serving Blob, Queue and Table storage on loopback ports of its own."""

    def __init__(self) -> None:
        self.blob_port = self.queue_port = self.table_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._workspace: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Azurite:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint=http://127.0.0.1:{self.table_port}/{ACCOUNT};"
        )

    def start(self) -> None:
        if not AZURITE.exists():
            raise AzuriteMissing(f"{AZURITE} is missing: run `make` (npm ci installs package-lock.json)")
        self.blob_port, self.queue_port, self.table_port = _free_ports(3)
        self._workspace = tempfile.TemporaryDirectory(prefix="azurite-")
        self._process = subprocess.Popen(  # noqa: S603 - our own pinned node_modules binary, fixed arguments
            [
                str(AZURITE),
                "--silent",
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.blob_port),
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                str(self.queue_port),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(self.table_port),
            ],
            cwd=self._workspace.name,  # in memory; anything Azurite still writes stays out of the tree
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_until_listening()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None
        if self._workspace is not None:
            self._workspace.cleanup()
            self._workspace = None

    def _wait_until_listening(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        ports = (self.blob_port, self.queue_port, self.table_port)
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                problem = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise RuntimeError(f"Azurite exited with {self._process.returncode}: {problem[-2000:]}")
            if all(_listening(port) for port in ports):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Azurite did not listen on {ports} within {STARTUP_SECONDS} s")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0
