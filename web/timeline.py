"""A report's history as one list, oldest first: checks, notices, what came back (mail and
the provider page) and staff actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.models import Event
from store.views import iso


@dataclass(frozen=True)
class Moment:
    at: str | None  # ISO 8601 UTC
    kind: str  # check, notice, message, provider or event
    title: str
    facts: list[tuple[str, Any]]  # label, value: shown as text, whatever it holds


def timeline(view: dict[str, Any], events: list[Event]) -> list[Moment]:
    """Merge ``report_view``'s checks and notices with the report's events."""
    moments = [_check(check) for check in view["checks"]]
    moments += [_notice(notice) for notice in view["notices"]]
    moments += [_message(message) for message in view.get("messages", [])]
    moments += [_provider(action) for action in view.get("provider_actions", [])]
    moments += [_submission(s) for s in view.get("submissions", [])]
    moments += [_event(event) for event in events]
    # Ties keep the order above (a check, then the notice it led to, then who acted).
    return sorted(moments, key=lambda moment: moment.at or "")


def _check(check: dict[str, Any]) -> Moment:
    status = f" ({check['http_status']})" if check.get("http_status") else ""
    facts = [
        ("final URL", check.get("final_url")),
        ("redirected from", ", ".join(check.get("redirects") or []) or None),
        ("address", check.get("ip")),
        ("content type", check.get("content_type")),
        ("bytes", check.get("bytes")),
        ("cut short", "yes" if check.get("truncated") else None),
        ("SHA-256", check.get("sha256")),
        ("detail", check.get("detail")),
    ]
    return Moment(check["at"], "check", f"check: {check['outcome']}{status}", _known(facts))


def _notice(notice: dict[str, Any]) -> Moment:
    facts = [
        ("to", notice["to"]),
        ("status", notice["status"]),
        ("sent", notice["at"]),
        ("why", notice.get("reason")),
        ("error", notice.get("error")),
    ]
    return Moment(
        notice["created_at"], "notice", f"{notice['kind']} #{notice['id']}", _known(facts)
    )


def _message(message: dict[str, Any]) -> Moment:
    attachments = message.get("attachments")
    facts = [
        ("from", message.get("from")),
        ("subject", message.get("subject")),
        ("their ticket", message.get("ticket")),
        ("matched by", message.get("matched_by")),
        ("what it did", message.get("outcome")),
        ("attachments (not kept)", attachments or None),
        ("text", message.get("text") if message["kind"] in ("reply", "unmatched") else None),
    ]
    title = f"{message['kind'].replace('_', ' ')} to notice #{message['notice_id']}"
    return Moment(message["received_at"], "message", title, _known(facts))


PROVIDER_ACTIONS = {
    "removed": "provider says removed",
    "not_our_customer": "provider says not our customer",
    "question": "provider asks a question",
}


def _provider(action: dict[str, Any]) -> Moment:
    title = f"{PROVIDER_ACTIONS.get(action['action'], action['action'])} (provider page)"
    facts = [("notice", f"#{action['notice_id']}"), ("text", action.get("text"))]
    return Moment(action["at"], "provider", title, _known(facts))


def _submission(submission: dict[str, Any]) -> Moment:
    facts = [
        ("reporter saw", submission["seen"]),
        ("state", submission["state"]),
        ("verdict", submission.get("verdict")),
        ("assessed", submission.get("assessed_at")),
        ("by", submission.get("assessed_by")),
    ]
    title = f"public report {submission['reference']} (submission {submission['id']})"
    return Moment(submission["received_at"], "event", title, _known(facts))


def _event(event: Event) -> Moment:
    change = f" ({event.from_state} → {event.to_state})" if event.to_state else ""
    title = f"{event.action.replace('_', ' ')} by {event.actor}{change}"
    return Moment(iso(event.at), "event", title, _known([("detail", event.detail)]))


def _known(facts: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(label, value) for label, value in facts if value not in (None, "")]
