"""``ntd mail``: bounces, auto-replies and providers' replies, in by pipe, LMTP or IMAP.

``ntd mail ingest`` speaks a mail server's language (sysexits): 0 once the message is
stored (or was already, or was dropped as a loop), 65 (EX_DATAERR) for input that holds
no mail message, and 75 (EX_TEMPFAIL) whenever it could not be stored, a bad setting
included, so that the mail server keeps it and tries again: no message is lost.
"""

from __future__ import annotations

import logging
import sys

import click

from cli import main
from cli.context import CommandError, Context
from settings import SettingsError
from store.exceptions import StoreUnavailable

EX_DATAERR = 65
EX_TEMPFAIL = 75
logger = logging.getLogger("ntd.mail")


@main.group()
def mail():
    """Receive bounces and replies to notices (pipe, LMTP, IMAP)."""


@mail.command()
@click.argument("file", type=click.File("rb"), default="-")
@click.option("--sender", help='The envelope sender (MAIL FROM); "" for the null sender <>.')
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    help="An envelope recipient, e.g. bounces+TOKEN@… (repeatable).",
)
def ingest(file, sender: str | None, recipients: tuple[str, ...]):
    """Store one RFC 5322 message from FILE (default: stdin) and act on it."""
    from inbound.exceptions import NotAMessage
    from inbound.ingest import ingest as ingest_delivery
    from inbound.ingest import read_delivery

    try:
        ctx = Context()
        delivery = read_delivery(
            file,
            "pipe",
            ctx.settings.inbound_max_bytes,
            sender=sender,
            recipients=recipients,
        )
        stored = ingest_delivery(ctx.store, ctx.settings, delivery)
    except NotAMessage as error:
        click.echo(f"ntd: not stored: {error}", err=True)
        sys.exit(EX_DATAERR)
    except (SettingsError, StoreUnavailable) as error:
        click.echo(f"ntd: not stored, try again later: {error}", err=True)
        sys.exit(EX_TEMPFAIL)
    except Exception as error:  # whatever it is, the mail server must keep the message
        logger.exception("not stored")
        click.echo(f"ntd: not stored, try again later: {type(error).__name__}", err=True)
        sys.exit(EX_TEMPFAIL)
    if stored.duplicate or stored.dropped:
        click.echo(f"ntd: {stored.outcome}", err=True)
    else:
        click.echo(f"stored as message {stored.id}: {stored.kind}: {stored.outcome}")


@mail.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2424, show_default=True, type=click.IntRange(0, 65535))
def serve(host: str, port: int):
    """An LMTP server for the mail server to deliver bounces and replies to."""
    from inbound.lmtp import serve as serve_lmtp
    from service.logs import configure as configure_logging

    ctx = Context()
    configure_logging(ctx.settings)

    def ready(server) -> None:
        bound = server.sockets[0].getsockname()
        click.echo(f"LMTP on {bound[0]}:{bound[1]}", err=True)

    try:
        serve_lmtp(ctx.store, ctx.settings, host, port, ready=ready)
    except OSError as error:
        raise CommandError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    finally:
        ctx.store.close()


@mail.command()
def fetch():
    """Store the unseen messages of the mailbox IMAP_URL names."""
    from inbound.exceptions import MailboxError
    from inbound.imap import fetch as fetch_mailbox

    ctx = Context()
    if not ctx.settings.imap_url:
        raise CommandError("IMAP_URL is not set: there is no mailbox to fetch from")
    try:
        fetched = fetch_mailbox(ctx.store, ctx.settings)
    except MailboxError as error:
        raise CommandError(str(error)) from None
    except StoreUnavailable as error:
        click.echo(f"ntd: stopped, the rest stays unseen: {error}", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(
        f"{fetched.stored} stored, {fetched.duplicates} already stored, "
        f"{fetched.dropped} dropped as loops, {fetched.refused} not mail"
        + (f", {fetched.failed} not stored (flagged in the mailbox)" if fetched.failed else "")
    )
