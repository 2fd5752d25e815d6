"""``ntd``: the command line. Commands parse their arguments and call the packages.

Exit codes: 0 on success; 1 when a named thing is missing or an input was rejected;
2 on a usage error, a bad setting included. Errors go to stderr, in one place below.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def loading_modules() -> Iterator[None]:
    """Import with Python's cyclic garbage collector paused, then leave what was loaded
    out of its collections.

    A command's modules (Scrapy, Twisted, SQLAlchemy) allocate hundreds of thousands of
    objects as they load, kept for the life of the process, and the collector walked
    them again and again while they loaded: about 0.1 s of the 0.63 s that `ntd check`
    spent importing. Merely paused, it walked them all at once when it resumed; frozen
    (gc.freeze()), they are never walked again, as settle_heap() does for a pass.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.freeze()
            gc.enable()


with loading_modules():
    import click

    from cli.context import CommandError
    from settings import SettingsError
    from store.exceptions import NotFound, StoreError

# Each command's module, imported only when the command runs (or help lists them all):
# `ntd check` need not load the web server's, the assessment's or the mail's modules.
COMMANDS = {
    "add": "cli.reports",
    "assess": "cli.assessing",
    "audit": "cli.audit",
    "check": "cli.checking",
    "close": "cli.reports",
    "contacts": "cli.contacts",
    "demo": "cli.demo",
    "doctor": "cli.doctor",
    "import": "cli.reports",
    "mail": "cli.mail",
    "notify": "cli.notifying",
    "pause": "cli.reports",
    "police": "cli.assessing",
    "purge": "cli.audit",
    "resume": "cli.reports",
    "run": "cli.running",
    "serve": "cli.web",
    "show": "cli.reports",
    "stats": "cli.statistics",
    "submissions": "cli.assessing",
    "users": "cli.web",
}


class Main(click.Group):
    """The group that loads a command's module when it is asked for, and turns our
    exceptions into a message and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            with loading_modules():
                importlib.import_module(COMMANDS[cmd_name])  # registers it on main
        return super().get_command(ctx, cmd_name)

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


__all__ = ["COMMANDS", "entry", "loading_modules", "main"]
