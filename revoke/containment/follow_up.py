"""After a containment's verdicts, before its comment: the incident tasks for what a person must
finish (revoke.containment.handoff), and the check after the next directory sync
(revoke.containment.verification). Neither changes a verdict; each says how it went, in the
answer, its audit events and the comment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from revoke.audit.events import RequestContext
from revoke.containment.core import ContainmentReport
from revoke.containment.verification import VerifyQueue, schedule
from revoke.deadline import Deadline
from revoke.outcomes import TasksResult
from revoke.settings import Settings


class IncidentTaskWriter(Protocol):
    def create(self, report: ContainmentReport, context: RequestContext, deadline: Deadline) -> TasksResult | None:
        """The report's handoffs as tasks on its incident, audited; None when none was due."""


class ContainmentFollowUps:
    def __init__(
        self,
        settings: Settings,
        tasks: IncidentTaskWriter | None = None,
        verify_queue: Callable[[], VerifyQueue] | None = None,
    ) -> None:
        self._settings = settings
        self._tasks = tasks  # None: incident comments are off, so tasks are too
        self._verify_queue = verify_queue  # built on first use; None: this process has no verify queue

    def after(self, report: ContainmentReport, context: RequestContext, deadline: Deadline) -> ContainmentReport:
        if report.dry_run or report.rejection is not None:
            return report
        tasks = self._tasks.create(report, context, deadline) if self._tasks is not None else None
        verification = schedule(
            self._settings, self._verify_queue, report.disabled, context, report.incident_id, deadline
        )
        return replace(report, tasks=tasks, verification=verification)
