"""``ntd demo``: the whole loop against a simulated internet, with no set-up."""

from __future__ import annotations

import asyncio

from cli import main
from cli.display import console


@main.command()
def demo():
    """Queue, check, resolve, notify, take down, remind and measure, on this machine only.

    Uses a database of its own (var/demo.sqlite3) and writes its notices to
    var/demo-outbox; the default database is never touched.
    """
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    import logging

    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    from demo.script import run

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("scrapy").setLevel(logging.ERROR)
    failures = []

    def started() -> None:
        deferred = Deferred.fromFuture(asyncio.ensure_future(run(console())))
        deferred.addErrback(failures.append)
        deferred.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(started)
    reactor.run()
    if failures:
        failures[0].raiseException()
