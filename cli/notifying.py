"""``ntd notify``: one pass of the notices, reminders and escalations that are due."""

from __future__ import annotations

import sys

import click

from cli import main
from cli.context import CommandError, Context
from notifier.exceptions import NotifierError


@main.command()
@click.option("--dry-run", is_flag=True, help="Print what would go, to whom and why; send nothing.")
def notify(dry_run: bool):
    """Send the notices, reminders and escalations that are due, then exit.

    Hosting still missing is resolved first. Without SMTP_URL, notices are written to
    OUTBOX_DIR as .eml files. Refuses to send while MAIL_FROM, HOTLINE_NAME or
    HOTLINE_COUNTRY is missing.
    """
    from hosting.resolve import resolve_missing
    from notifier.passes import notify as run_notify

    ctx = Context()
    try:
        if not dry_run:
            resolve_missing(ctx.store, ctx.settings)
        tally = run_notify(ctx.store, ctx.settings, dry_run=dry_run)
    except NotifierError as error:
        raise CommandError(str(error)) from None
    for line in tally.planned:
        click.echo(("would send " if dry_run else "planned ") + line)
    if dry_run:
        if not tally.planned:
            click.echo("nothing is due")
        return
    sent = tally.sent
    click.echo(f"sent {len(sent.sent)}, deferred {len(sent.deferred)}, bounced {len(sent.bounced)}")
    if sent.transport_down:
        click.echo(
            f"ntd: the mail server is unreachable; notices wait: {sent.transport_down}", err=True
        )
        sys.exit(1)
