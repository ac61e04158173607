"""`python -m revoke` reads payload files safely: exit 2 and one line for a file it cannot
read, and never more than REVOKE_MAX_BODY_BYTES + 1 bytes of any payload.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from revoke.app.cli import EXIT_USAGE, main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [["targets"], ["revoke", "--payload"]])
@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_a_payload_file_that_cannot_be_read_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], kind: str
) -> None:
    path = tmp_path / "nowhere.json" if kind == "missing" else tmp_path

    assert main([*command, str(path)]) == EXIT_USAGE

    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: cannot read the payload file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_payload_file_without_read_permission_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = tmp_path / "secret.json"
    payload.write_text("{}")
    payload.chmod(0)

    assert main(["targets", str(payload)]) == EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1


def test_an_endless_payload_is_read_only_to_the_limit(tmp_path: Path) -> None:
    """/dev/zero never ends: the CLI reads REVOKE_MAX_BODY_BYTES + 1 bytes and refuses it as too large."""
    environment = {**os.environ, "REVOKE_MAX_BODY_BYTES": "4096"}
    finished = subprocess.run(
        [sys.executable, "-m", "revoke", "targets", "/dev/zero"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == EXIT_USAGE
    assert finished.stderr == "error: the body is 4097 bytes; the limit is 4096\n"
    assert "Traceback" not in finished.stderr
