"""Build one notice email from a ``Draft``: a pure function, sending is someone else's job.

Inputs: the ``Hotline`` (settings MAIL_FROM, HOTLINE_NAME, HOTLINE_COUNTRY, plus reply-to,
legal basis and website) and the ``Draft``. The result is a multipart/mixed message: a
text/plain part rendered from Jinja2 templates (``<kind>.txt.j2`` extending ``base.txt.j2``,
and ``subject.txt.j2``), then one application/json X-ARF part per report. It never carries
content, images or thumbnails: only URLs, hosting facts and fingerprints.

A hotline rewrites or translates the wording by putting templates of the same names in a
folder passed as ``templates_dir``; any template it does not provide comes from ours.
"""

from __future__ import annotations

import json
from datetime import UTC
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import lru_cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from notifier.drafts import Draft, Hotline
from notifier.xarf import iso_utc, report_uuid, xarf_report

PACKAGED_TEMPLATES = Path(__file__).resolve().parent / "templates"


def reference(draft: Draft) -> str:
    """The notice reference recipients quote back: in the subject and the body."""
    return f"NTD-{draft.notice_id}"


@lru_cache(maxsize=8)
def _environment(templates_dir: str | None) -> Environment:
    loaders = [FileSystemLoader(PACKAGED_TEMPLATES)]
    if templates_dir is not None:
        loaders.insert(0, FileSystemLoader(templates_dir))
    # Plain text, so no HTML escaping. Report data (URLs, refs, names) only ever enters as
    # variables, never as template source, so "{{ 7*7 }}" in a URL is printed as it is.
    # StrictUndefined: a misspelt variable in a hotline's template fails loudly, not blank.
    environment = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=False,  # noqa: S701 - text/plain output: there is no HTML to escape for
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["utc"] = iso_utc
    return environment


def _context(hotline: Hotline, draft: Draft) -> dict:
    reports = draft.reports
    return {
        "hotline": hotline,
        "draft": draft,
        "kind": draft.kind,
        "reference": reference(draft),
        "reports": reports,
        "count": len(reports),
        "all_reappeared": all(r.reappeared for r in reports),
        "any_reappeared": any(r.reappeared for r in reports),
        "countries": sorted({r.country.upper() for r in reports if r.country}),
        "xarf_ids": {r.report_id: report_uuid(hotline, r.report_id) for r in reports},
    }


def render(hotline: Hotline, draft: Draft, templates_dir: str | Path | None = None):
    """The (subject, text body) pair, before they become an email."""
    environment = _environment(None if templates_dir is None else str(templates_dir))
    context = _context(hotline, draft)
    subject = environment.get_template("subject.txt.j2").render(context)
    body = environment.get_template(f"{draft.kind}.txt.j2").render(context)
    if draft.provider_link and draft.provider_link not in body:
        # A hotline's own template left the provider page out; it is part of the notice.
        body += f"\nTell us what you did about these addresses: {draft.provider_link}\n"
    # The reference is ours, not the template's: replies and threading depend on it.
    return f"[{reference(draft)}] {' '.join(subject.split())}", body


def build_message(
    hotline: Hotline, draft: Draft, templates_dir: str | Path | None = None
) -> EmailMessage:
    """The notice email for ``draft``; ``templates_dir`` overrides the packaged templates."""
    subject, body = render(hotline, draft, templates_dir)
    message = EmailMessage()
    message["From"] = formataddr((hotline.name, hotline.mail_from))
    message["To"] = draft.to
    message["Reply-To"] = hotline.reply_to or hotline.mail_from
    message["Subject"] = subject
    message["Date"] = format_datetime(draft.created_at.astimezone(UTC))
    # Deterministic per notice (a re-send after a crash is the same message) and
    # unguessable: a bounce quoting it can be trusted (notifier.tokens).
    message["Message-ID"] = draft.message_id
    # RFC 3834: tells auto-responders and vacation replies not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    for report in draft.reports:
        document = json.dumps(xarf_report(hotline, report, draft), indent=2, ensure_ascii=False)
        message.add_attachment(
            document.encode("utf-8"),
            maintype="application",
            subtype="json",
            filename=f"xarf-{report.report_id}.json",
        )
    return message


def describe(draft: Draft) -> str:
    """One line for ``ntd notify --dry-run``: kind, notice, recipient, reports and why."""
    count = len(draft.reports)
    reports = f"{count} report{'s' if count != 1 else ''}"
    ids = ", ".join(str(r.report_id) for r in draft.reports[:5])
    ids += ", …" if count > 5 else ""
    line = f"{draft.kind} {reference(draft)} to {draft.to}: {reports} ({ids}): {draft.reason}"
    return " ".join(line.split())  # a reason with a newline must not break the one line
