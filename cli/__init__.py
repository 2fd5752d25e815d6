"""``ntd``: the command line. Commands parse their arguments and call the packages.

Exit codes: 0 on success; 1 when a named thing is missing or an input was rejected;
2 on a usage error, a bad setting included. Errors go to stderr, in one place below.
"""

from __future__ import annotations

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


# Each module registers its commands on ``main``.
from cli import (  # noqa: E402
    checking,
    contacts,
    demo,
    notifying,
    reports,
    running,
    statistics,
    web,
)

__all__ = [
    "main",
    "checking",
    "contacts",
    "demo",
    "notifying",
    "reports",
    "running",
    "statistics",
    "web",
]
