"""``ntd check``: one verification pass."""

from __future__ import annotations

import sys

import click

from cli import loading_modules, main
from cli.context import Context
from cli.display import progress_bar
from store import reports
from store.queue import count_due
from store.types import utcnow


@main.command()
@click.argument("reports_", metavar="[ID-or-URL]...", nargs=-1)
def check(reports_: tuple[str, ...]):
    """Check every due report once, or the named ones now, then exit.

    Exits 3 when the outage guard held back every state change: our own resolver was
    failing, or too many checks failed at once to be believed.
    """
    with loading_modules():
        from crawler.passes import check as run_check
        from crawler.recorder import EXIT_HELD

    ctx = Context()
    with ctx.store.session() as session:
        if reports_:
            ids = [reports.find(session, key).id for key in reports_]
            total = len(ids)
        else:
            ids, total = None, count_due(session, now=utcnow())
    with progress_bar("Checking", total=total) as advance:
        tally, hosting = run_check(ctx.settings, ids, progress=lambda _outcome: advance(1))
    outcomes = ", ".join(f"{n} {o}" for o, n in sorted(tally.outcomes.items())) or "none due"
    click.echo(f"checked {tally.checks}: {outcomes}; {tally.changes} state changes")
    if hosting.resolved or hosting.failed:
        click.echo(
            f"hosting resolved for {hosting.resolved} reports ({hosting.rdap_requests} RDAP "
            f"requests), {hosting.failed} failed"
        )
    for error in hosting.errors[:10]:
        click.echo(f"ntd: hosting: {error}", err=True)
    for reason in tally.held_reasons:
        click.echo(f"ntd: outage guard held back state changes: {reason}", err=True)
    if tally.held_back:
        sys.exit(EXIT_HELD)
