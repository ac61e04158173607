"""The comment a containment leaves on its Microsoft Sentinel incident: what was done to whom, in HTML.

Sentinel renders a comment's message as HTML. Account names and reasons come from alerts,
so whoever raises the alert chooses them: every piece of text from a summary is made
printable (control and invisible characters escaped), bounded, and HTML-escaped before it
is placed in markup. Sentinel refuses a comment over 30,000 characters, so a long summary
loses its last entries, never its markup, and says how many it left out.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from revoke.untrusted import bounded, printable

MAX_COMMENT_CHARACTERS = 30_000  # Microsoft Sentinel service limits: characters per comment
MAX_NAME_CHARACTERS = 256  # a user, an account, an action or an outcome, as shown
MAX_DETAIL_CHARACTERS = 512  # a detail or a reason, as shown
MAX_CORRELATION_CHARACTERS = 128
MAX_NOTE_CHARACTERS = 1024  # a note on the incident tasks or the check after the next sync

Action = tuple[str, str, str | None]  # (action, outcome, detail)


@dataclass(frozen=True)
class CommentTarget:
    """One account acted on: each action's outcome, and whether the account ended up contained."""

    user: str
    contained: bool
    outcome: str
    actions: tuple[Action, ...]
    reason: str | None = None  # why the verdict is what it is (the target's detail), when there is one


@dataclass(frozen=True)
class CommentSummary:
    """Everything one request did, as the comment shows it; `skipped` holds (account, reason)."""

    correlation_id: str
    dry_run: bool
    targets: tuple[CommentTarget, ...]
    skipped: tuple[tuple[str, str], ...]
    release: bool = False  # undoing a containment: each target is released or not
    caller_app_id: str | None = None  # the app that asked (its Entra ID token's azp); None: the queue
    reason: str | None = None  # why it was asked for: the person's reason, or the alert's or incident's id and name
    notes: tuple[str, ...] = ()  # what followed the verdicts: incident tasks, the check after the next sync


def render_comment(summary: CommentSummary, limit: int = MAX_COMMENT_CHARACTERS) -> str:
    """The comment's HTML, at most `limit` characters, every summary text escaped."""
    header = _header(summary) + "".join(f"<p>{inert(note, MAX_NOTE_CHARACTERS)}</p>" for note in summary.notes)
    targets = [_target_item(target, summary.release) for target in summary.targets]
    skipped = [_skipped_item(account, reason) for account, reason in summary.skipped]
    whole = _assemble(header, targets, skipped, "")
    if len(whole) <= limit:
        return whole
    total = len(targets) + len(skipped)
    correlation = inert(summary.correlation_id, MAX_CORRELATION_CHARACTERS)

    # Room for the header, every wrapper, and the longest note this summary could need.
    fixed = len(header) + len(_TARGETS_OPEN + _LIST_CLOSE + _SKIPPED_OPEN + _LIST_CLOSE)
    fixed += len(_omitted_note(total, correlation))
    room = limit - fixed
    kept: list[str] = []
    for item in targets + skipped:
        if len(item) > room:
            break
        kept.append(item)
        room -= len(item)
    kept_targets, kept_skipped = kept[: len(targets)], kept[len(targets) :]
    note = _omitted_note(total - len(kept), correlation)
    return _assemble(header, kept_targets, kept_skipped, note)


DRY_RUN_NOTICE = (
    "<p><b>Dry run: nothing was changed.</b> No account was disabled, no session revoked and no "
    "compromise confirmed; each account below shows what a real run would have done.</p>"
)
NOTHING_TO_ACT_ON = "<p>No account this incident names could be acted on, so nothing was sent to Graph.</p>"


def _header(summary: CommentSummary) -> str:
    mode = " (dry run: nothing was changed)" if summary.dry_run else ""
    if summary.release:
        done = sum(1 for target in summary.targets if target.outcome == "released")
        title, verb = "Account release", "released"
    else:
        done = sum(1 for target in summary.targets if target.contained)
        title, verb = "Account containment", "contained"
    caller = (
        f"Requested by app <code>{inert(summary.caller_app_id, MAX_NAME_CHARACTERS)}</code>.<br>"
        if summary.caller_app_id
        else ""
    )
    reason = f"<br>Reason: {inert(summary.reason, MAX_DETAIL_CHARACTERS)}" if summary.reason else ""
    header = (
        f"<p><b>{title}</b>{mode}: {done} of {len(summary.targets)} "
        f"account(s) {verb}, {len(summary.skipped)} skipped.<br>{caller}"
        f"Correlation id: <code>{inert(summary.correlation_id, MAX_CORRELATION_CHARACTERS)}</code>{reason}</p>"
    )
    if summary.dry_run:
        header += DRY_RUN_NOTICE
    if not summary.targets:
        header += NOTHING_TO_ACT_ON
    return header


def _target_item(target: CommentTarget, release: bool = False) -> str:
    if release:
        state = "released" if target.outcome == "released" else "<b>not released</b>"
    else:
        state = "contained" if target.contained else "<b>not contained</b>"
    reason = f": {inert(target.reason, MAX_DETAIL_CHARACTERS)}" if target.reason else ""
    actions = "".join(_action_item(action) for action in target.actions)
    return (
        f"<li><b>{inert(target.user, MAX_NAME_CHARACTERS)}</b>: {state} "
        f"(outcome: {inert(target.outcome, MAX_NAME_CHARACTERS)}){reason}"
        + (f"<ul>{actions}</ul>" if actions else "")
        + "</li>"
    )


def _action_item(action: Action) -> str:
    name, outcome, detail = action
    shown = f"{inert(name, MAX_NAME_CHARACTERS)}: {inert(outcome, MAX_NAME_CHARACTERS)}"
    if detail:
        shown += f" ({inert(detail, MAX_DETAIL_CHARACTERS)})"
    return f"<li>{shown}</li>"


def _skipped_item(account: str, reason: str) -> str:
    return f"<li><b>{inert(account, MAX_NAME_CHARACTERS)}</b>: {inert(reason, MAX_DETAIL_CHARACTERS)}</li>"


_TARGETS_OPEN = "<ul>"
_SKIPPED_OPEN = "<p>Skipped (nothing sent):</p><ul>"
_LIST_CLOSE = "</ul>"


def _assemble(header: str, targets: list[str], skipped: list[str], note: str) -> str:
    parts = [header]
    if targets:
        parts += [_TARGETS_OPEN, *targets, _LIST_CLOSE]
    if skipped:
        parts += [_SKIPPED_OPEN, *skipped, _LIST_CLOSE]
    parts.append(note)
    return "".join(parts)


def _omitted_note(count: int, correlation: str) -> str:
    return (
        f"<p>{count} more entries are not shown: a Sentinel comment holds at most "
        f"{MAX_COMMENT_CHARACTERS:,} characters. The audit events with correlation id "
        f"<code>{correlation}</code> list every one.</p>"
    )


def inert(raw: object, limit: int, *, quote: bool = True) -> str:
    """Untrusted text as inert HTML: printable, at most `limit` characters before escaping (quotes
    too, unless `quote` is False: text shown as text, never put in an attribute)."""
    return html.escape(bounded(printable(str(raw)), limit), quote=quote)
