"""``ntd``: the command line. Commands parse their arguments and call the packages.

Exit codes: 0 on success; 1 when a named thing is missing or an input was rejected;
2 on a usage error, a bad setting included. Errors go to stderr, in one place below.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

import click

from cli.context import CommandError
from settings import SettingsError
from store.exceptions import NotFound, StoreError


class Main(click.Group):
    """The group that turns our exceptions into a message and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SettingsError as error:
            _fail(f"bad setting: {error}", 2)
        except NotFound as error:
            _fail(str(error), 1)
        except (CommandError, StoreError) as error:
            _fail(str(error), 1)


def _fail(message: str, code: int):
    click.echo(f"ntd: {message}", err=True)
    sys.exit(code)


@click.group(cls=Main)
@click.version_option(package_name="ntd")
def main() -> None:
    """Notice and takedown for internet hotlines.

    Track reported URLs, re-check them without keeping any content, find who hosts
    them, notify, and measure time to removal. Settings come from settings/, the TOML
    file named by NTD_SETTINGS, and NTD_<NAME> environment variables.
    """
    # What the packages log while a command runs (an RDAP server failing, a write tried
    # again) reaches stderr worded as the command's own errors are. `ntd run` and
    # `ntd demo` set up logging of their own.
    handler = logging.StreamHandler()
    handler.setFormatter(_CommandFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


class _CommandFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"ntd: {record.levelname.lower()}: {super().format(record)}"


def entry() -> None:
    """The ``ntd`` console script: run the command, then end the process at once.

    Python's own teardown, which frees every module and object one by one, took about
    0.4 s after every command (Scrapy, Twisted, SQLAlchemy and aiohttp make for a large
    module graph), as long as `ntd check` takes to claim and fetch its first hundred
    reports. A command has closed what it opened (stores, files, sockets) by the time it
    returns; what is left is logging and the standard streams, flushed here.
    """
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # as SystemExit("message") would, with exit code 1
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away (`ntd list | head`) has nothing more to be told.
        with contextlib.suppress(OSError):
            stream.flush()
    os._exit(code or 0)


# Each module registers its commands on ``main``.
from cli import (  # noqa: E402
    assessing,
    audit,
    checking,
    contacts,
    demo,
    doctor,
    mail,
    notifying,
    reports,
    running,
    statistics,
    web,
)

__all__ = [
    "entry",
    "main",
    "assessing",
    "audit",
    "checking",
    "contacts",
    "demo",
    "doctor",
    "mail",
    "notifying",
    "reports",
    "running",
    "statistics",
    "web",
]
