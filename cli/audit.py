"""``ntd purge`` (retention) and ``ntd audit`` (the sealed audit chain)."""

from __future__ import annotations

import json
import sys

import click

from cli import main
from cli.context import Context
from store import audit as audit_chain
from store.retention import purge_store
from store.types import utcnow


@main.command()
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
def purge(dry_run: bool):
    """Erase what finished reports keep beyond RETENTION, and reporters' details beyond
    REPORTER_RETENTION (statistics stay the same)."""
    ctx = Context()
    done = purge_store(
        ctx.store,
        utcnow(),
        ctx.settings.retention,
        ctx.settings.reappearance_window,
        actor=ctx.actor,
        retries=ctx.settings.database_retries,
        backoff=ctx.settings.database_retry,
        dry_run=dry_run,
        reporter_retention=ctx.settings.reporter_retention,
    )
    click.echo(("would purge: " if dry_run else "purged: ") + done.summary())


@main.group()
def audit():
    """The audit log: every event chained to the one before by SHA-256."""


@audit.command()
def verify():
    """Walk the chain; name the first event changed, inserted or deleted (exit 1)."""
    ctx = Context()
    with ctx.store.session() as session:
        verdict = audit_chain.verify(session)
    redacted = f", {verdict.redacted} details erased by purges" if verdict.redacted else ""
    if verdict.intact:
        click.echo(f"audit chain intact: {verdict.events} events{redacted}")
        return
    click.echo(
        f"ntd: audit chain broken after {verdict.events} good events: {verdict.problem}",
        err=True,
    )
    sys.exit(1)


@audit.command()
@click.option("--output", "-o", type=click.File("w"), default="-", help="Default: stdout.")
def export(output):
    """Every sealed event as JSON lines, in chain order, for an external archive."""
    ctx = Context()
    with ctx.store.session() as session:
        for row in audit_chain.export(session):
            output.write(json.dumps(row, ensure_ascii=False) + "\n")
