"""``ntd demo``: the whole loop against a simulated internet, with no set-up."""

from __future__ import annotations

from cli import main
from cli.display import console


@main.command()
def demo():
    """Queue, check, resolve, notify, take down, remind and measure, on this machine only.

    Uses a database of its own (var/demo.sqlite3) and writes its notices to
    var/demo-outbox; the default database is never touched.
    """
    import logging

    from crawler.passes import run_with_reactor
    from demo.script import run

    logging.basicConfig(level=logging.ERROR, force=True)
    run_with_reactor(lambda: run(console()))
