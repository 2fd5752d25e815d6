"""Intake and staff actions: ``add``, ``import``, ``show``, ``pause``, ``resume``, ``close``."""

from __future__ import annotations

import json
import sys

import click

from cli import main
from cli.context import CommandError, Context
from cli.display import console, print_report, progress_bar
from intake.categories import CATEGORIES
from intake.csvfile import BadFile, BadRow, read_reports
from intake.exceptions import RejectedInput
from intake.fingerprints import sha256_list
from intake.queueing import queue_submissions
from intake.submissions import Submission
from store import reports
from store.types import utcnow
from store.views import report_view


def _sha256_option(_ctx, _param, values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return sha256_list(values)
    except RejectedInput as error:
        raise click.BadParameter(str(error)) from None


@main.command()
@click.argument("urls", nargs=-1, required=True)
@click.option("--ref", help="Case reference, e.g. the hotline's report number.")
@click.option(
    "--sha256",
    "sha256",
    multiple=True,
    callback=_sha256_option,
    help="SHA-256 of the content the analyst assessed; repeat for several.",
)
@click.option("--category", type=click.Choice(CATEGORIES), help="X-ARF classification.")
def add(urls: tuple[str, ...], ref: str | None, sha256: tuple[str, ...], category: str | None):
    """Queue URLs for checking.

    Prints "id<TAB>canonical-url" per accepted URL, in input order. A URL already
    tracked keeps its report and gains the ref; if it was removed or closed, it is
    queued again. Rejected inputs are named on stderr, and the command exits 1.
    """
    submissions = [
        Submission(url=url, ref=ref, sha256=sha256, category=category, line=position)
        for position, url in enumerate(urls, 1)
    ]
    accepted, rejected = _queue(Context(), submissions)
    for queued in accepted:
        click.echo(f"{queued.id}\t{queued.canonical_url}")
    for row in rejected:
        click.echo(f"ntd: rejected {row.input!r}: {row.reason}", err=True)
    if rejected:
        sys.exit(1)


@main.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
def import_(file: str):
    """Queue the reports in a CSV file.

    The header names the columns: url is required; ref, sha256 and category are
    optional. Valid rows are stored; bad rows are named with their line number and
    the command exits 1.
    """
    ctx = Context()
    try:
        rows = list(read_reports(file))
    except BadFile as error:
        raise CommandError(str(error)) from None
    submissions = [row for row in rows if isinstance(row, Submission)]
    bad = [row for row in rows if isinstance(row, BadRow)]
    with progress_bar("Queueing", total=len(submissions)) as advance:
        accepted, rejected = _queue(ctx, submissions, advance)
    bad.extend(rejected)
    for row in sorted(bad, key=lambda r: r.line):
        click.echo(f"ntd: {file}: line {row.line}: {row.reason}: {row.input!r}", err=True)
    new = sum(q.new for q in accepted)
    requeued = sum(q.requeued for q in accepted)
    click.echo(
        f"{file}: {len(accepted)} rows accepted ({new} new, {len(accepted) - new - requeued} "
        f"already tracked, {requeued} queued again), {len(bad)} rejected"
    )
    if bad:
        sys.exit(1)


def _queue(ctx: Context, submissions: list[Submission], progress=None):
    return queue_submissions(
        ctx.store,
        submissions,
        actor=ctx.actor,
        default_category=ctx.settings.default_category,
        progress=progress,
    )


@main.command()
@click.argument("report")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def show(report: str, as_json: bool):
    """Show one report, by id or URL, with its hosting, checks and notices."""
    ctx = Context()
    with ctx.store.session() as session:
        view = report_view(
            session,
            reports.find(session, report),
            police_timeout=ctx.settings.police_clearance_timeout,
        )
    if as_json:
        click.echo(json.dumps(view, indent=2))
    else:
        print_report(view)


@main.command()
@click.argument("report")
def pause(report: str):
    """Hold a report's notices, e.g. at law enforcement's request. Checks go on."""
    _set_paused(report, True)


@main.command()
@click.argument("report")
def resume(report: str):
    """Let a paused report's notices go out again."""
    _set_paused(report, False)


def _set_paused(key: str, paused: bool) -> None:
    ctx = Context()
    with ctx.store.session() as session:
        report = reports.find(session, key)
        changed = reports.set_paused(session, report, paused, actor=ctx.actor, now=utcnow())
    word = "paused" if paused else "resumed"
    click.echo(f"report {report.id} {word}" if changed else f"report {report.id} was already so")


@main.command()
@click.argument("report")
@click.option("--reason", required=True, help="Why the report is withdrawn.")
def close(report: str, reason: str):
    """Withdraw a report: it is no longer checked or notified."""
    reason = reason.strip()
    if not reason:
        raise click.BadParameter("give a reason", param_hint="--reason")
    ctx = Context()
    with ctx.store.session() as session:
        found = reports.find(session, report)
        changed = reports.close(session, found, reason, actor=ctx.actor, now=utcnow())
    console(err=False).print(
        f"report {found.id} closed" if changed else f"report {found.id} was already closed"
    )
