"""`python -m revoke`: the same core for a responder at a terminal.

    targets [FILE]                      what a payload resolves to; calls nothing
    revoke --user U ... | --payload F   contain with the signed-in credential (az login);
         [--action A ...]               the actions (default: all of REVOKE_ACTIONS)
    check                               settings, a Graph token and its permissions (exit 0: ready)
    demo                                says how to run the demo (make demo)

Exit codes: 0 every target contained (or dry run), 1 otherwise, 2 usage or invalid
payload, 3 a transient failure (run it again).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from revoke.actions import allowed_subset, parse_actions
from revoke.app.replies import http_reply
from revoke.containment.verdict import TargetOutcome
from revoke.errors import RequestRejected, SettingsError
from revoke.intake.payloads import load_document, parse_request
from revoke.settings import Settings
from revoke.untrusted import quoted

EXIT_OK, EXIT_NOT_ALL_CONTAINED, EXIT_USAGE, EXIT_TRANSIENT = 0, 1, 2, 3


class UnreadablePayload(Exception):
    """The payload file could not be read: missing, a directory, or not readable by this user."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.command(args))
    except (RequestRejected, SettingsError, UnreadablePayload) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE


def show_targets(args: argparse.Namespace) -> int:
    settings = Settings.from_environment()
    request = parse_request(load_document(_read(args.file, settings.max_body_bytes), settings.max_body_bytes))
    _print(
        {
            "shape": request.shape,
            "targets": [{"user": t.value, "kind": t.kind} for t in request.targets],
            "skipped": [{"entity": s.entity, "reason": s.reason} for s in request.skipped],
            "reason": request.reason,
            "alertId": request.alert_id,
            "incidentId": request.incident_id,
            "dryRun": request.dry_run,
            "actions": [action.value for action in request.actions] or None,
        }
    )
    return EXIT_OK


def revoke(args: argparse.Namespace) -> int:
    from revoke.app.runtime import containment_for_cli

    if args.payload and args.reason:
        print("error: --reason goes with --user; a payload carries its own reason", file=sys.stderr)
        return EXIT_USAGE
    settings = Settings.from_environment()
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
    report = containment_for_cli(settings).handle(body, trigger="cli")
    reply = http_reply(report)
    _print(reply.body)
    if report.rejection is not None:
        return EXIT_USAGE
    outcomes = report.outcomes()
    if TargetOutcome.DEFERRED in outcomes:
        return EXIT_TRANSIENT
    return EXIT_OK if outcomes <= {TargetOutcome.CONTAINED, TargetOutcome.DRY_RUN} else EXIT_NOT_ALL_CONTAINED


def check(args: argparse.Namespace) -> int:
    from revoke.app.readiness import check_readiness
    from revoke.app.runtime import developer_tokens
    from revoke.audit.redaction import protect_logs

    protect_logs()
    try:
        readiness = check_readiness(None, developer_tokens())
    except Exception as problem:  # one line, never a traceback: it could quote a token
        print(f"error: the check could not finish: {type(problem).__name__}", file=sys.stderr)
        return EXIT_NOT_ALL_CONTAINED
    _print(readiness.as_json())
    return EXIT_OK if readiness.ready else EXIT_NOT_ALL_CONTAINED


def demo(args: argparse.Namespace) -> int:
    print("The demo runs from the simulator, which is not part of the product: make demo (or python -m graphsim.demo).")
    return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m revoke", description="Contain compromised Entra ID users.")
    commands = parser.add_subparsers(required=True, metavar="{targets,revoke,check,demo}")

    targets = commands.add_parser("targets", help="print the targets a payload resolves to, without calling Graph")
    targets.add_argument("file", nargs="?", help="payload file (default: standard input)")
    targets.set_defaults(command=show_targets)

    act = commands.add_parser("revoke", help="revoke sessions with your signed-in credential")
    source = act.add_mutually_exclusive_group(required=True)
    source.add_argument("--user", action="append", help="object id or UPN (repeatable)")
    source.add_argument("--payload", help="a payload file in any accepted shape")
    act.add_argument("--reason", help="why, for the audit trail (with --user)")
    act.add_argument("--dry-run", action="store_true", help="resolve and audit, but send nothing to Graph")
    act.add_argument(
        "--action",
        action="append",
        help="revokeSignInSessions, disableAccount or confirmCompromised (repeatable; default: REVOKE_ACTIONS)",
    )
    act.set_defaults(command=revoke)

    ready = commands.add_parser(
        "check", help="check settings, a Graph token and its permissions (signed-in credential)"
    )
    ready.set_defaults(command=check)

    show = commands.add_parser("demo", help="say how to run the demo (make demo)")
    show.set_defaults(command=demo)
    return parser


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
