"""checkov over infra/, offline: nothing fails, every file is read, and every skip says why."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import INFRA, ROOT


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    checkov = shutil.which("checkov", path=str(Path(sys.executable).parent))
    assert checkov, "checkov is installed with requirements-infra.txt"
    # --skip-download and no API key: the scan uses only the checks shipped in the package.
    completed = subprocess.run(
        [checkov, "--directory", str(INFRA), "--framework", "bicep", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    result = json.loads(completed.stdout)
    return result[0] if isinstance(result, list) else result


def test_no_check_fails(report: dict[str, Any]) -> None:
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]]
    assert failed == []


def test_every_file_was_parsed_and_checked(report: dict[str, Any]) -> None:
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0
    scanned = {c["file_path"] for c in report["results"]["passed_checks"]}
    assert {"/app/storage.bicep", "/app/function.bicep"} <= scanned


def test_every_skip_gives_its_reason(report: dict[str, Any]) -> None:
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]
