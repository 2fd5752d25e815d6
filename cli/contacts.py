"""``ntd contacts``: staff's own abuse contacts, which win over look-ups."""

from __future__ import annotations

import click

from cli import main
from cli.context import CommandError, Context
from store.contacts import BadContact, list_contacts, remove_contact, set_contact
from store.types import utcnow


@main.group()
def contacts():
    """Staff's own abuse contacts, by network (CIDR), ASN (AS64500) or domain."""


@contacts.command(name="set")
@click.argument("key", metavar="NETWORK-ASN-OR-DOMAIN")
@click.argument("email")
def set_(key: str, email: str):
    """Send notices for KEY to EMAIL, whatever the look-ups say."""
    ctx = Context()
    try:
        with ctx.store.session() as session:
            contact = set_contact(session, key, email, actor=ctx.actor, now=utcnow())
            click.echo(f"{contact.kind} {contact.key}\t{contact.email}")
    except BadContact as error:
        raise CommandError(str(error)) from None


@contacts.command(name="list")
def list_():
    """List staff's contacts."""
    ctx = Context()
    with ctx.store.session() as session:
        for contact in list_contacts(session):
            bouncing = (
                f"\tbouncing since {contact.bouncing_since:%Y-%m-%d}"
                if contact.bouncing_since
                else ""
            )
            click.echo(f"{contact.kind} {contact.key}\t{contact.email}{bouncing}")


@contacts.command(name="rm")
@click.argument("key", metavar="NETWORK-ASN-OR-DOMAIN")
def rm(key: str):
    """Forget staff's contact for KEY."""
    ctx = Context()
    try:
        with ctx.store.session() as session:
            remove_contact(session, key, actor=ctx.actor, now=utcnow())
    except BadContact as error:
        raise CommandError(str(error)) from None
    click.echo(f"removed {key}")


@contacts.command()
def bouncing():
    """List the mailboxes marked bouncing, staff's and look-ups' alike."""
    from notifier.bouncing import bouncing as bouncing_mailboxes

    ctx = Context()
    with ctx.store.session() as session:
        for mailbox in bouncing_mailboxes(session):
            whose = "staff contact" if mailbox.staff_contact else "found by look-up"
            click.echo(
                f"{mailbox.address}\tsince {mailbox.since:%Y-%m-%d %H:%M}\t{whose}\t"
                f"{mailbox.error or ''}"
            )


@contacts.command()
@click.argument("email")
def unbounce(email: str):
    """Send notices to EMAIL again (its mailbox was fixed)."""
    from notifier.bouncing import unbounce as unbounce_mailbox

    ctx = Context()
    with ctx.store.session() as session:
        unbounce_mailbox(session, email, actor=ctx.actor, now=utcnow())
    click.echo(f"{email} no longer marked bouncing")
