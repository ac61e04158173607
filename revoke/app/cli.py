"""`python -m revoke`: the same core for a responder at a terminal.

    targets [FILE]                      what a payload resolves to and which actions would apply; calls nothing
    revoke --user U ... | --payload F   contain, as the signed-in responder (az login);
         [--action A ...]               the actions (default: all of REVOKE_ACTIONS)
    release --user U ...                undo a containment (REVOKE_RELEASE_ACTIONS)
         [--action A ...]
    check                               settings, a Graph token and what it may do (exit 0: ready)
    demo                                says how to run the demo (make demo)

Output is a table; `--json` prints the HTTP answer's JSON instead. Every action is audited
as one JSON line (the function's schema, with the signed-in responder as the caller) on
standard error, or appended to `--audit-log FILE`; with REVOKE_AUDIT_* set, the same events
also go to the workspace table, sent with the responder's credential (one line on standard
error if they could not be).

Exit codes: 0 every target contained or released (or dry run), 1 otherwise, 2 usage, an
invalid payload or no credential, 3 a transient failure (run it again).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from revoke.actions import allowed_subset, parse_actions
from revoke.app.replies import DONE, http_reply
from revoke.app.responder import NoCredential, Responder, caller_fields, developer_credential, sign_in
from revoke.audit.events import AUDIT_LOGGER_NAME, audit_logger
from revoke.containment.core import ContainmentReport
from revoke.containment.protection import ProtectedUsers
from revoke.containment.records import Requester
from revoke.containment.verdict import TargetOutcome, is_external
from revoke.errors import RequestRejected, SettingsError, UnreadablePayload
from revoke.intake.payloads import load_document, parse_request
from revoke.settings import Settings
from revoke.untrusted import bounded, printable, quoted

EXIT_OK, EXIT_NOT_ALL_CONTAINED, EXIT_USAGE, EXIT_TRANSIENT = 0, 1, 2, 3
REASON_WIDTH = 100


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.command(args))
    except (RequestRejected, SettingsError, UnreadablePayload) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except NoCredential as problem:
        print(str(problem), file=sys.stderr)
        return EXIT_USAGE


def show_targets(args: argparse.Namespace) -> int:
    settings = Settings.from_environment()
    request = parse_request(load_document(_read(args.file, settings.max_body_bytes), settings.max_body_bytes))
    actions = allowed_subset(request.actions, settings.actions) if request.actions else settings.actions
    if args.json:
        _print(
            {
                "shape": request.shape,
                "targets": [
                    {"user": t.value, "kind": t.kind, "external": is_external(t.value)} for t in request.targets
                ],
                "skipped": [{"entity": s.entity, "reason": s.reason} for s in request.skipped],
                "reason": request.reason,
                "alertId": request.alert_id,
                "incidentId": request.incident_id,
                "dryRun": request.dry_run,
                "actions": [action.value for action in actions],
            }
        )
        return EXIT_OK
    print(f"A {request.shape.replace('_', ' ')}; actions that would apply: {', '.join(a.value for a in actions)}")
    if settings.dry_run or request.dry_run:
        print("Dry run: nothing would be sent to Graph.")
    rows = [
        (t.value, t.kind.replace("_", " ").replace("sid", "on-premises SID"), _note(t.value, t.kind))
        for t in request.targets
    ]
    rows += [(s.entity, "skipped", s.reason) for s in request.skipped]
    _table(("USER", "NAMED BY", "NOTE"), rows)
    return EXIT_OK


def _note(name: str, kind: str) -> str:
    if kind == "sid":
        return "the Entra user synced from this Active Directory account is looked up first"
    return "external (guest): only disableAccount contains" if is_external(name) else ""


def revoke(args: argparse.Namespace) -> int:
    from revoke.app.evidence import cli_audit_delivery
    from revoke.app.runtime import containment_for_cli

    if args.payload and args.reason:
        print("error: --reason goes with --user; a payload carries its own reason", file=sys.stderr)
        return EXIT_USAGE
    settings = Settings.from_environment()
    if args.user and not _reason_given(args, settings):
        return EXIT_USAGE
    if args.dry_run:
        settings = dataclasses.replace(settings, dry_run=True)
    if args.action:
        # Narrowing the settings, not the payload: only a direct request carries "actions",
        # and an alert or incident would otherwise get every action REVOKE_ACTIONS allows.
        settings = dataclasses.replace(settings, actions=allowed_subset(parse_actions(args.action), settings.actions))
    if args.payload:
        body = _read(args.payload, settings.max_body_bytes)
    else:
        body = json.dumps({"users": args.user, "reason": args.reason}).encode()
    credential = developer_credential(settings)
    _, responder = sign_in(credential, settings.graph_scope)
    say_protection(settings)
    with audit_sink(args.audit_log, responder), cli_audit_delivery(settings, credential, responder, args.audit_log):
        requester = Requester(responder.app_id, responder.object_id, responder.upn)
        report = containment_for_cli(settings, credential).handle(body, trigger="cli", requester=requester)
    return _finish(report, args.json)


def release(args: argparse.Namespace) -> int:
    from revoke.app.evidence import cli_audit_delivery
    from revoke.app.runtime import release_for_cli

    settings = Settings.from_environment()
    if not _reason_given(args, settings):
        return EXIT_USAGE
    if args.dry_run:
        settings = dataclasses.replace(settings, dry_run=True)
    request: dict[str, Any] = {"users": args.user, "reason": args.reason}
    if args.action:
        request["actions"] = args.action
    if args.incident:
        request["incidentId"] = args.incident
    credential = developer_credential(settings)
    _, responder = sign_in(credential, settings.graph_scope)
    say_protection(settings)
    with audit_sink(args.audit_log, responder), cli_audit_delivery(settings, credential, responder, args.audit_log):
        report = release_for_cli(settings, credential).handle(json.dumps(request).encode(), trigger="cli")
    return _finish(report, args.json)


def say_protection(settings: Settings) -> None:
    """Which users this run will never act on: the same settings as the function's, read from this shell."""
    print(f"Protection in force: {ProtectedUsers.of(settings).in_force()}", file=sys.stderr)


def _reason_given(args: argparse.Namespace, settings: Settings) -> bool:
    """With REVOKE_REQUIRE_REASON (the default) --reason must say why; said once, before anything is sent."""
    if not settings.require_reason or (args.reason and args.reason.strip()):
        return True
    print("error: --reason is required (REVOKE_REQUIRE_REASON): say why, for the audit trail", file=sys.stderr)
    return False


def check(args: argparse.Namespace) -> int:
    """What the CLI needs, with the responder's own sign-in: the settings, a Graph token and what it
    may do, and the containment records when releases are allowed; never the HTTP callers' settings."""
    from revoke.app.readiness import check_readiness
    from revoke.app.runtime import record_table
    from revoke.audit.redaction import protect_logs
    from revoke.graph.tokens import TokenSource

    protect_logs()
    settings = Settings.from_environment()
    credential = developer_credential(settings)
    sign_in(credential, settings.graph_scope)  # no credential: one line, exit 2 (main)
    say_protection(settings)

    def records_for(checked: Settings) -> Any:
        return record_table(checked, lambda _: credential) if checked.release_actions else None

    try:
        readiness = check_readiness(
            None, lambda _, scope: TokenSource(credential, scope), records_for=records_for, cli=True
        )
    except Exception as problem:  # one line, never a traceback: it could quote a token
        print(f"error: the check could not finish: {type(problem).__name__}", file=sys.stderr)
        return EXIT_NOT_ALL_CONTAINED
    if args.json:
        _print(readiness.as_json())
    else:
        print("ready" if readiness.ready else "NOT READY")
        _table(("CHECK", "OK", "DETAIL"), [(c.name, "yes" if c.ok else "NO", c.detail or "") for c in readiness.checks])
        for warning in readiness.warnings:
            print(f"warning: {warning}")
    return EXIT_OK if readiness.ready else EXIT_NOT_ALL_CONTAINED


def demo(args: argparse.Namespace) -> int:
    print("The demo runs from the simulator, which is not part of the product: make demo (or python -m graphsim.demo).")
    return EXIT_USAGE


@contextmanager
def audit_sink(path: str | None, responder: Responder) -> Iterator[None]:
    """Every audit event as one JSON line, the responder stamped as its caller, to `path` or stderr."""
    stream: TextIO = open(path, "a", encoding="utf-8") if path else sys.stderr  # noqa: SIM115 - closed below
    handler = _AuditLines(stream, responder)
    previous = audit_logger.level, audit_logger.propagate
    audit_logger.addHandler(handler)
    audit_logger.setLevel(logging.INFO)
    audit_logger.propagate = False  # written once, here, not again by the root logger
    try:
        yield
    finally:
        audit_logger.removeHandler(handler)
        audit_logger.setLevel(previous[0])
        audit_logger.propagate = previous[1]
        if path:
            stream.close()


class _AuditLines(logging.Handler):
    def __init__(self, stream: TextIO, responder: Responder) -> None:
        super().__init__(logging.INFO)
        self._stream = stream
        self._caller = caller_fields(responder)

    def emit(self, record: logging.LogRecord) -> None:
        if record.name != AUDIT_LOGGER_NAME:  # a module under revoke.audit logging about the trail, not an event
            return
        event = json.loads(record.getMessage())
        event.update(self._caller)
        self._stream.write(json.dumps(event, separators=(",", ":")) + "\n")
        self._stream.flush()


def _finish(report: ContainmentReport, as_json: bool) -> int:
    reply = http_reply(report)
    if as_json or report.rejection is not None:
        _print(reply.body)
    else:
        _print_report(report)
    if report.rejection is not None:
        return EXIT_USAGE
    outcomes = report.outcomes()
    if TargetOutcome.DEFERRED in outcomes:
        return EXIT_TRANSIENT
    return EXIT_OK if outcomes <= DONE else EXIT_NOT_ALL_CONTAINED


def _print_report(report: ContainmentReport) -> None:
    rows = [
        (
            result.user,
            result.outcome.value,
            " ".join(f"{record.action}={record.result.outcome.value}" for record in result.actions),
            bounded(printable(result.detail or ""), REASON_WIDTH),
        )
        for result in report.results
    ]
    rows += [(s.entity, "skipped", "", s.reason) for s in report.skipped]
    _table(("USER", "VERDICT", "ACTIONS", "REASON"), rows)
    if report.comment is not None:
        print(
            f"Incident comment: {report.comment.status}"
            + (f" ({report.comment.detail})" if report.comment.detail else "")
        )
    if report.tasks is not None:
        print(f"Incident tasks: {report.tasks.created} of {report.tasks.wanted} added")
    if report.verification is not None:
        print(f"Check after the next directory sync: {report.verification.status} ({report.verification.detail})")
    print(f"Correlation id: {report.correlation_id}" + (" (dry run: nothing was sent)" if report.dry_run else ""))


def _table(headings: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headings, *rows, strict=False)]
    for row in (headings, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m revoke", description="Contain compromised Entra ID users.")
    commands = parser.add_subparsers(required=True, metavar="{targets,revoke,release,check,demo}")

    targets = commands.add_parser("targets", help="show what a payload resolves to and which actions would apply")
    targets.add_argument("file", nargs="?", help="payload file (default: standard input)")
    targets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    targets.set_defaults(command=show_targets)

    act = commands.add_parser("revoke", help="contain users with your signed-in credential")
    source = act.add_mutually_exclusive_group(required=True)
    source.add_argument("--user", action="append", help="object id or UPN (repeatable)")
    source.add_argument("--payload", help="a payload file in any accepted shape")
    act.add_argument(
        "--reason", help="why, for the audit trail (with --user; required unless REVOKE_REQUIRE_REASON=false)"
    )
    act.add_argument("--dry-run", action="store_true", help="resolve and audit, but send nothing to Graph")
    act.add_argument(
        "--action",
        action="append",
        help="revokeSignInSessions, disableAccount or confirmCompromised (repeatable; default: REVOKE_ACTIONS)",
    )
    _output_options(act)
    act.set_defaults(command=revoke)

    undo = commands.add_parser("release", help="undo a containment (a false positive) with your signed-in credential")
    undo.add_argument("--user", action="append", required=True, help="object id or UPN (repeatable)")
    undo.add_argument("--reason", help="why, for the audit trail (required unless REVOKE_REQUIRE_REASON=false)")
    undo.add_argument(
        "--action", action="append", help="enableAccount or dismissRisk (repeatable; default: REVOKE_RELEASE_ACTIONS)"
    )
    undo.add_argument("--incident", help="the Sentinel incident's ARM id, to comment on")
    undo.add_argument("--dry-run", action="store_true", help="look users up and audit, but change nothing")
    _output_options(undo)
    undo.set_defaults(command=release)

    ready = commands.add_parser("check", help="check settings, a Graph token and what it may do (signed-in credential)")
    ready.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ready.set_defaults(command=check)

    show = commands.add_parser("demo", help="say how to run the demo (make demo)")
    show.set_defaults(command=demo)
    return parser


def _output_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--json", action="store_true", help="print the answer as the HTTP API's JSON")
    command.add_argument("--audit-log", metavar="FILE", help="append the audit events here instead of standard error")


def _read(path: str | None, limit: int) -> bytes:
    """At most `limit` + 1 bytes of the payload: enough to tell it is too large, never all of it."""
    if path is None or path == "-":
        return sys.stdin.buffer.read(limit + 1)
    try:
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except OSError as problem:
        reason = problem.strerror or type(problem).__name__
        raise UnreadablePayload(f"cannot read the payload file {quoted(path)}: {reason}") from None


def _print(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))
