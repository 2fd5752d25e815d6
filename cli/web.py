"""``ntd serve`` and ``ntd users``: the dashboard and API, and who may use them."""

from __future__ import annotations

import ipaddress
import logging
import os

import click

from cli import main
from cli.context import CommandError, Context
from store.types import utcnow
from store.users import ROLES, BadUser, add_user, find_user, list_users, replace_token
from store.users import set_disabled as set_user_disabled


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
def serve(host: str, port: int):
    """The web dashboard and JSON API.

    Sign in with a user from `ntd users add`; scripts send its token as
    "Authorization: Bearer TOKEN". Put a TLS proxy in front of it before serving
    anywhere but this machine.
    """
    import uvicorn

    from service.logs import configure as configure_logging
    from web import create_app
    from web.headers import SecretPaths

    ctx = Context()
    if not _is_loopback(host):
        click.echo(f"ntd: serving plain HTTP on {host}: put TLS in front of it", err=True)
    app = create_app(ctx.settings, ctx.store)
    if ctx.settings.log_format == "json":
        # uvicorn's own loggers then go through the root's handler, in JSON lines.
        configure_logging(ctx.settings)
        config = uvicorn.Config(app, host=host, port=port, server_header=False, log_config=None)
    else:
        # uvicorn's own coloured lines; set up by Config, so the filter below comes after.
        config = uvicorn.Config(app, host=host, port=port, server_header=False)
    logging.getLogger("uvicorn.access").addFilter(SecretPaths())
    uvicorn.Server(config).run()


@main.group()
def users():
    """Staff accounts of the dashboard and API: analyst, manager or admin."""


@users.command(name="add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(ROLES),
    help="analyst: reports; manager: also statistics; admin: everything.",
)
def add(name: str, role: str):
    """Add a user and print their API token, which is shown this once.

    The password comes from NTD_PASSWORD, or is asked for.
    """
    # Not a setting: a secret that must not sit in a settings file.
    password = os.environ.get("NTD_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True, err=True
    )
    ctx = Context()
    try:
        with ctx.store.session() as session:
            _user, token = add_user(session, name, role, password, actor=ctx.actor, now=utcnow())
    except BadUser as error:
        raise CommandError(str(error)) from None
    click.echo(f"user {name} added as {role}; API token (shown once):", err=True)
    click.echo(token)


@users.command(name="list")
def list_():
    """List the users, their roles, and who is disabled."""
    ctx = Context()
    with ctx.store.session() as session:
        for user in list_users(session):
            status = "\tdisabled" if user.disabled else ""
            click.echo(f"{user.name}\t{user.role}{status}")


@users.command()
@click.argument("name")
def disable(name: str):
    """Lock a user out: their sessions end and their token stops working."""
    _set_disabled(name, True)


@users.command()
@click.argument("name")
def enable(name: str):
    """Let a disabled user back in."""
    _set_disabled(name, False)


@users.command()
@click.argument("name")
def token(name: str):
    """Replace a user's API token and print the new one, shown this once."""
    ctx = Context()
    with ctx.store.session() as session:
        new = replace_token(session, find_user(session, name), actor=ctx.actor, now=utcnow())
    click.echo(new)


def _set_disabled(name: str, disabled: bool) -> None:
    ctx = Context()
    with ctx.store.session() as session:
        user = find_user(session, name)
        changed = set_user_disabled(session, user, disabled, actor=ctx.actor, now=utcnow())
    word = "disabled" if disabled else "enabled"
    click.echo(f"user {name} {word}" if changed else f"user {name} was already {word}")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
