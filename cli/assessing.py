"""``ntd submissions``, ``ntd assess`` and ``ntd police``: public reports, an analyst's
verdict on them, and the police-first hold."""

from __future__ import annotations

import json

import click
from rich.markup import escape

from cli import main
from cli.context import CommandError, Context
from cli.display import console
from store import police, reports
from store.models import VERDICTS
from store.types import utcnow
from store.views import iso


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the queue as JSON.")
def submissions(as_json: bool):
    """The assessment queue: public reports waiting for an analyst, one line per URL."""
    from store.submissions import pending

    ctx = Context()
    with ctx.store.session() as session:
        queue = pending(session)
    for entry in queue:
        entry["received_at"] = iso(entry["received_at"])
    if as_json:
        click.echo(json.dumps(queue, indent=2))
        return
    out = console(err=False)
    if not queue:
        out.print("no public reports wait for an assessment")
    for entry in queue:
        reviews = ", ".join(f"{r['analyst']}: {r['verdict']}" for r in entry["reviews"])
        out.print(
            f"{entry['id']}\t{entry['reference']}\t{entry['received_at']}\t"
            f"seen: {'/'.join(entry['seen'])}\tsightings: {entry['sightings']}"
            + (f"\treviews: {escape(reviews)}" if reviews else "")
        )
        out.print(f"\t{escape(entry['url'] or '')}", soft_wrap=True)


@main.command()
@click.argument("submission", type=int)
@click.option("--as", "verdict", required=True, type=click.Choice(VERDICTS), help="The verdict.")
@click.option("--category", help="For national: A1, A2, B1 or B2 (else what the reporter chose).")
@click.option(
    "--police", "police_first", is_flag=True, help="Hold notices until the police clear it."
)
def assess(submission: int, verdict: str, category: str | None, police_first: bool):
    """Assess a public report's URL: illegal content becomes a report, the rest is closed."""
    from store.submissions import BadAssessment, UnknownSubmission
    from store.submissions import assess as record

    ctx = Context()
    try:
        with ctx.store.session() as session:
            done = record(
                session,
                submission,
                verdict,
                analyst=ctx.actor,
                category=category,
                police_first=police_first,
                reviews_needed=ctx.settings.assessment_reviews,
                now=utcnow(),
            )
    except (BadAssessment, UnknownSubmission) as error:
        raise CommandError(str(error)) from None
    ids = ", ".join(str(i) for i in done.submissions)
    if not done.done:
        click.echo(
            f"submission {ids}: {verdict} recorded; {done.agreeing} of {done.needed} analysts "
            "agree, it takes effect when the rest do"
        )
    elif done.report_id is not None:
        held = " (notices held for the police)" if police_first else ""
        click.echo(f"submission {ids}: {verdict}; report {done.report_id} queued{held}")
    else:
        click.echo(f"submission {ids}: {verdict}; closed")


@main.group(name="police")
def police_group():
    """Police first: hold a report's notices until law enforcement clears it."""


@police_group.command(name="hold")
@click.argument("report")
def police_hold(report: str):
    """Hold a report's notices for the police. Checks go on."""
    ctx = Context()
    with ctx.store.session() as session:
        found = reports.find(session, report)
        timeout = ctx.settings.police_clearance_timeout
        changed = police.hold(session, found, actor=ctx.actor, now=utcnow(), timeout=timeout)
    click.echo(
        f"report {found.id}: notices held for the police"
        if changed
        else f"report {found.id} is already held"
    )


@police_group.command(name="clear")
@click.argument("report")
@click.option("--note", help="E.g. who at the police cleared it (kept in the audit log).")
def police_clear(report: str, note: str | None):
    """Record law enforcement's clearance: the report is checked, then notified."""
    ctx = Context()
    with ctx.store.session() as session:
        found = reports.find(session, report)
        changed = police.clear(session, found, actor=ctx.actor, now=utcnow(), note=note)
    if not changed:
        raise CommandError(f"report {found.id} is not held for the police")
    click.echo(f"report {found.id}: cleared by the police; it is checked, then notified")
